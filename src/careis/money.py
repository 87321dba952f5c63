"""Exact money: pounds and pence as `Decimal`, explicit rounding, allocations that sum.

Why: a payment statement must reconcile to the penny with the ledger and with finance's own
spreadsheet. Floats cannot promise that; `Decimal` with one rounding rule (ROUND_HALF_UP,
applied once per statement line) and largest-remainder allocation can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")

K = TypeVar("K")


def to_decimal(value: object) -> Decimal:
    """Convert a number or numeric string to Decimal without passing through binary float.

    Floats are converted via `repr` so that 0.1 becomes Decimal('0.1'), not
    Decimal('0.1000000000000000055511151231257827...').
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount of money")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", "").lstrip("£"))
        except InvalidOperation as exc:
            raise ValueError(f"'{value}' is not a number") from exc
    raise TypeError(f"cannot convert {type(value).__name__} to money")


def round_pence(value: Decimal) -> Decimal:
    """Round to whole pence, half up (the rule for every statement line)."""
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def format_gbp(value: Decimal) -> str:
    """£1,234.56 (negative as -£1,234.56)."""
    pence = round_pence(value)
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence):,.2f}"


def allocate(
    total: Decimal, weights: Mapping[K, Decimal | int], order: Sequence[K] | None = None
) -> dict[K, Decimal]:
    """Split `total` (whole pence) in proportion to `weights` by the largest-remainder method.

    Every part is whole pence and the parts sum exactly to `total`. Each party first gets its
    exact share rounded down to the penny; the pennies left over go one each to the parties
    with the largest remainders. Ties are broken by `order` (default: sorted keys), so the
    result is deterministic. Zero-weight parties get nothing. If every weight is zero the
    total cannot be allocated and a ValueError is raised: the caller must decide where an
    unallocatable pot goes (usually: back to the commissioner).
    """
    total = round_pence(total)
    keys = list(order) if order is not None else sorted(weights, key=str)
    if set(keys) != set(weights):
        raise ValueError("allocation order must name exactly the weighted parties")
    dec_weights = {k: Decimal(weights[k]) for k in keys}
    if any(w < 0 for w in dec_weights.values()):
        raise ValueError("allocation weights must not be negative")
    weight_sum = sum(dec_weights.values(), Decimal(0))
    if weight_sum == 0:
        raise ValueError("cannot allocate: every weight is zero")
    sign = Decimal(-1) if total < 0 else Decimal(1)
    pennies_total = int((abs(total) / PENNY).to_integral_value())
    floors: dict[K, int] = {}
    remainders: dict[K, Decimal] = {}
    for k in keys:
        exact = Decimal(pennies_total) * dec_weights[k] / weight_sum
        whole = int(exact.to_integral_value(rounding=ROUND_DOWN))
        floors[k] = whole
        remainders[k] = exact - whole
    left = pennies_total - sum(floors.values())
    position = {k: i for i, k in enumerate(keys)}
    ranked = sorted(keys, key=lambda k: (-remainders[k], position[k]))
    for k in ranked[:left]:
        floors[k] += 1
    return {k: sign * Decimal(floors[k]) * PENNY for k in keys}
