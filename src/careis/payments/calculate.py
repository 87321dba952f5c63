"""Evaluate a contract's payment components against measure results: statements per practice.

Why this shape: finance pays from the statement and a practice checks it line by line, so each
line carries everything needed to re-derive it by hand: the measure and its value, the target
and whether it was met, the quantity and rate, and the amount (rounded half up to the penny,
once, on the line). Totals are sums of rounded lines, so they always add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

from careis.contracts.schema import (
    ConcordanceComponent,
    Contract,
    EngagementComponent,
    LoadedContract,
    PerformanceComponent,
)
from careis.measures.results import MeasureResults
from careis.money import ZERO, round_pence, to_decimal


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
    """All statement lines for every practice party to the contract.

    `memberships_on_date` maps (practice_code, group level) -> group code on the contract's
    list-size date: the aggregate a practice is judged with.
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
    lines: list[StatementLine] = []
    for practice in chosen:
        list_row = results.lookup("list_size", "practice", practice)
        list_size = to_decimal(int(list_row["numerator"] or 0)) if list_row else ZERO  # type: ignore[call-overload]
        for comp in contract.components:
            lines.append(_line(comp, practice, list_size, results, memberships_on_date))
    return lines


def _line(
    comp: EngagementComponent | ConcordanceComponent | PerformanceComponent,
    practice: str,
    list_size: Decimal,
    results: MeasureResults,
    memberships: dict[tuple[str, str], str],
) -> StatementLine:
    if isinstance(comp, EngagementComponent):
        qty = list_size if comp.basis == "per_registered_patient" else Decimal(1)
        return StatementLine(
            practice, comp.id, comp.type, comp.description or "Engagement payment",
            "list_size" if comp.basis == "per_registered_patient" else "", "practice", practice,
            f"{int(list_size)}" if comp.basis == "per_registered_patient" else "",
            "", "", qty, comp.rate, round_pence(qty * comp.rate),
            f"list_size practice {practice}",
        )  # fmt: skip
    if isinstance(comp, ConcordanceComponent):
        row = results.lookup(comp.measure, "practice", practice)
        num = int(row["numerator"] or 0) if row else 0  # type: ignore[call-overload]
        qty = Decimal(num)
        return StatementLine(
            practice, comp.id, comp.type, comp.description or f"Per patient: {comp.measure}",
            comp.measure, "practice", practice,
            f"{num} of {int(row['denominator'] or 0)} ({_fmt(row['value'], 1)}%)" if row else "no data",  # type: ignore[call-overload]
            "", "", qty, comp.rate, round_pence(qty * comp.rate),
            f"{comp.measure} practice {practice} (patient list in the practice's own folder)",
        )  # fmt: skip
    # performance
    group = _group_of(memberships, practice, comp.aggregate_level)
    agg = results.lookup(comp.measure, comp.aggregate_level, group) if group else None
    own = results.lookup(comp.measure, "practice", practice)
    agg_value = _pct(agg["value"]) if agg else None
    own_value = _pct(own["value"]) if own else None
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
        f"{comp.measure} {comp.aggregate_level} {group}; {comp.measure} practice {practice}",
    )  # fmt: skip


def totals_by_practice(lines: Iterable[StatementLine]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines:
        out[line.provider] = out.get(line.provider, ZERO) + line.amount
    return out
