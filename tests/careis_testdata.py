"""Small hand-made datasets for the loading tests, written as CSV or Parquet (helpers).

A plain module rather than conftest content so tests can import the builders; the
`dataset` fixture in conftest.py wraps them."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from careis.data.schema import TABLES

Rows = list[dict[str, Any]]

EXTRACT = dt.date(2024, 3, 31)


def base_tables() -> dict[str, Rows]:
    """A tiny dataset in which every row is valid (values as text, as in a CSV)."""
    return {
        "organisations": [
            {"org_code": "A81001", "org_type": "practice", "name": "Riverside Surgery"},
            {"org_code": "A81002", "org_type": "practice", "name": "Hill Medical Centre"},
            {"org_code": "U00001", "org_type": "pcn", "name": "North PCN"},
            {"org_code": "F0001", "org_type": "federation", "name": "Town GP Federation"},
            {"org_code": "00T", "org_type": "sub_icb", "name": "Bolton"},
        ],
        "memberships": [
            {"practice_code": "A81001", "group_type": "pcn", "group_code": "U00001",
             "valid_from": "2019-07-01", "valid_to": ""},
            {"practice_code": "A81002", "group_type": "pcn", "group_code": "U00001",
             "valid_from": "2019-07-01", "valid_to": ""},
            {"practice_code": "A81001", "group_type": "sub_icb", "group_code": "00T",
             "valid_from": "2013-04-01", "valid_to": ""},
        ],
        "patients": [
            {"patient_id": "p1", "sex": "F", "birth_month": "1950-03-01", "death_date": "",
             "imd_decile": "3"},
            {"patient_id": "p2", "sex": "M", "birth_month": "1980-07-01",
             "death_date": "2023-06-15", "imd_decile": "10"},
            {"patient_id": "p3", "sex": "U", "birth_month": "2001-01-01", "death_date": "",
             "imd_decile": ""},
        ],
        "registrations": [
            {"patient_id": "p1", "practice_code": "A81001", "start_date": "2010-01-01",
             "end_date": ""},
            {"patient_id": "p2", "practice_code": "A81002", "start_date": "2015-05-01",
             "end_date": "2018-12-31"},
            {"patient_id": "p2", "practice_code": "A81001", "start_date": "2020-01-01",
             "end_date": ""},
            {"patient_id": "p3", "practice_code": "A81002", "start_date": "2005-01-01",
             "end_date": ""},
        ],
        "events": [
            {"patient_id": "p1", "event_date": "2020-01-01", "code_system": "snomed",
             "code": "195967001", "value": ""},
            {"patient_id": "p2", "event_date": "2016-05-05", "code_system": "snomed",
             "code": "1049301000000100", "value": "48.5"},
            {"patient_id": "p3", "event_date": "2003-06-01", "code_system": "snomed",
             "code": "195967001", "value": ""},  # before first registration: history, kept
            {"patient_id": "p2", "event_date": "2023-06-15", "code_system": "icd10",
             "code": "I50.0", "value": ""},  # on the day of death: fine
        ],
        "admissions": [
            {"spell_id": "s1", "patient_id": "p1", "admission_date": "2021-02-01",
             "discharge_date": "2021-02-05", "admission_method": "21",
             "primary_diagnosis": "J44.1", "provider_code": "RXX"},
            {"spell_id": "s2", "patient_id": "p2", "admission_date": "2023-06-10",
             "discharge_date": "2023-06-15", "admission_method": "11",
             "primary_diagnosis": "I500", "provider_code": "RYY"},
            {"spell_id": "s3", "patient_id": "p2", "admission_date": "2019-06-10",
             "discharge_date": "", "admission_method": "2A",
             "primary_diagnosis": "R69X", "provider_code": "RYY"},  # unregistered: fine
        ],
        "ae_attendances": [
            {"attendance_id": "a1", "patient_id": "p1", "arrival_date": "2021-02-01",
             "department_type": "1", "provider_code": "RXX"},
            {"attendance_id": "a2", "patient_id": "p3", "arrival_date": "2024-03-31",
             "department_type": "4", "provider_code": "RXX"},  # on the extract date: fine
        ],
    }  # fmt: skip


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], header: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h, "") for h in header])
    return path


def _typed(rows: Rows, table: str) -> pa.Table:
    """Rows as a typed Arrow table following the schema (empty text -> null)."""
    spec = TABLES[table]
    arrays = {}
    for col in spec.columns:
        values = [r.get(col.name) or None for r in rows]
        if col.dtype == "date":
            arrays[col.name] = pa.array(
                [dt.date.fromisoformat(v) if v else None for v in values], pa.date32()
            )
        elif col.dtype == "int64":
            arrays[col.name] = pa.array([int(v) if v else None for v in values], pa.int64())
        elif col.dtype == "float64":
            arrays[col.name] = pa.array([float(v) if v else None for v in values], pa.float64())
        else:
            arrays[col.name] = pa.array(values, pa.string())
    return pa.table(arrays)


def write_dataset(
    folder: Path,
    tables: Mapping[str, Rows],
    fmt: str = "csv",
    headers: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write every table as <table>.csv (text) or <table>.parquet (typed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        header = (headers or {}).get(name) or TABLES[name].column_names
        if fmt == "csv":
            write_csv(folder / f"{name}.csv", rows, header)
        else:
            pq.write_table(_typed(list(rows), name), folder / f"{name}.parquet")
    return folder
