"""The GP-record features of several dates built in one pass (`record_features_at`, what a
run's two register refreshes use) equal the one-date build at each date, and see no future.

The one-date build (`record_features`) is the reference: its definitions are the documented
ones and tests/risk/test_leakage.py checks it; the one-pass build must give every patient the
same features at every date, including housebound coded then resolved, medicines just inside
and just outside each date's 365-day window, and patients with records only after a date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from careis.codelists import CodelistLibrary
from careis.risk.features import (
    RECORD_COLUMNS,
    build_features,
    record_columns,
    record_features,
    record_features_at,
)

from .conftest import TRAIN_INDEX, VALIDATE_INDEX
from .test_leakage import _rewrite_future

LIB = CodelistLibrary()
DATES = [VALIDATE_INDEX, dt.date(2024, 1, 1), TRAIN_INDEX]


def _by_patient(table: pa.Table) -> dict[str, tuple[int, ...]]:
    """Each patient's record columns, patients with nothing recorded (all 0) left out."""
    rows = table.sort_by("patient_id").to_pylist()
    out = {}
    for r in rows:
        values = tuple(int(r[c] or 0) for c in RECORD_COLUMNS)
        if any(values):
            out[r["patient_id"]] = values
    return out


def test_one_pass_equals_the_one_date_build_at_every_date(risk_engine: Any) -> None:
    engine, tables = risk_engine
    rec = engine.cache(record_features_at(tables["events"], LIB, DATES))
    for i, day in enumerate(DATES):
        one = engine.to_arrow(record_features(tables["events"], LIB, day))
        several = engine.to_arrow(record_columns(rec, i))
        expected = _by_patient(one)
        assert len(expected) > 1000
        assert _by_patient(several) == expected, day
        assert {c: several.schema.field(c).type for c in RECORD_COLUMNS} == {
            c: pa.int64() for c in RECORD_COLUMNS
        }


def test_the_features_built_from_it_are_the_same_table(risk_engine: Any) -> None:
    engine, tables = risk_engine
    rec = engine.cache(record_features_at(tables["events"], LIB, DATES[:2]))
    for i, day in enumerate(DATES[:2]):
        old = build_features(tables, day, LIB)
        new = build_features(tables, day, LIB, record=record_columns(rec, i))
        assert engine.to_arrow(new.order_by("patient_id")).equals(
            engine.to_arrow(old.order_by("patient_id"))
        ), day


def test_the_one_pass_build_sees_no_future(risk_engine: Any) -> None:
    engine, tables = risk_engine
    future = _rewrite_future(tables, VALIDATE_INDEX)
    dates = [VALIDATE_INDEX, TRAIN_INDEX]
    before = engine.to_arrow(record_features_at(tables["events"], LIB, dates))
    after = engine.to_arrow(record_features_at(future["events"], LIB, dates))
    for i in range(len(dates)):
        cols = [f"{c}_{i}" for c in RECORD_COLUMNS]
        keep = ["patient_id", *cols]
        b = _by_patient(before.select(keep).rename_columns(["patient_id", *RECORD_COLUMNS]))
        a = _by_patient(after.select(keep).rename_columns(["patient_id", *RECORD_COLUMNS]))
        assert a == b, dates[i]
