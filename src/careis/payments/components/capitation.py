"""Capitation: a whole-population budget, £ per registered patient a year."""

from __future__ import annotations

from careis.contracts.schema import CapitationComponent
from careis.money import ZERO, round_pence
from careis.payments.components.base import Context, Kind, plain_requirement
from careis.payments.lines import StatementLine, evidence


def pay(
    ctx: Context, comp: CapitationComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    if comp.payee == "practices":
        out = []
        for p in ctx.practices:
            size = ctx.list_size(p)
            out.append(
                StatementLine(
                    provider=p,
                    component_id=comp.id,
                    component_type=comp.type,
                    description=comp.description or "Capitation",
                    measure_id="list_size",
                    measure_level="practice",
                    measure_org=p,
                    measure_value=f"{int(size)}",
                    quantity=size,
                    rate=comp.rate,
                    amount=round_pence(size * comp.rate),
                    evidence=ctx.list_evidence(p),
                    paid=comp.paid,
                )
            )
        return out
    holder = ctx.contract.holder
    assert holder is not None  # the schema requires a holder for payee: holder
    total = sum((ctx.list_size(p) for p in ctx.practices), ZERO)
    return [
        StatementLine(
            provider=holder.party.code,
            component_id=comp.id,
            component_type=comp.type,
            description=comp.description or "Whole-population budget",
            measure_id="list_size",
            measure_level="practice",
            measure_org=f"{len(ctx.practices)} practices",
            measure_value=f"{int(total)}",
            quantity=total,
            rate=comp.rate,
            amount=round_pence(total * comp.rate),
            evidence=evidence("list_size", "practice", "(each practice in scope)"),
            paid=comp.paid,
        )
    ]


def rule(comp: CapitationComponent) -> str:
    who = "the holder, for every patient in scope" if comp.payee == "holder" else "each practice"
    return f"£{comp.rate} per registered patient a year to {who}"


KIND = Kind(pay=pay, rule=rule, requirement=plain_requirement)
