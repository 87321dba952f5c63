"""The one CSV writer: fixed column order, one number format, LF line ends, UTF-8.

Why one: a payment's evidence is compared byte for byte between runs (`careis pay diff`, the
golden files, the manifest's hashes). Seven writers with two float formats and two line
endings made the same figure print two ways; every careis CSV now goes through here.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

#: Floats are written to at most this many decimals (trailing zeros dropped).
DECIMALS = 6


#: A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
#: Injection"): `=HYPERLINK(...)` in an organisation's name would run on the finance
#: officer's machine when the statements are opened in Excel.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """Deterministic text for one value: '' for null or NaN, whole floats without '.0',
    other floats rounded to 6 decimals with trailing zeros dropped, text that a spreadsheet
    would run as a formula prefixed with an apostrophe, anything else `str()`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return defuse(value)
    return str(value)


def defuse(text: str) -> str:
    """`text`, with a leading apostrophe if a spreadsheet would read it as a formula.

    Numbers written as text ("-12.50", "+3") are left alone: they are figures, not formulas,
    and the evidence must match the statement byte for byte."""
    if not text.startswith(FORMULA_START) or _is_number(text):
        return text
    return "'" + text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _float(value: float) -> str:
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{round(value, DECIMALS):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def write_rows(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], path: Path) -> Path:
    """Rows as mappings; a field a row lacks is written empty, a key not in `fields` is an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            extra = set(row) - set(fields)
            if extra:
                raise ValueError(f"{path}: fields not in the header: {sorted(extra)}")
            writer.writerow([cell(row.get(f)) for f in fields])
    return path


def write_records(rows: Iterable[Sequence[Any]], header: Sequence[str], path: Path) -> Path:
    """Rows as sequences in header order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)
    return path


def write_table(table: pa.Table, path: Path) -> Path:
    """An Arrow table in its own column order."""
    names = table.column_names
    return write_records(([row[c] for c in names] for row in table.to_pylist()), names, path)
