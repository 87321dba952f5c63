"""Disclosure control for aggregate outputs that leave the commissioner (docs/disclosure.md).

Why: a count of 1-7 patients at a small practice can identify people, and any figure computed
from an exact count gives that count back. The rule is the one NHS England and OpenSAFELY
publish by (ehrQL `measures/disclosure_control.py`: SUPPRESSION_THRESHOLD = 7,
ROUNDING_MULTIPLE = 5, ratio = rounded numerator / rounded denominator):

1. every count cell is published on its own: 0 as 0, `low`..`high` (1-7) hidden, others
   rounded half up to the nearest `round_to` (5) - the same function for every file
   (`suppress_count`; risk/practice_summary.csv uses it too);
2. person-time (a rate's denominator) is rounded to `round_to` person-years;
3. every derived figure (percentage, rate, confidence limits, crude rate, change) is computed
   *from the published counts*, so it carries nothing they do not; a standardised rate or
   ratio (which needs the unpublished age-sex strata) is published to one decimal place;
4. secondary suppression over every sum the hierarchy implies (a PCN is the sum of its
   practices, a sub-ICB minus a PCN is the sum of the rest, a lone practice is its PCN): no
   such sum may hold exactly one hidden cell; cells with the same exact value at the same
   organisation (one measure's denominator is another's numerator) are hidden together;
5. a final check attacks the result the way an outsider would (interval arithmetic over all
   those sums) and hides any further cell whose exact value it could pin down; a hidden cell
   it pins gets a neighbour hidden in each sum that pins it, or, where all its sums are
   hidden, loses the "small count" (1-7) labels that pin it (they become "secondary").

Zero is not disclosive and is shown. Suppression never applies to a practice's own
patient-level view.

Not calculated: a directly standardised rate on fewer than 10 events is not published (OHID's
minimum count; the results row's `note` says so): its value and limits are blanked and the
reason given, while its counts follow the rules above.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from careis.measures import stats
from careis.measures.intervals import System, propagate
from careis.measures.results import LEVELS, MeasureInfo

SUPPRESSED = "*"
DERIVED = ("value", "lower_ci", "upper_ci", "crude_value", "lower_ci_998", "upper_ci_998")
NOT_CALCULATED = "not calculated: DSR on fewer than 10 events (OHID minimum count)"
SMALL = "small count"
SECONDARY = "secondary"
BIG = 10**15  # "unbounded" for a hidden cell that need not be small

Cell = tuple[int, str]  # (row index, column)


class SuppressionConfig(BaseModel):
    """The run config's `suppression:` block (re-exported by careis.config, which reads it)."""

    model_config = ConfigDict(extra="forbid")

    low: int = Field(default=1, ge=0, description="Smallest count that is suppressed.")
    high: int = Field(default=7, ge=0, description="Largest count that is suppressed.")
    round_to: int = Field(
        default=5, ge=1, description="Other counts are rounded to the nearest multiple of this."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high < self.low:
            raise ValueError("suppression 'high' must be at least 'low'")
        return self


def _not_calculated(row: Mapping[str, object]) -> bool:
    return str(row.get("note") or "").startswith("DSR not calculated")


def suppress_count(value: float | None, config: SuppressionConfig) -> float | None:
    """The published form of one count: None if suppressed, else rounded (half up)."""
    if value is None:
        return None
    if config.low <= value <= config.high:
        return None
    return round_half_up(value, config.round_to)


def round_half_up(value: float, step: int) -> float:
    """`value` to the nearest multiple of `step`, halves upward (12.5 -> 15 for step 5)."""
    return float(math.floor(value / step + 0.5) * step)


def rounding_interval(published: float, config: SuppressionConfig) -> tuple[int, int]:
    """The integers a published (rounded, non-zero) count can stand for."""
    half = config.round_to / 2
    lo = math.ceil(published - half)
    hi = math.ceil(published + half) - 1
    return max(lo, config.high + 1), hi


def _small(value: object, config: SuppressionConfig) -> bool:
    return isinstance(value, int | float) and config.low <= value <= config.high


# --------------------------------------------------------------------------- the cells
@dataclass
class _Plan:
    """Which count cells a results table has, their exact values and which are hidden."""

    rows: list[dict[str, Any]]
    catalogue: Mapping[str, MeasureInfo]
    config: SuppressionConfig
    exact: dict[Cell, int] = field(default_factory=dict)
    hidden: dict[Cell, str] = field(default_factory=dict)
    sums: list[tuple[Cell, list[Cell]]] = field(default_factory=list)
    links: list[tuple[Cell, list[Cell]]] = field(default_factory=list)  # equal populations
    system: System | None = None  # the attack's sums, indexed once (intervals.System)
    #: each sum's count of hidden members, kept up to date by hide() once counted (the sums
    #: are final by then), and the sums each cell is in (with multiplicity, in order)
    hidden_in: list[int] | None = None
    in_sums: dict[Cell, list[int]] | None = None

    def info(self, i: int) -> MeasureInfo | None:
        return self.catalogue.get(str(self.rows[i]["measure_id"]))

    def hide(self, cell: Cell, why: str = SECONDARY) -> bool:
        if cell in self.hidden:
            return False
        self.hidden[cell] = why
        if self.hidden_in is not None:
            for i in self.sums_of(cell):
                self.hidden_in[i] += 1
        return True

    def sums_of(self, cell: Cell) -> list[int]:
        """The sums `cell` is in, as total or part, in the sums' order (looked up, not
        found by scanning all of England's ~320,000 sums for each cell)."""
        if self.in_sums is None:
            self.in_sums = defaultdict(list)
            for i, (total, parts) in enumerate(self.sums):
                for c in (total, *parts):
                    self.in_sums[c].append(i)
        return self.in_sums.get(cell, [])

    def has_visible(self, i: int) -> bool:
        """Whether sum i has a member not hidden (by its hidden count, not by looking)."""
        return self.hidden_counts()[i] < 1 + len(self.sums[i][1])

    def hidden_counts(self) -> list[int]:
        """How many members of each sum are hidden: counted once, then kept by hide()."""
        if self.hidden_in is None:
            hidden = self.hidden
            self.hidden_in = [
                sum(1 for c in (total, *parts) if c in hidden) for total, parts in self.sums
            ]
        return self.hidden_in


def count_columns(info: MeasureInfo | None) -> tuple[str, ...]:
    """The columns of a row that count people or events (person-time is not one)."""
    if info is None:
        return ("numerator", "denominator", "exclusions")
    if info.kind == "change":
        return ()
    cols = tuple(info.count_columns)
    return cols if info.kind == "rate" else (*cols, "exclusions")


def _cells(plan: _Plan) -> None:
    for i, row in enumerate(plan.rows):
        for col in count_columns(plan.info(i)):
            value = row.get(col)
            if isinstance(value, int | float) and not math.isnan(value):
                plan.exact[(i, col)] = round(value)
                if _small(value, plan.config):
                    plan.hidden[(i, col)] = SMALL


# --------------------------------------------------------------------------- the sums
def _sums(
    plan: _Plan,
    groups: Mapping[tuple[str, str], str],
    by_period: Mapping[str, Mapping[tuple[str, str], str]],
) -> None:
    """Every `total = sum(parts)` an outsider can write down from the hierarchy, kept only
    where it holds exactly (memberships that changed within a period do not)."""
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(plan.rows):
        by_key[(str(row["measure_id"]), str(row["period"]))].append(i)
    for (_, period), idx in by_key.items():
        membership = by_period.get(period, groups)
        for col in count_columns(plan.info(idx[0])):
            cells = [(i, col) for i in idx if (i, col) in plan.exact]
            for total, parts in _hierarchy_sums(plan.rows, cells, membership):
                if plan.exact[total] == sum(plan.exact[p] for p in parts):
                    plan.sums.append((total, parts))


def _hierarchy_sums(
    rows: Sequence[Mapping[str, Any]], cells: list[Cell], groups: Mapping[tuple[str, str], str]
) -> Iterable[tuple[Cell, list[Cell]]]:
    """Each group's total as the sum of its practices, of a group inside it and the rest, and
    of child groups that partition it.

    Why indexed by practice: a group's candidate sub-groups are only the groups its own
    practices belong to. Comparing every group with every practice and every other group
    took minutes for England's 6,410 practices and ~1,500 groups; the sums, and their order
    (which decides what secondary suppression hides), are the same."""
    practice = {str(rows[c[0]]["org_code"]): c for c in cells if rows[c[0]]["level"] == "practice"}
    by_group: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (p, level), org in groups.items():
        if p in practice:
            by_group[(level, org)].add(p)
    members: dict[Cell, frozenset[str]] = {}
    for c in cells:
        level, org = str(rows[c[0]]["level"]), str(rows[c[0]]["org_code"])
        if level != "practice" and by_group.get((level, org)):
            members[c] = frozenset(by_group[(level, org)])
    rank = {c: LEVELS.index(str(rows[c[0]]["level"])) for c in members}
    place = {c: n for n, c in enumerate(members)}
    containing: dict[str, list[Cell]] = defaultdict(list)
    for c, mine in members.items():
        for p in mine:
            containing[p].append(c)
    ranks = set(rank.values())
    for total, mine in members.items():
        yield total, [practice[p] for p in sorted(mine)]
        near = sorted({c for p in mine for c in containing[p]}, key=place.__getitem__)
        for sub in near:  # a group inside another: total - sub = the rest
            theirs = members[sub]
            if sub != total and theirs <= mine and (theirs < mine or rank[sub] < rank[total]):
                yield total, [sub, *(practice[p] for p in sorted(mine - theirs))]
        for below in {r for r in ranks if r < rank[total]}:
            inside = [c for c in near if rank[c] == below and members[c] <= mine]
            covered = [p for c in inside for p in members[c]]
            if len(inside) > 1 and len(covered) == len(mine) == len(set(covered)):
                yield total, inside  # child groups that partition the total


# --------------------------------------------------------------------------- protection
def _link_equal(plan: _Plan) -> bool:
    """Hide together the cells of one organisation that hold the same exact count: one
    measure's denominator (the register) is often another's numerator or denominator."""
    classes: dict[tuple[str, str, int], list[Cell]] = defaultdict(list)
    for cell, value in plan.exact.items():
        row = plan.rows[cell[0]]
        if value > 0:
            classes[(str(row["level"]), str(row["org_code"]), value)].append(cell)
    changed = False
    plan.links = [(members[0], [c]) for members in classes.values() for c in members[1:]]
    for members in classes.values():
        if any(c in plan.hidden for c in members):
            for c in members:
                changed |= plan.hide(c)
    return changed


def _secondary(plan: _Plan) -> bool:
    """No sum may contain exactly one hidden cell: hide its smallest visible non-zero part
    (ties by organisation code), or the total when every part is hidden or zero."""
    changed = False
    counts = plan.hidden_counts()
    for i, (total, parts) in enumerate(plan.sums):
        if counts[i] != 1:
            continue
        visible = [c for c in parts if c not in plan.hidden and plan.exact[c] > 0]
        if visible:
            pick = min(visible, key=lambda c: (plan.exact[c], str(plan.rows[c[0]]["org_code"])))
        else:
            pick = total
        changed |= plan.hide(pick)
    return changed


def interval_of(plan: _Plan, cell: Cell) -> tuple[int, int]:
    """What an outsider knows of a cell from its published form alone."""
    value = plan.exact[cell]
    why = plan.hidden.get(cell)
    if why == SMALL:
        return plan.config.low, plan.config.high
    if why is not None:
        return 0, BIG
    if value == 0:
        return 0, 0
    published = suppress_count(value, plan.config)
    assert published is not None
    return rounding_interval(published, plan.config)


def _attack(plan: _Plan) -> bool:
    """Hide what interval arithmetic over the published sums would pin to one value."""
    system = [*plan.sums, *plan.links]
    if plan.system is None or plan.system.size != len(system):
        plan.system = System(system)  # the same sums every round: built once
    bounds = {c: interval_of(plan, c) for c in plan.exact}
    narrowed = propagate(bounds, system, plan.system)
    changed = False
    for cell, (lo, hi) in sorted(narrowed.items()):
        if lo != hi or bounds[cell][0] == bounds[cell][1]:
            continue  # not pinned, or published exactly (zero)
        if cell not in plan.hidden:
            changed |= plan.hide(cell)
            continue
        pinning = _pinning_sums(plan, narrowed, cell)
        if not pinning:
            changed |= _unpin_closed(plan, cell)
        for i in pinning:
            total, parts = plan.sums[i]
            visible = [c for c in (total, *parts) if c not in plan.hidden]
            if visible:  # (hiding in an earlier pinning sum may have closed this one)
                changed |= plan.hide(min(visible, key=lambda c: plan.exact[c]))
    return changed


def _unpin_closed(plan: _Plan, cell: Cell) -> bool:
    """A pinned hidden cell every sum of which is hidden: what pins it is what the hidden
    cells' labels say (a "small count" is 1-7) or a visible cell further away. Its own and
    its sums' "small count" labels become "secondary" (any value), which tells no range;
    where there are none, the nearest visible cell through the sums is hidden.

    Why: in England in miniature (most practice counts 1-7) whole PCNs and federations are
    hidden, and a PCN's 1-7 practices under a federation narrowed from above left a count
    pinned with nothing beside it left to hide (9,197 cells before this rule)."""
    members = {cell}
    for i in plan.sums_of(cell):
        total, parts = plan.sums[i]
        members.update((total, *parts))
    changed = False
    for c in sorted(members):
        if plan.hidden.get(c) == SMALL:
            plan.hidden[c] = SECONDARY
            changed = True
    if changed:
        return True
    nearest = _nearest_visible(plan, cell)
    return nearest is not None and plan.hide(nearest)


def _nearest_visible(plan: _Plan, cell: Cell) -> Cell | None:
    """The smallest visible member of the first sum with one, breadth first from `cell`."""
    seen, queue, done = {cell}, deque([cell]), set()
    while queue:
        for i in plan.sums_of(queue.popleft()):
            if i in done:
                continue
            done.add(i)
            total, parts = plan.sums[i]
            if plan.has_visible(i):
                visible = [c for c in (total, *parts) if c not in plan.hidden]
                return min(visible, key=lambda c: (plan.exact[c], c))
            for c in (total, *parts):
                if c not in seen:
                    seen.add(c)
                    queue.append(c)
    return None


def _pinning_sums(plan: _Plan, narrowed: Mapping[Cell, tuple[int, int]], cell: Cell) -> list[int]:
    """The sums with a visible member in which a pinned hidden cell is pinned: those that
    alone, from the others' narrowed intervals, leave it one value; else the first sum with
    a visible member (the pin then comes from several sums together).

    Why each pinning sum and not the first sum with a visible member: that sum need not be
    what pins the cell, so hiding in it left the cell pinned and the next round hid again,
    one neighbour a round; England in miniature (most practice counts 1-7) took hundreds
    of rounds per ICB (issue 17)."""
    open_sums = [i for i in plan.sums_of(cell) if plan.has_visible(i)]
    pinning = [i for i in open_sums if _width_in(plan.sums[i], narrowed, cell) <= 0]
    return pinning or open_sums[:1]


def _width_in(
    one: tuple[Cell, list[Cell]], narrowed: Mapping[Cell, tuple[int, int]], cell: Cell
) -> int:
    """How wide `cell`'s interval is by this one sum, the other members as narrowed."""
    total, parts = one
    if cell == total:
        return sum(narrowed[p][1] - narrowed[p][0] for p in parts)
    lo = narrowed[total][0] - sum(narrowed[p][1] for p in parts if p != cell)
    hi = narrowed[total][1] - sum(narrowed[p][0] for p in parts if p != cell)
    return min(hi, narrowed[cell][1]) - max(lo, narrowed[cell][0])


def protect(plan: _Plan) -> None:
    """Secondary suppression, equal-value links and the attack, repeated to a fixed point, on
    each part of the table on its own (cells tied together by a sum or an equal-value link).

    Why parts: every step reads and hides only within the cells a sum or a link ties together,
    so parts cannot affect each other and protecting each alone hides exactly the same cells.
    Protecting the whole table at once made every part pay for every round of the slowest:
    England's 42 ICBs share no sum, and a dozen-odd rounds of ~25 s each were spent mostly on
    ICBs that had settled in two."""
    for part in _parts(plan):
        _protect(part)


def _protect(plan: _Plan) -> None:
    for _ in range(1000):
        changed = _link_equal(plan)
        changed |= _secondary(plan)
        if not changed:
            changed = _attack(plan)
        if not changed:
            return


def _parts(plan: _Plan) -> list[_Plan]:
    """The plan split into independent parts, each sharing the plan's rows and hidden cells;
    a cell in no sum and no link can be neither hidden by a rule nor pinned, and is left out."""
    _link_equal(plan)  # the links (the hiding it does is the first round's first step anyway)
    parent: dict[Cell, Cell] = {}

    def root(c: Cell) -> Cell:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for total, parts in [*plan.sums, *plan.links]:
        for p in parts:
            a, b = root(total), root(p)
            if a != b:
                parent[b] = a
    split: dict[Cell, _Plan] = {}
    for cell, value in plan.exact.items():
        if cell in parent:
            part = split.setdefault(
                root(cell), _Plan(plan.rows, plan.catalogue, plan.config, hidden=plan.hidden)
            )
            part.exact[cell] = value
    for total, parts in plan.sums:
        split[root(total)].sums.append((total, parts))
    return list(split.values())


# --------------------------------------------------------------------------- publishing
def suppress_results(
    table: pa.Table,
    catalogue: dict[str, MeasureInfo],
    config: SuppressionConfig,
    groups: Mapping[tuple[str, str], str] | None = None,
    groups_by_period: Mapping[str, Mapping[tuple[str, str], str]] | None = None,
) -> pa.Table:
    """Published copy of a results table (the rules are in the module docstring).

    `groups` maps (practice_code, group_type) to the group the practice belongs to; without
    it the hierarchy's sums are unknown and only the cell rules apply. `groups_by_period`
    gives the membership a period's roll-up used where it differs (a practice that moved);
    a sum that does not hold exactly under the membership given is not protected. Adds a `suppressed`
    boolean (some figure of the row is hidden) and `suppression`: for each hidden column,
    `column: small count` (the count was 1-7) or `column: secondary` (hidden to protect
    another cell; any value), joined by '; '.
    """
    plan = _Plan(table.to_pylist(), catalogue, config)
    _cells(plan)
    if groups or groups_by_period:
        _sums(plan, groups or {}, groups_by_period or {})
    protect(plan)
    out = [_publish_row(plan, i) for i in range(len(plan.rows))]
    _publish_changes(plan, out)
    schema = table.schema.append(pa.field("suppressed", pa.bool_())).append(
        pa.field("suppression", pa.string())
    )
    return pa.Table.from_pylist(out, schema=schema)


def _publish_row(plan: _Plan, i: int) -> dict[str, Any]:
    row = dict(plan.rows[i])
    info = plan.info(i)
    reasons = []
    for col in count_columns(info):
        if (i, col) in plan.hidden:
            reasons.append(f"{col}: {plan.hidden[(i, col)]}")
            row[col] = None
        elif row.get(col) is not None:
            row[col] = suppress_count(row[col], plan.config)
    if info is not None and info.kind == "rate" and row.get("denominator") is not None:
        row["denominator"] = round_half_up(row["denominator"], plan.config.round_to)
    if info is None or info.kind != "change":
        _derive(row, info, plan.rows[i])
    if _not_calculated(plan.rows[i]):
        for col in ("value", "lower_ci", "upper_ci"):
            row[col] = None
        reasons.append(NOT_CALCULATED)
    row["suppressed"] = bool(reasons)
    row["suppression"] = "; ".join(reasons)
    return row


def _derive(row: dict[str, Any], info: MeasureInfo | None, exact: Mapping[str, Any]) -> None:
    """Value, limits and crude rate recomputed from the row's published counts."""
    num, den = row.get("numerator"), row.get("denominator")
    for col in DERIVED:
        row[col] = None
    kind = info.kind if info is not None else "proportion"
    if kind == "count":
        row["value"] = num
        return
    if num is None or den is None or den <= 0:
        return
    if kind == "proportion":
        row["value"] = num * 100.0 / den
        ci = stats.wilson(num, den)
        if ci is not None:
            row["lower_ci"], row["upper_ci"] = ci[0] * 100, ci[1] * 100
        return
    per = _per(info, exact)
    crude = num * per / den
    row["crude_value"] = crude
    if info is not None and info.standardised:
        for col in ("value", "lower_ci", "upper_ci"):  # needs the strata: coarse only
            v = exact.get(col)
            row[col] = None if v is None else round(float(v), 1)
        return
    lo, hi = stats.poisson_exact(num)
    row["value"], row["lower_ci"], row["upper_ci"] = crude, lo * per / den, hi * per / den


def _per(info: MeasureInfo | None, exact: Mapping[str, Any]) -> float:
    """A rate's multiplier (per 1,000 ...): from the catalogue, else from the exact row."""
    if info is not None and info.per is not None:
        return float(info.per)
    num, den, crude = exact.get("numerator"), exact.get("denominator"), exact.get("crude_value")
    if crude is None:
        crude = exact.get("value")
    if num and den and crude:
        return float(10 ** round(math.log10(crude * den / num)))
    return 1000.0


def _publish_changes(plan: _Plan, out: list[dict[str, Any]]) -> None:
    """A change is recomputed from the published values of the measure it compares."""
    index = {
        (r["measure_id"], r["period"], r["level"], r["org_code"]): r
        for r, i in zip(out, range(len(out)), strict=True)
        if not _is_change(plan.info(i))
    }
    for i, row in enumerate(out):
        info = plan.info(i)
        if not _is_change(info):
            continue
        assert info is not None
        perf_key, _, base_key = str(row["period"]).partition(" vs ")
        of = info.of or ""
        perf = index.get((of, perf_key, row["level"], row["org_code"]), {})
        base = index.get((of, base_key, row["level"], row["org_code"]), {})
        pv, bv = perf.get("value"), base.get("value")
        row["numerator"], row["denominator"] = pv, bv
        row["value"] = _change(pv, bv, info.compare)
        for col in ("lower_ci", "upper_ci", "crude_value", "exclusions"):
            row[col] = None
        if pv is None or bv is None:
            row["suppressed"] = True
            row["suppression"] = f"value: derived from a hidden value of {of or 'its measure'}"


def _is_change(info: MeasureInfo | None) -> bool:
    return info is not None and info.kind == "change"


def _change(pv: float | None, bv: float | None, compare: str) -> float | None:
    if pv is None or bv is None:
        return None
    if compare == "absolute":
        return pv - bv
    return (pv / bv - 1.0) * 100.0 if bv > 0 else None


# --------------------------------------------------------------------------- other files
def publish_counts(
    counts: Mapping[str, float], related: Sequence[Sequence[str]], config: SuppressionConfig
) -> dict[str, float | None]:
    """One row of counts for a published file other than published.csv (same cell rule).

    `related` lists sets of fields whose sum may be published elsewhere (e.g. the eFI
    categories add up to the practice's patients aged 65+): none may hold a lone hidden
    cell, so the smallest visible non-zero one is hidden beside it.
    """
    hidden = {k for k, v in counts.items() if _small(v, config)}
    changed = True
    while changed:
        changed = False
        for fields in related:
            lone = [f for f in fields if f in hidden]
            shown = [f for f in fields if f not in hidden and counts[f] > 0]
            if len(lone) == 1 and shown:
                hidden.add(min(shown, key=lambda f: (counts[f], f)))
                changed = True
    return {k: None if k in hidden else suppress_count(v, config) for k, v in counts.items()}
