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

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from careis.contracts.schema import (
    AnyComponent,
    AspirationComponent,
    CapitationComponent,
    ConcordanceComponent,
    Contract,
    EngagementComponent,
    GainShareComponent,
    LoadedContract,
    PerformanceComponent,
    WithholdComponent,
)
from careis.errors import ConfigError
from careis.measures.results import MeasureResults
from careis.money import ZERO, allocate, format_gbp, round_pence, to_decimal
from careis.payments.ledger import PaymentRun, build_ledger


@dataclass(frozen=True)
class StatementLine:
    """One line of a practice's payment statement."""

    provider: str
    component_id: str
    component_type: str
    description: str
    measure_id: str
    measure_level: str
    measure_org: str
    measure_value: str
    test: str
    met: str  # "yes" / "no" / "" (no test)
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    evidence: str
    kind: str = "earned"  # earned / management_fee / fee_retained / withhold / release / pool
    paid: str = "year_end"  # in_year (by the schedule's instalments) / year_end (reconciliation)

    def as_row(self) -> dict[str, str]:
        row = asdict(self)
        return {k: (f"{v:.2f}" if k == "amount" else str(v)) for k, v in row.items()}


def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _pct(value: object) -> Decimal | None:
    """A percentage as tested: rounded half up to 2 decimal places, exactly as printed.

    Thresholds are compared with the figure on the statement, so a practice shown at -10.00%
    against a 10% target has met it, whatever the float carried beyond the second decimal.
    """
    if value is None:
        return None
    return to_decimal(float(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # type: ignore[arg-type]


def _ev(measure: str, level: str, org: str) -> str:
    """Where a line's figure comes from: the row of the run's exact measure results."""
    return f"measures/results.csv [{measure} / {level} / {org}]"


def _patients(practice: str) -> str:
    """The patient-level evidence, which exists only in the practice's own folder."""
    return f"; patients: practices/{practice}/register.csv"


def _show(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _group_of(memberships: dict[tuple[str, str], str], practice: str, level: str) -> str | None:
    return memberships.get((practice, level))


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
) -> PaymentRun:
    """Evaluate every component for every provider; return statement lines and the ledger.

    `memberships_on_date` maps (practice_code, group level) -> group code on the contract's
    list-size date: the aggregate a practice is judged with. Groups stated in the contract
    override the data for their level. `joined` maps (practice, level) -> the first day of a
    membership that began part-way through the term (the practice's pot share and per-patient
    performance pay are pro-rated by the days it was a member).
    """
    contract: Contract = loaded.contract
    loaded.check_measures(set(results.catalogue))
    chosen = sorted(set(practices))
    if contract.providers.select == "listed":
        unknown = sorted(set(contract.providers.practices) - set(chosen))
        if unknown:
            raise loaded.error(
                ("providers", "practices"),
                f"practices not found in the data: {', '.join(unknown)}.",
                fix="correct the codes or remove them from the contract.",
            )
        chosen = sorted(set(contract.providers.practices))
    membership = dict(memberships_on_date)
    starts = dict(joined or {})
    for group in contract.groups:
        for key in [k for k in membership if k[1] == group.level]:
            del membership[key]
        for code in group.practices:
            membership[(code, group.level)] = group.code
        for code, day in group.joined.items():
            starts[(code, group.level)] = day
    ctx = _Context(contract, results, chosen, membership, starts, loaded.path)
    lines: list[StatementLine] = []
    for i, comp in enumerate(contract.components):
        try:
            lines.extend(_evaluate_component(ctx, comp))
        except _NoData as exc:
            raise loaded.error(("components", i), f"component '{comp.id}': {exc}") from None
    lines.extend(_withholds(ctx, lines))
    for i, comp in enumerate(contract.components):
        if isinstance(comp, AspirationComponent):
            lines.extend(_aspiration(loaded, i, comp, lines))
    lines.extend(_management_fees(contract, lines))
    ledger = build_ledger(contract, lines)
    return PaymentRun(lines=lines, ledger=ledger, practices=chosen)


class _NoData(Exception):
    """A component needs a result the measures do not hold."""


@dataclass
class _Context:
    contract: Contract
    results: MeasureResults
    practices: list[str]
    membership: dict[tuple[str, str], str]
    joined: dict[tuple[str, str], dt.date]
    path: Path | None = None

    def list_size(self, practice: str) -> Decimal:
        row = self.results.lookup("list_size", "practice", practice)
        return to_decimal(int(row["numerator"] or 0)) if row else ZERO  # type: ignore[call-overload]

    def fraction(self, practice: str, level: str) -> Decimal:
        """Share of the term the practice was a member of its group at `level` (1 if all of it)."""
        day = self.joined.get((practice, level))
        term = self.contract.term
        if day is None or day <= term.start:
            return Decimal(1)
        return Decimal((term.end - day).days + 1) / Decimal(term.days)


def _evaluate_component(ctx: _Context, comp: AnyComponent) -> list[StatementLine]:
    if isinstance(comp, EngagementComponent):
        if comp.basis == "milestone":
            return _milestones(ctx, comp)
        assert comp.rate is not None  # the schema requires a rate for these bases
        if comp.payee != "practices":
            return [
                StatementLine(
                    comp.payee, comp.id, comp.type, comp.description or "Fixed payment", "", "", "",
                    "", "", "", Decimal(1), comp.rate, round_pence(comp.rate),
                    "contract term", paid=comp.paid,
                )
            ]  # fmt: skip
        return [
            replace(_line(comp, p, ctx.list_size(p), ctx.results, ctx.membership), paid=comp.paid)
            for p in ctx.practices
        ]
    if isinstance(comp, CapitationComponent):
        return _capitation(ctx, comp)
    if isinstance(comp, ConcordanceComponent):
        if comp.basis == "qof_points":
            return [_qof_line(ctx, comp, p) for p in ctx.practices]
        return [
            replace(_line(comp, p, ctx.list_size(p), ctx.results, ctx.membership), paid=comp.paid)
            for p in ctx.practices
        ]
    if isinstance(comp, PerformanceComponent):
        return _performance(ctx, comp)
    if isinstance(comp, GainShareComponent):
        return _gain_share(ctx, comp)
    return []  # withholds are applied after the components they withhold from


def _read_csv(path: Path, columns: list[str]) -> list[dict[str, str]]:
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


def _milestones(ctx: _Context, comp: EngagementComponent) -> list[StatementLine]:
    """One line per practice and milestone; paid on the day reached, if by the due date."""
    assert ctx.path is not None and comp.achievements is not None
    path = (
        comp.achievements
        if comp.achievements.is_absolute()
        else ctx.path.parent / comp.achievements
    )
    due = {m.id: m for m in comp.milestones}
    reached: dict[tuple[str, str], dt.date] = {}
    for n, row in enumerate(
        _read_csv(path, ["practice_code", "milestone_id", "achieved_on"]), start=2
    ):
        mid, code = row["milestone_id"].strip(), row["practice_code"].strip()
        if mid not in due:
            raise ConfigError(f"unknown milestone '{mid}'.", file=path, where=f"line {n}",
                              fix=f"use one of: {', '.join(due)}.")  # fmt: skip
        try:
            day = dt.date.fromisoformat(row["achieved_on"].strip())
        except ValueError:
            raise ConfigError(f"achieved_on '{row['achieved_on']}' is not a date.", file=path,
                              where=f"line {n}", fix="write it as YYYY-MM-DD.") from None  # fmt: skip
        if (code, mid) in reached:
            raise ConfigError(f"{code} reaches '{mid}' twice.", file=path, where=f"line {n}",
                              fix="keep the first date only.")  # fmt: skip
        reached[(code, mid)] = day
    out = []
    for p in ctx.practices:
        for m in comp.milestones:
            got = reached.get((p, m.id))
            on_time = got is not None and got <= m.due and ctx.contract.term.contains(got)
            test = f"{f'reached {got}' if got else 'not reached'}; due {m.due}" + (
                " [met]" if on_time else " [not met]"
            )
            out.append(
                StatementLine(
                    p, comp.id, comp.type, f"{comp.description or 'Milestone'}: {m.description or m.id}",
                    "", "", "", m.id, test, "yes" if on_time else "no", Decimal(1 if on_time else 0),
                    m.amount, m.amount if on_time else ZERO, f"{path.name}: {p} {m.id}",
                    paid=got.isoformat() if on_time and got is not None else "year_end",
                )
            )  # fmt: skip
    return out


def _aspiration(
    loaded: LoadedContract, index: int, comp: AspirationComponent, lines: list[StatementLine]
) -> list[StatementLine]:
    """On account in year (a % of last year's payment), recovered at year end."""
    path = comp.prior_statements
    if not path.is_absolute():
        path = loaded.path.parent / path
    prior: dict[str, Decimal] = {}
    for n, row in enumerate(_read_csv(path, ["provider", "component_id", "amount"]), start=2):
        if row["component_id"] != comp.of_component or row.get("kind", "earned") not in (
            "earned",
            "",
        ):
            continue
        try:
            prior[row["provider"]] = prior.get(row["provider"], ZERO) + to_decimal(row["amount"])
        except ValueError:
            raise ConfigError(
                f"amount '{row['amount']}' is not a number.", file=path, where=f"line {n}"
            ) from None
    achieved: dict[str, Decimal] = {}
    for line in lines:
        if line.component_id == comp.of_component and line.kind == "earned":
            achieved[line.provider] = achieved.get(line.provider, ZERO) + line.amount
    out = []
    for provider in sorted(achieved):
        last = prior.get(provider, ZERO)
        on_account = round_pence(last * comp.percent / 100)
        this = achieved[provider]
        test = (
            f"{comp.percent}% of last year's £{last:,.2f} = £{on_account:,.2f} on account; "
            f"achieved £{this:,.2f} this year; balance at year end {format_gbp(this - on_account)}"
        )
        common = {
            "component_type": comp.type, "measure_id": "", "measure_level": "", "measure_org": "",
            "measure_value": f"{last:.2f}", "test": test, "quantity": last, "rate": comp.percent,
            "evidence": f"{path.name}: {provider} {comp.of_component}",
        }  # fmt: skip
        out.append(StatementLine(provider, comp.id, description=f"On account for '{comp.of_component}'",
                                 met="", amount=on_account, kind="on_account", paid="in_year", **common))  # type: ignore[arg-type]  # fmt: skip
        out.append(StatementLine(provider, comp.id, description="On-account sum recovered at reconciliation",
                                 met="yes" if this >= on_account else "no", amount=-on_account,
                                 kind="recovery", paid="year_end", **common))  # type: ignore[arg-type]  # fmt: skip
    return out


def _capitation(ctx: _Context, comp: CapitationComponent) -> list[StatementLine]:
    if comp.payee == "practices":
        out = []
        for p in ctx.practices:
            size = ctx.list_size(p)
            out.append(
                StatementLine(
                    p, comp.id, comp.type, comp.description or "Capitation", "list_size",
                    "practice", p, f"{int(size)}", "", "", size, comp.rate,
                    round_pence(size * comp.rate), _ev("list_size", "practice", p), paid=comp.paid,
                )
            )  # fmt: skip
        return out
    holder = ctx.contract.holder
    assert holder is not None  # the schema requires a holder for payee: holder
    total = sum((ctx.list_size(p) for p in ctx.practices), ZERO)
    return [
        StatementLine(
            holder.party.code, comp.id, comp.type, comp.description or "Whole-population budget",
            "list_size", "practice", f"{len(ctx.practices)} practices", f"{int(total)}", "", "",
            total, comp.rate, round_pence(total * comp.rate),
            _ev("list_size", "practice", "(each practice in scope)"), paid=comp.paid,
        )
    ]  # fmt: skip


def _exact_ratio(row: dict[str, object] | None) -> tuple[Decimal, Decimal] | None:
    if row is None or row["denominator"] in (None, 0):
        return None
    return to_decimal(int(row["numerator"] or 0)), to_decimal(int(row["denominator"]))  # type: ignore[call-overload]


def _qof_line(ctx: _Context, comp: ConcordanceComponent, practice: str) -> StatementLine:
    """QOF arithmetic (SFE): points from the exact achievement ratio, then CPI and APDF."""
    assert comp.max_points is not None
    assert comp.lower_threshold_percent is not None and comp.upper_threshold_percent is not None
    national = ctx.contract.national_qof()
    value = comp.point_value if comp.point_value is not None else national.point_value
    avg = comp.average_list_size or national.average_list_size
    row = ctx.results.lookup(comp.measure, "practice", practice)
    ratio = _exact_ratio(row)
    size = ctx.list_size(practice)
    lt, ut = comp.lower_threshold_percent, comp.upper_threshold_percent
    if ratio is None:
        achieved = None
        points = ZERO
    else:
        achieved = ratio[0] * 100 / ratio[1]
        share = (achieved - lt) / (ut - lt)
        points = comp.max_points * min(max(share, Decimal(0)), Decimal(1))
    cpi = size / Decimal(avg)
    apdf = Decimal(1)
    apdf_text = ""
    if comp.prevalence_measure is not None:
        assert comp.national_prevalence_percent is not None
        prev_row = ctx.results.lookup(comp.prevalence_measure, "practice", practice)
        prev_value = prev_row["value"] if prev_row else None
        prev = to_decimal(float(prev_value)) if isinstance(prev_value, int | float) else ZERO
        apdf = prev / comp.national_prevalence_percent
        apdf_text = f"; APDF {prev}% / {comp.national_prevalence_percent}% = {apdf:.4f}"
    amount = round_pence(points * value * cpi * apdf)
    shown = "no data" if ratio is None else f"{int(ratio[0])} of {int(ratio[1])} ({achieved:.4f}%)"
    test = (
        f"points {comp.max_points} x ({shown.rsplit('(', maxsplit=1)[-1].rstrip(')') if ratio else 'n/a'} - {lt}%) / ({ut}% - {lt}%), "
        f"clamped = {points:.4f}; CPI {int(size)} / {avg} = {cpi:.4f}{apdf_text}"
    )
    return StatementLine(
        practice, comp.id, comp.type, comp.description or f"QOF-style points: {comp.measure}",
        comp.measure, "practice", practice, shown, test,
        "yes" if points == comp.max_points else ("part" if points > 0 else "no"),
        points.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), value, amount,
        _ev(comp.measure, "practice", practice) + _patients(practice),
        paid=comp.paid,
    )  # fmt: skip


def _earned_fraction(comp: PerformanceComponent, reduction: Decimal | None) -> Decimal:
    """How much of the pot (or rate) the aggregate's reduction earns: 0..1."""
    if reduction is None:
        return Decimal(0)
    if comp.scaling == "all_or_nothing":
        return Decimal(1) if reduction >= comp.target_reduction_percent else Decimal(0)
    if comp.scaling == "tiers":
        reached = [t.pot_percent for t in comp.tiers if reduction >= t.reduction_percent]
        return (max(reached) / 100) if reached else Decimal(0)
    lo = comp.linear_from_reduction_percent
    assert lo is not None
    share = (reduction - lo) / (comp.target_reduction_percent - lo)
    return min(max(share, Decimal(0)), Decimal(1))


def _performance(ctx: _Context, comp: PerformanceComponent) -> list[StatementLine]:
    if (
        comp.basis == "per_registered_patient"
        and comp.scaling == "all_or_nothing"
        and comp.aggregate_level != "alliance"
    ):
        out = []
        for p in ctx.practices:
            line = _line(comp, p, ctx.list_size(p), ctx.results, ctx.membership)
            frac = ctx.fraction(p, comp.aggregate_level)
            if frac != 1 and line.amount:
                qty = line.quantity * frac
                line = replace(
                    line,
                    quantity=qty.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
                    amount=round_pence(qty * line.rate),
                    test=line.test + f"; member for {frac:.4f} of the term",
                )
            out.append(line)
        return out
    # pot, or per-patient with tiers / linear scaling: judge each group once
    groups: dict[str, list[str]] = {}
    for p in ctx.practices:
        key = (
            "alliance"
            if comp.aggregate_level == "alliance"
            else ctx.membership.get((p, comp.aggregate_level), "")
        )
        groups.setdefault(key, []).append(p)
    out = []
    for group, members in sorted(groups.items()):
        if comp.aggregate_level == "alliance":
            agg_value = _pct(_pooled_change(ctx, comp, members))
        else:
            agg = ctx.results.lookup(comp.measure, comp.aggregate_level, group) if group else None
            agg_value = _pct(agg["value"]) if agg else None
        reduction = -agg_value if agg_value is not None else None
        frac_earned = _earned_fraction(comp, reduction)
        own: dict[str, Decimal | None] = {}
        eligible: list[str] = []
        for p in members:
            row = ctx.results.lookup(comp.measure, "practice", p)
            own[p] = _pct(row["value"]) if row else None
            own_v = own[p]
            if own_v is not None and -own_v >= comp.practice_floor_reduction_percent:
                eligible.append(p)
        weights: dict[str, Decimal] = {}
        sharing = eligible if comp.below_floor == "redistribute" else members
        for p in sharing:
            member = ctx.fraction(p, comp.aggregate_level)
            if comp.distribute_by == "list_size":
                w = ctx.list_size(p)
            elif comp.distribute_by == "register":
                r = ctx.results.lookup("register", "practice", p)
                w = to_decimal(int(r["numerator"] or 0)) if r else ZERO  # type: ignore[call-overload]
            else:
                own_v = own[p]
                w = max(-own_v, ZERO) * ctx.list_size(p) if own_v is not None else ZERO
            weights[p] = w * member
        head = (
            f"{comp.aggregate_level} {group or '(none)'} reduction {_show(reduction)}% "
            f"vs target {comp.target_reduction_percent:.2f}% ({comp.scaling}: {frac_earned * 100:.2f}% earned)"
        )
        shares: dict[str, Decimal] = {}
        pot_text = ""
        if comp.basis == "pot":
            assert comp.pot is not None
            earned = round_pence(comp.pot * frac_earned)
            pot_text = f"; pot £{comp.pot:,.2f} -> £{earned:,.2f} by {comp.distribute_by}"
            if earned and weights and sum(weights.values()) > 0:
                shares = allocate(earned, dict(weights.items()))
                returned = sum((v for k, v in shares.items() if k not in eligible), ZERO)
                shares = {k: v for k, v in shares.items() if k in eligible}
                if returned:
                    pot_text += f" ({format_gbp(returned)} of practices below the floor returned)"
            elif earned:
                pot_text += " (no eligible practice: not paid)"
        for p in members:
            own_v = own[p]
            floor_met = p in eligible
            test = (
                f"{head}{pot_text}; practice change {_show(own_v)}% <= "
                f"{-comp.practice_floor_reduction_percent:.2f}% [{'met' if floor_met else 'not met'}]"
            )
            if comp.basis == "pot":
                amount = shares.get(p, ZERO)
                qty = weights.get(p, ZERO) if p in eligible else ZERO
                rate = ZERO
            else:
                assert comp.rate is not None
                qty = (
                    (ctx.list_size(p) * frac_earned * ctx.fraction(p, comp.aggregate_level))
                    if floor_met
                    else ZERO
                )
                rate = comp.rate
                amount = round_pence(qty * rate)
            met = (
                "yes"
                if floor_met and frac_earned == 1
                else ("part" if floor_met and frac_earned > 0 else "no")
            )
            out.append(
                StatementLine(
                    p, comp.id, comp.type, comp.description or f"Performance: {comp.measure}",
                    comp.measure, comp.aggregate_level, group, _show(own_v), test, met,
                    qty.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), rate, amount,
                    _ev(comp.measure, comp.aggregate_level, group) + "; " + _ev(comp.measure, "practice", p),
                )
            )  # fmt: skip
    return out


def _pooled_change(ctx: _Context, comp: PerformanceComponent, members: list[str]) -> Decimal | None:
    """% change in a rate over several practices: sums of numerators over sums of
    denominators in each period (never an average of the practices' changes)."""
    assert comp.rate_measure is not None
    sums: dict[str, list[Decimal]] = {}
    for period in ("baseline", "performance"):
        num = den = ZERO
        for p in members:
            row = ctx.results.lookup(comp.rate_measure, "practice", p, period)
            if row is None or row["denominator"] is None:
                return None
            num += to_decimal(float(row["numerator"] or 0))  # type: ignore[arg-type]
            den += to_decimal(float(row["denominator"]))  # type: ignore[arg-type]
        sums[period] = [num, den]
    (bn, bd), (pn, pd) = sums["baseline"], sums["performance"]
    if bn == 0 or bd == 0 or pd == 0:
        return None
    return ((pn / pd) / (bn / bd) - 1) * 100


def _aggregate_counts(
    ctx: _Context, comp: GainShareComponent, period: str
) -> tuple[Decimal, Decimal]:
    if comp.level == "alliance":
        rows = [ctx.results.lookup(comp.measure, "practice", p, period) for p in ctx.practices]
        if any(r is None for r in rows):
            raise _NoData(f"no '{comp.measure}' {period} result for every practice in scope")
        num = sum((to_decimal(float(r["numerator"] or 0)) for r in rows if r), ZERO)  # type: ignore[arg-type]
        den = sum((to_decimal(float(r["denominator"] or 0)) for r in rows if r), ZERO)  # type: ignore[arg-type]
        return num, den
    row = ctx.results.lookup(comp.measure, comp.level, comp.org, period)
    if row is None:
        raise _NoData(f"no '{comp.measure}' {period} result for {comp.level} {comp.org}")
    return to_decimal(float(row["numerator"] or 0)), to_decimal(float(row["denominator"] or 0))  # type: ignore[arg-type]


def _gain_share(ctx: _Context, comp: GainShareComponent) -> list[StatementLine]:
    b_num, b_den = _aggregate_counts(ctx, comp, comp.baseline_period)
    p_num, p_den = _aggregate_counts(ctx, comp, comp.performance_period)
    if b_den == 0:
        raise _NoData("the baseline denominator is zero")
    expected = b_num * p_den / b_den
    variance = (expected - p_num) * comp.unit_cost  # positive: a saving
    if variance >= 0:
        share = variance * comp.gain_share_percent / 100
        if comp.gain_cap is not None:
            share = min(share, comp.gain_cap)
        rule = f"gain {comp.gain_share_percent}%" + (
            f", cap £{comp.gain_cap:,.2f}" if comp.gain_cap is not None else ""
        )
    else:
        share = variance * comp.loss_share_percent / 100
        if comp.loss_collar is not None:
            share = max(share, -comp.loss_collar)
        rule = f"loss {comp.loss_share_percent}%" + (
            f", collar £{comp.loss_collar:,.2f}" if comp.loss_collar is not None else ""
        )
    total = round_pence(share)
    org = (
        "alliance (practices in scope)" if comp.level == "alliance" else f"{comp.level} {comp.org}"
    )
    test = (
        f"{org}: expected {b_num} x {p_den:.4f} / {b_den:.4f} = {expected:.4f}, actual {p_num}; "
        f"variance {format_gbp(variance)} at £{comp.unit_cost} each; {rule} -> {format_gbp(total)}"
    )
    alliance = ctx.contract.alliance
    holder = ctx.contract.holder
    if alliance is not None:
        order = [m.party.code for m in alliance.members]
        weights = {m.party.code: m.share_percent for m in alliance.members}
        basis = {m.party.code: f"{m.share_percent}% share" for m in alliance.members}
    elif holder is not None:
        order = [holder.party.code]
        weights = {holder.party.code: Decimal(1)}
        basis = {holder.party.code: "holder"}
    else:
        order = list(ctx.practices)
        weights = {p: ctx.list_size(p) for p in ctx.practices}
        basis = dict.fromkeys(ctx.practices, "by list size")
    parts = (
        allocate(total, weights, order)
        if total and sum(weights.values()) > 0
        else dict.fromkeys(order, ZERO)
    )
    return [
        StatementLine(
            code, comp.id, comp.type, comp.description or f"Gain/risk share: {comp.measure}",
            comp.measure, comp.level, comp.org if comp.level != "alliance" else "alliance",
            f"{p_num} vs {expected:.2f} expected", test,
            "gain" if total > 0 else ("loss" if total < 0 else "nil"),
            weights[code], ZERO, parts[code], (_ev(comp.measure, "practice", "(each practice in scope)") if comp.level == "alliance" else _ev(comp.measure, comp.level, comp.org)) + f", baseline and performance; {basis[code]}",
            kind="pool", paid="year_end",
        )
        for code in order
    ]  # fmt: skip


def _withholds(ctx: _Context, lines: list[StatementLine]) -> list[StatementLine]:
    out: list[StatementLine] = []
    for comp in ctx.contract.components:
        if not isinstance(comp, WithholdComponent):
            continue
        base: dict[str, Decimal] = {}
        for line in lines:
            if line.component_id in comp.from_components and line.kind == "earned":
                base[line.provider] = base.get(line.provider, ZERO) + line.amount
        for provider, amount in sorted(base.items()):
            withheld = round_pence(amount * comp.percent / 100)
            row = ctx.results.lookup(comp.measure, "practice", provider)
            value = _pct(row["value"]) if row else None
            if value is None:
                met = False
            elif comp.direction == "at_least":
                met = value >= comp.target_percent
            else:
                met = value <= comp.target_percent
            sign = ">=" if comp.direction == "at_least" else "<="
            test = f"{comp.measure} {_show(value)}% {sign} {comp.target_percent:.2f}% [{'met' if met else 'not met'}]"
            common = {
                "measure_id": comp.measure, "measure_level": "practice", "measure_org": provider,
                "measure_value": _show(value), "test": test, "quantity": amount, "rate": comp.percent,
                "evidence": _ev(comp.measure, "practice", provider),
            }  # fmt: skip
            out.append(
                StatementLine(
                    provider, comp.id, comp.type,
                    f"{comp.percent}% of {', '.join(comp.from_components)} withheld in year",
                    met="", amount=-withheld, kind="withhold", paid="in_year", **common,  # type: ignore[arg-type]
                )
            )  # fmt: skip
            out.append(
                StatementLine(
                    provider, comp.id, comp.type,
                    "Withhold released" if met else "Withhold clawed back (target not met)",
                    met="yes" if met else "no", amount=withheld if met else ZERO, kind="release",
                    paid="year_end", **common,  # type: ignore[arg-type]
                )
            )  # fmt: skip
    return out


def _management_fees(contract: Contract, lines: list[StatementLine]) -> list[StatementLine]:
    """Under a holder, every subcontractor's earned line passes through it less its fee."""
    holder = contract.holder
    if holder is None or holder.management_fee_percent == 0:
        return []
    pct = holder.management_fee_percent
    out: list[StatementLine] = []
    retained: dict[str, Decimal] = {}
    for line in lines:
        if line.provider == holder.party.code or line.kind not in ("earned",) or not line.amount:
            continue
        fee = round_pence(line.amount * pct / 100)
        out.append(
            replace(
                line, component_id=line.component_id, description=f"Management fee {pct}% kept by {holder.party.code}",
                test="", met="", quantity=line.amount, rate=pct, amount=-fee, kind="management_fee",
                evidence=f"holder.management_fee_percent; line {line.component_id}",
            )
        )  # fmt: skip
        key = f"{line.component_id}|{line.paid}"
        retained[key] = retained.get(key, ZERO) + fee
    for key, fee in sorted(retained.items()):
        cid, paid = key.split("|")
        out.append(
            StatementLine(
                holder.party.code, cid, "management_fee", f"Management fee {pct}% retained on '{cid}'",
                "", "", "", "", "", "", fee, pct, fee, "sum of the subcontractors' fee lines",
                kind="fee_retained", paid=paid,
            )
        )  # fmt: skip
    return out


def _line(
    comp: EngagementComponent | ConcordanceComponent | PerformanceComponent,
    practice: str,
    list_size: Decimal,
    results: MeasureResults,
    memberships: dict[tuple[str, str], str],
) -> StatementLine:
    if isinstance(comp, EngagementComponent):
        assert comp.rate is not None  # milestone engagement is evaluated in _milestones
        qty = list_size if comp.basis == "per_registered_patient" else Decimal(1)
        return StatementLine(
            practice, comp.id, comp.type, comp.description or "Engagement payment",
            "list_size" if comp.basis == "per_registered_patient" else "", "practice", practice,
            f"{int(list_size)}" if comp.basis == "per_registered_patient" else "",
            "", "", qty, comp.rate, round_pence(qty * comp.rate),
            _ev("list_size", "practice", practice),
        )  # fmt: skip
    if isinstance(comp, ConcordanceComponent):
        assert comp.rate is not None  # per_patient (qof_points lines come from _qof_line)
        row = results.lookup(comp.measure, "practice", practice)
        num = int(row["numerator"] or 0) if row else 0  # type: ignore[call-overload]
        qty = Decimal(num)
        return StatementLine(
            practice, comp.id, comp.type, comp.description or f"Per patient: {comp.measure}",
            comp.measure, "practice", practice,
            f"{num} of {int(row['denominator'] or 0)} ({_fmt(row['value'], 1)}%)" if row else "no data",  # type: ignore[call-overload]
            "", "", qty, comp.rate, round_pence(qty * comp.rate),
            _ev(comp.measure, "practice", practice) + _patients(practice),
        )  # fmt: skip
    # performance
    group = _group_of(memberships, practice, comp.aggregate_level)
    agg = results.lookup(comp.measure, comp.aggregate_level, group) if group else None
    own = results.lookup(comp.measure, "practice", practice)
    agg_value = _pct(agg["value"]) if agg else None
    own_value = _pct(own["value"]) if own else None
    assert comp.rate is not None  # per-patient basis (pots are evaluated in _performance)
    target = -comp.target_reduction_percent
    floor = -comp.practice_floor_reduction_percent
    agg_met = agg_value is not None and agg_value <= target
    own_met = own_value is not None and own_value <= floor
    met = agg_met and own_met
    test = (
        f"{comp.aggregate_level} {group or '(none)'} change {_show(agg_value)}% <= {target:.2f}% "
        f"[{'met' if agg_met else 'not met'}]; practice change {_show(own_value)}% <= {floor:.2f}% "
        f"[{'met' if own_met else 'not met'}]"
    )
    qty = list_size if met else ZERO
    return StatementLine(
        practice, comp.id, comp.type, comp.description or f"Performance: {comp.measure}",
        comp.measure, comp.aggregate_level, group or "", _show(own_value), test,
        "yes" if met else "no", qty, comp.rate, round_pence(qty * comp.rate),
        _ev(comp.measure, comp.aggregate_level, group or "(none)") + "; " + _ev(comp.measure, "practice", practice),
    )  # fmt: skip


def totals_by_practice(lines: Iterable[StatementLine]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines:
        out[line.provider] = out.get(line.provider, ZERO) + line.amount
    return out
