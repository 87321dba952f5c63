"""Patient-level indicator flags go only to the folder of the practice that holds the patient."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from careis.layout import RunLayout
from careis.measures.compile import Evaluated
from careis.measures.outputs import FLAG_FIELDS, write_patient_flags

ROWS = [  # sorted by practice, as the compiler hands them over
    ("A1", "care_plan", "performance", "p01", 1, 0, 1),
    ("A1", "care_plan", "performance", "p02", 1, 1, 0),
    ("A1", "named_gp", "performance", "p01", 1, 0, 0),
    ("B2", "care_plan", "performance", "p10", 1, 0, 1),
    ("C3", "care_plan", "performance", "p20", 1, 0, 0),
]


def _evaluated(rows: list[tuple[object, ...]]) -> Evaluated:
    names = ["practice_code", *FLAG_FIELDS]
    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    schema = pa.schema([(n, pa.string()) for n in names[:4]] + [(n, pa.int64()) for n in names[4:]])
    empty = pa.table({})
    return Evaluated(empty, {}, empty, pa.table(columns, schema=schema))


def test_each_practice_gets_only_its_own_patients(tmp_path: Path) -> None:
    write_patient_flags(_evaluated(ROWS), RunLayout(tmp_path))
    folders = sorted(p.name for p in (tmp_path / "practices").iterdir())
    assert folders == ["A1", "B2", "C3"]
    a1 = (tmp_path / "practices" / "A1" / "measure_flags.csv").read_text(encoding="utf-8")
    assert a1 == (
        "measure_id,period,patient_id,denominator,excluded,numerator\n"
        "care_plan,performance,p01,1,0,1\n"
        "care_plan,performance,p02,1,1,0\n"
        "named_gp,performance,p01,1,0,0\n"
    )
    c3 = (tmp_path / "practices" / "C3" / "measure_flags.csv").read_text(encoding="utf-8")
    assert c3.splitlines()[1:] == ["care_plan,performance,p20,1,0,0"]
    everything = "".join(
        p.read_text(encoding="utf-8") for p in (tmp_path / "practices").rglob("*.csv")
    )
    assert everything.count("p01") == 2  # nowhere but A1's file, twice there


def test_no_flags_no_files(tmp_path: Path) -> None:
    write_patient_flags(_evaluated([]), RunLayout(tmp_path))
    assert not (tmp_path / "practices").exists()
