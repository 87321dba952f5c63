"""The new care model: what the commissioner wants to buy, for whom, how integrated, from when.

Why a file of its own: the mapping of existing contracts, the involvement assessment and the
procurement route all follow from these few choices, so they are written down once and every
later decision cites them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from careis.commissioning.register import Service
from careis.contracts.common import Party
from careis.yamlio import load_yaml, validation_error


class IntegrationLevel(StrEnum):
    """How far the new model integrates services (NHS England accountable-care options et al.)."""

    ENHANCED_SERVICE = "enhanced_service"  # a new enhanced service alongside existing contracts
    PRIME_CONTRACTOR = "prime_contractor"  # one contract with an integrator that subcontracts
    PRIME_PROVIDER = "prime_provider"  # as prime contractor, and the integrator delivers too
    ALLIANCE = "alliance"  # alliance agreement alongside existing contracts
    ACO_VIRTUAL = "aco_virtual"  # accountable care, virtual: alliance agreement on top
    ACO_PARTIAL = "aco_partial"  # single contract except core GP; integration agreements
    ACO_FULL = "aco_full"  # single contract including core GP; GMS/PMS suspended


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Population(_Model):
    description: str = Field(description="Who the model serves, in words.")
    registered_patients: int | None = Field(default=None, ge=0)
    sub_icbs: tuple[str, ...] = Field(default=(), description="Sub-ICB location codes covered.")


class ServiceChange(_Model):
    """The facts the involvement and scrutiny assessment needs (DOMAIN.md section 6)."""

    changes_how_delivered: bool = Field(
        description="Will patients receive services differently (place, provider, access route)?"
    )
    changes_range: bool = Field(description="Will the range of services available change?")
    services_withdrawn: tuple[str, ...] = Field(
        default=(), description="Services no longer provided at all (a strong sign of substance)."
    )
    sites_closed_or_moved: int = Field(default=0, ge=0)
    patients_affected: int | None = Field(default=None, ge=0)
    notes: str = Field(default="", description="Anything else the assessment should record.")


class CareModel(_Model):
    """The new care model the commissioner intends to put in place."""

    name: str
    commissioner: Party
    integration_level: IntegrationLevel
    services: tuple[Service, ...] = Field(min_length=1, description="Service areas in scope.")
    population: Population
    lead_provider: Party | None = Field(
        default=None, description="The integrator (prime, ACO holder); needed for those models."
    )
    decision_date: dt.date = Field(
        description="When the commissioner decides: notices can be served from this day."
    )
    intended_start: dt.date = Field(description="When the commissioner wants the model to start.")
    term_years: int = Field(ge=1, le=15, description="Intended length of the new contract(s).")
    mobilisation_months: int = Field(
        default=0, ge=0, description="Lead time after the last contract action before go-live."
    )
    service_change: ServiceChange | None = None
    patients_notified_by: dt.date | None = Field(
        default=None,
        description="Full integration: the day by which every registered patient of each "
        "practice whose GMS/PMS contract is suspended has been told in writing (SI 2019/248). "
        "The suspension cannot take effect before it.",
    )

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.intended_start < self.decision_date:
            raise ValueError("intended_start is before decision_date")
        needs_lead = self.integration_level not in (
            IntegrationLevel.ENHANCED_SERVICE,
            IntegrationLevel.ALLIANCE,
            IntegrationLevel.ACO_VIRTUAL,
        )
        if needs_lead and self.lead_provider is None:
            raise ValueError(
                f"integration_level '{self.integration_level.value}' needs a 'lead_provider'"
            )
        return self


def load_care_model(path: str | Path) -> CareModel:
    """Read a care model YAML file; errors name file, line and field."""
    data, lines = load_yaml(path)
    try:
        return CareModel.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None
