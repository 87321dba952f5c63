"""Fuzz every canonical table as Parquet: any Arrow type, with hostile values, in any column.

A Parquet file carries types, so the attack is a column of the wrong type: a uint64 beyond
int64, floats with NaN and infinities where whole numbers belong (as pandas writes an integer
column with gaps), timestamps, decimals, raw bytes, dictionary-encoded text, an all-null
column, or nested structs and lists where a code or id is expected. Property: one line naming
the file and column (nested values are always refused), or every row the test wrote is
accepted or quarantined exactly once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from careis.data.schema import LOAD_ORDER
from careis_testdata import base_tables, write_dataset

from .support import (
    Counted,
    assert_one_line,
    assert_reconciles,
    attempt,
    clean_out,
    fuzz_settings,
    load_and_count,
)


def _values(strategy: st.SearchStrategy[Any], n: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(st.none(), strategy, strategy, strategy), min_size=n, max_size=n)


KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "string": (pa.string(), st.text(max_size=10) | st.sampled_from(["NaN", "1e400", "A81001"])),
    "large_string": (pa.large_string(), st.text(max_size=10)),
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 12)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1) | st.integers(0, 12)),
    "int32": (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "float64": (pa.float64(), st.floats() | st.sampled_from([float("nan"), 3.0, 1e300])),
    "float32": (pa.float32(), st.floats(width=32)),
    "date32": (pa.date32(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))),
    "timestamp": (pa.timestamp("us"), st.datetimes(dt.datetime(1700, 1, 1))),
    "bool": (pa.bool_(), st.booleans()),
    "binary": (pa.binary(), st.binary(max_size=6)),
    "decimal": (pa.decimal128(20, 2), st.decimals(-(10**17), 10**17, places=2)),
    "struct": (pa.struct([("c", pa.string())]), st.fixed_dictionaries({"c": st.text(max_size=4)})),
    "list": (pa.list_(pa.string()), st.lists(st.text(max_size=4), max_size=2)),
}
NESTED = {"struct", "list"}
# Per table: no change, or (column index, kind of the column that replaces it). Nested kinds
# refuse the whole load, so they are tried on their own below rather than masking the rest.
EDIT = st.none() | st.tuples(st.integers(0, 6), st.sampled_from(sorted(set(KINDS) - NESTED)))


def _replace(data: pa.Table, column: int, kind: str, values: list[Any]) -> pa.Table:
    name = data.column_names[column % data.num_columns]
    arrow_type, _ = KINDS[kind]
    return data.set_column(data.schema.get_field_index(name), name, pa.array(values, arrow_type))


@fuzz_settings(4)
@given(data=st.data())
def test_any_arrow_type_in_any_column_reconciles(tmp_path: Path, data: st.DataObject) -> None:
    folder, out = clean_out(tmp_path / "data"), clean_out(tmp_path / "out")
    tables = base_tables()
    write_dataset(folder, tables, "parquet")
    written = {name: len(rows) for name, rows in tables.items()}
    for name in LOAD_ORDER:
        edit = data.draw(EDIT, label=name)
        if edit is None:
            continue
        column, kind = edit
        values = data.draw(_values(KINDS[kind][1], written[name]), label=f"{name} values")
        path = folder / f"{name}.parquet"
        pq.write_table(_replace(pq.read_table(path), column, kind, values), path)
    counts: dict[str, Counted] = {}
    exc = attempt(lambda: counts.update(load_and_count(folder, out, written)))
    if exc is not None:  # only NHS numbers as patient_id refuse a whole typed table
        assert_one_line(exc, "patients.parquet", "are NHS numbers")
        return
    assert_reconciles(counts)


@pytest.mark.parametrize("kind", sorted(NESTED))
@pytest.mark.parametrize("table", LOAD_ORDER)
def test_a_nested_column_is_refused_naming_file_and_column(
    tmp_path: Path, table: str, kind: str
) -> None:
    """Nested values in any column careis reads are refused, never read as text."""
    tables = base_tables()
    folder = write_dataset(tmp_path / "data", tables, "parquet")
    path = folder / f"{table}.parquet"
    data = pq.read_table(path)
    column = data.column_names[-1]
    values = [{"c": "x"} if kind == "struct" else ["x"]] * data.num_rows
    pq.write_table(_replace(data, data.num_columns - 1, kind, values), path)
    exc = attempt(lambda: load_and_count(folder, tmp_path / "out", {}))
    assert exc is not None
    assert_one_line(exc, f"{table}.parquet", f"column '{column}'", "holds nested values")
