"""A federation of three practices whose right answers are worked out by hand.

Shared by tests/measures/test_core_library.py (the shipped measure library on it) and
tests/payments/test_federation_payments.py (a contract paid from those results); the fixtures
that build and evaluate it once per session are in tests/conftest.py.

Federation FED1 = PCN P1 (practices A00001, A00002) + PCN P2 (A00003); sub-ICB S1; ICB I1.
Each practice has 10 adults registered throughout. Patient 1 of each practice is aged 90 with
three long-term conditions (risk points 4 + 3 = 7) and is the practice's register (ceil(2% of
10) = 1 patient). Emergency admissions, baseline year 2023/24 (366 days, a leap year) then
performance year 2024/25 (365 days):

| practice | baseline | performance | change in rate |
| --- | --- | --- | --- |
| A00001 | 10 | 7 | 7*366/(10*365) - 1 = -29.81% |
| A00002 | 10 | 8 | 8*366/(10*365) - 1 = -19.78% |
| A00003 | 10 | 9 | 9*366/(10*365) - 1 =  -9.75% |
| FED1 | 30 | 24 | 24*366/(30*365) - 1 = -19.78% |

So a 15% federation target is met, and a 10% practice floor is met by A00001 and A00002 but
missed "by a hair" by A00003. Register patients of A00001 and A00002 have a care plan in the
performance year; A00003's does not.
"""

from __future__ import annotations

import stat
from pathlib import Path
from types import MappingProxyType
from typing import Any

from builders import D, Dataset
from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.facts.patient import patient_facts
from careis.measures.compile import evaluate
from careis.measures.definitions import load_measures, shipped_library
from careis.measures.results import MeasureResults
from careis.periods import financial_year
from careis.risk import points
from careis.risk.efi import efi
from careis.risk.register import register, tiers

PRACTICES = ("A00001", "A00002", "A00003")
PCN_OF = {"A00001": "P1", "A00002": "P1", "A00003": "P2"}
BASE = {"A00001": 10, "A00002": 10, "A00003": 10}
PERF = {"A00001": 7, "A00002": 8, "A00003": 9}
CARE_PLAN = "734163000"
CARE_HOME = "160734000"
CONDITIONS = ("44054006", "13645005", "84114007")  # diabetes, COPD, heart failure
PERIODS = {"baseline": financial_year(2023), "performance": financial_year(2024)}
INDEX = D(2024, 4, 1)


def build() -> Dataset:
    ds = Dataset()
    ds.org("FED1", "federation", "Test Federation")
    ds.org("P1", "pcn", "PCN One")
    ds.org("P2", "pcn", "PCN Two")
    ds.org("S1", "sub_icb", "Sub-ICB One")
    ds.org("I1", "icb", "ICB One")
    for code in PRACTICES:
        ds.org(code, "practice", f"Practice {code}")
        ds.member(code, "pcn", PCN_OF[code], D(2019, 7, 1))
        ds.member(code, "federation", "FED1", D(2019, 7, 1))
        ds.member(code, "sub_icb", "S1", D(2019, 7, 1))
        ds.member(code, "icb", "I1", D(2022, 7, 1))
        for i in range(1, 11):
            pid = f"{code}-{i:02d}"
            born = D(1934, 1, 1) if i == 1 else D(1990, 6, 1)
            ds.patient(pid, code, born=born)
            if i == 1:
                for cond in CONDITIONS:
                    ds.event(pid, D(2015, 5, 1), cond)
        # baseline admissions: one each for patients 2..10, a second for patient 2
        base_pids = [f"{code}-{i:02d}" for i in range(2, 11)] + [f"{code}-02"]
        for n, pid in enumerate(base_pids[: BASE[code]]):
            ds.admission(pid, D(2023, 4, 10) + (D(2024, 3, 1) - D(2023, 4, 10)) * n // 10)
        for n in range(PERF[code]):
            pid = f"{code}-{(n % 9) + 2:02d}"
            ds.admission(pid, D(2024, 4, 15) + (D(2025, 3, 1) - D(2024, 4, 15)) * n // 10)
        # an elective admission must not count
        ds.admission(f"{code}-03", D(2024, 6, 1), method="11")
    for code in ("A00001", "A00002"):
        ds.event(f"{code}-01", D(2024, 5, 20), CARE_PLAN)
    # a care plan in the baseline year does not count for the performance year
    ds.event("A00003-01", D(2023, 6, 1), CARE_PLAN)
    return ds


def write_lists(folder: Path) -> Path:
    """User code lists for the concepts the tests use (overriding the shipped ones).

    The files are made read-only: the session shares them between test modules.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "care_plan.csv": f"code,term\n{CARE_PLAN},Care plan\n",
        "care_home.csv": f"code,term\n{CARE_HOME},Lives in a care home\n",
        "diabetes.csv": "code,term\n44054006,Type 2 diabetes\n",
        "copd.csv": "code,term\n13645005,COPD\n",
        "heart_failure.csv": "code,term\n84114007,Heart failure\n",
    }
    for name, text in files.items():
        path = folder / name
        path.write_text(text)
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return folder


def _efi(tables: dict[str, Any], library: CodelistLibrary) -> Any:
    t = efi(tables, INDEX, library)
    return t.select("patient_id", "practice_code", category=t.efi_category)


def evaluate_core_library(ds: Dataset, lists: Path, engine: Engine | None = None) -> MeasureResults:
    """The whole shipped measure library on `ds`, with the cohorts a points-method run builds.

    Evaluated in `engine` (default: a DuckDB engine of its own, closed before returning); the
    results are an immutable Arrow table and a read-only catalogue, so a session can share
    them safely.
    """
    own = engine is None
    engine = engine or Engine.duckdb()
    try:
        tables = ds.tables(engine)
        library = CodelistLibrary(lists)
        scored = points.score(patient_facts(tables, INDEX, library))
        ev = evaluate(
            engine,
            tables,
            load_measures([shipped_library()]),
            periods=PERIODS,
            index_date=INDEX,
            library=library,
            cohorts={
                "register": register(scored, percent=2.0, min_age=18),
                "efi": _efi(tables, library),
                "risk_tier": tiers(scored, percent=2.0, min_age=18),
            },
            check_data=False,
        )
    finally:
        if own:
            engine.close()
    return MeasureResults(ev.results, MappingProxyType(ev.catalogue))  # type: ignore[arg-type]
