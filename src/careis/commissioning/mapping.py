"""Map each existing contract onto the new care model: what must happen to it, why, and when.

Why rules by integration level: what a commissioner can do with a contract depends on two
things only — the kind of contract (GMS and PMS cannot be ended without the contractor's
agreement; APMS and NHS Standard Contracts end at expiry or on notice) and how far the new
model integrates (an alliance sits alongside existing contracts; full integration suspends
GMS/PMS; DOMAIN.md section 5). The earliest date each action can take effect then sets the
earliest realistic start of the new model, and the contract that sets it is named.
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


class Action(StrEnum):
    KEEP = "keep"
    VARY = "vary"
    TERMINATE = "terminate"
    SUSPEND = "suspend"
    INTEGRATION_AGREEMENT = "integration_agreement"
    ALLIANCE_AGREEMENT = "alliance_agreement"
    NOVATE = "novate"


# Actions that must have taken effect before the new model can go live.
BLOCKING = frozenset({Action.TERMINATE, Action.SUSPEND, Action.NOVATE, Action.VARY})

# GMS/PMS suspended under Schedule 3A (GMS) / 2A (PMS) may be reactivated; patients are notified
# at the two-year point (DOMAIN.md section 5, SI 2019/248).
REACTIVATION_YEARS = 2


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
    effective: dt.date | None  # earliest date the action can take effect
    fallback: str = ""  # what happens if the provider does not consent
    reactivation_review: dt.date | None = None
    notice_months: int | None = None  # when it ends on notice
    serve_notice_by: dt.date | None = None  # latest day to serve notice so it ends at go-live


@dataclass(frozen=True)
class Mapping:
    model: CareModel
    rows: tuple[MappedContract, ...]
    earliest_start: dt.date
    binding: tuple[str, ...]  # contracts whose action sets the earliest start (empty: intended)


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


def _termination(
    c: RegisteredContract, model: CareModel, source: str
) -> tuple[str, dt.date, bool, str]:
    """(how, earliest effective date, consent needed, fallback) for ending contract `c`."""
    options: list[tuple[dt.date, str]] = []
    term = c.term
    kind = c.termination or Termination.EXPIRY_OR_NOTICE
    if kind == Termination.BREACH_OR_AGREEMENT:
        return (
            "by agreement",
            model.decision_date,
            True,
            f"without agreement a {c.type.value.upper()} contract cannot be ended (breach aside)",
        )
    if kind in (Termination.EXPIRY, Termination.EXPIRY_OR_NOTICE) and term.end is not None:
        options.append((term.end + dt.timedelta(days=1), f"at expiry ({term.end.isoformat()})"))
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
        served = model.decision_date
        options.append(
            (add_months(served, term.notice_months), f"on {term.notice_months} months' notice")
        )
    if not options:
        raise ConfigError(
            f"contract '{c.id}' must be terminated but has neither an end date nor a notice "
            "period.",
            file=source,
            where=f"contract '{c.id}'",
            fix="add 'end' or 'notice_months'.",
        )
    effective, how = min(options)
    return how, effective, False, ""


def _in_scope(c: RegisteredContract, model: CareModel) -> bool:
    return bool(set(c.services) & set(model.services))


def _is_lead(c: RegisteredContract, model: CareModel) -> bool:
    return model.lead_provider is not None and c.provider.code == model.lead_provider.code


def _map_one(c: RegisteredContract, model: CareModel, source: str) -> MappedContract:
    level = model.integration_level

    def row(action: Action, reason: str, consent: bool, how: str, effective: dt.date | None,
            fallback: str = "") -> MappedContract:  # fmt: skip
        return MappedContract(
            contract_id=c.id,
            contract_type=c.type.value,
            provider=c.provider.code,
            action=action,
            reason=reason,
            consent_needed=consent,
            how=how,
            effective=effective,
            fallback=fallback,
        )

    def keep(reason: str) -> MappedContract:
        return row(Action.KEEP, reason, False, "", None)

    def terminate(reason: str) -> MappedContract:
        how, effective, consent, fallback = _termination(c, model, source)
        months = c.term.notice_months if how.startswith("on ") else None
        return replace(row(Action.TERMINATE, reason, consent, how, effective, fallback),
                       notice_months=months)  # fmt: skip

    def by_agreement(action: Action, reason: str, fallback: str = "") -> MappedContract:
        return row(action, reason, True, "by agreement", model.decision_date, fallback)

    if c.term.end is not None and c.term.end < model.decision_date:
        return keep(f"it ended on {c.term.end}, before the decision: nothing to do (remove it "
                    "from the register)")  # fmt: skip
    if not _in_scope(c, model):
        return keep("its services are outside the new model's scope")
    gms_pms = c.type in (ContractType.GMS, ContractType.PMS)
    local_enhanced = c.type in (ContractType.LES, ContractType.LIS, ContractType.ENHANCED_SERVICE)

    if level in (IntegrationLevel.ALLIANCE, IntegrationLevel.ACO_VIRTUAL):
        if c.type == ContractType.DES:
            return keep("a national DES is unchanged by a local alliance")
        return by_agreement(
            Action.ALLIANCE_AGREEMENT,
            "the contract stays in force; the provider signs the alliance agreement that sits "
            "alongside it (shared objectives, risk/reward, joint governance)",
            fallback="a provider that declines stays outside the alliance on its own contract",
        )

    if level == IntegrationLevel.ENHANCED_SERVICE:
        if c.core_gp:
            return keep("the new enhanced service sits alongside the core GP contract")
        if c.type == ContractType.DES:
            return keep("a national DES cannot be varied locally; check the new service does "
                        "not pay twice for the same work")  # fmt: skip
        if local_enhanced:
            return terminate("the new enhanced service replaces this local scheme; ending it "
                             "avoids paying twice for the same work")  # fmt: skip
        return keep("services in scope but delivered under a contract the new enhanced service "
                    "does not replace; align pathways by agreement if needed")  # fmt: skip

    lead = model.lead_provider.code if model.lead_provider else "the lead provider"
    try:
        how, when, consent, _ = _termination(c, model, source)
        ending = (
            "it cannot be ended without agreement either"
            if consent
            else f"end the contract {how} (from {when})"
        )
    except ConfigError:
        ending = "end the contract when its terms allow (add notice_months to the register)"
    fallback_novate = f"{ending}, and let {lead} subcontract the service"
    if level in (IntegrationLevel.PRIME_CONTRACTOR, IntegrationLevel.PRIME_PROVIDER):
        if c.core_gp or c.type == ContractType.DES:
            return keep("core general practice and national DES stay with the practice; a "
                        "prime contract does not include them")  # fmt: skip
        if _is_lead(c, model):
            return by_agreement(Action.VARY, "the lead provider's own contract is varied into "
                                "the prime contract")  # fmt: skip
        return by_agreement(
            Action.NOVATE,
            f"the service moves under the prime contract: novate to {lead}, which manages it "
            "as a subcontract",
            fallback=fallback_novate,
        )

    # accountable care, partially or fully integrated
    if gms_pms:
        if level == IntegrationLevel.ACO_FULL:
            suspended = by_agreement(
                Action.SUSPEND,
                "core general practice moves into the integrated contract: the GMS/PMS "
                "contract is suspended (GMS Regulations Schedule 3A / PMS Schedule 2A, SI "
                "2019/248) and can be reactivated",
                fallback="without agreement it cannot be suspended; link the practice through "
                "an integration agreement instead (partial integration)",
            )
            # the two-year point is set from go-live, once the earliest start is known
            return replace(suspended, reactivation_review=model.intended_start)
        return by_agreement(
            Action.INTEGRATION_AGREEMENT,
            "core general practice stays outside the integrated contract; the practice keeps "
            "its GMS/PMS contract and links in through an integration agreement",
            fallback="a practice that declines stays on its own contract, outside the model",
        )
    if c.type == ContractType.APMS:
        return terminate("an APMS contract is time-limited: its services move into the "
                         "integrated contract when it ends")  # fmt: skip
    if c.type == ContractType.DES:
        if level == IntegrationLevel.ACO_FULL:
            return by_agreement(Action.SUSPEND, "a DES sits on the practice's core contract, "
                                "so it is suspended with it; confirm with NHS England")  # fmt: skip
        return keep("a national DES stays with the practice's own GMS/PMS contract")
    if local_enhanced:
        return terminate("the integrated contract takes over this local scheme")
    if _is_lead(c, model):
        return by_agreement(Action.VARY, "the lead provider's own contract is varied into the "
                            "integrated contract")  # fmt: skip
    return by_agreement(
        Action.NOVATE,
        f"the service moves into the integrated contract: novate to {lead}",
        fallback=fallback_novate,
    )


def map_register(register: Register, model: CareModel) -> Mapping:
    """Map every contract in the register; subcontracts follow their parent."""
    rows: dict[str, MappedContract] = {}
    ordered = sorted(register.contracts, key=lambda c: (c.parent is not None, c.id))
    for c in ordered:
        if c.parent is not None and c.parent in rows:
            parent = rows[c.parent]
            if parent.action in (Action.NOVATE, Action.TERMINATE, Action.SUSPEND):
                rows[c.id] = MappedContract(
                    contract_id=c.id,
                    contract_type=c.type.value,
                    provider=c.provider.code,
                    action=Action.NOVATE,
                    reason=f"its parent contract '{c.parent}' will {parent.action.value}: the "
                    "subcontract moves under the new lead provider",
                    consent_needed=True,
                    how="by agreement",
                    effective=model.decision_date,
                    fallback="end it with its parent and let the lead provider re-subcontract",
                )
                continue
            rows[c.id] = MappedContract(
                contract_id=c.id,
                contract_type=c.type.value,
                provider=c.provider.code,
                action=Action.KEEP,
                reason=f"its parent contract '{c.parent}' is kept ({parent.action.value})",
                consent_needed=False,
                how="",
                effective=None,
            )
            continue
        rows[c.id] = _map_one(c, model, register.source)
    result = tuple(rows[c.id] for c in register.contracts)
    earliest = model.intended_start
    binding: tuple[str, ...] = ()
    gates = [r for r in result if r.action in BLOCKING and r.effective is not None]
    if gates:
        last = max(r.effective for r in gates if r.effective is not None)
        ready = add_months(last, model.mobilisation_months)
        if ready > earliest:
            earliest = ready
            binding = tuple(r.contract_id for r in gates if r.effective == last)
    # Notice served too early ends a contract before the new model can replace it: say the
    # latest day notice can be served for the contract to end when the model starts.
    result = tuple(
        replace(r, serve_notice_by=max(model.decision_date, add_months(earliest, -r.notice_months)))
        if r.notice_months is not None
        else r
        for r in result
    )
    result = tuple(
        replace(r, reactivation_review=add_months(earliest, 12 * REACTIVATION_YEARS))
        if r.reactivation_review is not None
        else r
        for r in result
    )
    return Mapping(model=model, rows=result, earliest_start=earliest, binding=binding)
