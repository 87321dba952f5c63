"""Streaming Parquet output in the canonical schema, byte-for-byte repeatable.

Why a small writer class: practices arrive one at a time; their rows are buffered per table
and written as row groups of a fixed size, so memory stays bounded however large the area.
Files are written into a hidden staging folder and moved into place only when every table is
complete, so an interrupted run never leaves a half-written dataset that looks finished.
Compression is zstd at a fixed level and no wall-clock metadata is written, so the same
config gives identical bytes.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from careis.data import schema

ROW_GROUP_ROWS = 1_000_000
_ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The canonical columns of `table` (derived columns excluded) as an Arrow schema."""
    spec = schema.spec(table)
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.dtype], nullable=c.nullable) for c in spec.columns]
    )


def write_table(table: pa.Table, path: Path) -> None:
    """Write a small table in one go (organisations, memberships, truth)."""
    pq.write_table(table, path, compression="zstd", compression_level=3)


class TableWriter:
    """Buffers record batches for one canonical table and writes fixed-size row groups."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.schema = arrow_schema(name)
        self.writer = pq.ParquetWriter(
            path, self.schema, compression="zstd", compression_level=3, write_statistics=True
        )
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self.buffer.append(table)
        self.buffered += table.num_rows
        if self.buffered >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if not self.buffer:
            return
        whole = pa.concat_tables(self.buffer)
        cut = whole.num_rows if final else (whole.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        if cut:
            self.writer.write_table(whole.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
            self.rows += cut
        rest = whole.slice(cut)
        self.buffer = [rest] if rest.num_rows else []
        self.buffered = rest.num_rows

    def close(self) -> None:
        self._flush(final=True)
        if self.rows == 0:  # an empty table still gets its schema
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()


class DatasetWriter:
    """All streamed tables of one run, staged in `<out>/.careis-synth-staging/`."""

    STREAMED = ("patients", "registrations", "events", "admissions", "ae_attendances")

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.staging = out_dir / ".careis-synth-staging"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        (self.staging / "truth").mkdir(parents=True)
        self.writers = {n: TableWriter(n, self.staging / f"{n}.parquet") for n in self.STREAMED}

    def add(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.writers[name].add(table)

    def write_whole(self, relative: str, table: pa.Table, canonical: str | None = None) -> None:
        if canonical is not None:
            table = table.select(arrow_schema(canonical).names).cast(arrow_schema(canonical))
        write_table(table, self.staging / relative)

    def write_text(self, relative: str, text: str) -> None:
        (self.staging / relative).write_text(text, encoding="utf-8")

    def rows(self) -> dict[str, int]:
        """Rows of each streamed table so far (written and still buffered)."""
        return {n: w.rows + w.buffered for n, w in self.writers.items()}

    def commit(self) -> list[Path]:
        """Close every file and move the staged outputs into the output folder."""
        for writer in self.writers.values():
            writer.close()
        moved: list[Path] = []
        for path in sorted(self.staging.rglob("*")):
            if path.is_file():
                target = self.out_dir / path.relative_to(self.staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
                moved.append(target)
        shutil.rmtree(self.staging)
        return moved

    def abort(self) -> None:
        for writer in self.writers.values():
            with contextlib.suppress(Exception):  # already broken; staging is removed anyway
                writer.writer.close()
        shutil.rmtree(self.staging, ignore_errors=True)
