"""Reading source files into DuckDB, streamed, with the line each record came from.

Why not DuckDB's own CSV reader: it cannot report the row a record came from (careis must
name the file and line of every record it sets aside), and its JSON reader drops or refuses
a whole file for one bad line. So files are streamed with Arrow in blocks (memory stays
bounded by the block size), every value read as text, a line number attached per block, and
DuckDB does everything else in SQL. There is no Python loop over rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from careis.errors import DataError

BLOCK_SIZE = 8 << 20  # bytes per Arrow block: bounds memory whatever the file size
_NOT_IN_JSON = "\x01"  # a raw control character cannot occur in valid JSON text


def first_bad_utf8_line(path: Path) -> int | None:
    """The first line that is not UTF-8 (only called once reading has failed)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _not_utf8(path: Path) -> DataError:
    line = first_bad_utf8_line(path)
    return DataError(
        "the file is not UTF-8 text.",
        file=path,
        where=f"line {line}" if line else None,
        fix="re-export the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).",
    )


def _numbered(reader: pacsv.CSVStreamingReader, first: int, name: str) -> Iterator[pa.RecordBatch]:
    number = first
    for batch in reader:
        lines = pa.array(range(number, number + batch.num_rows), pa.int64())
        number += batch.num_rows
        yield pa.RecordBatch.from_arrays([*batch.columns, lines], [*batch.schema.names, name])


def _load(
    con: duckdb.DuckDBPyConnection,
    table: str,
    reader: pacsv.CSVStreamingReader,
    first: int,
    name: str,
    path: Path,
) -> None:
    schema = reader.schema.append(pa.field(name, pa.int64()))
    stream = pa.RecordBatchReader.from_batches(schema, _numbered(reader, first, name))
    view = f"_stream_{table}"
    con.register(view, stream)
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM "{view}"')
    except (pa.ArrowInvalid, duckdb.Error) as exc:
        if "UTF8" in str(exc).upper().replace("-", ""):
            raise _not_utf8(path) from None
        raise DataError(
            f"the file cannot be read ({exc}).",
            file=path,
            fix="check that it is the format the command expects.",
        ) from None
    finally:
        con.unregister(view)


def header(path: Path) -> list[str]:
    """The column names of a CSV file (DataError when the file is empty or not UTF-8)."""
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise DataError(
            "the file is empty (no header line).",
            file=path,
            fix="export the table with its header row.",
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    return next(csv.reader([text]))


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """Stream a CSV file (header row) into `table`, every column text, plus `_line`.

    `_line` is the line of the file, counting the header as line 1 (exact unless a quoted
    value spans lines). Returns the file's column names.
    """
    names = header(path)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc).upper().replace("-", ""):
            raise _not_utf8(path) from None
        raise DataError(
            f"the file cannot be read as CSV ({exc}).",
            file=path,
            fix="check the delimiter (comma) and quoting.",
        ) from None
    _load(con, table, reader, 2, "_line", path)
    return names


def read_lines(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    """Stream a text file into `table` as one column `text` per line, plus `_line` (from 1).

    Used for NDJSON: each line is then parsed by DuckDB's JSON functions, so a line that is
    not JSON is found and set aside with its number instead of failing the file.
    """
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["text"], block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(
                delimiter=_NOT_IN_JSON,
                quote_char=False,
                escape_char=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(column_types={"text": pa.string()}),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc).upper().replace("-", ""):
            raise _not_utf8(path) from None
        raise DataError(
            f"the file cannot be read as lines of text ({exc}).",
            file=path,
            fix="give NDJSON: one JSON resource per line, UTF-8.",
        ) from None
    _load(con, table, reader, 1, "_line", path)
