"""Map each existing contract onto the new care model: what must happen to it, why, and when.

Why rules by integration level: what a commissioner can do with a contract depends on the kind
of contract (GMS and PMS cannot be ended without the contractor's agreement; APMS and NHS
Standard Contracts end at expiry or on notice) and how far the new model integrates (an alliance
sits alongside existing contracts; full integration suspends GMS/PMS; DOMAIN.md section 5).

Why every action is tested against reg 13 of the Provider Selection Regime (SI 2023/1348): a
contract may be changed during its term only in the cases reg 13 permits. Handing a contract to
the lead provider (novation) is a change of provider that is not "solely ... succession ...
following corporate changes" (reg 13(1)(b)), and varying the lead provider's own contract into
an integrated one makes it materially different in character (reg 13(1)(c)-(d), (2)(a)). So
careis never proposes either: the contract ends under its own terms and its services are
awarded in the new contract, whose route is a PSR award question.

Why the timeline is built from go-live backwards: there must never be a day without a
contracted provider. Mobilisation runs from the award in parallel with notice periods; each
contract then ends the day before go-live (notice served in time) or at its expiry, and any day
between an expiry and go-live is reported as a gap. A GMS/PMS suspension takes effect at
go-live, and not before every patient has been told in writing (SI 2019/248).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from careis.commissioning.model import CareModel, IntegrationLevel
from careis.commissioning.register import Register, RegisteredContract, Termination
from careis.contracts.common import ContractType
from careis.errors import ConfigError

ONE_DAY = dt.timedelta(days=1)


class Action(StrEnum):
    KEEP = "keep"
    TERMINATE = "terminate"
    SUSPEND = "suspend"
    INTEGRATION_AGREEMENT = "integration_agreement"
    ALLIANCE_AGREEMENT = "alliance_agreement"


# Actions that must have taken effect when the new model goes live.
BLOCKING = frozenset({Action.TERMINATE, Action.SUSPEND})

# GMS/PMS suspended under Schedule 3A (GMS) / 2A (PMS) may be reactivated; patients are notified
# at the two-year point (DOMAIN.md section 5, SI 2019/248).
REACTIVATION_YEARS = 2

REG13_UNCHANGED = "no modification: the contract's terms are unchanged"
REG13_ALONGSIDE = (
    "no modification of the contract itself: the agreement sits alongside it (test any change "
    "to the contract's own terms under reg 13)"
)
REG13_ENDS = (
    "not a modification: ends under its own terms; its services are awarded in the new contract. "
    "Novation (not solely corporate succession, reg 13(1)(b)) or folding it into the lead "
    "provider's contract (materially different in character, reg 13(1)(c)-(d)) is not permitted"
)
REG13_SUSPEND = (
    "not a PSR modification: the GMS/PMS contract is suspended under the GMS/PMS Regulations "
    "(SI 2019/248) and core services are awarded in the integrated contract"
)


@dataclass(frozen=True)
class MappedContract:
    """What the new model requires of one existing contract."""

    contract_id: str
    contract_type: str
    provider: str
    action: Action
    reason: str
    consent_needed: bool
    how: str  # "at expiry", "on 6 months' notice", "by agreement", ""
    effective: dt.date | None  # the day the action takes effect (the first day without it)
    fallback: str = ""  # what happens if the provider does not consent
    reactivation_review: dt.date | None = None
    notice_months: int | None = None  # when it ends on notice
    serve_notice_by: dt.date | None = None  # latest day to serve notice so it ends at go-live
    reg13: str = REG13_UNCHANGED  # the reg 13 assessment of the action
    moves_into_model: bool = False  # its services are provided under the new model at go-live
    gap: tuple[dt.date, dt.date] | None = None  # days with no contracted provider (inclusive)


@dataclass(frozen=True)
class Mapping:
    model: CareModel
    rows: tuple[MappedContract, ...]
    earliest_start: dt.date
    binding: tuple[str, ...]  # what sets the earliest start (empty: the intended start holds)
    errors: tuple[str, ...] = ()  # gaps in provision and suspensions that cannot take effect
    missing: tuple[str, ...] = ()  # facts the timeline needs and was not given


@dataclass(frozen=True)
class ActionTotal:
    """Contracts and annual value by action and funding stream (for finance)."""

    action: Action
    funding_stream: str
    contracts: int
    annual_value: Decimal
    unvalued: int  # contracts with no annual value in the register


def totals(mapping: Mapping, register: Register) -> list[ActionTotal]:
    """How much of the commissioner's spend each action touches, by funding stream."""
    by_id = register.by_id()
    acc: dict[tuple[Action, str], list[Any]] = {}
    for r in mapping.rows:
        c = by_id[r.contract_id]
        key = (r.action, c.funding_stream.value)
        slot = acc.setdefault(key, [0, Decimal(0), 0])
        slot[0] += 1
        if c.value.annual is None:
            slot[2] += 1
        else:
            slot[1] += c.value.annual
    order = list(Action)
    return [
        ActionTotal(a, f, n, v, u)
        for (a, f), (n, v, u) in sorted(
            acc.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
        )
    ]


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(d, day.day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _earliest_end(c: RegisteredContract, model: CareModel, source: str) -> tuple[str, dt.date]:
    """(how, the earliest first day without the contract) for ending contract `c`."""
    options: list[tuple[dt.date, str]] = []
    term = c.term
    kind = c.termination or Termination.EXPIRY_OR_NOTICE
    if kind == Termination.BREACH_OR_AGREEMENT:
        return "by agreement", model.decision_date
    if kind in (Termination.EXPIRY, Termination.EXPIRY_OR_NOTICE) and term.end is not None:
        options.append((term.end + ONE_DAY, f"at expiry ({term.end.isoformat()})"))
    expiry_suffices = bool(options) and options[0][0] <= model.intended_start
    if kind in (Termination.NOTICE, Termination.EXPIRY_OR_NOTICE) and not expiry_suffices:
        if term.notice_months is None:
            raise ConfigError(
                f"contract '{c.id}' must be terminated for the new model but has no notice "
                "period" + (f" and does not expire until {term.end}" if term.end else "") + ".",
                file=source,
                where=f"contract '{c.id}' field 'notice_months'",
                fix="add notice_months (from the contract's termination clause).",
            )
        options.append(
            (add_months(model.decision_date, term.notice_months),
             f"on {term.notice_months} months' notice")
        )  # fmt: skip
    if not options:
        raise ConfigError(
            f"contract '{c.id}' must be terminated but has neither an end date nor a notice "
            "period.",
            file=source,
            where=f"contract '{c.id}'",
            fix="add 'end' or 'notice_months'.",
        )
    effective, how = min(options)
    return how, effective


def _in_scope(c: RegisteredContract, model: CareModel) -> bool:
    return bool(set(c.services) & set(model.services))


@dataclass(frozen=True)
class _Rows:
    """Builds the rows for one contract (keeps each integration level's rules short)."""

    c: RegisteredContract
    model: CareModel
    source: str

    def row(self, action: Action, reason: str, **kw: Any) -> MappedContract:
        base: dict[str, Any] = {"consent_needed": False, "how": "", "effective": None}
        return MappedContract(
            contract_id=self.c.id, contract_type=self.c.type.value, provider=self.c.provider.code,
            action=action, reason=reason, **{**base, **kw},
        )  # fmt: skip

    def keep(self, reason: str) -> MappedContract:
        return self.row(Action.KEEP, reason)

    def terminate(self, reason: str, moves: bool = True) -> MappedContract:
        how, effective = _earliest_end(self.c, self.model, self.source)
        consent = how == "by agreement"
        months = self.c.term.notice_months if how.startswith("on ") else None
        return self.row(Action.TERMINATE, reason, consent_needed=consent, how=how,
                        effective=effective, notice_months=months, reg13=REG13_ENDS,
                        moves_into_model=moves)  # fmt: skip

    def agree(self, action: Action, reason: str, fallback: str, reg13: str) -> MappedContract:
        return self.row(action, reason, consent_needed=True, how="by agreement",
                        effective=self.model.decision_date, fallback=fallback, reg13=reg13)  # fmt: skip


def _alliance(r: _Rows) -> MappedContract:
    if r.c.type == ContractType.DES:
        return r.keep("a national DES is unchanged by a local alliance")
    return r.agree(
        Action.ALLIANCE_AGREEMENT,
        "the contract stays in force; the provider signs the alliance agreement that sits "
        "alongside it (shared objectives, risk/reward, joint governance)",
        "a provider that declines stays outside the alliance on its own contract",
        REG13_ALONGSIDE,
    )


def _enhanced(r: _Rows) -> MappedContract:
    c = r.c
    if c.core_gp:
        return r.keep("the new enhanced service sits alongside the core GP contract")
    if c.type == ContractType.DES:
        return r.keep("a national DES cannot be varied locally; check the new service does not "
                      "pay twice for the same work")  # fmt: skip
    if c.type in (ContractType.LES, ContractType.LIS, ContractType.ENHANCED_SERVICE):
        return r.terminate("the new enhanced service replaces this local scheme; ending it avoids "
                           "paying twice for the same work")  # fmt: skip
    return r.keep("services in scope but delivered under a contract the new enhanced service "
                  "does not replace; align pathways by agreement if needed")  # fmt: skip


def _lead(model: CareModel) -> str:
    return model.lead_provider.code if model.lead_provider else "the lead provider"


def _prime(r: _Rows) -> MappedContract:
    c = r.c
    if c.core_gp or c.type == ContractType.DES:
        return r.keep("core general practice and national DES stay with the practice; a prime "
                      "contract does not include them")  # fmt: skip
    own = " (the lead provider's own contract)" if c.provider.code == _lead(r.model) else ""
    return r.terminate(
        f"the service moves under the prime contract held by {_lead(r.model)}{own}: this "
        "contract ends and the service is awarded in the prime contract, which may subcontract it"
    )


def _aco_core_gp(r: _Rows, full: bool) -> MappedContract:
    c = r.c
    if not full:
        return r.agree(
            Action.INTEGRATION_AGREEMENT,
            "partial integration leaves core general practice outside the integrated contract: "
            f"the practice keeps its {c.type.value.upper()} contract and links in through an "
            "integration agreement",
            "a practice that declines stays on its own contract, outside the model",
            REG13_ALONGSIDE,
        )
    if c.type == ContractType.APMS:
        return r.terminate("an APMS contract is time-limited: its core services move into the "
                           "integrated contract when it ends")  # fmt: skip
    return replace(
        r.agree(
            Action.SUSPEND,
            "core general practice moves into the integrated contract: the GMS/PMS contract is "
            "suspended from go-live (GMS Regulations Schedule 3A / PMS Schedule 2A, SI 2019/248) "
            "and can be reactivated",
            "without agreement it cannot be suspended; link the practice through an integration "
            "agreement instead (partial integration)",
            REG13_SUSPEND,
        ),
        moves_into_model=True,
    )


def _aco(r: _Rows) -> MappedContract:
    c = r.c
    full = r.model.integration_level == IntegrationLevel.ACO_FULL
    if c.core_gp:
        return _aco_core_gp(r, full)
    if c.type == ContractType.DES:
        if full:
            return replace(
                r.agree(Action.SUSPEND, "a DES sits on the practice's core contract, so it is "
                        "suspended with it; confirm with NHS England",
                        "it stays with the practice's contract if that is not suspended",
                        REG13_SUSPEND),
                moves_into_model=True,
            )  # fmt: skip
        return r.keep("a national DES stays with the practice's own GMS/PMS contract")
    if c.type in (ContractType.LES, ContractType.LIS, ContractType.ENHANCED_SERVICE):
        return r.terminate("the integrated contract takes over this local scheme")
    own = " (the lead provider's own contract)" if c.provider.code == _lead(r.model) else ""
    return r.terminate(
        f"the service moves into the integrated contract held by {_lead(r.model)}{own}: this "
        "contract ends and the service is awarded in the integrated contract"
    )


def _map_one(c: RegisteredContract, model: CareModel, source: str) -> MappedContract:
    r = _Rows(c, model, source)
    if c.term.end is not None and c.term.end < model.decision_date:
        return r.keep(f"it ended on {c.term.end}, before the decision: nothing to do (remove it "
                      "from the register)")  # fmt: skip
    if not _in_scope(c, model):
        return r.keep("its services are outside the new model's scope")
    level = model.integration_level
    if level in (IntegrationLevel.ALLIANCE, IntegrationLevel.ACO_VIRTUAL):
        return _alliance(r)
    if level == IntegrationLevel.ENHANCED_SERVICE:
        return _enhanced(r)
    if level in (IntegrationLevel.PRIME_CONTRACTOR, IntegrationLevel.PRIME_PROVIDER):
        return _prime(r)
    return _aco(r)


def _subcontract(c: RegisteredContract, parent: MappedContract) -> MappedContract:
    """A subcontract ends with a parent that ends; the new lead provider may subcontract anew."""
    if parent.action in BLOCKING:
        return MappedContract(
            contract_id=c.id, contract_type=c.type.value, provider=c.provider.code,
            action=Action.TERMINATE,
            reason=f"its parent contract '{c.parent}' will {parent.action.value}: the subcontract "
            "ends with it; the new contract's holder may subcontract the service again",
            consent_needed=False, how=f"with its parent ({c.parent})", effective=parent.effective,
            reg13=REG13_ENDS, moves_into_model=True,
        )  # fmt: skip
    return MappedContract(
        contract_id=c.id, contract_type=c.type.value, provider=c.provider.code,
        action=Action.KEEP, reason=f"its parent contract '{c.parent}' is kept ({parent.action.value})",
        consent_needed=False, how="", effective=None,
    )  # fmt: skip


def _go_live(model: CareModel, rows: tuple[MappedContract, ...]) -> tuple[dt.date, tuple[str, ...]]:
    """The earliest realistic start, and what sets it (the intended start if nothing does).

    Mobilisation runs from the decision, alongside notice periods - not after them."""
    candidates: list[tuple[dt.date, str]] = [(model.intended_start, "")]
    if model.mobilisation_months:
        candidates.append((add_months(model.decision_date, model.mobilisation_months),
                           f"{model.mobilisation_months} months' mobilisation"))  # fmt: skip
    if model.patients_notified_by and any(r.action == Action.SUSPEND for r in rows):
        candidates.append((model.patients_notified_by + ONE_DAY,
                           "patients told in writing (SI 2019/248)"))  # fmt: skip
    for r in rows:
        own_terms = r.how != "by agreement" and not r.how.startswith("with its parent")
        if r.action in BLOCKING and r.effective is not None and own_terms:
            candidates.append((r.effective, r.contract_id))
    start = max(day for day, _ in candidates)
    if start == model.intended_start:
        return start, ()
    return start, tuple(why for day, why in candidates if day == start and why)


def _settle(r: MappedContract, go_live: dt.date, model: CareModel) -> MappedContract:
    """Fix each action's date against go-live: notice served to end at go-live, agreements and
    suspensions at go-live, and any day between an expiry and go-live named as a gap."""
    if r.action not in BLOCKING:
        return r
    if r.how == "by agreement" or r.how.startswith("with its parent"):
        r = replace(r, effective=go_live)
    elif r.notice_months is not None:
        served = max(model.decision_date, add_months(go_live, -r.notice_months))
        r = replace(r, effective=go_live, serve_notice_by=served)
    elif r.effective is not None and r.effective < go_live:
        r = replace(r, gap=(r.effective, go_live - ONE_DAY))
    if r.action == Action.SUSPEND and r.contract_type != ContractType.DES.value:
        r = replace(r, reactivation_review=add_months(go_live, 12 * REACTIVATION_YEARS))
    return r


def _problems(model: CareModel, rows: tuple[MappedContract, ...], go_live: dt.date
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:  # fmt: skip
    errors: list[str] = []
    for r in rows:
        if r.gap is not None:
            first, last = r.gap
            errors.append(
                f"{r.contract_id} ends on {first - ONE_DAY} but the new model starts on "
                f"{go_live}: no contracted provider from {first} to {last} "
                f"({(last - first).days + 1} days). Extend the contract (a reg 13 modification: "
                "ask the modification question) or start the new model earlier."
            )
    missing: list[str] = []
    suspended = [r.contract_id for r in rows if r.action == Action.SUSPEND]
    if suspended and model.patients_notified_by is None:
        missing.append(
            f"patients_notified_by: the day by which every registered patient of "
            f"{', '.join(suspended)} has been told in writing of the suspension (SI 2019/248); "
            "the suspension cannot take effect before it"
        )
    return tuple(errors), tuple(missing)


def map_register(register: Register, model: CareModel) -> Mapping:
    """Map every contract in the register; subcontracts follow their parent; then date every
    action against go-live so that no day is left without a contracted provider."""
    rows: dict[str, MappedContract] = {}
    ordered = sorted(register.contracts, key=lambda c: (c.parent is not None, c.id))
    for c in ordered:
        if c.parent is not None and c.parent in rows:
            rows[c.id] = _subcontract(c, rows[c.parent])
        else:
            rows[c.id] = _map_one(c, model, register.source)
    first = tuple(rows[c.id] for c in register.contracts)
    go_live, binding = _go_live(model, first)
    result = tuple(_settle(r, go_live, model) for r in first)
    errors, missing = _problems(model, result, go_live)
    return Mapping(model=model, rows=result, earliest_start=go_live, binding=binding,
                   errors=errors, missing=missing)  # fmt: skip


def provider_on(mapping: Mapping, row: MappedContract, day: dt.date, start: dt.date) -> str | None:
    """Who is contracted to provide `row`'s services on `day` (None: nobody).

    `start` is the existing contract's own start date. Before the action takes effect the
    existing provider; from go-live the new model's holder for services that move into it."""
    go_live = mapping.earliest_start
    if row.action not in BLOCKING:
        return row.provider if day >= start else None
    if row.effective is not None and day < row.effective:
        return row.provider
    if day >= go_live:
        lead = mapping.model.lead_provider
        return lead.code if lead else "the new model"
    return None
