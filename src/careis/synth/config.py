"""What a synthetic run is asked to produce: the population, the years and the scheme's effect.

Why pydantic with `extra="forbid"`: the config arrives from YAML written by analysts (through
`careis.yamlio`, which turns errors into one line naming the file, line and field) or from the
CLI. A misspelt key must be an error, not a silently ignored setting, and every field carries
a description so `careis` can document it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from careis.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _codes(value: Any) -> Any:
    """Accept one code or a list; strip and upper-case them (ODS codes are upper case)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [str(v).strip().upper() for v in value]
    return value


class FederationSpec(_Model):
    """A GP federation: a named group of PCNs (real data has none, so they are configurable)."""

    code: str = Field(
        description="Local code for the federation, e.g. FED00T1 (2-12 letters and digits).",
        pattern=r"^[A-Z0-9]{2,12}$",
    )
    name: str = Field(min_length=1, description="Display name, e.g. 'Bolton North Federation'.")
    pcns: list[str] = Field(min_length=1, description="ODS codes of the member PCNs.")

    _upper = field_validator("pcns", mode="before")(_codes)


class InterventionConfig(_Model):
    """The scheme's effect, so that a scheme can be seen to succeed or fail.

    In the performance year each practice care-plans a share of its high-risk adults that
    grows with its engagement; care-planned patients' emergency admission rate falls by
    `care_plan_effect` from the care-plan date, and every 65+/long-term-condition patient of
    the practice gets a further practice-wide fall of engagement x `practice_wide_effect`.
    Setting both effects to 0 leaves only the secular trend.
    """

    enabled: bool = Field(
        default=True,
        description="False: no scheme at all (background care planning only, no effects).",
    )
    performance_year: int | None = Field(
        default=None,
        description="Financial year of the scheme (2024 = 2024/25); default the last year "
        "generated. The baseline is the year before.",
    )
    engagement_alpha: float = Field(
        default=2.0, gt=0, description="Practice engagement ~ Beta(alpha, beta): alpha."
    )
    engagement_beta: float = Field(
        default=2.0, gt=0, description="Practice engagement ~ Beta(alpha, beta): beta."
    )
    engagement: dict[str, float] = Field(
        default_factory=dict,
        description="Engagement (0-1) for named practices, overriding the random draw.",
    )
    register_share: float = Field(
        default=0.02, ge=0, le=1, description="Case-finding target: share of adults (AUA DES: 2%)."
    )
    target_coverage: float = Field(
        default=1.5,
        ge=0,
        le=5,
        description="A fully engaged practice care-plans this multiple of the register target.",
    )
    frail_coverage: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of moderately/severely frail 65+ a fully engaged practice care-plans.",
    )
    care_plan_effect: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Relative fall in a care-planned patient's emergency admission rate.",
    )
    practice_wide_effect: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Relative fall for a fully engaged practice's 65+/LTC patients "
        "(scaled by engagement) in the performance year.",
    )
    ae_effect_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of the care-plan effect that also applies to non-admitted A&E use.",
    )
    background_share: float = Field(
        default=0.003,
        ge=0,
        le=1,
        description="Share of adults care-planned each year by every practice regardless "
        "(legacy admission-avoidance work).",
    )
    review_share: float = Field(
        default=0.7, ge=0, le=1, description="Share of care plans reviewed 3-6 months later."
    )
    named_gp_share: float = Field(
        default=0.9, ge=0, le=1, description="Share of care plans with 'named GP informed'."
    )
    risk_noise_sd: float = Field(
        default=0.35,
        ge=0,
        description="Noise (log scale) of the practice's risk tool around the true risk.",
    )
    frailty_coding_share: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Share of eFI moderate/severe 65+ with a clinician-confirmed frailty code; "
        "engaged practices add engagement x 0.4 in the performance year.",
    )

    @field_validator("engagement", mode="before")
    @classmethod
    def _engagement_codes(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k).strip().upper(): v for k, v in value.items()}
        return value

    @field_validator("engagement")
    @classmethod
    def _engagement_range(cls, value: dict[str, float]) -> dict[str, float]:
        for code, level in value.items():
            if not 0.0 <= level <= 1.0:
                raise ValueError(f"engagement of {code} must be between 0 and 1 (got {level})")
        return value


class RatesConfig(_Model):
    """Headline rates the population is calibrated to (over the English age/sex mix)."""

    emergency_per_1000: float = Field(
        default=100.0,
        ge=0,
        description="Emergency admissions per 1,000 registered per year incl. readmissions "
        "(England ~100).",
    )
    ae_per_1000: float = Field(
        default=300.0,
        ge=0,
        description="A&E attendances NOT ending in admission per 1,000 per year (total A&E "
        "including admitted is ~390).",
    )
    elective_per_1000: float = Field(
        default=120.0, ge=0, description="Elective admissions incl. day cases per 1,000 per year."
    )
    mortality_scale: float = Field(
        default=1.0, ge=0, description="Multiplier of the ONS life-table death rates."
    )
    trend: float = Field(
        default=0.02,
        ge=-0.5,
        le=0.5,
        description="Yearly change in age-specific emergency admission and A&E rates "
        "(0.02 = +2%/year); crude rates also move with the population's ageing.",
    )
    leave_rate: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of patients leaving the area each year."
    )
    move_rate: float = Field(
        default=0.015,
        ge=0,
        le=0.5,
        description="Share moving to another practice in the selection each year.",
    )
    fertility: float = Field(
        default=0.055, ge=0, le=0.5, description="Births per woman aged 15-44 per year."
    )


class SynthConfig(_Model):
    """A synthetic population: which practices, which years, which seed, which scheme effect."""

    sub_icb: list[str] | None = Field(
        default=None, description="Sub-ICB location codes (old CCG codes), e.g. ['00T']."
    )
    icb: list[str] | None = Field(default=None, description="ICB codes, e.g. ['QOP'].")
    practices: list[str] | None = Field(
        default=None, description="Practice ODS codes, e.g. ['P82001', 'P82002']."
    )
    england: bool = Field(
        default=False,
        description="Every practice in England with an ICB in the shipped reference (use a "
        "small scale: 0.01 is about 611k patients ever registered).",
    )
    seed: int = Field(default=42, ge=0, description="Random seed: same seed, same files.")
    first_year: int = Field(
        default=2022,
        ge=1990,
        le=2100,
        description="First financial year generated (2022 = 1 Apr 2022 - 31 Mar 2023).",
    )
    years: int = Field(default=3, ge=1, le=15, description="Number of financial years generated.")
    scale: float = Field(
        default=1.0,
        gt=0,
        le=20,
        description="Multiplies every practice's list size (e.g. 0.02 for quick tests).",
    )
    federations: list[FederationSpec] | None = Field(
        default=None,
        description="GP federations; default: each sub-ICB's PCNs (sorted by code) in groups "
        "of about 3-4.",
    )
    pcn_moves: int = Field(
        default=1,
        ge=0,
        description="Number of practices that move PCN on 1 October of the baseline year "
        "(exercises effective-dated memberships).",
    )
    intervention: InterventionConfig = Field(
        default_factory=InterventionConfig, description="The scheme and its effect."
    )
    rates: RatesConfig = Field(
        default_factory=RatesConfig, description="Headline rates of the population."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes generating practices in parallel (output is identical for any "
        "number).",
    )

    _upper = field_validator("sub_icb", "icb", "practices", mode="before")(_codes)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        given = [n for n in ("sub_icb", "icb", "practices", "england") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "choose the population by exactly one of: sub_icb, icb, practices, england"
            )
        perf = self.intervention.performance_year
        if perf is not None and not self.first_year <= perf <= self.last_year:
            raise ValueError(
                f"intervention.performance_year {perf} is outside the generated years "
                f"{self.first_year}-{self.last_year}"
            )
        if self.federations:
            codes = [f.code for f in self.federations]
            if len(set(codes)) != len(codes):
                raise ValueError("federation codes must be unique")
            seen: dict[str, str] = {}
            for fed in self.federations:
                for pcn in fed.pcns:
                    if pcn in seen:
                        raise ValueError(
                            f"PCN {pcn} is in two federations ({seen[pcn]}, {fed.code})"
                        )
                    seen[pcn] = fed.code
        return self

    @property
    def last_year(self) -> int:
        return self.first_year + self.years - 1

    @property
    def performance_year(self) -> int:
        return self.intervention.performance_year or self.last_year

    @property
    def baseline_year(self) -> int | None:
        year = self.performance_year - 1
        return year if year >= self.first_year else None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> SynthConfig:
        """Validate a plain mapping; problems become one-line `ConfigError`s.

        Why: the CLI and Python callers get the same one-line message a YAML user gets
        (YAML configs go through `careis.yamlio`, which adds the file and line).
        """
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "synth config"
            raise ConfigError(
                f"{first['msg']}.",
                where=where,
                fix="see `careis generate --help` for the settings and their ranges.",
            ) from None
