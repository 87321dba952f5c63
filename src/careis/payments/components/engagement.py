"""Engagement: a payment for taking part (per registered patient, a fixed sum, or milestones)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from careis.contracts.schema import EngagementComponent, Milestone
from careis.errors import ConfigError
from careis.measures.results import MeasureInfo
from careis.money import ZERO, round_pence
from careis.payments.components.base import Context, Kind, read_csv, what
from careis.payments.lines import StatementLine


def pay(
    ctx: Context, comp: EngagementComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    if comp.basis == "milestone":
        return _milestones(ctx, comp)
    assert comp.rate is not None  # the schema requires a rate for these bases
    if comp.payee != "practices":
        return [
            StatementLine(
                provider=comp.payee,
                component_id=comp.id,
                component_type=comp.type,
                description=comp.description or "Fixed payment",
                quantity=Decimal(1),
                rate=comp.rate,
                amount=round_pence(comp.rate),
                evidence="contract term",
                paid=comp.paid,
            )
        ]
    return [_practice_line(comp, p, ctx.list_size(p), ctx.list_evidence(p)) for p in ctx.practices]


def _practice_line(
    comp: EngagementComponent, practice: str, list_size: Decimal, source: str
) -> StatementLine:
    assert comp.rate is not None  # milestone engagement is evaluated in _milestones
    per_patient = comp.basis == "per_registered_patient"
    qty = list_size if per_patient else Decimal(1)
    return StatementLine(
        provider=practice,
        component_id=comp.id,
        component_type=comp.type,
        description=comp.description or "Engagement payment",
        measure_id="list_size" if per_patient else "",
        measure_level="practice",
        measure_org=practice,
        measure_value=f"{int(list_size)}" if per_patient else "",
        quantity=qty,
        rate=comp.rate,
        amount=round_pence(qty * comp.rate),
        evidence=source,
        paid=comp.paid,
    )


def _reached(path: Path, due: dict[str, Milestone]) -> dict[tuple[str, str], dt.date]:
    """(practice, milestone) -> the day it was reached, from the achievements file."""
    reached: dict[tuple[str, str], dt.date] = {}
    rows = read_csv(path, ["practice_code", "milestone_id", "achieved_on"])
    for n, row in enumerate(rows, start=2):
        mid, code = row["milestone_id"].strip(), row["practice_code"].strip()
        if mid not in due:
            raise ConfigError(
                f"unknown milestone '{mid}'.",
                file=path,
                where=f"line {n}",
                fix=f"use one of: {', '.join(due)}.",
            )
        try:
            day = dt.date.fromisoformat(row["achieved_on"].strip())
        except ValueError:
            raise ConfigError(
                f"achieved_on '{row['achieved_on']}' is not a date.",
                file=path,
                where=f"line {n}",
                fix="write it as YYYY-MM-DD.",
            ) from None
        if (code, mid) in reached:
            raise ConfigError(
                f"{code} reaches '{mid}' twice.",
                file=path,
                where=f"line {n}",
                fix="keep the first date only.",
            )
        reached[(code, mid)] = day
    return reached


def _milestones(ctx: Context, comp: EngagementComponent) -> list[StatementLine]:
    """One line per practice and milestone; paid on the day reached, if by the due date."""
    assert comp.achievements is not None
    path = ctx.beside_contract(comp.achievements)
    reached = _reached(path, {m.id: m for m in comp.milestones})
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
                    provider=p,
                    component_id=comp.id,
                    component_type=comp.type,
                    description=f"{comp.description or 'Milestone'}: {m.description or m.id}",
                    measure_value=m.id,
                    test=test,
                    met="yes" if on_time else "no",
                    quantity=Decimal(1 if on_time else 0),
                    rate=m.amount,
                    amount=m.amount if on_time else ZERO,
                    evidence=f"{path.name}: {p} {m.id}",
                    paid="on_day" if on_time else "year_end",
                    paid_on=got if on_time else None,
                )
            )
    return out


def rule(comp: EngagementComponent) -> str:
    if comp.payee != "practices":
        return f"£{comp.rate} fixed sum to {comp.payee}"
    return (
        f"£{comp.rate} per registered patient"
        if comp.basis == "per_registered_patient"
        else f"£{comp.rate} per practice"
    )


def requirement(comp: EngagementComponent, info: MeasureInfo | None) -> str:
    return f"Take part for the whole term and meet the engagement conditions: {what(comp).lower()}."


KIND = Kind(pay=pay, rule=rule, requirement=requirement)
