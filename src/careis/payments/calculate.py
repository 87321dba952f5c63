"""Evaluate a contract's payment components against measure results: statements per provider.

Why this shape: finance pays from the statement and a practice checks it line by line, so each
line carries everything needed to re-derive it by hand: the measure and its value, the target
and whether it was met, the quantity and rate, and the amount (rounded half up to the penny,
once, on the line). Totals are sums of rounded lines, so they always add up.

Order of evaluation (`evaluate`): each component in the contract's order; then withholds (they
take a % of lines already computed); then aspiration (on-account) lines, which need this year's
achievement; then management fees on every subcontractor's earned line; then the ledger
(careis.payments.ledger), which turns the lines into dated movements between accounts.

Line kinds: earned (a payment for the component), management_fee / fee_retained (the holder's
cut, negative on the subcontractor, positive on the holder), withhold / release, pool (a share
of a gain or, negative, of a loss), on_account / recovery (aspiration payments).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from careis.contracts.schema import Contract, LoadedContract, PerformanceComponent
from careis.measures.results import MeasureResults
from careis.money import ZERO, round_pence
from careis.payments.components import STAGES, Context, NoData, kind_of
from careis.payments.ledger import PaymentRun, build_ledger
from careis.payments.lines import StatementLine

__all__ = ["StatementLine", "evaluate", "judged_with", "statements", "totals_by_practice"]


def statements(
    loaded: LoadedContract,
    results: MeasureResults,
    practices: Iterable[str],
    memberships_on_date: dict[tuple[str, str], str],
) -> list[StatementLine]:
    """All statement lines for every provider party to the contract (see `evaluate`)."""
    return evaluate(loaded, results, practices, memberships_on_date).lines


def evaluate(
    loaded: LoadedContract,
    results: MeasureResults,
    practices: Iterable[str],
    memberships_on_date: dict[tuple[str, str], str],
    joined: dict[tuple[str, str], dt.date] | None = None,
    list_sizes: dict[str, int] | None = None,
) -> PaymentRun:
    """Evaluate every component for every provider; return statement lines and the ledger.

    `memberships_on_date` maps (practice_code, group level) -> group code on the contract's
    list-size date: the aggregate a practice is judged with. Groups stated in the contract
    override the data for their level. `joined` maps (practice, level) -> the first day of a
    membership that began part-way through the term (the practice's pot share and per-patient
    performance pay are pro-rated by the days it was a member). `list_sizes`: registered
    patients per practice on the contract's list-size date (default: the `list_size`
    measure's performance row).
    """
    contract: Contract = loaded.contract
    loaded.check_measures(set(results.catalogue))
    chosen = _providers(loaded, practices)
    membership, starts = judged_with(contract, memberships_on_date, joined or {})
    _check_group_results(loaded, results)
    ctx = Context(contract, results, chosen, membership, starts, loaded.path, list_sizes)
    lines: list[StatementLine] = []
    for stage in STAGES:
        earlier = list(lines)
        for i, comp in enumerate(contract.components):
            kind = kind_of(comp)
            if kind.stage != stage:
                continue
            try:
                lines.extend(kind.pay(ctx, comp, earlier))
            except NoData as exc:
                raise loaded.error(("components", i), f"component '{comp.id}': {exc}") from None
    lines.extend(_management_fees(contract, lines))
    ledger = build_ledger(contract, lines)
    return PaymentRun(lines=lines, ledger=ledger, practices=chosen)


def _providers(loaded: LoadedContract, practices: Iterable[str]) -> list[str]:
    """The practices party to the contract: those in the data, or the contract's list."""
    contract = loaded.contract
    chosen = sorted(set(practices))
    if contract.providers.select != "listed":
        return chosen
    unknown = sorted(set(contract.providers.practices) - set(chosen))
    if unknown:
        raise loaded.error(
            ("providers", "practices"),
            f"practices not found in the data: {', '.join(unknown)}.",
            fix="correct the codes or remove them from the contract.",
        )
    return sorted(set(contract.providers.practices))


def judged_with(
    contract: Contract,
    memberships_on_date: dict[tuple[str, str], str],
    joined: dict[tuple[str, str], dt.date],
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dt.date]]:
    """Memberships and joining dates with the contract's own groups replacing the data's.

    A level the contract states groups for is the contract's alone: the data's memberships
    at that level are dropped once, then every contract group at the level is added (several
    PCNs at one level are all kept).
    """
    levels = {group.level for group in contract.groups}
    membership = {k: v for k, v in memberships_on_date.items() if k[1] not in levels}
    starts = {k: v for k, v in joined.items() if k[1] not in levels}
    for group in contract.groups:
        for code in group.practices:
            membership[(code, group.level)] = group.code
        for code, day in group.joined.items():
            starts[(code, group.level)] = day
    return membership, starts


def _check_group_results(loaded: LoadedContract, results: MeasureResults) -> None:
    """A contract group is judged on its own aggregate: refuse if the results hold none.

    The run rolls the measures up over the contract's groups (careis.facts.membership
    `with_contract_groups`); results rolled up over other groups cannot pay this contract.
    """
    contract = loaded.contract
    for comp in contract.components:
        if not isinstance(comp, PerformanceComponent):
            continue  # the one kind judged on a group's aggregate
        for gi, group in enumerate(contract.groups):
            if group.level != comp.aggregate_level:
                continue
            if not results.filter_rows(comp.measure, group.level, group.code):
                raise loaded.error(
                    ("groups", gi, "code"),
                    f"component '{comp.id}': no '{comp.measure}' result for the contract's "
                    f"{group.level} {group.code}, so its aggregate cannot be computed.",
                    fix="pay from a run of this contract, whose measures are rolled up over "
                    "its groups.",
                )


def _management_fees(contract: Contract, lines: list[StatementLine]) -> list[StatementLine]:
    """Under a holder, every subcontractor's earned line passes through it less its fee."""
    holder = contract.holder
    if holder is None or holder.management_fee_percent == 0:
        return []
    pct = holder.management_fee_percent
    out: list[StatementLine] = []
    retained: dict[tuple[str, str], tuple[StatementLine, Decimal]] = {}
    for line in lines:
        if line.provider == holder.party.code or line.kind != "earned" or not line.amount:
            continue
        fee = round_pence(line.amount * pct / 100)
        out.append(
            replace(
                line,
                description=f"Management fee {pct}% kept by {holder.party.code}",
                test="",
                met="",
                quantity=line.amount,
                rate=pct,
                amount=-fee,
                kind="management_fee",
                evidence=f"holder.management_fee_percent; line {line.component_id}",
            )
        )
        key = (line.component_id, line.paid_text)
        first, total = retained.get(key, (line, ZERO))
        retained[key] = (first, total + fee)
    # one line per component and payment date, in the order of "<component>|<paid>"
    for (cid, _), (first, fee) in sorted(retained.items(), key=lambda kv: "|".join(kv[0])):
        out.append(
            StatementLine(
                provider=holder.party.code,
                component_id=cid,
                component_type="management_fee",
                description=f"Management fee {pct}% retained on '{cid}'",
                quantity=fee,
                rate=pct,
                amount=fee,
                evidence="sum of the subcontractors' fee lines",
                kind="fee_retained",
                paid=first.paid,
                paid_on=first.paid_on,
            )
        )
    return out


def totals_by_practice(lines: Iterable[StatementLine]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines:
        out[line.provider] = out.get(line.provider, ZERO) + line.amount
    return out
