"""Performance: paid only if the aggregate meets its target AND the practice meets its floor.

One rule (`judge`): a group's aggregate % change, as tested (two decimals), gives its
reduction and the share of the pot or rate that reduction earns (all or nothing, tiers,
linear); each member's own % change, as tested, must reach the practice floor. Two ways of
writing the lines out: per registered patient with all-or-nothing scaling below the alliance
(one line per practice, in practice order, stating both tests), and everything else (pots,
tiers, linear, alliance: one block per group, stating the reduction and the share earned).

A practice in no group at the aggregate level (NHS Digital's practices in no PCN, so in no
federation) has no target to be judged against: its line is not assessable (`met`
not_assessable, £0, the test saying why), never "not met", and it takes no part in any
group's pot, so every other practice is paid exactly as if it were not in scope.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from careis.contracts.schema import PerformanceComponent
from careis.measures import exact
from careis.measures.results import MeasureInfo
from careis.money import ZERO, allocate, format_gbp, round_pence, to_decimal
from careis.payments.components.base import Context, Kind, plain_requirement, what, words
from careis.payments.lines import (
    Met,
    StatementLine,
    as_tested,
    evidence,
    level_words,
    quantity4,
    show,
)


@dataclass(frozen=True)
class Judgement:
    """The performance rule applied to one group of practices."""

    group: str  # the group's code; "alliance" for every practice in scope
    change: Decimal | None  # the aggregate's % change as tested (None: no result)
    earned: Decimal  # share of the pot or rate the aggregate's reduction earns, 0..1
    own: dict[str, Decimal | None]  # each member's own % change as tested
    eligible: list[str]  # the members whose own reduction reaches the practice floor

    @property
    def reduction(self) -> Decimal | None:
        return -self.change if self.change is not None else None


def earned_fraction(comp: PerformanceComponent, reduction: Decimal | None) -> Decimal:
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


def _pooled_change(ctx: Context, comp: PerformanceComponent, members: list[str]) -> Fraction | None:
    """% change in a rate over several practices, exactly: sums of the integer numerators
    over sums of the denominators in each period (never an average of the practices'
    changes; careis.measures.exact)."""
    assert comp.rate_measure is not None
    sums: dict[str, tuple[Fraction, Fraction]] = {}
    for period in ("baseline", "performance"):
        num = den = Fraction(0)
        for p in members:
            row = ctx.results.lookup(comp.rate_measure, "practice", p, period)
            found = row and exact.counts(
                row["numerator"] or 0, row["denominator"], str(row["unit"])
            )
            if not found:
                return None
            num, den = num + found[0], den + found[1]
        sums[period] = (num, den)
    return exact.change(sums["performance"], sums["baseline"])


def groups(ctx: Context, comp: PerformanceComponent) -> dict[str, list[str]]:
    """The practices judged together: by group at the aggregate level, or all (alliance).
    Practices in no group at the level are under "" (not judged: `_not_assessable_line`)."""
    out: dict[str, list[str]] = {}
    for p in ctx.practices:
        key = (
            "alliance"
            if comp.aggregate_level == "alliance"
            else ctx.membership.get((p, comp.aggregate_level), "")
        )
        out.setdefault(key, []).append(p)
    return out


def judge(ctx: Context, comp: PerformanceComponent, group: str, members: list[str]) -> Judgement:
    """The rule: the aggregate's reduction against the target, each member's against its floor."""
    if comp.aggregate_level == "alliance":
        change = as_tested(_pooled_change(ctx, comp, members))
    else:
        agg = ctx.result(comp.measure, comp.aggregate_level, group, comp.period)
        change = as_tested(agg["value"]) if agg else None
    own: dict[str, Decimal | None] = {}
    eligible: list[str] = []
    for p in members:
        row = ctx.result(comp.measure, "practice", p, comp.period)
        own[p] = value = as_tested(row["value"]) if row else None
        if value is not None and -value >= comp.practice_floor_reduction_percent:
            eligible.append(p)
    reduction = -change if change is not None else None
    return Judgement(group, change, earned_fraction(comp, reduction), own, eligible)


def pay(
    ctx: Context, comp: PerformanceComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    grouped = groups(ctx, comp)
    alone = {p: _not_assessable_line(ctx, comp, p) for p in grouped.pop("", [])}
    judged = {g: judge(ctx, comp, g, members) for g, members in sorted(grouped.items())}
    if (
        comp.basis == "per_registered_patient"
        and comp.scaling == "all_or_nothing"
        and comp.aggregate_level != "alliance"
    ):
        by_practice = {p: j for j in judged.values() for p in j.own}
        return [
            alone[p] if p in alone else _judged_line(ctx, comp, by_practice[p], p)
            for p in ctx.practices
        ]
    out = list(alone.values())  # first, where the practices in no group always sorted
    for j in judged.values():
        out.extend(_group_lines(ctx, comp, j))
    return out


def _not_assessable_line(
    ctx: Context, comp: PerformanceComponent, practice: str, why: str = "", group: str = ""
) -> StatementLine:
    """A practice in no group at the aggregate level: there is no group's figure to test, so
    the line is not assessable and pays nothing. Why not "not met": the practice did not miss
    a target, it has none; a commissioner must see the difference (careis.payments.assessable
    `not_assessable_note` counts these lines for the run's log and report)."""
    level = level_words(comp.aggregate_level)
    row = ctx.result(comp.measure, "practice", practice, comp.period)
    return StatementLine(
        provider=practice,
        component_id=comp.id,
        component_type=comp.type,
        description=comp.description or f"Performance: {comp.measure}",
        measure_id=comp.measure,
        measure_level=comp.aggregate_level,
        measure_value=show(as_tested(row["value"]) if row else None),
        test=why
        or f"not assessable: practice {practice} is in no {level}; this component is "
        f"judged at {level} level",
        met="not_assessable",
        quantity=ZERO,
        rate=ZERO if comp.basis == "pot" else (comp.rate or ZERO),
        amount=ZERO,
        measure_org=group,
        evidence=(
            evidence(comp.measure, comp.aggregate_level, group)
            if group
            else f"payments/memberships.csv [{practice}: no {level}]"
        )
        + "; "
        + evidence(comp.measure, "practice", practice),
    )


def _judged_line(
    ctx: Context, comp: PerformanceComponent, j: Judgement, practice: str
) -> StatementLine:
    """The all-or-nothing line, or not assessable where a figure it tests is missing: the
    group's change (no baseline admissions, say) or the practice's own. Why not "not met":
    a test with no figure was not failed, it could not be made (the project's rule: unusable
    input marks a line not assessable, never a £0 result)."""
    level = level_words(comp.aggregate_level)
    if j.change is None:
        why = (f"not assessable: {level} {j.group} has no {comp.measure} figure for the "
               f"{comp.period} period, so its target cannot be tested")  # fmt: skip
        return _not_assessable_line(ctx, comp, practice, why, j.group)
    if j.own[practice] is None:
        why = (f"not assessable: practice {practice} has no {comp.measure} figure for the "
               f"{comp.period} period, so its floor cannot be tested")  # fmt: skip
        return _not_assessable_line(ctx, comp, practice, why, j.group)
    return _all_or_nothing_line(ctx, comp, j, practice)


def _all_or_nothing_line(
    ctx: Context, comp: PerformanceComponent, j: Judgement, practice: str
) -> StatementLine:
    """£ rate x list when both tests are met, pro-rated for a practice that joined in year."""
    assert comp.rate is not None  # per-patient basis (pots are judged by group)
    agg_met = j.earned == 1
    own_met = practice in j.eligible
    target = -comp.target_reduction_percent
    floor = -comp.practice_floor_reduction_percent
    test = (
        f"{comp.aggregate_level} {j.group} change {show(j.change)}% <= {target:.2f}% "
        f"[{'met' if agg_met else 'not met'}]; practice change {show(j.own[practice])}% <= "
        f"{floor:.2f}% [{'met' if own_met else 'not met'}]"
    )
    qty = ctx.list_size(practice) if agg_met and own_met else ZERO
    line = StatementLine(
        provider=practice,
        component_id=comp.id,
        component_type=comp.type,
        description=comp.description or f"Performance: {comp.measure}",
        measure_id=comp.measure,
        measure_level=comp.aggregate_level,
        measure_org=j.group,
        measure_value=show(j.own[practice]),
        test=test,
        met="yes" if agg_met and own_met else "no",
        quantity=qty,
        rate=comp.rate,
        amount=round_pence(qty * comp.rate),
        evidence=evidence(comp.measure, comp.aggregate_level, j.group)
        + "; "
        + evidence(comp.measure, "practice", practice),
    )
    frac = ctx.fraction(practice, comp.aggregate_level)
    if frac != 1 and line.amount:
        qty = line.quantity * frac
        line = replace(
            line,
            quantity=quantity4(qty),
            amount=round_pence(qty * line.rate),
            test=line.test + f"; member for {frac:.4f} of the term",
        )
    return line


def _weights(ctx: Context, comp: PerformanceComponent, j: Judgement) -> dict[str, Decimal]:
    """Each sharing practice's claim on the group's pot (pro-rated by its time as a member
    under `joiner_share: prorate_weight`; otherwise its full-year claim, the amount being
    pro-rated in `_pot_shares`)."""
    weights: dict[str, Decimal] = {}
    sharing = j.eligible if comp.below_floor == "redistribute" else list(j.own)
    for p in sharing:
        member = (
            ctx.fraction(p, comp.aggregate_level)
            if comp.joiner_share == "prorate_weight"
            else Decimal(1)
        )
        if comp.distribute_by == "list_size":
            w = ctx.list_size(p)
        elif comp.distribute_by == "register":
            r = ctx.result("register", "practice", p, comp.period)
            w = to_decimal(int(r["numerator"] or 0)) if r else ZERO  # type: ignore[call-overload]
        else:
            own_v = j.own[p]
            w = max(-own_v, ZERO) * ctx.list_size(p) if own_v is not None else ZERO
        weights[p] = w * member
    return weights


def _pot_shares(
    comp: PerformanceComponent,
    j: Judgement,
    weights: dict[str, Decimal],
    fractions: dict[str, Decimal],
) -> tuple[dict[str, Decimal], str]:
    """The eligible practices' shares of the earned pot, and the working for the test.

    `fractions`: each member's share of the term as a member (1 for a full-year member); a
    joiner's full-year share is cut to it unless `joiner_share` is prorate_weight (then
    `weights` are already pro-rated and the whole pot is shared).
    """
    assert comp.pot is not None
    earned = round_pence(comp.pot * j.earned)
    text = f"; pot £{comp.pot:,.2f} -> £{earned:,.2f} by {comp.distribute_by}"
    shares: dict[str, Decimal] = {}
    if earned and weights and sum(weights.values()) > 0:
        shares = allocate(earned, dict(weights.items()))
        returned = sum((v for k, v in shares.items() if k not in j.eligible), ZERO)
        shares = {k: v for k, v in shares.items() if k in j.eligible}
        if returned:
            text += f" ({format_gbp(returned)} of practices below the floor returned)"
        if comp.joiner_share != "prorate_weight":
            shares, joiner_text = _joiner_amounts(comp, shares, weights, fractions)
            text += joiner_text
    elif earned:
        text += " (no eligible practice: not paid)"
    return shares, text


def _joiner_amounts(
    comp: PerformanceComponent,
    shares: dict[str, Decimal],
    weights: dict[str, Decimal],
    fractions: dict[str, Decimal],
) -> tuple[dict[str, Decimal], str]:
    """Joiners paid their full-year share x the fraction of the term they were members; the
    unearned part returns to the commissioner or is shared among the full-year members."""
    out = dict(shares)
    unearned = ZERO
    for p, share in shares.items():
        frac = fractions.get(p, Decimal(1))
        if frac != 1:
            out[p] = round_pence(share * frac)
            unearned += share - out[p]
    if not unearned:
        return out, ""
    full_year = {p: weights[p] for p in shares if fractions.get(p, Decimal(1)) == 1}
    if comp.joiner_share == "prorate_amount_redistribute" and sum(full_year.values()) > 0:
        for p, extra in allocate(unearned, full_year).items():
            out[p] += extra
        return out, f" ({format_gbp(unearned)} unearned by joiners shared among full-year members)"
    return out, f" ({format_gbp(unearned)} unearned by joiners returned)"


def _group_lines(ctx: Context, comp: PerformanceComponent, j: Judgement) -> list[StatementLine]:
    """One line per member: the group's reduction and share earned, then the practice floor."""
    weights = _weights(ctx, comp, j)
    head = (
        f"{comp.aggregate_level} {j.group} reduction {show(j.reduction)}% "
        f"vs target {comp.target_reduction_percent:.2f}% ({comp.scaling}: "
        f"{j.earned * 100:.2f}% earned)"
    )
    shares: dict[str, Decimal] = {}
    pot_text = ""
    if comp.basis == "pot":
        fractions = {p: ctx.fraction(p, comp.aggregate_level) for p in j.own}
        shares, pot_text = _pot_shares(comp, j, weights, fractions)
    out = []
    for p, own_v in j.own.items():
        floor_met = p in j.eligible
        test = (
            f"{head}{pot_text}; practice change {show(own_v)}% <= "
            f"{-comp.practice_floor_reduction_percent:.2f}% [{'met' if floor_met else 'not met'}]"
        )
        if comp.basis == "pot":
            amount = shares.get(p, ZERO)
            qty = weights.get(p, ZERO) if floor_met else ZERO
            rate = ZERO
        else:
            assert comp.rate is not None
            qty = (
                (ctx.list_size(p) * j.earned * ctx.fraction(p, comp.aggregate_level))
                if floor_met
                else ZERO
            )
            rate = comp.rate
            amount = round_pence(qty * rate)
        met: Met = (
            "yes"
            if floor_met and j.earned == 1
            else ("part" if floor_met and j.earned > 0 else "no")
        )
        out.append(
            StatementLine(
                provider=p,
                component_id=comp.id,
                component_type=comp.type,
                description=comp.description or f"Performance: {comp.measure}",
                measure_id=comp.measure,
                measure_level=comp.aggregate_level,
                measure_org=j.group,
                measure_value=show(own_v),
                test=test,
                met=met,
                quantity=quantity4(qty),
                rate=rate,
                amount=amount,
                evidence=evidence(comp.measure, comp.aggregate_level, j.group)
                + "; "
                + evidence(comp.measure, "practice", p),
            )
        )
    return out


def rule(comp: PerformanceComponent) -> str:
    level = comp.aggregate_level.replace("_", "-")
    pay = (
        f"a £{comp.pot:,.2f} pot per {level} shared by {words(comp.distribute_by)}"
        if comp.basis == "pot"
        else f"£{comp.rate} per registered patient"
    )
    return (
        f"{pay} if the {level} reduction in '{comp.measure}' reaches "
        f"{comp.target_reduction_percent}% ({words(comp.scaling)}) and the practice's own "
        f"reduction at least {comp.practice_floor_reduction_percent}%"
    )


def requirement(comp: PerformanceComponent, info: MeasureInfo | None) -> str:
    if info is None:
        return plain_requirement(comp, info)
    level = words(str(comp.aggregate_level))
    goal = (
        f" The {level} must cut it by at least {comp.target_reduction_percent}% and the "
        f"practice by at least {comp.practice_floor_reduction_percent}%."
    )
    return (
        f"Work with the other practices in the {level} on: {what(comp).lower()}. Measured by "
        f"'{info.name}' ({info.unit}).{goal}"
    )


KIND = Kind(pay=pay, rule=rule, requirement=requirement)
