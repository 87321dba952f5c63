"""Interval (bounds) propagation over published sums: what an outsider can narrow each
cell to, knowing `total = sum(parts)` for every sum and each cell's published interval.

A part is at least total.lo - sum(other parts' hi) and at most total.hi - sum(other parts'
lo); a total lies within the sums of its parts' bounds. careis's disclosure control
(`careis.measures.suppression`) runs this as the attacker would, round after round, hiding
what it pins, so it must be fast at national scale: England's tables give ~460,000 sums with
~22 million parts, and protection takes a dozen rounds or more.

Why it looks the way it does:
- a work queue, not sweeps over every sum: each narrowing is monotone, so applying them in
  any order until none moves reaches the same intervals (the greatest common fixed point),
  and only the sums that share a cell that just moved can move next;
- the sums' structure (cells as integer ids, each sum's parts, the sums each cell is in) is
  built once per table (`System`) and reused by every round; only the intervals change;
- each sum keeps running totals of its parts' ends (updated when a part moves) and an upper
  bound on its widest part (intervals only shrink), so a sum whose widest part fits within
  both slacks is settled without visiting its parts. The first totals are summed by numpy;
- before the queue, whole sweeps in numpy (`_sweeps`): every sum narrows its total and parts
  from the same intervals at once, and each cell keeps the tightest of what its sums say,
  until a sweep moves nothing. Each sweep is a few passes over the flat array of parts
  (England's largest ICB: 1.5 million), tens of times faster than visiting them one by one
  in Python, and a national table needs a dozen rounds of this per ICB. The queue then only
  confirms the fixed point (or finishes it, if the sweeps were stopped first): applying
  monotone narrowings in any order, one at a time or all at once, reaches the same intervals.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

Cell = tuple[int, str]  # (row index, column)
Sum = tuple[Cell, Sequence[Cell]]


class System:
    """The structure of a set of sums: which cells each sum adds up, and the reverse."""

    def __init__(self, sums: Sequence[Sum]) -> None:
        ids: dict[Cell, int] = {}
        totals: list[int] = []
        indices: list[int] = []
        indptr = [0]
        for total, parts in sums:
            totals.append(ids.setdefault(total, len(ids)))
            indices.extend(ids.setdefault(p, len(ids)) for p in parts)
            indptr.append(len(indices))
        self.size = len(sums)
        self.cells = list(ids)
        self.totals = totals
        self.indices = np.asarray(indices, dtype=np.int64)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        owner = np.repeat(np.arange(len(sums), dtype=np.int64), np.diff(self.indptr))
        self.part_ptr, self.part_of = _csr(self.indices, owner, len(ids))
        self.total_ptr, self.total_of = _csr(
            np.asarray(totals, dtype=np.int64), np.arange(len(sums), dtype=np.int64), len(ids)
        )

    def parts(self, i: int) -> list[int]:
        return self.indices[self.indptr[i] : self.indptr[i + 1]].tolist()

    def sums_with_part(self, c: int) -> list[int]:
        return self.part_of[self.part_ptr[c] : self.part_ptr[c + 1]].tolist()

    def sums_touching(self, c: int) -> list[int]:
        totals = self.total_of[self.total_ptr[c] : self.total_ptr[c + 1]].tolist()
        return totals + self.sums_with_part(c)


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each key 0..n-1, its values (in ascending value order), as offsets and a flat array."""
    order = np.lexsort((values, keys))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, keys + 1, 1)
    return np.cumsum(ptr), values[order]


def propagate(
    bounds: dict[Cell, tuple[int, int]], sums: Sequence[Sum], system: System | None = None
) -> dict[Cell, tuple[int, int]]:
    """Narrow each cell's interval using every `total = sum(parts)` until nothing moves.

    `system` is `System(sums)` where the caller keeps one across rounds. The work is capped at
    100 evaluations a sum (the sweeps this replaced stopped at 100 rounds)."""
    system = system if system is not None and system.size == len(sums) else System(sums)
    run = _Run(system, _sweeps(system, bounds))
    queue = deque(range(system.size))
    queued = [True] * system.size
    for _ in range(100 * system.size):
        if not queue:
            break
        i = queue.popleft()
        queued[i] = False
        for c in run.narrow(i):
            for j in system.sums_touching(c):
                if not queued[j]:
                    queued[j] = True
                    queue.append(j)
    out = dict(bounds)
    out.update(zip(system.cells, zip(run.lo, run.hi, strict=True), strict=True))
    return out


#: Whole numpy sweeps before the queue takes over (a slow creep of many small narrowings is
#: then the queue's, with its cap, as before).
MAX_SWEEPS = 500


def _sweeps(system: System, bounds: dict[Cell, tuple[int, int]]) -> dict[Cell, tuple[int, int]]:
    """`bounds` narrowed by whole sweeps in numpy until one moves nothing (or MAX_SWEEPS);
    unchanged where int64 could overflow (the queue, in Python's integers, does it all)."""
    if not system.size or not system.cells:
        return bounds
    lo = np.asarray([bounds[c][0] for c in system.cells], dtype=object)
    hi = np.asarray([bounds[c][1] for c in system.cells], dtype=object)
    sizes = np.diff(system.indptr)
    largest = max(abs(int(lo.min())), abs(int(hi.max())), 1)
    if int(sizes.max(initial=0)) * largest * 4 >= 2**62:
        return bounds
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    shape = _SweepShape.of(system)
    for _ in range(MAX_SWEEPS):
        new_lo, new_hi = shape.sweep(lo, hi)
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    out = dict(bounds)
    out.update(zip(system.cells, zip(lo.tolist(), hi.tolist(), strict=True), strict=True))
    return out


class _SweepShape:
    """A System's arrays arranged for numpy sweeps: each part entry's sum, and the entries
    and sums grouped by cell (so a cell's tightest bound is one `reduceat`)."""

    def __init__(self, system: System) -> None:
        sizes = np.diff(system.indptr)
        self.full = np.flatnonzero(sizes > 0)  # sums with parts (reduceat needs no empties)
        self.starts = system.indptr[:-1][self.full]
        self.n = system.size
        self.indices = system.indices
        self.owner = np.repeat(np.arange(system.size, dtype=np.int64), sizes)
        self.totals = np.asarray(system.totals, dtype=np.int64)
        self.part_order, self.part_cells, self.part_starts = _grouped(self.indices)
        self.total_order, self.total_cells, self.total_starts = _grouped(self.totals)

    @classmethod
    def of(cls, system: System) -> _SweepShape:
        shape = getattr(system, "_sweep_shape", None)
        if shape is None:
            shape = cls(system)
            system._sweep_shape = shape  # type: ignore[attr-defined]  # built once a table
        return shape

    def sweep(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every sum's narrowing from the same intervals; each cell's tightest result."""
        part_lo, part_hi = lo[self.indices], hi[self.indices]
        lo_sum = np.zeros(self.n, dtype=np.int64)
        hi_sum = np.zeros(self.n, dtype=np.int64)
        if len(self.full):
            lo_sum[self.full] = np.add.reduceat(part_lo, self.starts)
            hi_sum[self.full] = np.add.reduceat(part_hi, self.starts)
        t_lo = np.maximum(lo[self.totals], lo_sum)
        t_hi = np.minimum(hi[self.totals], hi_sum)
        new_lo, new_hi = lo.copy(), hi.copy()
        _tighten(new_lo, new_hi, t_lo, t_hi, self.total_order, self.total_cells,
                 self.total_starts)  # fmt: skip
        if len(self.indices):
            p_lo = t_lo[self.owner] - (hi_sum[self.owner] - part_hi)
            p_hi = t_hi[self.owner] - (lo_sum[self.owner] - part_lo)
            _tighten(new_lo, new_hi, p_lo, p_hi, self.part_order, self.part_cells,
                     self.part_starts)  # fmt: skip
        return new_lo, new_hi


def _grouped(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order that groups `cells` by cell, the cells, and where each one's group starts."""
    order = np.argsort(cells, kind="stable")
    ordered = cells[order]
    if not len(ordered):
        return order, ordered, ordered
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, ordered[first], first


def _tighten(
    lo: np.ndarray, hi: np.ndarray, new_lo: np.ndarray, new_hi: np.ndarray,
    order: np.ndarray, cells: np.ndarray, starts: np.ndarray,
) -> None:  # fmt: skip
    """lo/hi of each cell in `cells` raised/lowered to the tightest of its entries."""
    if not len(order):
        return
    lo[cells] = np.maximum(lo[cells], np.maximum.reduceat(new_lo[order], starts))
    hi[cells] = np.minimum(hi[cells], np.minimum.reduceat(new_hi[order], starts))


def _totals(system: System, los: list[int], his: list[int]) -> tuple[list[int], ...]:
    """Each sum's parts' low ends added up, high ends added up, and its widest part: by
    numpy where int64 cannot overflow (it holds 9.2e18; a hidden cell's end is 1e15), else
    in Python's unbounded integers."""
    if not system.size:
        return [], [], []
    largest = max(abs(min(los)), abs(max(los)), abs(min(his)), abs(max(his)))
    sizes = np.diff(system.indptr)
    # reduceat reads an empty sum as its next element, so a sum with no parts goes the slow way
    if int(sizes.min()) > 0 and int(sizes.max()) * largest < 2**62:
        lo, hi, starts = np.asarray(los), np.asarray(his), system.indptr[:-1]
        return (
            np.add.reduceat(lo[system.indices], starts).tolist(),
            np.add.reduceat(hi[system.indices], starts).tolist(),
            np.maximum.reduceat((hi - lo)[system.indices], starts).tolist(),
        )
    lo_sum, hi_sum, wide = [], [], []
    for i in range(system.size):
        parts = system.parts(i)
        lo_sum.append(sum(los[p] for p in parts))
        hi_sum.append(sum(his[p] for p in parts))
        wide.append(max((his[p] - los[p] for p in parts), default=0))
    return lo_sum, hi_sum, wide


class _Run:
    """One propagation's intervals (by cell id) and each sum's running totals."""

    def __init__(self, system: System, bounds: dict[Cell, tuple[int, int]]) -> None:
        self.system = system
        self.lo = [bounds[c][0] for c in system.cells]
        self.hi = [bounds[c][1] for c in system.cells]
        self.lo_sum, self.hi_sum, self.widest = _totals(system, self.lo, self.hi)

    def _set(self, c: int, lo: int, hi: int) -> None:
        d_lo, d_hi = lo - self.lo[c], hi - self.hi[c]
        self.lo[c], self.hi[c] = lo, hi
        for j in self.system.sums_with_part(c):
            self.lo_sum[j] += d_lo
            self.hi_sum[j] += d_hi

    def narrow(self, i: int) -> list[int]:
        """Sum i's narrowing, using its parts' totals as they were when it began; the ids of
        the cells whose interval moved."""
        total = self.system.totals[i]
        lo_sum, hi_sum = self.lo_sum[i], self.hi_sum[i]
        moved: list[int] = []
        t_lo, t_hi = max(self.lo[total], lo_sum), min(self.hi[total], hi_sum)
        if t_lo != self.lo[total] or t_hi != self.hi[total]:
            self._set(total, t_lo, t_hi)
            moved.append(total)
        if self.widest[i] <= min(hi_sum - t_lo, t_hi - lo_sum):
            return moved
        widest = 0
        for p in self.system.parts(i):
            lo, hi = self.lo[p], self.hi[p]
            p_lo = max(lo, t_lo - (hi_sum - hi))
            p_hi = min(hi, t_hi - (lo_sum - lo))
            if p_lo != lo or p_hi != hi:
                self._set(p, p_lo, p_hi)
                moved.append(p)
            widest = max(widest, p_hi - p_lo)
        self.widest[i] = widest
        return moved
