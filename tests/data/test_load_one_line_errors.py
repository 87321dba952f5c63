"""Files that used to end in an engine traceback now stop with one line (issue 15 item 8).

Each case is what a real extract can contain: a column that clashes with careis's own
bookkeeping (`_row`; DuckDB's `filename` / `file_row_number` for Parquet), a trailing comma in
a CSV header, a truncated `.csv.gz`, an unsigned 64-bit value beyond int64 (that row goes to
the quarantine), and a code list saved as latin-1.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from careis.codelists import read_codelist_csv
from careis.data.load import load_dataset
from careis.engine import Engine
from careis.errors import ConfigError, DataError
from careis_testdata import EXTRACT, base_tables, write_dataset


def _load(folder: Path) -> str:
    with Engine.duckdb() as engine, pytest.raises(DataError) as err:
        load_dataset(engine, folder, extract_date=EXTRACT)
    message = str(err.value)
    assert "\n" not in message and "Fix:" in message
    return message


def _edit_header(path: Path, edit: str, values: str = "") -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] += edit
    lines[1:] = [line + values for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_csv_column_named_row(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", base_tables(), "csv")
    _edit_header(folder / "patients.csv", ",_row", ",x")
    message = _load(folder)
    assert "patients.csv" in message and "'_row'" in message and "rename or drop" in message


def test_trailing_comma_in_header(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", base_tables(), "csv")
    _edit_header(folder / "events.csv", ",")
    message = _load(folder)
    assert "events.csv" in message and "has no name" in message and "trailing" in message


def test_truncated_gzip(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", base_tables(), "csv")
    events = folder / "events.csv"
    packed = gzip.compress(events.read_bytes() * 200)
    (folder / "events.csv.gz").write_bytes(packed[: len(packed) * 2 // 3])
    events.unlink()
    message = _load(folder)
    assert "events.csv.gz" in message and "truncated" in message


@pytest.mark.parametrize("column", ["filename", "file_row_number"])
def test_parquet_column_clashing_with_the_reader(tmp_path: Path, column: str) -> None:
    folder = write_dataset(tmp_path / "d", base_tables(), "parquet")
    path = folder / "patients.parquet"
    table = pq.read_table(path)
    pq.write_table(table.append_column(column, pa.array(["x"] * table.num_rows)), path)
    message = _load(folder)
    assert "patients.parquet" in message and f"'{column}'" in message


def test_uint64_beyond_int64_is_that_rows_error(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", base_tables(), "parquet")
    path = folder / "patients.parquet"
    table = pq.read_table(path)
    i = table.schema.get_field_index("imd_decile")
    huge = pa.array([2**64 - 1] + [3] * (table.num_rows - 1), pa.uint64())
    pq.write_table(table.set_column(i, "imd_decile", huge), path)
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        rows = result.quarantine["patients"].to_pyarrow().to_pylist()
    patients = next(s for s in result.summary if s.table == "patients")
    assert (patients.read, patients.accepted, patients.quarantined) == (3, 2, 1)
    assert rows[0]["_row"] == 1 and "imd_decile" in rows[0]["_reason"]


def test_latin1_code_list_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "falls.csv"
    path.write_bytes("code,term\n161898004,Falls\n129839007,Caf\xe9 fall\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        read_codelist_csv(path, "falls", "snomedct")
    message = str(err.value)
    assert message.startswith(f"{path}, line 3: the code list is not UTF-8 text (byte 0xe9).")
    assert "iconv" in message


def test_living_patient_born_in_1890_is_quarantined(tmp_path: Path) -> None:
    tables = base_tables()
    tables["patients"][0]["birth_month"] = "1890-05-01"
    tables["patients"][0]["death_date"] = ""
    folder = write_dataset(tmp_path / "d", tables, "csv")
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        rows = result.quarantine["patients"].to_pyarrow().to_pylist()
    assert len(rows) == 1 and "older than 117" in rows[0]["_reason"]


def test_a_patient_who_died_long_ago_is_kept(tmp_path: Path) -> None:
    tables = base_tables()
    tables["patients"][0]["birth_month"] = "1890-05-01"
    tables["patients"][0]["death_date"] = "1970-01-01"
    folder = write_dataset(tmp_path / "d", tables, "csv")
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        rows = result.quarantine["patients"].to_pyarrow().to_pylist()
    assert not any("older than" in r["_reason"] for r in rows)


def test_1e400_is_not_infinity(tmp_path: Path) -> None:
    tables = base_tables()
    row = next(r for r in tables["events"] if "value" in r)
    row["value"] = "1e400"
    folder = write_dataset(tmp_path / "d", tables, "csv")
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        rows = result.quarantine["events"].to_pyarrow().to_pylist()
        values = result.tables["events"].value.to_pyarrow().to_pylist()
    assert [r["_reason"].split(":")[0] for r in rows] == ["value"]  # quarantined, named
    assert all(v is None or abs(v) < 1e300 for v in values)
