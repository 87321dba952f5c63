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

from careis.measures.intervals import propagate

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


def hierarchy_sums_reference(
    rows: Sequence[dict[str, str]], cells: list[Cell], groups: dict[tuple[str, str], str]
) -> list[tuple[Cell, list[Cell]]]:
    """The sums as first written: every group against every practice and every other group."""
    from careis.measures.results import LEVELS

    out: list[tuple[Cell, list[Cell]]] = []
    practice = {rows[c[0]]["org_code"]: c for c in cells if rows[c[0]]["level"] == "practice"}
    members: dict[Cell, frozenset[str]] = {}
    for c in cells:
        level, org = rows[c[0]]["level"], rows[c[0]]["org_code"]
        if level != "practice":
            found = frozenset(p for p in practice if groups.get((p, level)) == org)
            if found:
                members[c] = found
    rank = {c: LEVELS.index(rows[c[0]]["level"]) for c in members}
    for total, mine in members.items():
        out.append((total, [practice[p] for p in sorted(mine)]))
        for sub, theirs in members.items():
            if sub != total and theirs <= mine and (theirs < mine or rank[sub] < rank[total]):
                out.append((total, [sub, *(practice[p] for p in sorted(mine - theirs))]))
        for below in {rank[c] for c in members if rank[c] < rank[total]}:
            inside = [c for c in members if rank[c] == below and members[c] <= mine]
            covered = [p for c in inside for p in members[c]]
            if len(inside) > 1 and len(covered) == len(mine) == len(set(covered)):
                out.append((total, inside))
    return out


@st.composite
def hierarchies(
    draw: st.DrawFn,
) -> tuple[list[dict[str, str]], list[Cell], dict[tuple[str, str], str]]:
    """Practices in PCNs, federations and sub-ICBs drawn at random (not always nested, some
    practices in no group at a level), with result rows in a random order."""
    n = draw(st.integers(1, 12))
    practices = [f"P{i:02d}" for i in range(n)]
    groups: dict[tuple[str, str], str] = {}
    for level, k in (("pcn", 4), ("federation", 3), ("sub_icb", 2)):
        for p in practices:
            g = draw(st.integers(0, k))
            if g:
                groups[(p, level)] = f"{level[0].upper()}{g}"
    orgs = [("practice", p) for p in practices]
    orgs += sorted({(level, g) for (_, level), g in groups.items()})
    orgs = draw(st.permutations(orgs))
    rows = [{"level": level, "org_code": org} for level, org in orgs]
    cells = [(i, "numerator") for i in range(len(rows))]
    return rows, cells, groups


@settings(max_examples=300, deadline=None)
@given(hierarchies())
def test_the_indexed_sums_are_the_sums_in_the_same_order(
    case: tuple[list[dict[str, str]], list[Cell], dict[tuple[str, str], str]],
) -> None:
    """Order matters: secondary suppression hides along the sums in the order they come."""
    from careis.measures.suppression import _hierarchy_sums

    rows, cells, groups = case
    assert list(_hierarchy_sums(rows, cells, groups)) == hierarchy_sums_reference(
        rows, cells, groups
    )


def test_ends_too_large_for_int64_are_added_up_exactly() -> None:
    """Running totals fall back to Python's integers where numpy's int64 could overflow."""
    big = 10**19
    bounds = {(0, "n"): (10, 10), (1, "n"): (4, 4), (2, "n"): (0, big), (3, "n"): (0, big)}
    sums = [((0, "n"), [(1, "n"), (2, "n")]), ((3, "n"), [(2, "n")])]
    out = propagate(bounds, sums)
    assert out[(2, "n")] == (6, 6) and out[(3, "n")] == (6, 6)


def test_a_sum_of_no_parts_pins_its_total_to_zero() -> None:
    """An empty sum is 0: numpy's reduceat would read it as the next sum's first part."""
    bounds = {(0, "n"): (0, 9), (1, "n"): (5, 5), (2, "n"): (0, 9)}
    out = propagate(bounds, [((0, "n"), []), ((2, "n"), [(1, "n")])])
    assert out[(0, "n")] == (0, 0) and out[(2, "n")] == (5, 5)
