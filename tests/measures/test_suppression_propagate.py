"""Interval propagation (the disclosure attack's arithmetic) reaches the same intervals by a
work queue as by sweeping every sum until nothing moves.

Why this matters: the queue replaced the sweeps for speed (issue 17); what an attacker can
pin down, and so what gets hidden, must not change. Chaotic iteration of monotone narrowing
operators on a finite lattice has one result whatever the order (Cousot & Cousot, 1977), so
the reference below, the sweeps as they were, must agree with the queue on every system.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from careis.measures.suppression import propagate

Cell = tuple[int, str]


def sweeps(
    bounds: dict[Cell, tuple[int, int]], sums: Sequence[tuple[Cell, Sequence[Cell]]]
) -> dict[Cell, tuple[int, int]]:
    """The reference: every sum in turn, round after round, until a round moves nothing."""
    b = dict(bounds)
    for _ in range(10_000):
        moved = False
        for total, parts in sums:
            lo_sum = sum(b[p][0] for p in parts)
            hi_sum = sum(b[p][1] for p in parts)
            t_lo, t_hi = max(b[total][0], lo_sum), min(b[total][1], hi_sum)
            moved |= (t_lo, t_hi) != b[total]
            b[total] = (t_lo, t_hi)
            for p in parts:
                p_lo = max(b[p][0], t_lo - (hi_sum - b[p][1]))
                p_hi = min(b[p][1], t_hi - (lo_sum - b[p][0]))
                moved |= (p_lo, p_hi) != b[p]
                b[p] = (p_lo, p_hi)
        if not moved:
            return b
    raise AssertionError("the reference did not settle")


@st.composite
def systems(draw: st.DrawFn) -> tuple[dict[Cell, tuple[int, int]], list[tuple[Cell, list[Cell]]]]:
    """Practices summed into groups and groups into a total, in two columns (numerator and
    denominator) linked by equal-value pairs; each cell known only to an interval around its
    true count, as a published (rounded, suppressed) table would leave it."""
    groups = draw(st.lists(st.integers(1, 5), min_size=1, max_size=5))
    columns = ("num", "den")
    exact: dict[Cell, int] = {}
    sums: list[tuple[Cell, list[Cell]]] = []
    row = 0
    group_rows = []
    for size in groups:
        parts = list(range(row + 1, row + 1 + size))
        for column in columns:
            for p in parts:
                exact[(p, column)] = draw(st.integers(0, 40))
            exact[(row, column)] = sum(exact[(p, column)] for p in parts)
            sums.append(((row, column), [(p, column) for p in parts]))
        group_rows.append(row)
        row += size + 1
    for column in columns:
        exact[(row, column)] = sum(exact[(g, column)] for g in group_rows)
        sums.append(((row, column), [(g, column) for g in group_rows]))
    links = draw(st.lists(st.sampled_from(sorted(exact)), max_size=4))
    for cell in links:  # an equal-value link: a one-part sum
        other = (cell[0], "den" if cell[1] == "num" else "num")
        if exact[other] == exact[cell]:
            sums.append((cell, [other]))
    bounds = {}
    for cell, value in sorted(exact.items()):
        kind = draw(st.sampled_from(["exact", "rounded", "small", "hidden"]))
        if kind == "exact":
            bounds[cell] = (value, value)
        elif kind == "rounded":
            low = value - value % 5
            bounds[cell] = (low, low + 4)
        elif kind == "small" and 1 <= value <= 7:
            bounds[cell] = (1, 7)
        else:
            bounds[cell] = (0, 10**9)
    order = draw(st.permutations(sums))
    return bounds, list(order)


@settings(max_examples=300, deadline=None)
@given(systems())
def test_the_queue_reaches_the_sweeps_intervals(
    system: tuple[dict[Cell, tuple[int, int]], list[tuple[Cell, list[Cell]]]],
) -> None:
    bounds, sums = system
    assert propagate(bounds, sums) == sweeps(bounds, sums)


def test_a_hand_worked_differencing_attack() -> None:
    """A total of 10 published exactly, parts A = 4 published and B suppressed (1-7): B is 6."""
    bounds = {(0, "n"): (10, 10), (1, "n"): (4, 4), (2, "n"): (1, 7)}
    out = propagate(bounds, [((0, "n"), [(1, "n"), (2, "n")])])
    assert out[(2, "n")] == (6, 6)
