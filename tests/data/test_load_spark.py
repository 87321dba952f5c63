"""DuckDB and Spark give the same accepted rows and the same quarantine for the same input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from test_load_rejections import rejection_tables

from careis.data import pseudonym
from careis.data.load import LoadResult, load_dataset
from careis.engine import Engine
from careis_testdata import EXTRACT, write_dataset


def rows(table: Any) -> list[tuple[Any, ...]]:
    data = table.to_pyarrow().to_pylist()
    return sorted((tuple(r.values()) for r in data), key=repr)


def snapshot(result: LoadResult) -> dict[str, Any]:
    return {
        "accepted": {name: rows(t) for name, t in result.tables.items()},
        "schemas": {name: [str(v) for v in t.schema().types] for name, t in result.tables.items()},
        "quarantine": {name: rows(q) for name, q in result.quarantine.items()},
        "summary": [
            (s.table, s.read, s.accepted, s.quarantined, s.reasons) for s in result.summary
        ],
    }


@pytest.mark.spark
def test_duckdb_and_spark_agree(duck: Engine, spark_engine: Engine, tmp_path: Path) -> None:
    tables, _ = rejection_tables()  # every rejection rule, plus the valid base rows
    folder = write_dataset(tmp_path / "data", tables)
    on_duck = snapshot(load_dataset(duck, folder, extract_date=EXTRACT))
    on_spark = snapshot(load_dataset(spark_engine, folder, extract_date=EXTRACT))
    assert on_spark["summary"] == on_duck["summary"]
    assert on_spark["quarantine"] == on_duck["quarantine"]
    assert on_spark["accepted"] == on_duck["accepted"]
    assert on_spark["schemas"] == on_duck["schemas"]
    assert sum(len(q) for q in on_duck["quarantine"].values()) > 40

    # NHS numbers: the same check, pseudonym and mask on both engines.
    numbers = ["9434765919", "943 476 5870", "9434765918", "12", None]
    expected = None
    for engine in (duck, spark_engine):
        t = engine.from_arrow(pa.table({"v": pa.array(numbers, pa.string())}))
        digits = pseudonym.normalise_nhs_number(t.v)
        got = (
            t.select(
                ok=pseudonym.nhs_number_is_valid(t.v),
                p=pseudonym.pseudonymise(digits, "k"),
                m=pseudonym.mask_nhs_number(t.v),
            )
            .to_pyarrow()
            .to_pylist()
        )
        expected = expected or got
        assert got == expected
    assert expected is not None
    assert [r["ok"] for r in expected] == [True, True, False, False, False]
    assert expected[0]["p"] == pseudonym.pseudonym("9434765919", "k")


@pytest.mark.spark
def test_unreadable_csv_values_and_nan_agree(
    duck: Engine, spark_engine: Engine, tmp_path: Path
) -> None:
    """Issue 15 item 9 on both engines: a latin-1 byte and an over-long value quarantine
    their row; pandas NaN in a float imd_decile (Parquet) is null."""
    import pyarrow.parquet as pq

    from careis_testdata import base_tables

    tables = base_tables()
    tables["events"].append(dict(tables["events"][0], code="8" * (2 << 20)))
    folder = write_dataset(tmp_path / "data", tables)
    with (folder / "events.csv").open("ab") as handle:
        handle.write(b"p1,2020-01-01,snomed,caf\xe9,1\n")
    (folder / "patients.csv").unlink()
    patients = write_dataset(tmp_path / "pq", {"patients": tables["patients"]}, "parquet")
    data = pq.read_table(patients / "patients.parquet")
    nan = pa.array([3.0, 10.0, float("nan")])
    pq.write_table(data.set_column(4, "imd_decile", nan), folder / "patients.parquet")
    on_duck = snapshot(load_dataset(duck, folder, extract_date=EXTRACT))
    on_spark = snapshot(load_dataset(spark_engine, folder, extract_date=EXTRACT))
    assert on_spark["summary"] == on_duck["summary"]
    assert on_spark["quarantine"] == on_duck["quarantine"]
    assert on_spark["accepted"] == on_duck["accepted"]
    events = next(s for s in on_duck["summary"] if s[0] == "events")
    assert events[3] == 2
