"""Fuzz every canonical table as CSV: hostile values in every column of every table at once.

Property: a load either refuses with one line naming a table's file, or it loads and, for
every table, the rows the test wrote (counted here, not by careis) are each accepted or
quarantined exactly once. Values come from Hypothesis (any text, raw bytes including invalid
UTF-8, NUL, line breaks, quotes and commas) and from a list of known-bad forms (1e400, NaN,
uint64 overflow, impossible dates, a birth in 1890, formula prefixes, path traversal, an NHS
number, a value over the CSV size limit). Rows may also be ragged (a field too many or too
few). One Hypothesis example loads all seven tables, so few examples cover much.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from careis.data.schema import LOAD_ORDER, TABLES
from careis.engine.csv_source import MAX_VALUE_BYTES
from careis_testdata import base_tables

from .support import (
    Counted,
    Value,
    assert_one_line,
    assert_reconciles,
    attempt,
    clean_out,
    fuzz_settings,
    load_and_count,
    write_csv_rows,
)

TRICKY: list[Value] = [
    "", " ", "NaN", "nan", "inf", "1e400", "-1", "0", "3.0", "9" * 25, "18446744073709551616",
    "2024-02-30", "1890-01-01", "1879-12-31", "9999-12-31", "31/03/2024", "20240331",
    "2024-03-31T10:15:00", "=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "../../etc",
    "/abs/path", "a,b", 'say "hi"', "line\nbreak", "\r\n", "\x00", "\t ", "A81001", "U00001",
    "p1", "p2", "snomed", "icd10", "I50.0", "2A", "21", "practice", "pcn", "F", "9434765919",
    b"caf\xe9", b"\xff\xfe", b"\xe2\x82", "\ufeffp1", "x" * (MAX_VALUE_BYTES + 1),
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.binary(max_size=6),
    st.none(),
)
# A fuzzed row: (which base row it starts from, column index -> value, ragged: -1/0/+1 fields)
ROW = st.tuples(
    st.integers(0, 10),
    st.dictionaries(st.integers(0, 6), VALUES, max_size=3),
    st.sampled_from([0, 0, 0, 0, -1, 1]),
)
DATASET = st.fixed_dictionaries({name: st.lists(ROW, max_size=3) for name in LOAD_ORDER})


def _rows(table: str, fuzzed: list[tuple[int, dict[int, Value], int]]) -> list[list[Value]]:
    """The table's valid base rows, then one row per fuzzed edit of a base row."""
    header = TABLES[table].column_names
    base: list[list[Value]] = [[r.get(h) or None for h in header] for r in base_tables()[table]]
    rows = [list(r) for r in base]
    for start, edits, ragged in fuzzed:
        row = list(base[start % len(base)])
        for column, value in edits.items():
            row[column % len(row)] = value
        if ragged < 0:
            row = row[:-1]
        elif ragged > 0:
            row = [*row, "extra"]
        rows.append(row)
    return rows


def write_fuzzed(folder: Path, dataset: dict[str, Any]) -> dict[str, int]:
    """Write every table; returns the data rows written per table (our own count)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        name: write_csv_rows(folder / f"{name}.csv", TABLES[name].column_names, _rows(name, rows))
        for name, rows in dataset.items()
    }


@fuzz_settings(4)
@given(dataset=DATASET)
def test_hostile_values_in_every_table_reconcile(tmp_path: Path, dataset: dict[str, Any]) -> None:
    folder, out = clean_out(tmp_path / "data"), clean_out(tmp_path / "out")
    written = write_fuzzed(folder, dataset)
    counts: dict[str, Counted] = {}
    exc = attempt(lambda: counts.update(load_and_count(folder, out, written)))
    if exc is not None:
        # The header is never touched, so the only whole-file refusal allowed is an NHS
        # number given as patient_id: every other bad value is that row's problem.
        assert_one_line(exc, "patients.csv", "are NHS numbers")
        return
    assert_reconciles(counts)


def test_every_base_row_is_accepted(tmp_path: Path) -> None:
    """The fuzz starts from valid rows: with no edits nothing is quarantined."""
    folder = tmp_path / "data"
    written = write_fuzzed(folder, {name: [] for name in LOAD_ORDER})
    counts = load_and_count(folder, tmp_path / "out", written)
    assert_reconciles(counts)
    assert all(c.quarantined == 0 for c in counts.values()), counts
