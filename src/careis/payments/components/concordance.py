"""Concordance: paid per patient managed within the agreed process, or QOF-style points."""

from __future__ import annotations

from decimal import Decimal

from careis.contracts.schema import ConcordanceComponent
from careis.measures.results import MeasureInfo
from careis.money import ZERO, round_pence, to_decimal
from careis.payments.components.base import Context, Kind, plain_requirement, what
from careis.payments.lines import StatementLine, evidence, fmt, patients, quantity4


def pay(
    ctx: Context, comp: ConcordanceComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    if comp.basis == "qof_points":
        return [_qof_line(ctx, comp, p) for p in ctx.practices]
    return [_per_patient_line(ctx, comp, p) for p in ctx.practices]


def _per_patient_line(ctx: Context, comp: ConcordanceComponent, practice: str) -> StatementLine:
    assert comp.rate is not None  # per_patient (qof_points lines come from _qof_line)
    row = ctx.result(comp.measure, "practice", practice, comp.period)
    num = int(row["numerator"] or 0) if row else 0  # type: ignore[call-overload]
    qty = Decimal(num)
    shown = (
        f"{num} of {int(row['denominator'] or 0)} ({fmt(row['value'], 1)}%)"  # type: ignore[call-overload]
        if row
        else "no data"
    )
    return StatementLine(
        provider=practice,
        component_id=comp.id,
        component_type=comp.type,
        description=comp.description or f"Per patient: {comp.measure}",
        measure_id=comp.measure,
        measure_level="practice",
        measure_org=practice,
        measure_value=shown,
        quantity=qty,
        rate=comp.rate,
        amount=round_pence(qty * comp.rate),
        evidence=evidence(comp.measure, "practice", practice) + patients(practice),
        paid=comp.paid,
    )


def _exact_ratio(row: dict[str, object] | None) -> tuple[Decimal, Decimal] | None:
    if row is None or row["denominator"] in (None, 0):
        return None
    return to_decimal(int(row["numerator"] or 0)), to_decimal(int(row["denominator"]))  # type: ignore[call-overload]


def _apdf(ctx: Context, comp: ConcordanceComponent, practice: str) -> tuple[Decimal, str]:
    """The prevalence adjustment (practice / national prevalence) and its working, if any."""
    if comp.prevalence_measure is None:
        return Decimal(1), ""
    assert comp.national_prevalence_percent is not None
    prev_row = ctx.result(comp.prevalence_measure, "practice", practice, comp.period)
    prev_value = prev_row["value"] if prev_row else None
    prev = to_decimal(float(prev_value)) if isinstance(prev_value, int | float) else ZERO
    apdf = prev / comp.national_prevalence_percent
    return apdf, f"; APDF {prev}% / {comp.national_prevalence_percent}% = {apdf:.4f}"


def _qof_line(ctx: Context, comp: ConcordanceComponent, practice: str) -> StatementLine:
    """QOF arithmetic (SFE): points from the exact achievement ratio, then CPI and APDF."""
    assert comp.max_points is not None
    assert comp.lower_threshold_percent is not None and comp.upper_threshold_percent is not None
    value, avg = ctx.contract.qof_figures(comp)  # checked at load time (Contract._qof_rules)
    assert value is not None and avg is not None
    ratio = _exact_ratio(ctx.result(comp.measure, "practice", practice, comp.period))
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
    apdf, apdf_text = _apdf(ctx, comp, practice)
    amount = round_pence(points * value * cpi * apdf)
    shown = "no data" if ratio is None else f"{int(ratio[0])} of {int(ratio[1])} ({achieved:.4f}%)"
    tested = shown.rsplit("(", maxsplit=1)[-1].rstrip(")") if ratio else "n/a"
    test = (
        f"points {comp.max_points} x ({tested} - {lt}%) / ({ut}% - {lt}%), "
        f"clamped = {points:.4f}; CPI {int(size)} / {avg} = {cpi:.4f}{apdf_text}"
    )
    return StatementLine(
        provider=practice,
        component_id=comp.id,
        component_type=comp.type,
        description=comp.description or f"QOF-style points: {comp.measure}",
        measure_id=comp.measure,
        measure_level="practice",
        measure_org=practice,
        measure_value=shown,
        test=test,
        met="yes" if points == comp.max_points else ("part" if points > 0 else "no"),
        quantity=quantity4(points),
        rate=value,
        amount=amount,
        evidence=evidence(comp.measure, "practice", practice) + patients(practice),
        paid=comp.paid,
    )


def rule(comp: ConcordanceComponent) -> str:
    if comp.basis == "qof_points":
        adj = " x APDF (prevalence / national)" if comp.prevalence_measure else ""
        return (
            f"QOF-style: up to {comp.max_points} points for '{comp.measure}' scaled linearly from "
            f"{comp.lower_threshold_percent}% to {comp.upper_threshold_percent}%, "
            f"x £ per point x CPI{adj}"
        )
    return f"£{comp.rate} per patient in the numerator of '{comp.measure}'"


def requirement(comp: ConcordanceComponent, info: MeasureInfo | None) -> str:
    if info is None:
        return plain_requirement(comp, info)
    return (
        f"For each patient on the register: {what(comp).lower()}. Measured by "
        f"'{info.name}' ({info.unit}): {info.description}"
    )


KIND = Kind(pay=pay, rule=rule, requirement=requirement)
