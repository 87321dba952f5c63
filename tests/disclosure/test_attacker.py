"""The attacker (tests/disclosure/attacker.py) against careis's disclosure control.

Reference: NHS England / OpenSAFELY output checking - counts of 7 or fewer are suppressed and
others rounded to the nearest 5, ratios from the rounded counts (ehrQL
`ehrql/measures/disclosure_control.py`: SUPPRESSION_THRESHOLD = 7, ROUNDING_MULTIPLE = 5;
https://docs.opensafely.org/releasing-files/). docs/disclosure.md says what careis adds so
that no combination of published figures gives a count back.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careis.config import SuppressionConfig
from careis.measures import stats
from careis.measures.results import RESULT_SCHEMA, MeasureInfo
from careis.measures.suppression import suppress_results

from . import attacker

CAT = {
    "reg": MeasureInfo("reg", "Register", "count", "patients", "", count_columns=("numerator",)),
    "plans": MeasureInfo("plans", "Care plans", "proportion", "% of register", ""),
    "adm": MeasureInfo(
        "adm",
        "Admissions",
        "rate",
        "per 1,000 person-years",
        "",
        count_columns=("numerator",),
        per=1000,
    ),
}
KINDS = {k: v.kind for k, v in CAT.items()}


def _row(measure: str, level: str, org: str, num: float, den: float | None) -> dict[str, Any]:
    """A result row as the measures compiler writes it (exact figures)."""
    row: dict[str, Any] = dict.fromkeys(RESULT_SCHEMA.names)
    row.update(
        measure_id=measure, period="performance", period_start=dt.date(2024, 4, 1),
        period_end=dt.date(2025, 3, 31), level=level, org_code=org, numerator=num,
        denominator=den, unit=CAT[measure].unit,
    )  # fmt: skip
    if measure == "reg":
        row["value"] = num
    elif measure == "plans" and den:
        row["value"] = 100 * num / den
        lo, hi = stats.wilson(num, den) or (None, None)
        row["lower_ci"], row["upper_ci"] = lo and lo * 100, hi and hi * 100
    elif measure == "adm" and den:
        row["value"] = row["crude_value"] = num * 1000 / den
        lo, hi = stats.poisson_exact(num)
        row["lower_ci"], row["upper_ci"] = lo * 1000 / den, hi * 1000 / den
    return row


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """2-7 practices in PCNs, PCNs in federations, one sub-ICB and ICB; three measures that
    share a population (the care-plan denominator is the register count) with counts drawn
    mostly small, so suppression and rounding edges are hit often."""
    n = draw(st.integers(2, 7))
    practices = [f"P{i}" for i in range(n)]
    pcn = {p: f"N{draw(st.integers(0, 2))}" for p in practices}
    fed = {g: f"F{draw(st.integers(0, 1))}" for g in sorted(set(pcn.values()))}
    groups = {(p, "pcn"): pcn[p] for p in practices}
    groups |= {(p, "federation"): fed[pcn[p]] for p in practices}
    groups |= {(p, "sub_icb"): "S" for p in practices} | {(p, "icb"): "I" for p in practices}
    # counts at the edges: 1-7, and 2 either side of a multiple of 5 (where sums of rounded
    # cells can pin them)
    edge = st.builds(lambda k, d: max(0, 5 * k + d), st.integers(2, 12), st.sampled_from([-2, 2]))
    small = st.one_of(st.integers(0, 9), edge, st.integers(0, 60))
    reg = {p: draw(small) for p in practices}
    plans = {p: draw(st.integers(0, reg[p])) for p in practices}
    adm = {p: draw(small) for p in practices}
    py = {p: draw(st.floats(50, 3000, allow_nan=False)) for p in practices}
    rows = []
    for level, org, members in _orgs(practices, groups):
        rows.append(_row("reg", level, org, sum(reg[p] for p in members), None))
        rows.append(_row("plans", level, org, sum(plans[p] for p in members),
                         sum(reg[p] for p in members)))  # fmt: skip
        rows.append(_row("adm", level, org, sum(adm[p] for p in members),
                         sum(py[p] for p in members)))  # fmt: skip
    return rows, groups


def _orgs(
    practices: list[str], groups: dict[tuple[str, str], str]
) -> list[tuple[str, str, list[str]]]:
    out = [("practice", p, [p]) for p in practices]
    for level in ("pcn", "federation", "sub_icb", "icb"):
        for org in sorted({groups[(p, level)] for p in practices}):
            out.append((level, org, [p for p in practices if groups[(p, level)] == org]))
    return out


def _published(
    rows: list[dict[str, Any]], groups: dict[tuple[str, str], str]
) -> list[dict[str, Any]]:
    table = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    return suppress_results(table, CAT, SuppressionConfig(), groups).to_pylist()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies())
def test_no_published_figure_gives_back_a_count(case: Any) -> None:
    rows, groups = case
    published = _published(rows, groups)
    score = attacker.attack_rows(published, rows, KINDS, groups)
    assert score.recovered == 0, (score.hidden_recovered, score.unrounded_recovered)
    assert exhaustive_pins(published, rows, groups) == []


def exhaustive_pins(
    published: list[dict[str, Any]], exact: list[dict[str, Any]], groups: dict[tuple[str, str], str]
) -> list[attacker.Key]:
    """The complete attack for one measure and column at a time: every assignment of the
    practices' counts that the published cells allow, over every group total. Any protected
    cell with one feasible value is pinned (interval arithmetic can miss what this finds)."""
    board = attacker.board_from_rows(published, exact, KINDS)
    pinned = []
    trees: dict[tuple[str, str], list[attacker.Key]] = {}
    for key in board.bounds:
        trees.setdefault((key[1], key[5]), []).append(key)
    for keys in trees.values():
        practice = sorted(k for k in keys if k[3] == "practice")
        domains = [_domain(board.bounds[k]) for k in practice]
        if any(d is None for d in domains) or math.prod(len(d) for d in domains) > 40_000:  # type: ignore[arg-type]
            continue
        feasible = _feasible(board, keys, practice, domains, groups)  # type: ignore[arg-type]
        for k, values in feasible.items():
            shown, truth = board.shown[k], board.truth[k]
            if len(values) == 1 and (shown is None or (shown not in (0, truth))):
                pinned.append(k)
    return pinned


def _domain(bounds: tuple[int, int]) -> range | None:
    lo, hi = bounds
    return range(lo, hi + 1) if hi - lo <= 12 else None


def _feasible(
    board: attacker.Board, keys: list[attacker.Key], practice: list[attacker.Key],
    domains: list[range], groups: dict[tuple[str, str], str],
) -> dict[attacker.Key, set[int]]:  # fmt: skip
    totals = {
        k: [i for i, p in enumerate(practice) if groups.get((p[4], k[3])) == k[4]]
        for k in keys
        if k[3] != "practice"
    }
    seen: dict[attacker.Key, set[int]] = {k: set() for k in keys}
    for combo in itertools.product(*domains):
        sums = {k: sum(combo[i] for i in idx) for k, idx in totals.items()}
        if all(board.bounds[k][0] <= v <= board.bounds[k][1] for k, v in sums.items()):
            for k, v in zip(practice, combo, strict=True):
                seen[k].add(v)
            for k, v in sums.items():
                seen[k].add(v)
    return seen


def test_the_attacker_pins_rounded_cells_that_sums_give_away() -> None:
    """Rounding alone is not enough: practices of 12, 22, 32 and 42 publish 10, 20, 30, 40
    and their PCN's 108 publishes 110, so every practice must be at its maximum (108 >= 110 - 2
    and each is at most its rounded value + 2). The attacker finds all four."""
    values = {"A": 12, "B": 22, "C": 32, "D": 42}
    rows = [_row("reg", "practice", p, v, None) for p, v in values.items()]
    rows.append(_row("reg", "pcn", "N", sum(values.values()), None))
    naive = [{**r, "numerator": 5 * math.floor(r["numerator"] / 5 + 0.5)} for r in rows]
    score = attacker.attack_rows(naive, rows, KINDS, {(p, "pcn"): "N" for p in values})
    assert len(score.unrounded_recovered) == 5  # the PCN too: 108
    published = _published(rows, {(p, "pcn"): "N" for p in values})
    assert (
        attacker.attack_rows(published, rows, KINDS, {(p, "pcn"): "N" for p in values}).recovered
        == 0
    )


def test_the_attacker_finds_what_the_old_rules_gave_away() -> None:
    """The attack is not blind: on figures published the old way (values from exact counts,
    person-years exact, secondary suppression inside one group) it recovers counts."""
    rows = [
        _row("adm", "practice", "A", 4, 812.4),
        _row("adm", "practice", "B", 23, 1204.9),
        _row("adm", "pcn", "N", 27, 2017.3),
    ]
    old = []
    for r in rows:
        shown = dict(r)
        shown["numerator"] = (
            None if r["numerator"] <= 7 else 5 * math.floor(r["numerator"] / 5 + 0.5)
        )
        shown["suppression"] = "small count" if r["numerator"] <= 7 else ""
        if shown["numerator"] is None:
            shown["value"] = shown["crude_value"] = None
        old.append(shown)
    score = attacker.attack_rows(old, rows, KINDS, {("A", "pcn"): "N", ("B", "pcn"): "N"})
    assert len(score.unrounded_recovered) == 2  # B and N from rate x person-years
    assert len(score.hidden_recovered) == 1  # then A = N - B


def test_small_count_labels_do_not_pin_a_group_of_small_practices() -> None:
    """Seven practices with 1 patient each in one PCN: every cell is 1-7, so all are hidden
    and no sum keeps a visible member. Labelled "small count" (1-7), they would give
    themselves away: the PCN is at least 7 (seven parts of at least 1) and at most 7, so 7,
    and each practice is 7 - 6 = 1. Protection relabels them "secondary" (any value)."""
    practices = [f"P{i}" for i in range(7)]
    groups = {(p, "pcn"): "N" for p in practices}
    rows = [_row("reg", "practice", p, 1, None) for p in practices]
    rows.append(_row("reg", "pcn", "N", 7, None))
    labelled = [{**r, "numerator": None, "suppression": "numerator: small count"} for r in rows]
    assert len(attacker.attack_rows(labelled, rows, KINDS, groups).hidden_recovered) == 8
    published = _published(rows, groups)
    assert all(r["numerator"] is None for r in published)
    assert attacker.attack_rows(published, rows, KINDS, groups).recovered == 0
    assert exhaustive_pins(published, rows, groups) == []


# --------------------------------------------------------------------------- a real run
@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from careis.cli import main
    from careis.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("disclosure")
    generate(SynthConfig(practices=["P82001", "P82002", "P82003", "P82004"], scale=0.1, seed=3),
             root / "data")  # fmt: skip
    examples = Path(__file__).parents[2] / "examples"
    (root / "run.yaml").write_text(
        f"""name: Disclosure test
data: {{path: {root / "data"}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {examples / "contracts" / "enhanced_service.yaml"}
output: {{dir: {root / "out"}}}
"""
    )
    with pytest.raises(SystemExit) as info:
        main(["run", str(root / "run.yaml")])
    assert info.value.code in (0, None)
    return root / "out"


def test_a_real_runs_published_folder_gives_nothing_back(small_run: Path) -> None:
    from careis.measures.compile import catalogue_of
    from careis.measures.definitions import load_measures

    scheme = Path(__file__).parents[2] / "src" / "careis" / "examples" / "measures" / "scheme.yaml"
    cat = catalogue_of(load_measures([scheme]))
    kinds = {k: v.kind for k, v in cat.items()}
    changes = {k: v.of for k, v in cat.items() if v.of}
    score = attacker.attack_folder(
        small_run, kinds, changes, exact_from=small_run / "measures" / "results.csv"
    )
    assert score.rounded_cells > 100  # the attack had something to work on
    assert score.recovered == 0, (score.hidden_recovered[:5], score.unrounded_recovered[:5])
