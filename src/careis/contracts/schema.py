"""The contract schema: who is paid, for what, on which measure, at what rate.

Why pydantic + YAML: a commissioner writes the scheme down once, in words a finance officer can
read, and careis validates it before any money is computed: unknown fields, negative rates and
impossible thresholds are refused with the file, line and field.

This module holds the scheme contract (the thing `careis pay` evaluates). Payment components
form a tagged union on `type`, so new kinds of component are added without touching the others.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careis.contracts.common import Party
from careis.errors import ConfigError
from careis.layout import SAFE_CODE_PATTERN
from careis.money import to_decimal
from careis.periods import Period
from careis.yamlio import Loc, line_of, load_yaml, model_from_data

# Every model is a careis.contracts.common.ContractType value (one vocabulary with the
# commissioner's contract register; a test holds them together).
ContractModel = Literal[
    "enhanced_service",
    "prime_contractor",
    "prime_provider",
    "alliance",
    "aco_virtual",
    "aco_partial",
    "aco_full",
]
GroupLevel = Literal["pcn", "federation", "sub_icb", "icb"]
AggregateLevel = Literal["pcn", "federation", "sub_icb", "icb", "alliance"]

# Models in which one party (the prime / the accountable care organisation) holds the contract
# and every other provider is paid through it.
HOLDER_MODELS = frozenset({"prime_contractor", "prime_provider", "aco_partial", "aco_full"})
# Models with an agreement that shares a pool between members by agreed shares.
ALLIANCE_MODELS = frozenset({"alliance", "aco_virtual"})
CORE_GENERAL_PRACTICE = "core_general_practice"

# Published national QOF figures by financial year (start year): £ per point and the national
# average practice list (the Contractor Population Index denominator), from qof_national.csv,
# which names the source of each figure. A year or figure not there was not found published;
# a contract for it states the figure itself (docs/payments.md).
QOF_FILE = Path(__file__).with_name("qof_national.csv")


def _read_qof_national() -> dict[int, tuple[Decimal | None, int | None]]:
    out: dict[int, tuple[Decimal | None, int | None]] = {}
    with QOF_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            value, avg = row["point_value"], row["average_list_size"]
            out[int(row["financial_year"][:4])] = (
                Decimal(value) if value else None,
                int(avg) if avg else None,
            )
    return out


QOF_NATIONAL = _read_qof_national()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleError(Exception):
    """A contract-wide rule broken at a known place in the file.

    Not a ValueError on purpose: pydantic lets it through unwrapped, so `load_contract` can
    name the line of the offending key rather than the top of the file.
    """

    def __init__(self, loc: Loc, problem: str) -> None:
        super().__init__(problem)
        self.loc = loc
        self.problem = problem


def _money(value: Any) -> Decimal:
    try:
        return to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an amount of money") from exc


Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]
#: An organisation code: becomes a folder name and a CSV key, so only letters, digits, '_', '-'.
OrgCode = Annotated[str, Field(pattern=SAFE_CODE_PATTERN)]


class Organisation(_Model):
    """The commissioner: an ICB or sub-ICB location (or NHS England / a local authority)."""

    code: OrgCode = Field(description="ODS code (or local code).")
    name: str = Field(default="", description="Display name.")
    kind: Literal["icb", "sub_icb", "nhs_england", "local_authority"] = Field(
        default="sub_icb", description="What kind of commissioner (a PartyKind)."
    )
    contact: str = Field(
        default="",
        description="Where providers send queries about their statements (a team, e-mail or "
        "address); printed on every statement. Defaults to the commissioner's name.",
    )


class ProviderSelection(_Model):
    """Which practices are party to the scheme."""

    select: Literal["all_practices", "listed"] = Field(
        default="all_practices",
        description="all_practices: every practice in the data; listed: only `practices`.",
    )
    practices: list[OrgCode] = Field(
        default_factory=list, description="Practice codes when select is 'listed'."
    )

    @model_validator(mode="after")
    def _listed_needs_practices(self) -> Self:
        if self.select == "listed" and not self.practices:
            raise ValueError("select: listed needs a non-empty 'practices' list")
        return self


#: Abbreviations kept in capitals when an id is put into words ("concordance_qof").
_ACRONYMS = frozenset(
    {"qof", "pcn", "icb", "ics", "gp", "gms", "pms", "apms", "des", "les", "aco", "it", "cpi",
     "apdf", "ae", "ooh", "mdt", "nhs", "sla", "cqc", "efi", "ltc", "copd", "ckd", "af", "hf"}
)  # fmt: skip


def readable_id(identifier: str) -> str:
    """An id in words, for a reader: 'concordance_qof' -> 'Concordance QOF'."""
    words = [w for w in identifier.replace("-", "_").split("_") if w]
    out = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out) or identifier


class _Component(_Model):
    id: str = Field(
        description="Short identifier, unique within the contract; shown on statements."
    )
    name: str = Field(
        default="",
        description="Name of the payment for readers of statements and reports (default: "
        "the id in words, e.g. 'Concordance QOF').",
    )
    description: str = Field(default="", description="What the payment is for, in words.")

    @property
    def display_name(self) -> str:
        """The component's name as statements and reports show it."""
        return self.name or readable_id(self.id)

    _rate = field_validator("rate", mode="before", check_fields=False)(_money)


class Milestone(_Model):
    """A one-off payment for reaching a milestone by a due date (e.g. IT integration live)."""

    id: str = Field(description="Short identifier, used in the achievements file.")
    description: str = Field(default="")
    amount: Money = Field(description="£ paid to each practice that reaches it by `due`.")
    due: dt.date = Field(description="Last day to reach it (inclusive) and still be paid.")


class EngagementComponent(_Component):
    """A payment for taking part: per registered patient, a fixed sum, or per milestone.

    Milestones are paid on the day each practice reached them (from the achievements file:
    practice_code, milestone_id, achieved_on), if on or before the due date.
    """

    type: Literal["engagement"]
    basis: Literal["per_registered_patient", "fixed", "milestone"] = Field(
        description="How the amount is worked out."
    )
    rate: Money | None = Field(
        default=None, description="£ per registered patient, or £ per payee when basis is fixed."
    )
    payee: str = Field(
        default="practices",
        description="'practices' (each practice in scope) or the code of one party "
        "(the holder, a subcontractor) paid the fixed sum.",
    )
    paid: Literal["in_year", "year_end"] = Field(
        default="in_year",
        description="in_year: by the schedule's instalments; year_end: at reconciliation.",
    )
    milestones: list[Milestone] = Field(default_factory=list, description="basis: milestone.")
    achievements: Path | None = Field(
        default=None,
        description="CSV practice_code,milestone_id,achieved_on (relative to the contract file).",
    )

    @model_validator(mode="after")
    def _party_payee_is_fixed(self) -> Self:
        if self.payee != "practices" and self.basis != "fixed":
            raise ValueError(
                "a payee other than 'practices' can only be paid a fixed sum (basis: fixed)"
            )
        if self.basis == "milestone":
            if not self.milestones or self.achievements is None:
                raise ValueError("basis milestone needs 'milestones' and an 'achievements' file")
            ids = [m.id for m in self.milestones]
            if len(set(ids)) != len(ids):
                raise ValueError("milestone ids must be unique")
            if self.rate is not None:
                raise ValueError("basis milestone pays each milestone's amount; remove 'rate'")
        elif self.rate is None:
            raise ValueError(f"basis {self.basis} needs a 'rate'")
        return self


class AspirationComponent(_Component):
    """On-account (aspiration) payments: `percent` of last year's payment for a component, paid
    in year and recovered at year end, when this year's achievement is paid in full. The net is
    this year's achievement; where it falls short of the on-account sum, the balance is clawed
    back."""

    type: Literal["aspiration"]
    of_component: str = Field(description="Id of the component paid on account.")
    percent: Percent = Field(description="% of last year's payment paid on account (QOF: 70-80).")
    prior_statements: Path = Field(
        description="Last year's payments/statements.csv (relative to the contract file)."
    )


class CapitationComponent(_Component):
    """A whole-population budget: £ per registered patient a year, paid in instalments.

    Paid to the holder (prime / accountable care organisation) when `payee` is 'holder', or to
    each practice on its own list.
    """

    type: Literal["capitation"]
    rate: Money = Field(description="£ per registered patient for the year.")
    payee: Literal["practices", "holder"] = Field(default="holder")
    paid: Literal["in_year", "year_end"] = Field(default="in_year")


class ConcordanceComponent(_Component):
    """Paid for patients managed within the agreed process.

    per_patient: £ `rate` per patient in the measure's numerator.
    qof_points: QOF arithmetic (SFE): achievement D = numerator / denominator (denominator
    after personalised care adjustments), points = max_points x (D - lower) / (upper - lower)
    clamped to [0, max_points], pounds = points x £ per point x CPI (list / national average
    list) x APDF (practice prevalence / national prevalence, only if prevalence-adjusted).
    Thresholds compare the exact ratio, not a rounded percentage.
    """

    type: Literal["concordance"]
    basis: Literal["per_patient", "qof_points"] = Field(
        default="per_patient", description="£ per numerator patient, or QOF-style points."
    )
    measure: str = Field(description="Measure whose numerator is counted (e.g. care_plan).")
    rate: Money | None = Field(default=None, description="£ per patient (per_patient).")
    max_points: Decimal | None = Field(
        default=None, gt=0, description="Points at the upper threshold."
    )
    lower_threshold_percent: Percent | None = Field(
        default=None, description="0 points at or below."
    )
    upper_threshold_percent: Percent | None = Field(
        default=None, description="Full points at or above."
    )
    point_value: Money | None = Field(
        default=None, description="£ per point (default: the national figure for the year)."
    )
    average_list_size: int | None = Field(
        default=None, gt=0, description="National average list for the CPI (default: for the year)."
    )
    prevalence_measure: str | None = Field(
        default=None,
        description="Measure whose value is the practice's prevalence (%); enables APDF.",
    )
    national_prevalence_percent: Decimal | None = Field(
        default=None, gt=0, le=100, description="National prevalence (%), the APDF denominator."
    )
    period: str = Field(
        default="performance",
        description="Period of the measure's results this component pays on (a change "
        "measure's 'performance vs baseline' row answers for 'performance').",
    )
    paid: Literal["in_year", "year_end"] = Field(default="year_end")

    @model_validator(mode="after")
    def _basis_fields(self) -> Self:
        if self.basis == "per_patient":
            if self.rate is None:
                raise ValueError("basis per_patient needs a 'rate' (£ per patient)")
            return self
        missing = [
            f
            for f in ("max_points", "lower_threshold_percent", "upper_threshold_percent")
            if getattr(self, f) is None
        ]
        if missing:
            raise ValueError(f"basis qof_points needs {', '.join(missing)}")
        assert self.lower_threshold_percent is not None and self.upper_threshold_percent is not None
        if self.lower_threshold_percent >= self.upper_threshold_percent:
            raise ValueError("lower_threshold_percent must be below upper_threshold_percent")
        if (self.prevalence_measure is None) != (self.national_prevalence_percent is None):
            raise ValueError(
                "prevalence adjustment needs both prevalence_measure and national_prevalence_percent"
            )
        return self


class Tier(_Model):
    reduction_percent: Percent = Field(description="Reduction the aggregate must reach, %.")
    pot_percent: Percent = Field(description="% of the pot (or rate) earned at this tier.")


class PerformanceComponent(_Component):
    """Paid only if the aggregate meets its target AND the practice meets its own floor.

    Targets are reductions in percent (a 'change' measure of -12.0 is a 12% reduction).
    """

    type: Literal["performance"]
    measure: str = Field(description="A change measure, e.g. emergency_admissions_change.")
    aggregate_level: AggregateLevel = Field(
        description="Level whose aggregate must meet the target; 'alliance' = every practice in "
        "scope together (its change is computed from `rate_measure`)."
    )
    rate_measure: str | None = Field(
        default=None,
        description="aggregate_level alliance: the rate measure (baseline and performance) whose "
        "change is tested; default: `measure` without its '_change' suffix.",
    )
    target_reduction_percent: Decimal = Field(
        ge=0, le=100, description="Aggregate reduction needed, in %."
    )
    practice_floor_reduction_percent: Decimal = Field(
        ge=0, le=100, description="Minimum reduction each practice must also achieve, in %."
    )
    basis: Literal["per_registered_patient", "pot"] = Field(
        default="per_registered_patient",
        description="per_registered_patient: £ rate x list; pot: a pot per aggregate group, shared.",
    )
    rate: Money | None = Field(
        default=None, description="£ per registered patient paid when both tests are met."
    )
    pot: Money | None = Field(default=None, description="£ pot per aggregate group (basis: pot).")
    scaling: Literal["all_or_nothing", "tiers", "linear"] = Field(
        default="all_or_nothing",
        description="How much of the pot (or rate) is earned by the aggregate's reduction.",
    )
    tiers: list[Tier] = Field(
        default_factory=list, description="scaling: tiers - reduction reached -> % of the pot."
    )
    linear_from_reduction_percent: Percent | None = Field(
        default=None,
        description="scaling: linear - 0% earned at this reduction, 100% at the target.",
    )
    distribute_by: Literal["list_size", "register", "contribution"] = Field(
        default="list_size",
        description="How a group's pot is shared among its eligible practices.",
    )
    below_floor: Literal["redistribute", "return"] = Field(
        default="redistribute",
        description="basis pot: the share of a practice below its floor goes to the other "
        "eligible practices (redistribute) or stays with the commissioner (return).",
    )
    joiner_share: Literal[
        "prorate_amount_return", "prorate_amount_redistribute", "prorate_weight"
    ] = Field(
        default="prorate_amount_return",
        description="basis pot: a practice that joined its group part-way through the term "
        "gets its full-year share x the fraction of the term it was a member; the unearned "
        "part returns to the commissioner (prorate_amount_return) or is shared among the "
        "group's other paid practices (prorate_amount_redistribute). prorate_weight "
        "pro-rates the joiner's weight instead, so the whole earned pot is paid out.",
    )
    period: str = Field(
        default="performance",
        description="Period of the measure's results this component pays on (a change "
        "measure's 'performance vs baseline' row answers for 'performance').",
    )

    @model_validator(mode="after")
    def _floor_below_target(self) -> Self:
        if self.practice_floor_reduction_percent > self.target_reduction_percent:
            raise ValueError(
                "practice_floor_reduction_percent must not exceed target_reduction_percent "
                "(the floor is the lower, practice-level threshold)"
            )
        if self.basis == "per_registered_patient" and self.rate is None:
            raise ValueError("basis per_registered_patient needs a 'rate'")
        if self.aggregate_level == "alliance" and self.rate_measure is None:
            if not self.measure.endswith("_change"):
                raise ValueError(
                    "aggregate_level alliance needs 'rate_measure' (the rate whose change is tested)"
                )
            self.rate_measure = self.measure.removesuffix("_change")
        if self.basis == "pot" and self.pot is None:
            raise ValueError("basis pot needs a 'pot' (£ per aggregate group)")
        if self.scaling == "tiers":
            if not self.tiers:
                raise ValueError("scaling: tiers needs at least one tier")
            steps = [t.reduction_percent for t in self.tiers]
            if steps != sorted(steps) or len(set(steps)) != len(steps):
                raise ValueError("tiers must be in increasing order of reduction_percent")
            shares = [t.pot_percent for t in self.tiers]
            if shares != sorted(shares):
                raise ValueError("a higher tier must not pay less than a lower one")
        if self.scaling == "linear":
            lo = self.linear_from_reduction_percent
            if lo is None or lo >= self.target_reduction_percent:
                raise ValueError(
                    "scaling: linear needs linear_from_reduction_percent below target_reduction_percent"
                )
        return self


class GainShareComponent(_Component):
    """Gain-share / risk-share against a baseline cost, with a cap on gains and a collar on losses.

    Expected cost = baseline count x (performance denominator / baseline denominator) x unit
    cost (the baseline rate applied to this year's population); actual = performance count x
    unit cost. A saving is shared `gain_share_percent` to the providers (capped at `gain_cap`);
    an overspend is shared `loss_share_percent` (capped at `loss_collar`) and clawed back.
    The share goes to the alliance members by their agreed shares, else to the holder, else to
    practices by list size.
    """

    type: Literal["gain_share"]
    measure: str = Field(description="A count/rate measure with baseline and performance periods.")
    level: AggregateLevel = Field(description="Level of the aggregate judged.")
    org: OrgCode = Field(description="Code of the aggregate organisation.")
    unit_cost: Money = Field(
        description="£ per unit of the measure's numerator (e.g. an admission)."
    )
    gain_share_percent: Percent = Field(description="Providers' share of a saving, %.")
    loss_share_percent: Percent = Field(
        default=Decimal(0), description="Providers' share of an overspend, %."
    )
    gain_cap: Money | None = Field(default=None, description="Most the providers can gain, £.")
    loss_collar: Money | None = Field(default=None, description="Most the providers can lose, £.")
    baseline_period: str = Field(default="baseline")
    performance_period: str = Field(default="performance")
    joiner_share: Literal[
        "prorate_amount_return", "prorate_amount_redistribute", "prorate_weight"
    ] = Field(
        default="prorate_amount_return",
        description="When the practices share the gain or loss by list size (no alliance, no "
        "holder): a practice that joined its group at `level` part-way through the term gets "
        "its full-year share x the fraction of the term it was a member; the rest returns to "
        "(or, for a loss, is borne by) the commissioner (prorate_amount_return) or is shared "
        "among the full-year practices (prorate_amount_redistribute); prorate_weight "
        "pro-rates the joiner's list-size weight instead, so the whole share is allocated.",
    )
    paid: Literal["year_end"] = Field(default="year_end")


class WithholdComponent(_Component):
    """Withhold a % of other components in year; release it at reconciliation if the measure
    reaches its target, otherwise claw it back (it stays with the commissioner)."""

    type: Literal["withhold"]
    percent: Percent = Field(description="% of the named components withheld.")
    from_components: list[str] = Field(
        min_length=1, description="Ids of the components withheld from."
    )
    measure: str = Field(description="Measure tested at the practice.")
    target_percent: Decimal = Field(description="Value the measure must reach.")
    direction: Literal["at_least", "at_most"] = Field(default="at_least")
    period: str = Field(
        default="performance",
        description="Period of the measure's results this component pays on (a change "
        "measure's 'performance vs baseline' row answers for 'performance').",
    )


Component = Annotated[
    EngagementComponent
    | AspirationComponent
    | CapitationComponent
    | ConcordanceComponent
    | PerformanceComponent
    | GainShareComponent
    | WithholdComponent,
    Field(discriminator="type"),
]
AnyComponent = (
    EngagementComponent
    | AspirationComponent
    | CapitationComponent
    | ConcordanceComponent
    | PerformanceComponent
    | GainShareComponent
    | WithholdComponent
)


class Holder(_Model):
    """The prime contractor / prime provider / accountable care organisation."""

    party: Party
    management_fee_percent: Percent = Field(
        default=Decimal(0),
        description="% the holder keeps from every payment it passes to a subcontractor.",
    )


class Subcontract(_Model):
    """A non-practice subcontractor of the holder (e.g. a community trust)."""

    party: Party
    services: list[str] = Field(default_factory=list)


class AllianceMember(_Model):
    party: Party
    share_percent: Percent = Field(description="Share of the alliance pool (gains and losses), %.")


class AllianceAgreement(_Model):
    """Members keep their own contracts; this agreement shares a risk/gain pool."""

    members: list[AllianceMember] = Field(min_length=2)

    @model_validator(mode="after")
    def _shares(self) -> Self:
        total = sum((m.share_percent for m in self.members), Decimal(0))
        if total != 100:
            raise ValueError(f"alliance shares sum to {total}%, not 100%")
        codes = [m.party.code for m in self.members]
        if len(set(codes)) != len(codes):
            raise ValueError("an alliance member is listed twice")
        return self


class CoreContract(_Model):
    """A practice's core GP contract (GMS/PMS/APMS) that exists alongside the scheme."""

    practice: str
    type: Literal["gms", "pms", "apms"]
    status: Literal["active", "suspended"] = "active"
    reactivatable: bool = Field(default=True, description="Suspended contracts revive at term end.")


class Group(_Model):
    """A grouping of practices stated in the contract (overrides the data's memberships)."""

    code: OrgCode
    level: GroupLevel
    practices: list[OrgCode] = Field(min_length=1)
    joined: dict[str, dt.date] = Field(
        default_factory=dict,
        description="Practices that joined part-way through the term: code -> first day a member.",
    )


class Instalment(_Model):
    date: dt.date
    percent: Percent


class Schedule(_Model):
    """When money moves: in-year instalments, then a year-end reconciliation."""

    instalments: list[Instalment] = Field(default_factory=list)
    reconciliation_date: dt.date | None = Field(default=None, description="Default: term end.")

    @model_validator(mode="after")
    def _sum(self) -> Self:
        if self.instalments:
            total = sum((i.percent for i in self.instalments), Decimal(0))
            if total != 100:
                raise ValueError(f"instalment percentages sum to {total}%, not 100%")
            dates = [i.date for i in self.instalments]
            if dates != sorted(dates) or len(set(dates)) != len(dates):
                raise ValueError("instalment dates must be distinct and in order")
        return self


class QofNational(_Model):
    point_value: Money
    average_list_size: int = Field(gt=0)


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
    services: list[str] = Field(default_factory=list, description="Services in scope.")
    extension_months: int = Field(default=0, ge=0, description="Optional extension, months.")
    baseline_period: Period | None = Field(
        default=None, description="Baseline period (informative)."
    )
    performance_period: Period | None = Field(default=None, description="Performance period.")
    schedule: Schedule = Field(default_factory=Schedule)
    holder: Holder | None = Field(default=None, description="Prime / ACO (holder models only).")
    subcontractors: list[Subcontract] = Field(default_factory=list)
    alliance: AllianceAgreement | None = Field(default=None)
    core_contracts: list[CoreContract] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    qof_national: QofNational | None = Field(
        default=None, description="Override the national £/point and average list for the year."
    )

    def component_names(self) -> dict[str, str]:
        """Component id -> the name statements and reports show for it."""
        return {c.id: c.display_name for c in self.components}

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for comp in self.components:
            if comp.id in seen:
                raise RuleError(
                    ("components", self.components.index(comp), "id"),
                    f"component id '{comp.id}' is used twice",
                )
            seen.add(comp.id)
        for i, comp in enumerate(self.components):
            if isinstance(comp, AspirationComponent) and (
                comp.of_component not in seen
                or comp.of_component == comp.id
                or any(
                    c.id == comp.of_component and c.type in ("aspiration", "withhold")
                    for c in self.components
                )
            ):
                raise RuleError(
                    ("components", i, "of_component"),
                    f"aspiration '{comp.id}' must name another paying component, not "
                    f"'{comp.of_component}'",
                )
        for comp in self.components:
            if isinstance(comp, WithholdComponent):
                for ref in comp.from_components:
                    if ref not in seen or ref == comp.id:
                        raise RuleError(
                            ("components", self.components.index(comp), "from_components"),
                            f"withhold '{comp.id}' names unknown component '{ref}'",
                        )
        return self

    @model_validator(mode="after")
    def _periods(self) -> Self:
        base, perf = self.baseline_period, self.performance_period
        if base is not None and perf is not None and base.overlaps(perf):
            raise RuleError(
                ("performance_period",), "baseline_period and performance_period overlap"
            )
        for i in self.schedule.instalments:
            if not self.term.contains(i.date):
                raise RuleError(
                    ("schedule", "instalments", self.schedule.instalments.index(i)),
                    f"instalment date {i.date} is outside the contract term",
                )
        return self

    @model_validator(mode="after")
    def _model_rules(self) -> Self:
        """Each contract model's own rules, in the order a reader meets them in the file."""
        self._parties_rules()
        self._holder_paid_rules()
        self._core_rules()
        self._group_rules()
        return self

    def _parties_rules(self) -> None:
        """A holder (and only then subcontractors) and an alliance exactly where the model has one."""
        m = self.model
        if m in HOLDER_MODELS and self.holder is None:
            raise RuleError(
                ("model",),
                f"a {m} contract needs a 'holder' (the prime / accountable care organisation)",
            )
        if m not in HOLDER_MODELS and (self.holder is not None or self.subcontractors):
            raise RuleError(
                ("holder",) if self.holder else ("subcontractors",),
                f"a {m} contract has no holder or subcontractors; remove them",
            )
        if m in ALLIANCE_MODELS and self.alliance is None:
            raise RuleError(
                ("model",), f"a {m} contract needs an 'alliance' agreement with members' shares"
            )
        if m not in ALLIANCE_MODELS and self.alliance is not None:
            raise RuleError(
                ("alliance",), f"a {m} contract has no alliance agreement; remove 'alliance'"
            )

    def _holder_paid_rules(self) -> None:
        """A prime contractor is never paid for a component; a prime provider always is."""
        m = self.model
        holder_paid = [
            c.id
            for c in self.components
            if getattr(c, "payee", "practices") == "holder"
            or (self.holder is not None and getattr(c, "payee", "") == self.holder.party.code)
        ]
        if m == "prime_contractor" and holder_paid:
            raise RuleError(
                ("components", [c.id for c in self.components].index(holder_paid[0])),
                "a prime contractor does not deliver services itself (it keeps a management fee); "
                f"component '{holder_paid[0]}' pays the holder - use model prime_provider",
            )
        if m == "prime_provider" and not holder_paid:
            raise RuleError(
                ("components",),
                "a prime provider delivers services itself: pay it at least one component (payee: holder)",
            )

    def _core_rules(self) -> None:
        """Core general practice (and suspended core contracts) only under a fully integrated ACO."""
        m = self.model
        core_in = CORE_GENERAL_PRACTICE in self.services
        if m == "aco_full" and not core_in:
            raise RuleError(
                ("services",),
                f"a fully integrated ACO includes '{CORE_GENERAL_PRACTICE}' in services",
            )
        if m != "aco_full" and core_in:
            raise RuleError(
                ("services",),
                f"only a fully integrated ACO (aco_full) includes '{CORE_GENERAL_PRACTICE}'",
            )
        for cc in self.core_contracts:
            if m == "aco_full" and (cc.status != "suspended" or not cc.reactivatable):
                raise RuleError(
                    ("core_contracts", self.core_contracts.index(cc), "status"),
                    f"practice {cc.practice}'s {cc.type.upper()} contract must be suspended (and reactivatable) "
                    "for the term of a fully integrated ACO",
                )
            if m != "aco_full" and cc.status == "suspended":
                raise RuleError(
                    ("core_contracts", self.core_contracts.index(cc), "status"),
                    f"practice {cc.practice}'s {cc.type.upper()} contract is suspended, but only a fully "
                    "integrated ACO suspends core contracts",
                )
        if m == "aco_full" and cc_missing(self):
            raise RuleError(
                ("model",),
                "a fully integrated ACO lists the core contracts it suspends (core_contracts)",
            )

    def _group_rules(self) -> None:
        """A practice in one group per level; joining dates for members, within the term."""
        seen: dict[tuple[str, str], str] = {}
        for gi, g in enumerate(self.groups):
            for p in g.practices:
                if (p, g.level) in seen and seen[(p, g.level)] != g.code:
                    raise RuleError(
                        ("groups", gi, "practices", g.practices.index(p)),
                        f"practice {p} is in two {g.level}s of this contract ({seen[(p, g.level)]} and {g.code})",
                    )
                seen[(p, g.level)] = g.code
            for p, day in g.joined.items():
                if p not in g.practices:
                    raise RuleError(
                        ("groups", gi, "joined", p),
                        f"group {g.code}: joined names {p}, which is not one of its practices",
                    )
                if not self.term.contains(day):
                    raise RuleError(
                        ("groups", gi, "joined", p),
                        f"group {g.code}: {p} joined on {day}, outside the term",
                    )

    def qof_figures(self, comp: ConcordanceComponent) -> tuple[Decimal | None, int | None]:
        """£ per point and national average list for a qof_points component: the component's
        own, else the contract's `qof_national`, else the published figure for the term's
        financial year (qof_national.csv); None where none of them gives it."""
        start = self.term.start
        published = QOF_NATIONAL.get(start.year if start.month >= 4 else start.year - 1)
        national = self.qof_national
        value = comp.point_value
        if value is None:
            value = national.point_value if national else (published[0] if published else None)
        avg = comp.average_list_size
        if avg is None:
            avg = national.average_list_size if national else (published[1] if published else None)
        return value, avg

    @model_validator(mode="after")
    def _qof_rules(self) -> Self:
        """Every QOF-points component can be priced: checked when the contract is loaded, not
        after every stage of a run has been computed."""
        start = self.term.start
        year = start.year if start.month >= 4 else start.year - 1
        for i, comp in enumerate(self.components):
            if not isinstance(comp, ConcordanceComponent) or comp.basis != "qof_points":
                continue
            value, avg = self.qof_figures(comp)
            missing = [
                n for n, v in (("point_value", value), ("average_list_size", avg)) if v is None
            ]
            if missing:
                raise RuleError(
                    ("components", i),
                    f"component '{comp.id}': careis has no published national QOF "
                    f"{' or '.join(missing)} for {year}/{(year + 1) % 100:02d}; state "
                    f"{' and '.join(missing)} on the component (or qof_national in the contract)",
                )
        return self


def cc_missing(contract: Contract) -> bool:
    return not contract.core_contracts


class LoadedContract:
    """A validated contract with the line numbers of its source, for later semantic errors."""

    def __init__(self, contract: Contract, path: Path, lines: dict[Loc, int]) -> None:
        self.contract = contract
        self.path = path
        self.lines = lines

    def error(self, loc: Loc, problem: str, fix: str | None = None) -> ConfigError:
        line = line_of(self.lines, loc)
        return ConfigError(problem, file=self.path, where=f"line {line}" if line else None, fix=fix)

    def check_periods(self, baseline: Period, performance: Period) -> None:
        """Periods the contract states must be the ones the run measures: paying 2024/25's
        scheme on 2023/24's results is the costliest mistake a config can make."""
        for key, run_period in (("baseline_period", baseline), ("performance_period", performance)):
            stated = getattr(self.contract, key)
            if stated is not None and (stated.start, stated.end) != (
                run_period.start,
                run_period.end,
            ):
                raise self.error(
                    (key,),
                    f"the contract's {key} is {stated.start} to {stated.end} but the run measures "
                    f"{run_period.start} to {run_period.end}.",
                    fix="make the run config's periods match the contract (or remove the contract's).",
                )

    def referenced_files(self) -> list[Path]:
        """Files the contract reads (milestone achievements, last year's statements): inputs
        of the run, so their hashes go into the manifest."""
        out = []
        for comp in self.contract.components:
            for attr in ("achievements", "prior_statements"):
                value = getattr(comp, attr, None)
                if isinstance(value, Path):
                    out.append(value if value.is_absolute() else self.path.parent / value)
        return [p for p in out if p.is_file()]

    def check_measures(self, known: set[str]) -> None:
        """Every component must name a measure the run computes."""
        for i, comp in enumerate(self.contract.components):
            for attr in ("measure", "prevalence_measure", "rate_measure"):
                measure = getattr(comp, attr, None)
                if measure is not None and measure not in known:
                    raise self.error(
                        ("components", i, attr),
                        f"component '{comp.id}' names an unknown measure '{measure}'.",
                        fix=f"use one of: {', '.join(sorted(known))}.",
                    )


def load_contract(path: str | Path) -> LoadedContract:
    """Read and validate a contract YAML file (errors name file, line and field)."""
    path = Path(path)
    data, lines = load_yaml(path)
    try:
        contract = model_from_data(Contract, data, lines, path)
    except RuleError as exc:
        line = line_of(lines, exc.loc)
        raise ConfigError(
            exc.problem + ".", file=path, where=f"line {line}" if line else None
        ) from None
    return LoadedContract(contract, path, lines)
