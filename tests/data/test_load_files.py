"""Dataset layout, headers, file formats and the outputs of a load."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from rich.table import Table as RichTable

from careis.data.load import LoadResult, load_dataset
from careis.data.quarantine import render_summary
from careis.data.schema import TABLES
from careis.data.sources.canonical import discover
from careis.engine import Engine
from careis.engine.csv_source import MAX_VALUE_BYTES
from careis.errors import CareisError, DataError
from careis_testdata import EXTRACT, base_tables, write_csv, write_dataset


def load(engine: Engine, source: Path | dict[str, object]) -> LoadResult:
    return load_dataset(engine, source, extract_date=EXTRACT)  # type: ignore[arg-type]


def sorted_rows(table: object) -> list[tuple[object, ...]]:
    data = table.to_pyarrow().to_pylist()  # type: ignore[attr-defined]
    return sorted(tuple(r.values()) for r in data)


# ----------------------------------------------------------------- whole-file problems
def test_missing_column_is_one_clear_line(duck: Engine, dataset: Callable[..., Path]) -> None:
    header = ["patient_id", "birth_month", "death_date", "imd_decile"]
    folder = dataset(headers={"patients": header})
    with pytest.raises(DataError) as err:
        load(duck, folder)
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        f"{folder / 'patients.csv'}: missing required column sex. Fix: use the header "
        "patient_id,sex,birth_month,death_date,imd_decile (death_date, imd_decile may be left "
        "out; patient_id may be given as nhs_number; names are not case-sensitive)."
    )


def test_several_missing_columns_are_all_named(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset(headers={"events": ["patient_id", "code"]})
    with pytest.raises(
        DataError, match=r"events\.csv: missing required columns event_date, code_system\."
    ):
        load(duck, folder)


def test_columns_match_case_insensitively_extra_ignored_bom_and_gzip(
    duck: Engine, dataset: Callable[..., Path]
) -> None:
    folder = dataset()
    rows = base_tables()["patients"]
    header = [" Patient_ID ", "SEX", "Birth_Month", "death_date", "notes"]
    # Excel writes a byte-order mark; it must not spoil the first column's name.
    with (folder / "patients.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for r in rows:
            writer.writerow(
                [r["patient_id"], r["sex"], r["birth_month"], r["death_date"], "free text"]
            )
    events = folder / "events.csv"
    (folder / "events.csv.gz").write_bytes(gzip.compress(events.read_bytes()))
    events.unlink()
    result = load(duck, folder)
    assert next(s for s in result.summary if s.table == "events").file == "events.csv.gz"
    summary = next(s for s in result.summary if s.table == "patients")
    assert summary.accepted == 3
    assert summary.ignored_columns == ("notes",)
    assert summary.missing_optional_columns == ("imd_decile",)
    patients = result.tables["patients"]
    assert list(patients.columns) == list(TABLES["patients"].column_names)
    assert patients.imd_decile.to_pyarrow().null_count == 3


def test_two_columns_with_one_meaning(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset(headers={"organisations": ["org_code", "org_type", "name", "ORG_CODE"]})
    with pytest.raises(DataError, match="columns 'org_code' and 'ORG_CODE' differ only in case"):
        load(duck, folder)


def test_missing_table_names_the_near_miss(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "patients.csv").rename(folder / "Patients.csv")
    with pytest.raises(DataError) as err:
        load(duck, folder)
    message = str(err.value)
    assert message.startswith(f"{folder}: missing table patients. Fix: add patients.parquet, ")
    assert "found Patients.csv" in message


def test_table_supplied_twice(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    pq.write_table(pa.table({"org_code": ["A81001"]}), folder / "organisations.parquet")
    with pytest.raises(DataError, match="table organisations is supplied twice"):
        load(duck, folder)


def test_empty_file(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "events.csv").write_text("")
    with pytest.raises(DataError, match=r"events\.csv: the file is empty"):
        load(duck, folder)


def test_unreadable_parquet(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "events.csv").unlink()
    (folder / "events.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"events\.parquet: cannot read as Parquet"):
        load(duck, folder)


def test_not_a_folder(duck: Engine, tmp_path: Path) -> None:
    with pytest.raises(CareisError, match="no such dataset folder"):
        load(duck, tmp_path / "nowhere")


def test_unknown_table_in_mapping(duck: Engine, dataset: Callable[..., Path]) -> None:
    files = dict(discover(dataset()).files)
    files["patient"] = files["patients"]  # type: ignore[assignment]
    with pytest.raises(DataError, match="unknown table name patient"):
        load(duck, files)  # type: ignore[arg-type]


# ----------------------------------------------------------------- formats and layouts
def test_header_only_table_loads_empty(duck: Engine, dataset: Callable[..., Path]) -> None:
    result = load(duck, dataset(replace={"ae_attendances": []}))
    summary = next(s for s in result.summary if s.table == "ae_attendances")
    assert (summary.read, summary.accepted, summary.quarantined) == (0, 0, 0)


def test_parquet_and_csv_give_the_same_tables(duck: Engine, dataset: Callable[..., Path]) -> None:
    from_csv = load(duck, dataset(fmt="csv"))
    from_parquet = load(duck, dataset(fmt="parquet"))
    for name in TABLES:
        assert sorted_rows(from_csv.tables[name]) == sorted_rows(from_parquet.tables[name]), name
        assert from_csv.tables[name].schema() == from_parquet.tables[name].schema(), name


def test_parquet_folder_of_parts(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "admissions.csv").unlink()
    parts = folder / "admissions"
    parts.mkdir()
    rows = base_tables()["admissions"]
    header = TABLES["admissions"].column_names
    pq.write_table(
        pa.table({h: [r[h] or None for r in rows[:2]] for h in header}), parts / "part-0.parquet"
    )
    dup = {**rows[0], "admission_date": "2022-01-01", "discharge_date": ""}
    pq.write_table(
        pa.table({h: [r[h] or None for r in (rows[2], dup)] for h in header}),
        parts / "part-1.parquet",
    )
    result = load(duck, folder)
    bad = result.quarantine["admissions"].to_pyarrow().to_pylist()
    assert [(r["_file"], r["_row"], r["_reason"]) for r in bad] == [
        (
            "admissions/part-1.parquet",
            2,
            "duplicate spell_id s1 (first seen at row 1 of admissions/part-0.parquet)",
        )
    ]
    summary = next(s for s in result.summary if s.table == "admissions")
    assert (summary.file, summary.read, summary.accepted) == ("admissions/", 4, 3)


def test_parquet_with_text_columns_is_parsed(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "patients.csv").unlink()
    rows = [
        *base_tables()["patients"],
        {"patient_id": "p9", "sex": "M", "birth_month": "31/12/1960"},
    ]
    header = TABLES["patients"].column_names
    pq.write_table(
        pa.table({h: [r.get(h) or None for r in rows] for h in header}), folder / "patients.parquet"
    )
    result = load(duck, folder)
    bad = result.quarantine["patients"].to_pyarrow().to_pylist()
    assert [(r["_row"], r["_reason"], r["birth_month"]) for r in bad] == [
        (4, "birth_month: '31/12/1960' is not a date (use YYYY-MM-DD)", "31/12/1960")
    ]
    assert result.tables["patients"].schema()["imd_decile"].is_integer()


def test_organisations_passed_in_memory(duck: Engine, dataset: Callable[..., Path]) -> None:
    folder = dataset()
    (folder / "organisations.csv").unlink()
    (folder / "memberships.csv").unlink()
    with pytest.raises(DataError, match="may instead be passed in the source mapping"):
        load(duck, folder)
    tables = base_tables()
    files: dict[str, object] = dict(discover(folder).files)
    for name in ("organisations", "memberships"):
        files[name] = pa.table(
            {h: [r[h] or None for r in tables[name]] for h in TABLES[name].column_names}
        )
    result = load(duck, files)
    assert result.quarantined == 0
    assert (
        next(s for s in result.summary if s.table == "organisations").file
        == "<organisations in memory>"
    )
    assert result.tables["registrations"].count().execute() == 4


def test_default_extract_date_is_today(duck: Engine, dataset: Callable[..., Path]) -> None:
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    folder = dataset(add={"ae_attendances": [{"attendance_id": "a9", "patient_id": "p1",
                                             "arrival_date": tomorrow, "department_type": "1",
                                             "provider_code": "RXX"}]})  # fmt: skip
    result = load_dataset(duck, folder)
    assert result.extract_date == dt.date.today()
    reasons = result.quarantine["ae_attendances"]._reason.to_pyarrow().to_pylist()
    assert reasons == [f"arrival_date: {tomorrow} is after the extract date {dt.date.today()}"]


# ----------------------------------------------------------------- outputs
def test_write_quarantine_and_summary(
    duck: Engine, dataset: Callable[..., Path], tmp_path: Path
) -> None:
    bad_patient = {"patient_id": "p9", "sex": "X", "birth_month": "1960-01-01"}
    event = {"patient_id": "p9", "event_date": "2020-01-01", "code_system": "snomed", "code": "1"}
    folder = dataset(add={"patients": [bad_patient], "events": [event]})
    result = load(duck, folder)
    written = result.write_quarantine(duck, tmp_path / "out")
    out = tmp_path / "out" / "quarantine"
    assert sorted(p.name for p in written) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["summary.csv"]
    )
    patients = pq.read_table(out / "patients.parquet").to_pylist()
    assert patients == [{
        "_file": "patients.csv", "_row": 4, "_reason": "sex: 'X' is not one of F, M, U",
        "_check": "sex is not an allowed code", "patient_id": "p9", "sex": "X",
        "birth_month": "1960-01-01", "death_date": None, "imd_decile": None,
    }]  # fmt: skip
    assert pq.read_table(out / "organisations.parquet").num_rows == 0
    with (out / "summary.csv").open() as handle:
        summary = list(csv.DictReader(handle))
    assert summary[0] == {
        "table": "organisations",
        "file": "organisations.csv",
        "read": "5",
        "accepted": "5",
        "quarantined": "0",
        "reason": "",
        "count": "0",
    }
    by_table = {r["table"]: r for r in summary}
    assert by_table["patients"]["reason"] == "sex is not an allowed code"
    assert by_table["events"]["reason"] == "patient_id was rejected in patients"
    assert len(summary) == len(TABLES)


def test_summary_prints(duck: Engine, dataset: Callable[..., Path]) -> None:
    result = load(
        duck,
        dataset(add={"patients": [{"patient_id": "p1", "sex": "F", "birth_month": "1950-03-01"}]}),
    )
    table = render_summary(result.summary)
    assert isinstance(table, RichTable)
    assert table.row_count == len(TABLES)
    console = Console(width=200, record=True)
    console.print(result)
    text = console.export_text()
    assert "duplicate patient_id" in text
    assert "patients (patients.csv): read 4, accepted 3, quarantined 1" in str(result)


def test_two_loads_in_one_engine(duck: Engine, dataset: Callable[..., Path]) -> None:
    first = load(duck, dataset())
    second = load(duck, dataset(replace={"events": []}))
    assert first.tables["events"].count().execute() == 4
    assert second.tables["events"].count().execute() == 0


def test_ragged_csv_rows_are_quarantined_not_fatal(duck: Engine, tmp_path: Path) -> None:
    """A row with too many or too few fields is that row's error: it goes to the quarantine
    with its row number, the rest of the file loads, and the counts reconcile."""
    folder = write_dataset(tmp_path / "ds", base_tables())
    path = folder / "events.csv"
    lines = path.read_text().splitlines()
    n_good = len(lines) - 1
    lines.insert(2, "p1,2020-01-01,snomed,123,1,EXTRA")  # data row 2: one field too many
    lines.append("p1,2020-01-01")  # last data row: too few
    path.write_text("\n".join(lines) + "\n")
    result = load(duck, folder)
    events = next(s for s in result.summary if s.table == "events")
    assert (events.read, events.accepted, events.quarantined) == (n_good + 2, n_good, 2)
    assert events.reasons == {"row has the wrong number of fields": 2}
    q = result.quarantine["events"].order_by("_row").to_pyarrow().to_pylist()
    assert [r["_row"] for r in q] == [2, n_good + 2]
    assert q[0]["_reason"].startswith("row has 6 fields but the header has 5")
    assert q[1]["_reason"].startswith("row has 2 fields but the header has 5")
    assert result.tables["events"].count().execute() == n_good


def test_unbalanced_quote_at_the_end_is_quarantined(duck: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", base_tables())
    with (folder / "events.csv").open("a") as handle:
        handle.write('p1,2020-01-01,snomed,"123,1\n')
    result = load(duck, folder)
    reasons = result.quarantine["events"]._reason.to_pyarrow().to_pylist()
    assert len(reasons) == 1
    assert "unbalanced quote" in reasons[0]


def _one_quarantined(result: LoadResult, table: str) -> dict[str, object]:
    """The table reconciles and exactly one of its rows is quarantined: that row."""
    summary = next(s for s in result.summary if s.table == table)
    assert summary.read == summary.accepted + summary.quarantined
    rows = result.quarantine[table].to_pyarrow().to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


def test_a_non_utf8_byte_quarantines_that_row_only(duck: Engine, tmp_path: Path) -> None:
    """Issue 15 item 9: one latin-1 byte used to refuse the whole file without naming the row."""
    folder = write_dataset(tmp_path / "ds", base_tables())
    with (folder / "events.csv").open("ab") as handle:
        handle.write(b"p1,2020-01-01,snomed,\xff\xfe,1\n")  # not UTF-8
    row = _one_quarantined(load(duck, folder), "events")
    assert row["_row"] == 5
    assert row["_check"] == "value is not UTF-8 text"
    assert "column 'code'" in row["_reason"] and "save the file as UTF-8" in row["_reason"]
    assert row["patient_id"] == "p1"  # the row's readable values are kept


@pytest.mark.parametrize("table", ["organisations", "patients", "admissions", "memberships"])
def test_latin1_in_any_table_quarantines_the_row(duck: Engine, tmp_path: Path, table: str) -> None:
    tables = base_tables()
    first = tables[table][0]
    column = next(c for c in ("name", "sex", "provider_code", "group_code") if c in first)
    folder = write_dataset(tmp_path / "ds", tables)
    path = folder / f"{table}.csv"
    text = path.read_bytes()
    value = str(first[column]).encode()
    path.write_bytes(text.replace(value, value[:-1] + b"\xe9", 1))
    row = _one_quarantined(load(duck, folder), table)
    assert row["_row"] == 1 and f"column '{column}'" in row["_reason"]
    assert "0xe9" in row["_reason"]


def test_a_value_over_the_size_limit_quarantines_that_row(duck: Engine, tmp_path: Path) -> None:
    """Issue 15 item 9: one value of 2 MB or more in events.csv used to refuse the table."""
    tables = base_tables()
    tables["events"].insert(1, dict(tables["events"][0], code="8" * (3 << 20)))
    row = _one_quarantined(load(duck, write_dataset(tmp_path / "ds", tables)), "events")
    assert row["_row"] == 2
    assert row["_check"] == f"value longer than {MAX_VALUE_BYTES:,} bytes"
    assert "column 'code'" in row["_reason"] and row["code"] is None


def test_a_long_value_beside_a_ragged_row(duck: Engine, tmp_path: Path) -> None:
    tables = base_tables()
    tables["events"].append(dict(tables["events"][0], code="8" * (MAX_VALUE_BYTES + 1)))
    folder = write_dataset(tmp_path / "ds", tables)
    with (folder / "events.csv").open("a") as handle:
        handle.write("p1,2020-01-01\n")
    result = load(duck, folder)
    events = next(s for s in result.summary if s.table == "events")
    assert (events.read, events.quarantined) == (6, 2)
    assert set(events.reasons) == {
        "row has the wrong number of fields",
        f"value longer than {MAX_VALUE_BYTES:,} bytes",
    }


def test_write_csv_helper_round_trip(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [{"a": "1"}], ["a", "b"])
    assert path.read_text().splitlines() == ["a,b", "1,"]


def test_ragged_row_reason_does_not_echo_the_row(duck: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", base_tables())
    with (folder / "patients.csv").open("a") as handle:
        handle.write("9434765919,F,1950-01-01,,3,EXTRA\n")
    result = load(duck, folder)
    rows = result.quarantine["patients"].to_pyarrow().to_pylist()
    assert len(rows) == 1
    assert "9434765919" not in str(rows)
    assert "row has 6 fields" in rows[0]["_reason"]


def _parquet_with(folder: Path, table: str, column: str, values: pa.Array) -> Path:
    """Rewrite one column of a Parquet table with `values` (a type careis must handle)."""
    path = folder / f"{table}.parquet"
    data = pq.read_table(path)
    pq.write_table(data.set_column(data.schema.get_field_index(column), column, values), path)
    return path


@pytest.mark.parametrize(
    ("values", "found"),
    [
        (pa.array([{"c": "195967001"}] * 4), "struct<c: string>"),
        (pa.array([["195967001"]] * 4), "array<string>"),
        (pa.array([[("k", "v")]] * 4, pa.map_(pa.string(), pa.string())), "map<string, string>"),
    ],
    ids=["struct", "list", "map"],
)
def test_nested_parquet_codes_are_refused_in_one_line(
    duck: Engine, tmp_path: Path, values: pa.Array, found: str
) -> None:
    """Issue 15 item 9: a struct code used to be read as the text "{'c': ...}"."""
    folder = write_dataset(tmp_path / "ds", base_tables(), "parquet")
    _parquet_with(folder, "events", "code", values)
    with pytest.raises(DataError) as err:
        load(duck, folder)
    message = str(err.value)
    assert "events.parquet, column 'code': holds nested values" in message
    assert f"({found}) where careis expects text (string)" in message
    assert "\n" not in message


def test_nested_column_in_a_folder_names_the_part(duck: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", base_tables(), "parquet")
    parts = folder / "events"
    parts.mkdir()
    (folder / "events.parquet").rename(parts / "part-0.parquet")
    pq.write_table(pq.read_table(parts / "part-0.parquet"), parts / "part-1.parquet")
    _parquet_with(parts, "part-1", "patient_id", pa.array([["p1"]] * 4))
    with pytest.raises(DataError, match=r"part-1\.parquet, column 'patient_id'"):
        load(duck, folder)


def test_pandas_nan_in_a_nullable_integer_column_is_null(duck: Engine, tmp_path: Path) -> None:
    """Issue 15 item 9: pandas writes an integer column with a gap as floats with NaN; the
    patient used to be rejected (or the load crashed casting NaN to BIGINT)."""
    folder = write_dataset(tmp_path / "ds", base_tables(), "parquet")
    _parquet_with(folder, "patients", "imd_decile", pa.array([3.0, 10.0, float("nan")]))
    result = load(duck, folder)
    assert result.quarantined == 0
    deciles = result.tables["patients"].order_by("patient_id").imd_decile.to_pyarrow()
    assert deciles.to_pylist() == [3, 10, None]


def test_float_nan_and_text_nan_are_null(duck: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", base_tables(), "parquet")
    _parquet_with(folder, "events", "value", pa.array([float("nan"), 48.5, None, float("nan")]))
    values = load(duck, folder).tables["events"].value.to_pyarrow().to_pylist()
    assert sorted(values, key=lambda v: v is None) == [48.5, None, None, None]
    tables = base_tables()
    tables["events"][0]["value"] = "NaN"
    tables["patients"][0]["imd_decile"] = "nan"
    result = load(duck, write_dataset(tmp_path / "csv", tables))
    assert result.quarantined == 0


def test_a_fraction_in_a_float_integer_column_is_still_that_rows_error(
    duck: Engine, tmp_path: Path
) -> None:
    folder = write_dataset(tmp_path / "ds", base_tables(), "parquet")
    _parquet_with(folder, "patients", "imd_decile", pa.array([3.5, float("inf"), float("nan")]))
    result = load(duck, folder)
    patients = next(s for s in result.summary if s.table == "patients")
    assert patients.reasons == {"imd_decile is not a whole number": 2}


def test_a_ragged_row_that_is_not_utf8_is_quarantined_quietly(
    duck: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by tests/fuzz: pyarrow cannot hand a ragged, non-UTF-8 row to careis's handler
    (it decodes the row's text first) and printed a traceback; careis now reads such a file
    in Python, every row kept."""
    folder = write_dataset(tmp_path / "ds", base_tables())
    with (folder / "ae_attendances.csv").open("ab") as handle:
        handle.write(b'"\xe2\x82","","","x"\n')  # 4 fields, and not UTF-8
        handle.write(b"a9,p1,2021-02-01,1,R\xe9X\n")  # 5 fields, not UTF-8
    result = load(duck, folder)
    rows = result.quarantine["ae_attendances"].order_by("_row").to_pyarrow().to_pylist()
    assert [(r["_row"], r["_check"]) for r in rows] == [
        (3, "row has the wrong number of fields"),
        (4, "value is not UTF-8 text"),
    ]
    assert rows[1]["attendance_id"] == "a9" and "column 'provider_code'" in rows[1]["_reason"]
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err
