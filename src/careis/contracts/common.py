"""Building blocks shared by every kind of contract careis knows about.

Why one module: a scheme contract (what `careis pay` evaluates) and the commissioner's register
of existing contracts (what `careis commission` maps to a new care model) describe the same
things — who the parties are, what kind of contract it is, its term and notice, its value. Keeping
those types here means one schema, not two: a GMS contract in the register and a GMS contract
alongside a scheme are the same object.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from careis.layout import SAFE_CODE_PATTERN


class ContractType(StrEnum):
    """Kinds of contract in English NHS primary and community care commissioning."""

    # core primary medical services contracts
    GMS = "gms"  # General Medical Services: no end date; ends by breach or agreement
    PMS = "pms"  # Personal Medical Services: open-ended; contractor may revert to GMS
    APMS = "apms"  # Alternative Provider Medical Services: time-limited (typically 5 years)
    # enhanced services
    DES = "des"  # Directed Enhanced Service (national)
    LES = "les"  # Local Enhanced Service
    LIS = "lis"  # Local Incentive Scheme
    ENHANCED_SERVICE = (
        "enhanced_service"  # a locally commissioned scheme awarded practice by practice
    )
    # NHS Standard Contract family
    NHS_STANDARD = "nhs_standard"  # community, mental health, acute services
    SUBCONTRACT = "subcontract"
    # integrated care models
    PRIME_CONTRACTOR = "prime_contractor"
    PRIME_PROVIDER = "prime_provider"
    ALLIANCE = "alliance"  # alliance agreement alongside members' own contracts
    ACO_VIRTUAL = "aco_virtual"  # accountable care: virtual integration (alliance agreement on top)
    ACO_PARTIAL = (
        "aco_partial"  # partially integrated: single contract except core general practice
    )
    ACO_FULL = "aco_full"  # fully integrated: core general practice inside; GMS/PMS suspended
    INTEGRATION_AGREEMENT = (
        "integration_agreement"  # links GMS/PMS practices to a partial ACO contract
    )


CORE_GP_CONTRACTS = frozenset({ContractType.GMS, ContractType.PMS, ContractType.APMS})


class PartyKind(StrEnum):
    ICB = "icb"
    SUB_ICB = "sub_icb"
    NHS_ENGLAND = "nhs_england"
    LOCAL_AUTHORITY = "local_authority"
    PRACTICE = "practice"
    PCN = "pcn"
    FEDERATION = "federation"
    TRUST = "trust"  # NHS trust or foundation trust (acute, community, mental health)
    OTHER_PROVIDER = "other_provider"  # e.g. a social enterprise or independent provider


class FundingStream(StrEnum):
    CORE = "core"
    ADDITIONAL = "additional"
    ENHANCED = "enhanced"
    LOCAL_PRIORITY = "local_priority"
    OTHER = "other"


class Party(BaseModel):
    """An organisation that is party to a contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(
        pattern=SAFE_CODE_PATTERN, description="ODS code, or a local code where there is none."
    )
    name: str = Field(default="", description="Display name.")
    kind: PartyKind = Field(description="What kind of organisation it is.")


class Term(BaseModel):
    """When a contract runs. `end` is None for open-ended contracts (GMS, PMS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: dt.date = Field(description="First day of the contract (inclusive).")
    end: dt.date | None = Field(
        default=None, description="Last day (inclusive); omit for open-ended contracts."
    )
    extension_months: int = Field(
        default=0, ge=0, description="Optional extension available, in months."
    )
    notice_months: int | None = Field(
        default=None, ge=0, description="Notice period to terminate, in months."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"contract end {self.end} is before its start {self.start}")
        return self

    @property
    def open_ended(self) -> bool:
        return self.end is None


class ContractValue(BaseModel):
    """What a contract is worth, as the PSR tests it (lifetime value) and as finance budgets it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    annual: Decimal | None = Field(default=None, ge=0, description="Annual value, £.")
    lifetime: Decimal | None = Field(
        default=None, ge=0, description="Whole-life value at signature, £."
    )
