"""An outsider who holds careis's published files and wants the counts they hide.

Written independently of `careis.measures.suppression` (it imports nothing from it): it reads
the published figures as anyone may see them, and knows the rules in docs/disclosure.md and
which figures describe the same population (conservatively, it is told every pair of cells at
one organisation whose exact counts are equal). Its attacks:

- back-calculation: a rate times its person-time, a percentage against its denominator, a
  change against the rates it compares, searching every count the published (rounded or
  hidden) figures allow for those that reproduce the derived figure;
- differencing over every sum the hierarchy implies (group = its practices, a group minus a
  group inside it = the rest, a group = the child groups that partition it), across measures
  sharing a population and across files (risk/practice_summary.csv), by interval arithmetic
  to a fixed point.

A cell counts as *recovered* when the attack pins it to one value and that value is the true
count (from the restricted results), and the published form did not already show it exactly:
a hidden cell, or a rounded cell whose true count differs from the rounded one. Scoring
against the truth keeps a wrong inference from counting.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = ("practice", "pcn", "federation", "sub_icb", "icb")
COUNT_COLS = ("numerator", "denominator", "exclusions")
BIG = 10**15
STEP, LOW, HIGH = 5, 1, 7
Key = tuple[str, ...]  # (source, measure, period, level, org, column)


@dataclass
class Board:
    """What the attacker knows: an interval per cell, the sums, and the truth for scoring."""

    bounds: dict[Key, tuple[int, int]] = field(default_factory=dict)
    shown: dict[Key, float | None] = field(default_factory=dict)  # published form
    truth: dict[Key, int] = field(default_factory=dict)
    sums: list[tuple[Key, list[Key]]] = field(default_factory=list)
    claims: dict[Key, int] = field(default_factory=dict)  # from back-calculation

    def narrow(self, key: Key, lo: int, hi: int) -> None:
        old = self.bounds.get(key, (0, BIG))
        self.bounds[key] = (max(old[0], lo), min(old[1], hi))


def num(text: Any) -> float | None:
    if text is None or text in {"", "*"}:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def interval(shown: float | None, small: bool) -> tuple[int, int]:
    """What a published count says of the true one (rules: 0 shown, 1-7 hidden, else to 5)."""
    if shown is None:
        return (LOW, HIGH) if small else (0, BIG)
    if shown == 0:
        return 0, 0
    return max(HIGH + 1, math.ceil(shown - STEP / 2)), math.ceil(shown + STEP / 2) - 1


def small_columns(row: Mapping[str, Any], kind: str) -> set[str]:
    """Columns the row says were small: 'numerator: small count; ...', or the old row-level
    'small count', which only pins the numerator where it is the only count."""
    text = str(row.get("suppression") or "")
    cols = {m.group(1) for m in re.finditer(r"(\w+): small count", text)}
    if text == "small count" and kind in ("rate", "count"):
        cols.add("numerator")
    return cols


# --------------------------------------------------------------------------- reading
def board_from_rows(
    published: Sequence[Mapping[str, Any]],
    exact: Sequence[Mapping[str, Any]],
    kinds: Mapping[str, str],
) -> Board:
    """Cells of published.csv rows (as dicts), truth from the matching results rows."""
    board = Board()
    truth_rows = {_row_id(r): r for r in exact}
    for row in published:
        kind = kinds.get(str(row["measure_id"]), "proportion")
        small = small_columns(row, kind)
        truth = truth_rows.get(_row_id(row), {})
        for col in _counts_of(kind):
            t = num(truth.get(col))
            if t is None:
                continue
            key = ("published", *_row_id(row), col)
            shown = num(row.get(col))
            board.shown[key] = shown
            board.truth[key] = round(t)
            board.narrow(key, *interval(shown, col in small))
    return board


def _row_id(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(row["measure_id"]), str(row["period"]), str(row["level"]), str(row["org_code"]))


def _counts_of(kind: str) -> tuple[str, ...]:
    if kind == "change":
        return ()
    return ("numerator",) if kind in ("rate", "count") else COUNT_COLS


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def add_summary(board: Board, folder: Path, exact: Sequence[Mapping[str, Any]]) -> None:
    """risk/practice_summary.csv cells, with truth from the practices' own files."""
    path = folder / "risk" / "practice_summary.csv"
    if not path.exists():
        return
    adults = {
        str(r["org_code"]): num(r["numerator"])
        for r in exact
        if r["measure_id"] == "adults" and r["level"] == "practice" and r["period"] == "performance"
    }
    for row in read_csv(path):
        p = row["practice_code"]
        truth = _practice_truth(folder / "practices" / p)
        if adults.get(p) is not None:
            truth["adults"] = int(adults[p] or 0)
        for col, t in truth.items():
            key = ("summary", "", "", "practice", p, col)
            shown = num(row.get(col))
            board.shown[key] = shown
            board.truth[key] = t
            board.narrow(key, *interval(shown, small=shown is None))


def _practice_truth(folder: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    if (folder / "register.csv").exists():
        out["on_register"] = len(read_csv(folder / "register.csv"))
    if (folder / "frailty.csv").exists():
        cats = [r["efi_category"] for r in read_csv(folder / "frailty.csv")]
        for c in ("moderate", "severe"):
            out[c] = cats.count(c)
    return out


# --------------------------------------------------------------------------- sums
def add_hierarchy(board: Board, groups: Mapping[tuple[str, str], str]) -> None:
    """Every sum the published memberships imply, for each measure, period and column."""
    trees: dict[tuple[str, ...], dict[tuple[str, str], Key]] = defaultdict(dict)
    for key in board.bounds:
        if key[0] == "published":
            trees[(key[1], key[2], key[5])][(key[3], key[4])] = key
    for cells in trees.values():
        practices = {org for (level, org) in cells if level == "practice"}
        members = {
            k: frozenset(p for p in practices if groups.get((p, k[0])) == k[1])
            for k in cells
            if k[0] != "practice"
        }
        members = {k: v for k, v in members.items() if v}
        for total, parts in group_sums(members):
            keys = [cells[g] for g in parts if g in cells]
            keys += [cells[("practice", p)] for p in parts if isinstance(p, str)]
            board.sums.append((cells[total], keys))


def group_sums(
    members: Mapping[tuple[str, str], frozenset[str]],
) -> Iterable[tuple[tuple[str, str], list[Any]]]:
    """(total, parts): parts are practice codes (str) or groups ((level, org) tuples)."""
    for g, mine in members.items():
        yield g, sorted(mine)
        for h, theirs in members.items():
            if h != g and theirs <= mine and LEVELS.index(h[0]) < LEVELS.index(g[0]):
                yield g, [h, *sorted(mine - theirs)]
        below = {h[0] for h in members if LEVELS.index(h[0]) < LEVELS.index(g[0])}
        for level in below:
            kids = [h for h in members if h[0] == level and members[h] <= mine]
            flat = [p for h in kids for p in members[h]]
            if len(kids) > 1 and len(flat) == len(set(flat)) == len(mine):
                yield g, kids


def drop_false_sums(board: Board) -> None:
    """Keep the sums that hold. memberships.csv is the hierarchy on one date; a practice
    that moved within a period makes some sums false for that period, and inferences from a
    false sum are guesses, not recoveries. (An attacker with the true history of each period
    would hold the true sums instead: careis must then be given that history too.)"""
    board.sums = [
        (t, parts) for t, parts in board.sums
        if board.truth[t] == sum(board.truth[p] for p in parts)
    ]  # fmt: skip


def add_links(board: Board) -> None:
    """Cells at one organisation with equal exact counts describe the same population (the
    attacker is granted this, from the measure definitions): each pair is a sum of one."""
    classes: dict[tuple[str, str, int], list[Key]] = defaultdict(list)
    for key, t in board.truth.items():
        if t > 0:
            classes[(key[3], key[4], t)].append(key)
    for keys in classes.values():
        for other in keys[1:]:
            board.sums.append((keys[0], [other]))


# --------------------------------------------------------------------------- back-calculation
def back_calculate(
    board: Board, published: Sequence[Mapping[str, Any]], kinds: Mapping[str, str],
    changes: Mapping[str, str],
) -> None:  # fmt: skip
    """Counts that reproduce a derived figure where the published counts alone do not."""
    rows = {_row_id(r): r for r in published}
    for row in published:
        kind = kinds.get(str(row["measure_id"]), "proportion")
        if kind == "rate":
            _rate(board, row, ("published", *_row_id(row), "numerator"))
        elif kind == "proportion":
            _percentage(board, row)
        elif kind == "change":
            _change(board, row, rows, changes)


def per_of(unit: str) -> float | None:
    m = re.search(r"per ([\d,]+)", unit or "")
    return float(m.group(1).replace(",", "")) if m else None


def _rate(board: Board, row: Mapping[str, Any], key: Key, value: float | None = None) -> None:
    crude = value if value is not None else num(row.get("crude_value"))
    if crude is None and "standardised" not in str(row.get("unit")):
        crude = num(row.get("value"))
    py, per = num(row.get("denominator")), per_of(str(row.get("unit")))
    if crude is None or not py or not per or key not in board.bounds:
        return
    shown = num(row.get("numerator"))
    if shown is not None and abs(shown * per / py - crude) < 1e-6 * max(1.0, crude):
        return  # the published count reproduces the rate: it says nothing more
    estimate = crude * py / per
    if abs(estimate - round(estimate)) < 1e-3:
        _claim(board, key, round(estimate))


def _percentage(board: Board, row: Mapping[str, Any]) -> None:
    value = num(row.get("value"))
    nkey = ("published", *_row_id(row), "numerator")
    dkey = ("published", *_row_id(row), "denominator")
    if value is None or nkey not in board.bounds or dkey not in board.bounds:
        return
    n_shown, d_shown = num(row.get("numerator")), num(row.get("denominator"))
    if n_shown is not None and d_shown and abs(100 * n_shown / d_shown - value) < 1e-5:
        return
    (nlo, nhi), (dlo, dhi) = board.bounds[nkey], board.bounds[dkey]
    if nhi - nlo > 50 or dhi - dlo > 50:
        return
    pairs = [
        (n, d)
        for n in range(nlo, nhi + 1)
        for d in range(max(dlo, 1), dhi + 1)
        if abs(100 * n / d - value) < 1e-5
    ]
    if len({n for n, _ in pairs}) == 1:
        _claim(board, nkey, pairs[0][0])
    if len({d for _, d in pairs}) == 1:
        _claim(board, dkey, pairs[0][1])


def _change(
    board: Board, row: Mapping[str, Any], rows: Mapping[tuple[str, ...], Mapping[str, Any]],
    changes: Mapping[str, str],
) -> None:  # fmt: skip
    of = changes.get(str(row["measure_id"]))
    perf, _, base = str(row["period"]).partition(" vs ")
    for period, col in ((perf, "numerator"), (base, "denominator")):
        target = rows.get((str(of), period, str(row["level"]), str(row["org_code"])))
        rate = num(row.get(col))
        if target is not None and rate is not None:
            key = ("published", *_row_id(target), "numerator")
            _rate(board, {**target, "crude_value": rate, "unit": target.get("unit")}, key, rate)


def _claim(board: Board, key: Key, value: int) -> None:
    lo, hi = board.bounds[key]
    if lo <= value <= hi:
        board.claims[key] = value


# --------------------------------------------------------------------------- the attack
def propagate(board: Board) -> dict[Key, tuple[int, int]]:
    """Interval arithmetic over every sum until nothing narrows (contradictions dropped)."""
    b = dict(board.bounds)
    for key, value in board.claims.items():
        b[key] = (value, value)
    for _ in range(200):
        moved = False
        for total, parts in board.sums:
            moved |= _one_sum(b, total, parts)
        if not moved:
            break
    return b


def _one_sum(b: dict[Key, tuple[int, int]], total: Key, parts: Sequence[Key]) -> bool:
    lo_sum = sum(b[p][0] for p in parts)
    hi_sum = sum(b[p][1] for p in parts)
    t = (max(b[total][0], lo_sum), min(b[total][1], hi_sum))
    if t[0] > t[1]:
        return False  # this sum does not hold (e.g. a membership that changed): ignore it
    new = {total: t}
    for p in parts:
        new[p] = (max(b[p][0], t[0] - (hi_sum - b[p][1])), min(b[p][1], t[1] - (lo_sum - b[p][0])))
    if any(lo > hi for lo, hi in new.values()):
        return False
    moved = any(new[k] != b[k] for k in new)
    b.update(new)
    return moved


@dataclass
class Score:
    hidden_cells: int = 0
    rounded_cells: int = 0
    hidden_recovered: list[Key] = field(default_factory=list)
    unrounded_recovered: list[Key] = field(default_factory=list)

    @property
    def recovered(self) -> int:
        return len(self.hidden_recovered) + len(self.unrounded_recovered)


def score(board: Board, final: Mapping[Key, tuple[int, int]]) -> Score:
    out = Score()
    for key, truth in board.truth.items():
        shown = board.shown.get(key)
        pinned = final[key][0] == final[key][1] == truth
        if shown is None:
            out.hidden_cells += 1
            if pinned:
                out.hidden_recovered.append(key)
        elif shown != 0:
            out.rounded_cells += 1
            if pinned and truth != shown:
                out.unrounded_recovered.append(key)
    return out


def attack_rows(
    published: Sequence[Mapping[str, Any]],
    exact: Sequence[Mapping[str, Any]],
    kinds: Mapping[str, str],
    groups: Mapping[tuple[str, str], str],
    changes: Mapping[str, str] | None = None,
    folder: Path | None = None,
) -> Score:
    """Every attack on published rows (and, given the run folder, its practice summary)."""
    board = board_from_rows(published, exact, kinds)
    if folder is not None:
        add_summary(board, folder, exact)
    add_hierarchy(board, groups)
    drop_false_sums(board)
    add_links(board)
    back_calculate(board, published, kinds, changes or {})
    return score(board, propagate(board))


def attack_folder(
    folder: Path, kinds: Mapping[str, str], changes: Mapping[str, str], exact_from: Path
) -> Score:
    """Attack a run folder's published files; the truth is read from `exact_from`
    (measures/results.csv of the same run, which the attacker never sees)."""
    published = read_csv(folder / "measures" / "published.csv")
    exact = read_csv(exact_from)
    groups = {
        (r["practice_code"], r["level"]): r["group_code"]
        for r in read_csv(folder / "payments" / "memberships.csv")
    }
    return attack_rows(published, exact, kinds, groups, changes, folder)
