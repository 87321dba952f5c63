"""Aspiration: on account in year (a % of last year's payment), recovered at year end."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from careis.contracts.schema import AspirationComponent
from careis.errors import ConfigError
from careis.money import ZERO, format_gbp, round_pence, to_decimal
from careis.payments.components.base import Context, Kind, no_rule, plain_requirement, read_csv
from careis.payments.lines import StatementLine


def _prior(path: Path, comp: AspirationComponent) -> dict[str, Decimal]:
    """Last year's earned payment for the component, per provider."""
    prior: dict[str, Decimal] = {}
    for n, row in enumerate(read_csv(path, ["provider", "component_id", "amount"]), start=2):
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
    return prior


def pay(
    ctx: Context, comp: AspirationComponent, earlier: list[StatementLine]
) -> list[StatementLine]:
    """Two lines per provider: the sum paid on account, and its recovery at year end."""
    path = ctx.beside_contract(comp.prior_statements)
    prior = _prior(path, comp)
    achieved: dict[str, Decimal] = {}
    for line in earlier:
        if line.component_id == comp.of_component and line.kind == "earned":
            achieved[line.provider] = achieved.get(line.provider, ZERO) + line.amount
    out: list[StatementLine] = []
    for provider in sorted(achieved):
        last = prior.get(provider, ZERO)
        on_account = round_pence(last * comp.percent / 100)
        this = achieved[provider]
        test = (
            f"{comp.percent}% of last year's £{last:,.2f} = £{on_account:,.2f} on account; "
            f"achieved £{this:,.2f} this year; balance at year end {format_gbp(this - on_account)}"
        )
        paid_on_account = StatementLine(
            provider=provider,
            component_id=comp.id,
            component_type=comp.type,
            description=f"On account for '{comp.of_component}'",
            measure_value=f"{last:.2f}",
            test=test,
            quantity=last,
            rate=comp.percent,
            amount=on_account,
            evidence=f"{path.name}: {provider} {comp.of_component}",
            kind="on_account",
            paid="in_year",
        )
        recovered = replace(
            paid_on_account,
            description="On-account sum recovered at reconciliation",
            met="yes" if this >= on_account else "no",
            amount=-on_account,
            kind="recovery",
            paid="year_end",
        )
        out += [paid_on_account, recovered]
    return out


KIND = Kind(pay=pay, rule=no_rule, requirement=plain_requirement, stage="aspiration")
