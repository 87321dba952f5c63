"""Withhold: a % of other components held in year, released at reconciliation if the measure
reaches its target, otherwise clawed back (it stays with the commissioner)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from careis.contracts.schema import WithholdComponent
from careis.measures import exact
from careis.money import ZERO, round_pence
from careis.payments.components.base import Context, Kind, plain_requirement
from careis.payments.lines import StatementLine, as_tested, evidence, show


def _value(ctx: Context, comp: WithholdComponent, row: dict[str, object] | None) -> Decimal | None:
    """The measure as tested: a proportion exactly from its integer counts (numerator over
    denominator, x 100), so a practice at exactly the target is never decided by the binary
    float the results table stores; other kinds as printed (careis.measures.exact)."""
    if row is None:
        return None
    info = ctx.results.catalogue.get(comp.measure)
    num, den = row.get("numerator"), row.get("denominator")
    if info is not None and info.kind == "proportion" and num is not None and den:
        return exact.tested(Fraction(int(num), int(den)) * 100)  # type: ignore[call-overload]
    return as_tested(row["value"])


def _met(comp: WithholdComponent, value: Decimal | None) -> bool:
    if value is None:
        return False
    if comp.direction == "at_least":
        return value >= comp.target_percent
    return value <= comp.target_percent


def pay(ctx: Context, comp: WithholdComponent, earlier: list[StatementLine]) -> list[StatementLine]:
    """Two lines per provider: the sum withheld in year, and its release (or claw-back)."""
    base: dict[str, Decimal] = {}
    for line in earlier:
        if line.component_id in comp.from_components and line.kind == "earned":
            base[line.provider] = base.get(line.provider, ZERO) + line.amount
    out: list[StatementLine] = []
    for provider, amount in sorted(base.items()):
        withheld = round_pence(amount * comp.percent / 100)
        row = ctx.result(comp.measure, "practice", provider, comp.period)
        value = _value(ctx, comp, row)
        met = _met(comp, value)
        sign = ">=" if comp.direction == "at_least" else "<="
        test = (
            f"{comp.measure} {show(value)}% {sign} {comp.target_percent:.2f}% "
            f"[{'met' if met else 'not met'}]"
        )
        held = StatementLine(
            provider=provider,
            component_id=comp.id,
            component_type=comp.type,
            description=f"{comp.percent}% of {', '.join(comp.from_components)} withheld in year",
            measure_id=comp.measure,
            measure_level="practice",
            measure_org=provider,
            measure_value=show(value),
            test=test,
            quantity=amount,
            rate=comp.percent,
            amount=-withheld,
            evidence=evidence(comp.measure, "practice", provider),
            kind="withhold",
            paid="in_year",
        )
        released = replace(
            held,
            description="Withhold released" if met else "Withhold clawed back (target not met)",
            met="yes" if met else "no",
            amount=withheld if met else ZERO,
            kind="release",
            paid="year_end",
        )
        out += [held, released]
    return out


def rule(comp: WithholdComponent) -> str:
    return (
        f"{comp.percent}% of {', '.join(comp.from_components)} withheld in year, released if "
        f"'{comp.measure}' is {comp.direction.replace('_', ' ')} {comp.target_percent}%"
    )


KIND = Kind(pay=pay, rule=rule, requirement=plain_requirement, stage="withholds")
