"""Gain / risk share: a share of the saving (capped) or of the overspend (collared)."""

from __future__ import annotations

from decimal import Decimal

from careis.contracts.schema import GainShareComponent
from careis.money import ZERO, allocate, format_gbp, round_pence, to_decimal
from careis.payments.components.base import Context, Kind, NoData, plain_requirement
from careis.payments.lines import StatementLine, evidence


def _aggregate_counts(
    ctx: Context, comp: GainShareComponent, period: str
) -> tuple[Decimal, Decimal]:
    if comp.level == "alliance":
        rows = [ctx.results.lookup(comp.measure, "practice", p, period) for p in ctx.practices]
        if any(r is None for r in rows):
            raise NoData(f"no '{comp.measure}' {period} result for every practice in scope")
        num = sum((to_decimal(float(r["numerator"] or 0)) for r in rows if r), ZERO)  # type: ignore[arg-type]
        den = sum((to_decimal(float(r["denominator"] or 0)) for r in rows if r), ZERO)  # type: ignore[arg-type]
        return num, den
    row = ctx.results.lookup(comp.measure, comp.level, comp.org, period)
    if row is None:
        raise NoData(f"no '{comp.measure}' {period} result for {comp.level} {comp.org}")
    return to_decimal(float(row["numerator"] or 0)), to_decimal(float(row["denominator"] or 0))  # type: ignore[arg-type]


def _share(comp: GainShareComponent, variance: Decimal) -> tuple[Decimal, str]:
    """The providers' share of a saving (capped) or of an overspend (collared), and the rule."""
    if variance >= 0:
        share = variance * comp.gain_share_percent / 100
        if comp.gain_cap is not None:
            share = min(share, comp.gain_cap)
        return share, f"gain {comp.gain_share_percent}%" + (
            f", cap £{comp.gain_cap:,.2f}" if comp.gain_cap is not None else ""
        )
    share = variance * comp.loss_share_percent / 100
    if comp.loss_collar is not None:
        share = max(share, -comp.loss_collar)
    return share, f"loss {comp.loss_share_percent}%" + (
        f", collar £{comp.loss_collar:,.2f}" if comp.loss_collar is not None else ""
    )


def _sharers(ctx: Context) -> tuple[list[str], dict[str, Decimal], dict[str, str]]:
    """Who shares the pool (order, weights, basis): alliance members, else the holder, else
    the practices by list size."""
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
    return order, weights, basis


def pay(
    ctx: Context, comp: GainShareComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    b_num, b_den = _aggregate_counts(ctx, comp, comp.baseline_period)
    p_num, p_den = _aggregate_counts(ctx, comp, comp.performance_period)
    if b_den == 0:
        raise NoData("the baseline denominator is zero")
    expected = b_num * p_den / b_den
    variance = (expected - p_num) * comp.unit_cost  # positive: a saving
    share, rule_applied = _share(comp, variance)
    total = round_pence(share)
    alliance = comp.level == "alliance"
    org = "alliance (practices in scope)" if alliance else f"{comp.level} {comp.org}"
    test = (
        f"{org}: expected {b_num} x {p_den:.4f} / {b_den:.4f} = {expected:.4f}, actual {p_num}; "
        f"variance {format_gbp(variance)} at £{comp.unit_cost} each; {rule_applied} -> "
        f"{format_gbp(total)}"
    )
    order, weights, basis = _sharers(ctx)
    by_practice = ctx.contract.alliance is None and ctx.contract.holder is None
    fractions = {p: ctx.fraction(p, comp.level) for p in order} if by_practice else {}
    if comp.joiner_share == "prorate_weight":
        weights = {p: w * fractions.get(p, Decimal(1)) for p, w in weights.items()}
    parts = (
        allocate(total, weights, order)
        if total and sum(weights.values()) > 0
        else dict.fromkeys(order, ZERO)
    )
    if comp.joiner_share != "prorate_weight" and any(f != 1 for f in fractions.values()):
        parts, joiner_text = _joiners(comp, parts, weights, fractions, order)
        test += joiner_text
    where = (
        evidence(comp.measure, "practice", "(each practice in scope)")
        if alliance
        else evidence(comp.measure, comp.level, comp.org)
    )
    return [
        StatementLine(
            provider=code,
            component_id=comp.id,
            component_type=comp.type,
            description=comp.description or f"Gain/risk share: {comp.measure}",
            measure_id=comp.measure,
            measure_level=comp.level,
            measure_org="alliance" if alliance else comp.org,
            measure_value=f"{p_num} vs {expected:.2f} expected",
            test=test,
            met="gain" if total > 0 else ("loss" if total < 0 else "nil"),
            quantity=weights[code],
            rate=ZERO,
            amount=parts[code],
            evidence=f"{where}, baseline and performance; {basis[code]}",
            kind="pool",
            paid="year_end",
        )
        for code in order
    ]


def _joiners(
    comp: GainShareComponent,
    parts: dict[str, Decimal],
    weights: dict[str, Decimal],
    fractions: dict[str, Decimal],
    order: list[str],
) -> tuple[dict[str, Decimal], str]:
    """A joiner's full-year part x its fraction of the term; the rest returns to (a loss: is
    borne by) the commissioner, or is shared among the full-year practices by weight."""
    out = dict(parts)
    rest = ZERO
    for p in order:
        frac = fractions.get(p, Decimal(1))
        if frac != 1:
            out[p] = round_pence(parts[p] * frac)
            rest += parts[p] - out[p]
    full_year = {p: weights[p] for p in order if fractions.get(p, Decimal(1)) == 1}
    if not rest:
        return out, ""
    if comp.joiner_share == "prorate_amount_redistribute" and sum(full_year.values()) > 0:
        for p, extra in allocate(rest, full_year, [p for p in order if p in full_year]).items():
            out[p] += extra
        return out, f"; {format_gbp(rest)} not earned by joiners shared among full-year practices"
    return out, f"; {format_gbp(rest)} not earned by joiners stays with the commissioner"


def rule(comp: GainShareComponent) -> str:
    return (
        f"{comp.gain_share_percent}% of any saving (cap {comp.gain_cap or 'none'}) and "
        f"{comp.loss_share_percent}% of any overspend (collar {comp.loss_collar or 'none'}) on "
        f"'{comp.measure}' at £{comp.unit_cost} a unit, against the baseline"
    )


KIND = Kind(pay=pay, rule=rule, requirement=plain_requirement)
