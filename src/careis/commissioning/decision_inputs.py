"""What a route file records beyond the route facts: the facts a decision record and its notices
need (reg 24; the notice Schedules). Kept apart from `route` so the records module and the route
walk can share it without importing each other.

Why every field is optional: careis never invents a record. A fact not given is listed as
missing in the decision record and in each notice that needs it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Representations(_Model):
    """Representations made during the standstill (reg 12; NHS England standstill flowchart)."""

    received: dt.date = Field(description="The day the provider's representations arrived.")
    provider: str = Field(default="", description="Who made them.")
    decision_communicated: dt.date | None = Field(
        default=None, description="The day the authority told the provider its further decision."
    )
    outcome: str = Field(
        default="", description="continue, abandon, or return to an earlier step (in words)."
    )
    panel_requested: bool = Field(
        default=False,
        description="The provider asked the Independent Patient Choice and "
        "Procurement Panel to consider its representations.",
    )


class Exclusions(_Model):
    """The exclusion checks made on the selected provider (reg 20, regs 20A-20D)."""

    provider_excluded: bool | None = Field(
        default=None, description="Is the provider an excluded provider (reg 20)?"
    )
    overriding_public_interest: str = Field(
        default="", description="If excluded: the overriding public-interest reason to award."
    )
    provider_excludable: bool | None = Field(
        default=None, description="Is the provider an excludable provider (reg 20)?"
    )
    excludable_decision: str = Field(
        default="", description="If excludable: whether it was excluded, and why."
    )
    debarment_list_checked: bool | None = Field(
        default=None, description="Was the provider checked against the debarment list?"
    )
    subcontracting_asked: bool | None = Field(
        default=None,
        description="Was the provider asked whether it intends to subcontract (reg 20A)?",
    )
    subcontractors_checked: bool | None = Field(
        default=None,
        description="Were intended subcontractors checked against the debarment list (reg 20A)?",
    )


class RecordFacts(_Model):
    """Facts for the decision record and notices; none is required, none is invented."""

    contract_title: str | None = None
    contract_reference: str | None = None
    provider_name: str | None = None
    provider_code: str | None = Field(
        default=None, description="ODS code of the provider (the annual summary counts by it)."
    )
    provider_address: str | None = Field(
        default=None, description="Registered office or principal place of business."
    )
    cpv_code: str | None = Field(default=None, description="Most relevant CPV code (Schedule 1).")
    lifetime_value: str | None = Field(default=None, description="Approximate lifetime value, £.")
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    decision_makers: tuple[str, ...] = Field(
        default=(), description="Committee name or job titles of those who decided."
    )
    reasons: str | None = Field(
        default=None,
        description="Why this provider was selected, with reference to the key criteria.",
    )
    basic_selection_criteria: str | None = Field(
        default=None, description="How the basic selection criteria (reg 19) were assessed."
    )
    response_deadline: str | None = Field(
        default=None, description="Competitive Process: how and by when providers respond."
    )
    key_criteria: dict[str, str] = Field(
        default_factory=dict,
        description="How each key criterion (reg 5) was weighed: criterion -> note.",
    )
    conflicts: tuple[str, ...] = Field(
        default=(), description="Ids in the conflicts of interest register for this decision."
    )
    no_conflicts_declared: bool = Field(
        default=False, description="Set true to record that none was declared for this decision."
    )
    exclusions: Exclusions | None = None
    urgency_reasons: str | None = Field(default=None, description="Why reg 14 applied.")
    modification: str | None = Field(
        default=None, description="The nature of a modification, including value or length."
    )
    modification_effective: dt.date | None = None
    contract_entered_into: dt.date | None = None
