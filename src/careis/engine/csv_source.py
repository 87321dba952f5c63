"""Read a CSV table as text, keeping every row: a row the parser cannot use is flagged, not fatal.

Why: one bad row in a twenty-million-row extract (a stray comma, a byte that is not UTF-8, a
pasted document several megabytes long in one field) is that row's error. It must reach the
quarantine with its row number and a reason, and the rest of the file must load; refusing the
whole table would stop a monthly run for one row, and dropping the row would break
read = accepted + quarantined.

The fast path is pyarrow's multi-threaded reader, which nearly every file passes. Only when it
fails for a row-level reason is the file read again carefully: single-threaded (only then does
pyarrow number the rows it hands back), every column as bytes (so invalid UTF-8 is found per
value, not per file), with a block size grown until the longest row fits. Flagged rows come back
with every column null and `_malformed` holding the reason; the validator quarantines them
before any other check. A reason never quotes the row's text: it may hold an NHS number.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from careis.errors import DataError

#: The longest value careis reads from a CSV field; a longer one is that row's error (no code,
#: identifier or date is anywhere near it, and such a value is usually a pasted document).
MAX_VALUE_BYTES = 1 << 20
#: Block sizes tried in turn by the careful read: a row must fit in one block.
_BLOCK_SIZES = (4 << 20, 32 << 20, 256 << 20)

#: (start of a `_malformed` reason, the value-free label it is counted under).
MALFORMED_LABELS: tuple[tuple[str, str], ...] = (
    ("row has ", "row has the wrong number of fields"),
    ("not UTF-8 text", "value is not UTF-8 text"),
    ("value longer than", f"value longer than {MAX_VALUE_BYTES:,} bytes"),
)

_Flags = dict[int, str]  # index in the table read -> reason (ragged rows)
_Cells = list[tuple[int, str, str]]  # (index in the table read, column, reason): bad values


def read_csv_strings(path: Path, header: list[str]) -> pa.Table:
    """Every column as a string (empty fields null), plus `_row` (the data row number) and,
    when some rows could not be used, `_malformed` (their reason; their values null)."""
    try:  # fast path: multi-threaded, and nearly every file is well formed
        data = pacsv.read_csv(
            path, convert_options=_convert(header, pa.string()), parse_options=_parse_options()
        )
    except (EOFError, OSError) as exc:  # a truncated .csv.gz, a file gone mid-read
        raise _unreadable_to_end(path, exc) from exc
    except pa.ArrowInvalid as exc:
        if not _row_level(exc):
            fix = "check the file is UTF-8 text with comma-separated fields."
            raise _not_csv(path, exc, fix) from exc
        return _read_carefully(path, header)
    rows = _numbers(data.num_rows)
    flags = _long_values(data)
    if not flags:
        return data.append_column("_row", rows)
    return _with_flags(data, rows, flags)


def _convert(header: list[str], kind: pa.DataType) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, kind), strings_can_be_null=True, null_values=[""]
    )


def _parse_options(handler: Any = None) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler)


def _row_level(exc: pa.ArrowInvalid) -> bool:
    """A failure that belongs to some rows (field count, encoding, one very long row), not
    to the file's format as a whole."""
    text = str(exc)
    return ("Expected" in text and "columns" in text) or "UTF8" in text or "straddl" in text.lower()


def _read_carefully(path: Path, header: list[str]) -> pa.Table:
    """Re-read a file the fast path refused: ragged rows skipped and flagged, every value as
    bytes, and the block size grown until the longest row fits.

    pyarrow decodes a ragged row's text as UTF-8 before handing it to the handler, so a
    ragged row that is also not UTF-8 fails the read; such a file is read in Python."""
    ragged: _Flags = {}
    try:
        data = _read_bytes(path, header, ragged)
    except _HandlerFailed:
        return _read_in_python(path, header)
    total = data.num_rows + len(ragged)
    rows = pa.array([i for i in range(1, total + 1) if i not in ragged], pa.int64())
    good = _with_flags(data, rows, _invalid_utf8(data) + _long_values(data))
    return _append_ragged(good, header, ragged)


def _read_bytes(path: Path, header: list[str], ragged: _Flags) -> pa.Table:
    """Read single-threaded as bytes, each block size in turn until the longest row fits."""
    fix = "check the delimiter is a comma and every row has as many fields as the header."
    for block in _BLOCK_SIZES[:-1]:
        try:
            return _read_bytes_once(path, header, ragged, block)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc).lower():
                raise _not_csv(path, exc, fix) from exc
    try:
        return _read_bytes_once(path, header, ragged, _BLOCK_SIZES[-1])
    except pa.ArrowInvalid as exc:
        raise _not_csv(path, exc, fix) from exc


@contextmanager
def _quiet_handler_failures() -> Iterator[None]:
    """pyarrow reports a row it could not decode for the handler through Python's
    "unraisable exception" hook, which prints a traceback on stderr; the read then fails and
    careis falls back to `_read_in_python`, so that print is noise, and a traceback on screen
    is what careis promises never to show."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda _: None
    try:
        yield
    finally:
        sys.unraisablehook = previous


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Let Python's csv module read fields up to `limit` characters (its default is 128 KiB;
    a longer value must reach the length check, not fail the file)."""
    previous = csv.field_size_limit(max(limit, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _HandlerFailed(Exception):
    """pyarrow could not hand a ragged row to the handler (its text is not UTF-8)."""


def _read_in_python(path: Path, header: list[str]) -> pa.Table:
    """The slow, last-resort reader: Python's csv module over the text decoded with
    `surrogateescape`, so every byte survives and each value is judged on its own."""
    ragged: _Flags = {}
    columns: list[list[bytes | None]] = [[] for _ in header]
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw, _field_limit(_BLOCK_SIZES[-1]):
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            records = (r for r in csv.reader(text) if r)  # pyarrow skips empty lines too
            next(records, None)
            for i, fields in enumerate(records):
                _take(i, fields, columns, ragged)
    except (OSError, EOFError, csv.Error) as exc:
        raise _unreadable_to_end(path, exc) from exc
    data = pa.table({h: pa.array(v, pa.binary()) for h, v in zip(header, columns, strict=True)})
    rows = _numbers(data.num_rows)
    return _with_flags(data, rows, _invalid_utf8(data) + _long_values(data), ragged)


def _take(i: int, fields: list[str], columns: list[list[bytes | None]], ragged: _Flags) -> None:
    """Append one record's values as bytes (a ragged record: all null, its reason kept)."""
    if len(fields) != len(columns):
        ragged[i] = _ragged_reason(len(fields), len(columns))
        fields = [""] * len(columns)
    for column, value in zip(columns, fields, strict=True):
        column.append(value.encode("utf-8", "surrogateescape") if value else None)


def _read_bytes_once(path: Path, header: list[str], ragged: _Flags, block: int) -> pa.Table:
    ragged.clear()
    try:
        with _quiet_handler_failures():
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=block),
                convert_options=_convert(header, pa.binary()),
                parse_options=_parse_options(_ragged_handler(ragged)),
            )
    except (EOFError, OSError) as exc:
        raise _unreadable_to_end(path, exc) from exc
    except pa.ArrowInvalid as exc:
        if "Expected" in str(exc) and "columns" in str(exc):  # the handler never ran
            raise _HandlerFailed from exc
        raise


def _ragged_handler(ragged: _Flags) -> Any:
    def keep(row: Any) -> str:
        # row.number counts the header as row 1, so the data row is one less.
        ragged[int(row.number) - 1] = _ragged_reason(row.actual_columns, row.expected_columns)
        return "skip"

    return keep


def _ragged_reason(n: int, want: int) -> str:
    return (
        f"row has {n} field{'s' if n != 1 else ''} but the header has {want}; check for a "
        "stray or missing comma or an unbalanced quote (quote values that contain commas)"
    )


def _long_values(data: pa.Table) -> _Cells:
    """Values longer than MAX_VALUE_BYTES. A chunk whose whole buffer is shorter cannot hold
    one, so well-formed files cost next to nothing."""
    flags: _Cells = []
    for name in data.column_names:
        start = 0
        for chunk in data[name].chunks:
            if chunk.nbytes > MAX_VALUE_BYTES:
                lengths = pc.binary_length(chunk).to_pylist()
                for i, n in enumerate(lengths):
                    if n is not None and n > MAX_VALUE_BYTES:
                        flags.append(
                            (
                                start + i,
                                name,
                                (
                                    f"value longer than {MAX_VALUE_BYTES:,} bytes in column '{name}' "
                                    f"({n:,} bytes); no field careis reads is anywhere near as long"
                                ),
                            )
                        )
            start += len(chunk)
    return flags


def _invalid_utf8(data: pa.Table) -> _Cells:
    """Values that are not UTF-8, found chunk by chunk: only a chunk that fails the
    vectorised check is decoded value by value."""
    flags: _Cells = []
    for name in data.column_names:
        start = 0
        for chunk in data[name].chunks:
            try:
                chunk.cast(pa.string())
            except pa.ArrowInvalid:
                flags.extend(_decode_each(chunk, start, name))
            start += len(chunk)
    return flags


def _decode_each(chunk: pa.Array, start: int, name: str) -> _Cells:
    flags: _Cells = []
    for i, value in enumerate(chunk.to_pylist()):
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError as exc:
            flags.append(
                (
                    start + i,
                    name,
                    (
                        f"not UTF-8 text in column '{name}' (byte 0x{value[exc.start]:02x}, as written by "
                        "Windows-1252 or latin-1); save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                    ),
                )
            )
    return flags


def _with_flags(
    data: pa.Table, rows: pa.Array, cells: _Cells, ragged: _Flags | None = None
) -> pa.Table:
    """Null each bad value (the row's other values stay, so a rejected organisation is still
    named by the rows that refer to it), cast the columns to string and add `_row` and
    `_malformed` (the first reason of each row; a ragged row's reason first of all)."""
    reasons: dict[int, str] = dict(ragged or {})
    bad: dict[str, np.ndarray] = {}
    for i, name, reason in cells:
        reasons.setdefault(i, reason)
        bad.setdefault(name, np.zeros(data.num_rows, dtype=bool))[i] = True
    columns = {}
    for name in data.column_names:
        column = data[name]
        if name in bad:
            column = pc.if_else(pa.array(bad[name]), pa.scalar(None, column.type), column)
        columns[name] = column.cast(pa.string())
    malformed = pa.array([reasons.get(i) for i in range(data.num_rows)], pa.string())
    return pa.table({**columns, "_row": rows, "_malformed": malformed})


def _append_ragged(good: pa.Table, header: list[str], ragged: _Flags) -> pa.Table:
    rows = sorted(ragged)
    table = pa.table(
        {
            **{name: pa.nulls(len(rows), pa.string()) for name in header},
            "_row": pa.array(rows, pa.int64()),
            "_malformed": pa.array([ragged[i] for i in rows], pa.string()),
        }
    )
    return pa.concat_tables([good, table]).sort_by("_row")


def _not_csv(path: Path, exc: Exception, fix: str) -> DataError:
    first = re.sub(r"(got \d+)\b.*", r"\1", str(exc).splitlines()[0])
    return DataError(f"cannot read as CSV: {first}", file=path, fix=fix)


def _unreadable_to_end(path: Path, exc: Exception) -> DataError:
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return DataError(
        f"cannot read the file to its end ({exc.__class__.__name__}: {detail}).",
        file=path,
        fix="copy or decompress the file again (a .csv.gz may be truncated).",
    )


def csv_header(path: Path) -> list[str]:
    """The header's column names, read from the first line only: a bad byte further down is
    that row's problem, not the header's."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline().decode("utf-8-sig")
        return next(csv.reader([first.rstrip("\r\n")]), [])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"cannot read the CSV header ({exc.__class__.__name__}).",
            file=path,
            where="row 1 (the header)",
            fix="save the file as UTF-8 CSV text; a .csv.gz may be truncated (copy it again).",
        ) from exc


def _numbers(n: int) -> pa.Array:
    """Row numbers 1..n (numpy: a Python range of tens of millions takes seconds)."""
    return pa.array(np.arange(1, n + 1, dtype=np.int64))
