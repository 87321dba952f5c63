"""The scheme's core measures (from the shipped YAML library) on the hand-worked federation.

See tests/federation.py for the arithmetic. The library is evaluated once per test run (the
`federation_results` fixture in tests/conftest.py); tests only read its results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import Dataset
from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.facts.patient import patient_facts
from careis.measures.definitions import load_measures, shipped_library
from careis.measures.results import MeasureResults
from careis.risk import points
from careis.risk.register import register
from federation import INDEX, evaluate_core_library
from federation import build as fed_build


def value(
    results: MeasureResults, measure: str, level: str, org: str, period: str | None = None
) -> float:
    row = results.lookup(measure, level, org, period)
    assert row is not None, (measure, level, org, period)
    return float(row["value"])  # type: ignore[arg-type]


def test_rates_and_changes_match_hand_arithmetic(federation_results: MeasureResults) -> None:
    res = federation_results
    base_py = 10 * 366 / 365.25
    perf_py = 10 * 365 / 365.25
    assert value(res, "emergency_admissions", "practice", "A00001", "baseline") == pytest.approx(
        10 / base_py * 1000
    )
    assert value(res, "emergency_admissions", "practice", "A00001", "performance") == pytest.approx(
        7 / perf_py * 1000
    )
    assert value(res, "emergency_admissions_change", "practice", "A00001") == pytest.approx(
        (7 * 366 / 3650 - 1) * 100
    )
    assert value(res, "emergency_admissions_change", "practice", "A00003") == pytest.approx(
        (9 * 366 / 3650 - 1) * 100
    )
    # the federation is summed, not averaged: 24 admissions over 30 person-years
    assert value(res, "emergency_admissions_change", "federation", "FED1") == pytest.approx(
        (24 * 366 / 10950 - 1) * 100
    )
    assert value(res, "emergency_admissions_change", "pcn", "P1") == pytest.approx(
        (15 * 366 / 7300 - 1) * 100
    )
    row = res.lookup("emergency_admissions", "sub_icb", "S1", "performance")
    assert row is not None and row["numerator"] == 24  # the elective admissions are not counted


def test_register_and_care_plan(federation_results: MeasureResults) -> None:
    res = federation_results
    for code in ("A00001", "A00002", "A00003"):
        assert value(res, "list_size", "practice", code) == 10
        row = res.lookup("register", "practice", code)
        assert row is not None and row["numerator"] == 1 and row["denominator"] == 10
    assert value(res, "care_plan", "practice", "A00001") == 100.0
    assert value(res, "care_plan", "practice", "A00003") == 0.0  # its plan was in the baseline year
    fed = res.lookup("care_plan", "federation", "FED1")
    assert fed is not None and (fed["numerator"], fed["denominator"]) == (2, 3)


def test_register_picks_the_highest_score(
    engine: Engine, federation: Dataset, federation_lists: Path
) -> None:
    tables = federation.tables(engine)
    library = CodelistLibrary(federation_lists)
    scored = points.score(patient_facts(tables, INDEX, library))
    reg = register(scored, percent=2.0, min_age=18).to_pyarrow().to_pylist()
    assert sorted(r["patient_id"] for r in reg) == ["A00001-01", "A00002-01", "A00003-01"]
    top = reg[0]
    assert top["risk_score"] == 7 and top["register_rank"] == 1 and top["register_size"] == 1
    assert top["pts_age"] == 4 and top["pts_conditions"] == 3


def test_effective_dated_pcn_move(engine: Engine, federation_lists: Path) -> None:
    """A practice that moves PCN on 1 October counts towards each PCN for its months there."""
    from tests_support import two_pcn_move_dataset

    ds = two_pcn_move_dataset()
    res = evaluate_core_library(ds, federation_lists, engine)
    old = res.lookup("emergency_admissions", "pcn", "P1", "performance")
    new = res.lookup("emergency_admissions", "pcn", "P2", "performance")
    assert old is not None and new is not None
    # A00002's 6 admissions: 3 in Apr-Sep (P1), 3 in Oct-Mar (P2); A00001 (P1) has 2.
    assert old["numerator"] == 5
    assert new["numerator"] == 3
    # person-years split at the move: A00002 contributes 183 days x 10 patients to P1
    assert old["denominator"] == pytest.approx((10 * 365 + 10 * 183) / 365.25)


SHIPPED = [m.id for m in load_measures([shipped_library()]).measures]


@pytest.fixture(scope="module")
def on_duckdb(federation_lists: Path) -> MeasureResults:
    """The reference every engine is compared with: the library on DuckDB."""
    return evaluate_core_library(fed_build(), federation_lists)


def _normalised(results: MeasureResults, measure: str) -> list[dict[str, object]]:
    rows = [r for r in results.table.to_pylist() if r["measure_id"] == measure]
    clean = [{k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    return sorted(clean, key=lambda r: tuple(str(r[k]) for k in ("period", "level", "org_code")))


@pytest.mark.parametrize("measure", SHIPPED)
def test_every_shipped_measure_agrees_with_duckdb(
    measure: str, federation_results: MeasureResults, on_duckdb: MeasureResults
) -> None:
    """Generated from the shipped library: a new measure is compared on every engine at once."""
    # (a few frailty measures have nobody in their cohort on the federation: [] == [] then)
    assert _normalised(federation_results, measure) == _normalised(on_duckdb, measure)


def test_most_shipped_measures_have_rows_to_compare(on_duckdb: MeasureResults) -> None:
    with_rows = {r["measure_id"] for r in on_duckdb.table.to_pylist()}
    assert len(with_rows & set(SHIPPED)) >= len(SHIPPED) - 4, set(SHIPPED) - with_rows
