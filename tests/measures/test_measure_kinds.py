"""Each kind of measure against results worked out by hand (data in tests_measures_data.py)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from tests_measures_data import build, write_lists

from careis.codelists import CodelistLibrary
from careis.measures.compile import Evaluated, evaluate
from careis.measures.definitions import load_measures
from careis.periods import financial_year
from engines import open_engine

PERIODS = {"baseline": financial_year(2023), "performance": financial_year(2024)}
INDEX = PERIODS["performance"].start
PY_PERF = 5 * 365 / 365.25  # person-years of five people through 2024/25
PY_BASE = 5 * 366 / 365.25

MEASURES = """
measures:
  - id: women
    name: Registered women
    kind: count
    population: {as_of: index, sex: [F]}
  - id: dm_hba1c
    name: HbA1c <= 58
    kind: indicator
    population:
      as_of: end
      age: {min: 17}
      has: [{codes: dm}]
    exclusions: [{codes: a1c_pca, within_days: 365}]
    numerator: [{codes: a1c, within_days: 365, last_value: {op: "<=", value: 58}}]
    thresholds: {lower: 40, upper: 75}
  - id: dm_two_tests
    name: Two HbA1c tests
    kind: indicator
    population: {as_of: end, age: {min: 17}, has: [{codes: dm}]}
    numerator: [{codes: a1c, within_days: 365, min_count: 2}]
  - id: emerg
    name: Emergency admissions
    kind: rate
    periods: [baseline, performance]
    events: {emergency: true}
  - id: emerg_dsr
    name: Emergency admissions (DSR)
    kind: rate
    events: {emergency: true}
    standardise: direct
  - id: emerg_isr
    name: Emergency admissions (ISR)
    kind: rate
    events: {emergency: true}
    standardise: indirect
  - id: emerg_old
    name: Emergency admissions 65+
    kind: rate
    age: {min: 65}
    events: {emergency: true}
  - id: chronic_acsc
    name: Chronic ACSC
    kind: rate
    events: {emergency: true, diagnosis: acsc_chronic}
  - id: acute_acsc
    name: Acute ACSC
    kind: rate
    events: {emergency: true, diagnosis: acsc_acute}
  - id: readmit
    name: Readmissions
    kind: rate
    events: {emergency: true, readmission_within_days: 30}
  - id: beds
    name: Bed-days
    kind: rate
    count: bed_days
    events: {emergency: true}
  - id: ae_type1
    name: Type 1 A&E
    kind: rate
    events: {source: ae_attendances, department_types: ["1"]}
  - id: emerg_change
    name: Change
    kind: change
    of: emerg
  - id: emerg_diff
    name: Difference
    kind: change
    of: emerg
    compare: absolute
"""


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory, engine_kind: str, request: pytest.FixtureRequest
) -> Evaluated:
    """The measures above on the hand-made data, evaluated once per engine for this module
    (the spec suite: every hand-worked figure below is checked on DuckDB and on Spark).

    Every test only reads the results: the tables are immutable Arrow tables and the catalogue
    is a read-only mapping, so a test cannot change what the next one sees.
    """
    folder = tmp_path_factory.mktemp("measure-kinds")
    path = folder / "m.yaml"
    path.write_text(MEASURES)
    engine = open_engine(engine_kind, request)
    try:
        ev = evaluate(
            engine,
            build().tables(engine),
            load_measures([path]),
            periods=PERIODS,
            index_date=INDEX,
            library=CodelistLibrary(write_lists(folder / "codelists")),
            check_data=False,
        )
    finally:
        engine.close()
    return replace(ev, catalogue=MappingProxyType(ev.catalogue))


def row(
    ev: Evaluated, measure: str, org: str = "X00001", period: str = "performance"
) -> dict[str, Any]:
    for r in ev.results.to_pylist():
        if r["measure_id"] == measure and r["org_code"] == org and r["period"] == period:
            return r
    raise AssertionError((measure, org, period))


def test_count_with_sex_filter(evaluated: Evaluated) -> None:
    assert row(evaluated, "women")["value"] == 10 + 7  # d1-d8 registered on 1 April, less d5 (M)


def test_indicator_business_rules(evaluated: Evaluated) -> None:
    r = row(evaluated, "dm_hba1c")
    # denominator d1-d4 (d5 not diabetic, d6 aged 11, d7 died, d8 left); d2 excepted;
    # numerator d1 (latest 50) and d4 (40; its exception ignored); d3's latest day reads 60
    assert (r["numerator"], r["denominator"], r["exclusions"]) == (2, 3, 1)
    assert r["value"] == pytest.approx(200 / 3)
    assert r["lower_ci"] < r["value"] < r["upper_ci"]
    info = evaluated.catalogue["dm_hba1c"]
    assert (info.lower_threshold, info.upper_threshold) == (40, 75)
    two = row(evaluated, "dm_two_tests")  # d1 (two in the window) and d3 (two on one day)
    assert (two["numerator"], two["denominator"]) == (2, 4)


def test_patient_flags_for_the_practice(evaluated: Evaluated) -> None:
    flags = {
        (f["patient_id"], f["measure_id"]): (f["excluded"], f["numerator"])
        for f in evaluated.patient_flags.to_pylist()
    }
    assert flags[("d1", "dm_hba1c")] == (0, 1)
    assert flags[("d2", "dm_hba1c")] == (1, 0)
    assert flags[("d3", "dm_hba1c")] == (0, 0)
    assert flags[("d4", "dm_hba1c")] == (0, 1)
    assert ("d5", "dm_hba1c") not in flags


def test_rates_filters_and_counts(evaluated: Evaluated) -> None:
    # X's person-days: 10 young/old + d1-d6 all year (365 each), d7 to its death on 1 January
    # (276 days, inclusive) and d8 to 31 December (275 days)
    py = (16 * 365 + 276 + 275) / 365.25
    r = row(evaluated, "emerg")
    assert r["numerator"] == 6
    assert r["denominator"] == pytest.approx(py)
    assert r["value"] == pytest.approx(6 / py * 1000)
    assert row(evaluated, "emerg_old")["numerator"] == 5
    assert row(evaluated, "emerg_old")["denominator"] == pytest.approx(PY_PERF)
    assert row(evaluated, "chronic_acsc")["numerator"] == 2  # J44.1 twice
    assert row(evaluated, "acute_acsc")["numerator"] == 1  # J18.8 yes, J18.9 no
    assert row(evaluated, "readmit")["numerator"] == 2  # 10 and 9 days, not 50
    assert row(evaluated, "beds")["numerator"] == 2 + 3 + 5 + 0 + 1 + 1
    assert row(evaluated, "ae_type1")["numerator"] == 2
    base = row(evaluated, "emerg", period="baseline")
    assert base["numerator"] == 1


def test_directly_standardised_rate_by_hand(evaluated: Evaluated) -> None:
    """Y00001 has only the ten women: young (band 30-34, ESP 6,500) 2 admissions, old (80-84,
    ESP 2,500) 2 admissions, 5 x 365 / 365.25 person-years each.
    DSR = (6500 x 2/py + 2500 x 2/py) / 9000 x 1000 = 2 / py x 1000.
    """
    r = row(evaluated, "emerg_dsr", org="Y00001")
    assert r["value"] == pytest.approx(2 / PY_PERF * 1000)
    assert r["crude_value"] == pytest.approx(4 / (2 * PY_PERF) * 1000)
    # the 65+ measure at X: one band with person-time, so the DSR equals the crude rate
    assert row(evaluated, "emerg_old")["value"] == pytest.approx(5 / PY_PERF * 1000)


def test_indirectly_standardised_ratio_by_hand(evaluated: Evaluated) -> None:
    """Y: observed 4. Expected from the run's rates per stratum; Y's own strata are
    young (band 30-34) and old (80-84) women, 4.9966 person-years each.
    young reference: (X 1 + Y 2) / (X 5 + Y 5 person-years of that band) = 3 / 2py;
    old reference: (X 5 + Y 2) / 2py = 7 / 2py.  Expected = 3/2 + 7/2 = 5; ratio 4/5 = 80.
    """
    r = row(evaluated, "emerg_isr", org="Y00001")
    assert r["value"] == pytest.approx(80.0)


def test_roll_up_sums_not_averages(evaluated: Evaluated) -> None:
    x, y = row(evaluated, "emerg"), row(evaluated, "emerg", org="Y00001")
    f = row(evaluated, "emerg", org="F1")
    assert f["numerator"] == x["numerator"] + y["numerator"]
    assert f["denominator"] == pytest.approx(x["denominator"] + y["denominator"])
    assert f["value"] == pytest.approx(f["numerator"] / f["denominator"] * 1000)
    ind = row(evaluated, "dm_hba1c", org="P1")
    assert (ind["numerator"], ind["denominator"]) == (2, 3)


def test_change_relative_and_absolute(evaluated: Evaluated) -> None:
    perf = row(evaluated, "emerg")["value"]
    base = row(evaluated, "emerg", period="baseline")["value"]
    rel = row(evaluated, "emerg_change", period="performance vs baseline")
    assert rel["value"] == pytest.approx((perf / base - 1) * 100)
    diff = row(evaluated, "emerg_diff", period="performance vs baseline")
    assert diff["value"] == pytest.approx(perf - base)
