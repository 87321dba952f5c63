"""The contract schema: who is paid, for what, on which measure, at what rate.

Why pydantic + YAML: a commissioner writes the scheme down once, in words a finance officer can
read, and careis validates it before any money is computed: unknown fields, negative rates and
impossible thresholds are refused with the file, line and field.

This module holds the scheme contract (the thing `careis pay` evaluates). Payment components
form a tagged union on `type`, so new kinds of component are added without touching the others.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careis.errors import ConfigError
from careis.money import to_decimal
from careis.periods import Period
from careis.yamlio import Loc, line_of, load_yaml, model_from_data

ContractModel = Literal["enhanced_service"]
GroupLevel = Literal["pcn", "federation", "sub_icb", "icb"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _money(value: Any) -> Decimal:
    try:
        return to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an amount of money") from exc


Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]


class Organisation(_Model):
    code: str = Field(description="ODS code (or local code).")
    name: str = Field(default="", description="Display name.")


class ProviderSelection(_Model):
    """Which practices are party to the scheme."""

    select: Literal["all_practices", "listed"] = Field(
        default="all_practices",
        description="all_practices: every practice in the data; listed: only `practices`.",
    )
    practices: list[str] = Field(
        default_factory=list, description="Practice codes when select is 'listed'."
    )

    @model_validator(mode="after")
    def _listed_needs_practices(self) -> Self:
        if self.select == "listed" and not self.practices:
            raise ValueError("select: listed needs a non-empty 'practices' list")
        return self


class _Component(_Model):
    id: str = Field(
        description="Short identifier, unique within the contract; shown on statements."
    )
    description: str = Field(default="", description="What the payment is for, in words.")

    _rate = field_validator("rate", mode="before", check_fields=False)(_money)


class EngagementComponent(_Component):
    """A payment for taking part: per registered patient or a fixed sum per practice."""

    type: Literal["engagement"]
    basis: Literal["per_registered_patient", "fixed"] = Field(
        description="How the amount is worked out."
    )
    rate: Money = Field(
        description="£ per registered patient, or £ per practice when basis is fixed."
    )


class ConcordanceComponent(_Component):
    """A payment per patient managed within the agreed process (the measure's numerator)."""

    type: Literal["concordance"]
    basis: Literal["per_patient"] = Field(
        default="per_patient", description="£ per numerator patient."
    )
    measure: str = Field(description="Measure whose numerator is counted (e.g. care_plan).")
    rate: Money = Field(description="£ per patient in the measure's numerator.")


class PerformanceComponent(_Component):
    """Paid only if the aggregate meets its target AND the practice meets its own floor.

    Targets are reductions in percent (a 'change' measure of -12.0 is a 12% reduction).
    """

    type: Literal["performance"]
    measure: str = Field(description="A change measure, e.g. emergency_admissions_change.")
    aggregate_level: GroupLevel = Field(description="Level whose aggregate must meet the target.")
    target_reduction_percent: Decimal = Field(
        ge=0, le=100, description="Aggregate reduction needed, in %."
    )
    practice_floor_reduction_percent: Decimal = Field(
        ge=0, le=100, description="Minimum reduction each practice must also achieve, in %."
    )
    basis: Literal["per_registered_patient"] = Field(default="per_registered_patient")
    rate: Money = Field(description="£ per registered patient paid when both tests are met.")

    @model_validator(mode="after")
    def _floor_below_target(self) -> Self:
        if self.practice_floor_reduction_percent > self.target_reduction_percent:
            raise ValueError(
                "practice_floor_reduction_percent must not exceed target_reduction_percent "
                "(the floor is the lower, practice-level threshold)"
            )
        return self


Component = Annotated[
    EngagementComponent | ConcordanceComponent | PerformanceComponent,
    Field(discriminator="type"),
]


class Contract(_Model):
    """A scheme contract."""

    id: str = Field(description="Contract reference.")
    name: str = Field(description="Contract name, shown on statements.")
    model: ContractModel = Field(description="Contract model (enhanced_service).")
    commissioner: Organisation
    providers: ProviderSelection = Field(default_factory=ProviderSelection)
    term: Period = Field(description="Contract term {start, end} (inclusive).")
    list_size_date: dt.date | None = Field(
        default=None,
        description="Date list sizes are taken for per-patient payments (default: term start).",
    )
    components: list[Component] = Field(min_length=1, description="Payment components.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for comp in self.components:
            if comp.id in seen:
                raise ValueError(f"component id '{comp.id}' is used twice")
            seen.add(comp.id)
        return self


class LoadedContract:
    """A validated contract with the line numbers of its source, for later semantic errors."""

    def __init__(self, contract: Contract, path: Path, lines: dict[Loc, int]) -> None:
        self.contract = contract
        self.path = path
        self.lines = lines

    def error(self, loc: Loc, problem: str, fix: str | None = None) -> ConfigError:
        line = line_of(self.lines, loc)
        return ConfigError(problem, file=self.path, where=f"line {line}" if line else None, fix=fix)

    def check_measures(self, known: set[str]) -> None:
        """Every component must name a measure the run computes."""
        for i, comp in enumerate(self.contract.components):
            measure = getattr(comp, "measure", None)
            if measure is not None and measure not in known:
                raise self.error(
                    ("components", i, "measure"),
                    f"component '{comp.id}' names an unknown measure '{measure}'.",
                    fix=f"use one of: {', '.join(sorted(known))}.",
                )


def load_contract(path: str | Path) -> LoadedContract:
    """Read and validate a contract YAML file (errors name file, line and field)."""
    path = Path(path)
    data, lines = load_yaml(path)
    contract = model_from_data(Contract, data, lines, path)
    return LoadedContract(contract, path, lines)
