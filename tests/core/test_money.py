"""Money: rounding and largest-remainder allocation (property-based)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careis.money import allocate, format_gbp, round_pence, to_decimal

pots = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("10000000.00"), places=2)
weights = st.dictionaries(
    st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=6),
    st.integers(min_value=0, max_value=200_000),
    min_size=1,
    max_size=40,
).filter(lambda w: sum(w.values()) > 0)


@given(pots, weights)
def test_allocation_sums_exactly_to_the_pot(pot: Decimal, w: dict[str, int]) -> None:
    parts = allocate(pot, w)
    assert sum(parts.values(), Decimal(0)) == pot
    assert all(p == round_pence(p) for p in parts.values())
    assert all(p >= 0 for p in parts.values())


@given(pots, weights)
def test_allocation_is_within_a_penny_of_the_exact_share(pot: Decimal, w: dict[str, int]) -> None:
    parts = allocate(pot, w)
    total = sum(w.values())
    for k, part in parts.items():
        exact = pot * Decimal(w[k]) / Decimal(total)
        assert abs(part - exact) < Decimal("0.01")
        if w[k] == 0:
            assert part == 0


@given(pots, weights)
def test_allocation_is_monotone_in_weight(pot: Decimal, w: dict[str, int]) -> None:
    parts = allocate(pot, w)
    ranked = sorted(w, key=lambda k: w[k])
    for a, b in pairwise(ranked):
        if w[a] < w[b]:
            assert parts[a] <= parts[b]


def test_hand_worked_allocation_and_tie_break() -> None:
    # £100 in three equal shares: 33.33 each and the spare penny to the first in order.
    assert allocate(Decimal("100.00"), {"a": 1, "b": 1, "c": 1}) == {
        "a": Decimal("33.34"),
        "b": Decimal("33.33"),
        "c": Decimal("33.33"),
    }
    # largest remainder wins: 10.00 by 1:2 = 3.333.. and 6.666.. -> 3.33 and 6.67
    assert allocate(Decimal("10.00"), {"x": 1, "y": 2}) == {
        "x": Decimal("3.33"),
        "y": Decimal("6.67"),
    }


def test_all_zero_weights_cannot_be_allocated() -> None:
    with pytest.raises(ValueError, match="every weight is zero"):
        allocate(Decimal("5.00"), {"a": 0, "b": 0})


def test_round_half_up_and_formatting() -> None:
    assert round_pence(Decimal("2.345")) == Decimal("2.35")
    assert round_pence(Decimal("2.344999")) == Decimal("2.34")
    assert round_pence(Decimal("-2.345")) == Decimal("-2.35")
    assert format_gbp(Decimal("1234.5")) == "£1,234.50"
    assert format_gbp(Decimal("-3")) == "-£3.00"
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal("£1,000.10") == Decimal("1000.10")
    with pytest.raises(TypeError):
        to_decimal(True)
