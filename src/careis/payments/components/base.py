"""What every component kind shares: the evaluation context and the shape of a kind.

Why a shape: a component kind is described in three ways (how it pays, its rule in words for
the report, its requirement in the service specification) and all three must agree. Each kind's
module (`engagement.py`, `performance.py`, ...) owns all three and exposes them as one `Kind`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from careis.contracts.schema import Contract
from careis.errors import ConfigError
from careis.measures.results import AmbiguousPeriod, MeasureInfo, MeasureResults
from careis.money import ZERO, to_decimal
from careis.payments.lines import StatementLine, evidence

#: When a kind is evaluated: with the components, in the contract's order; after them
#: (withholds take a % of lines already computed); or last (aspiration needs this year's
#: achievement, withholds included).
Stage = Literal["components", "withholds", "aspiration"]
STAGES: tuple[Stage, ...] = ("components", "withholds", "aspiration")


class NoData(Exception):
    """A component needs a result the measures do not hold."""


@dataclass
class Context:
    """What a component is paid from: the contract, the results and who is judged with whom."""

    contract: Contract
    results: MeasureResults
    practices: list[str]
    membership: dict[tuple[str, str], str]
    joined: dict[tuple[str, str], dt.date]
    path: Path | None = None
    #: registered patients per practice on the contract's list-size date, where the caller
    #: counted them from the registrations; else the `list_size` measure's performance row
    list_sizes: dict[str, int] | None = None

    def list_size(self, practice: str) -> Decimal:
        """Registered patients on the contract's list-size date ("per registered patient")."""
        if self.list_sizes is not None:
            return Decimal(self.list_sizes.get(practice, 0))
        row = self.result("list_size", "practice", practice, "performance")
        return to_decimal(int(row["numerator"] or 0)) if row else ZERO  # type: ignore[call-overload]

    def list_evidence(self, practice: str) -> str:
        """Where a practice's list size comes from, for the statement's evidence column."""
        if self.list_sizes is not None:
            day = self.contract.list_size_date or self.contract.term.start
            return f"registrations on {day.isoformat()} [practice {practice}]"
        return evidence("list_size", "practice", practice)

    def result(
        self, measure: str, level: str, org: str, period: str | None
    ) -> dict[str, object] | None:
        """One result row for the period a component pays on; ambiguity is the contract's
        error (NoData names the component), never a guess."""
        try:
            return self.results.lookup(measure, level, org, period)
        except AmbiguousPeriod as exc:
            raise NoData(f"{exc} (set the component's 'period').") from None

    def fraction(self, practice: str, level: str) -> Decimal:
        """Share of the term the practice was a member of its group at `level` (1 if all of it)."""
        day = self.joined.get((practice, level))
        term = self.contract.term
        if day is None or day <= term.start:
            return Decimal(1)
        return Decimal((term.end - day).days + 1) / Decimal(term.days)

    def beside_contract(self, path: Path) -> Path:
        """A file named in the contract, relative to the contract file unless absolute."""
        assert self.path is not None
        return path if path.is_absolute() else self.path.parent / path


#: pay(context, component, lines of the earlier stages) -> the component's statement lines.
PayFn = Callable[[Context, Any, list[StatementLine]], list[StatementLine]]


@dataclass(frozen=True)
class Kind:
    """One payment component kind: how it pays, its rule in words, its requirement text."""

    pay: PayFn
    rule: Callable[[Any], str]
    requirement: Callable[[Any, MeasureInfo | None], str]
    stage: Stage = "components"


def words(key: str) -> str:
    return key.replace("_", " ")


def what(comp: Any) -> str:
    """What the component pays for, as the specification words it (no closing full stop)."""
    return str(comp.description or words(comp.id)).rstrip(".")


def plain_requirement(comp: Any, info: MeasureInfo | None) -> str:
    """The requirement of a kind with no wording of its own: what it pays for."""
    return f"{what(comp)}."


def no_rule(comp: Any) -> str:
    """The report's rule for a kind that states none (its lines carry the working)."""
    return ""


def read_csv(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """Rows of a CSV named in the contract; a missing file or column is a one-line error."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(
                    f"missing column(s) {', '.join(missing)}.",
                    file=path,
                    where="line 1",
                    fix=f"the header must include {','.join(columns)}.",
                )
            return list(reader)
    except FileNotFoundError:
        raise ConfigError(
            "file not found.", file=path, fix="check the path (relative to the contract file)."
        ) from None
