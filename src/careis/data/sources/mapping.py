"""Every code and value mapping an adapter applies, as data the user can read and override.

Why data, not code: a commissioner must be able to see (and a data manager change) how a
source's "inpatient" became a HES admission method or a vocabulary became a careis code
system, without reading Python. The shipped defaults are `mappings/default.csv`; `careis
ingest ... --mapping FILE` adds rows or replaces rows with the same (mapping, source_value).
The ingest report lists the files applied, and mappings_used.csv every row in force with its
origin (default or the file that set it).
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import duckdb

from careis.errors import DataError

COLUMNS = ("mapping", "source_value", "target")
MAPPINGS = (
    "sex", "code_system", "synthea_file_system", "encounter_class", "department_type",
    "admission_method", "primary_diagnosis", "practice_code",
)  # fmt: skip


def default_file() -> Path:
    return Path(str(resources.files("careis.data.sources") / "mappings" / "default.csv"))


def _rows(path: Path, origin: str) -> list[tuple[str, str, str, str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(
                    f"mapping file lacks column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}.",
                    file=path,
                    fix="give a CSV with header mapping,source_value,target[,note].",
                )
            rows = []
            for line, row in enumerate(reader, start=2):
                name = (row["mapping"] or "").strip()
                if name not in MAPPINGS:
                    raise DataError(
                        f"unknown mapping '{name}'.",
                        file=path,
                        where=f"line {line}",
                        fix=f"use one of {', '.join(MAPPINGS)}.",
                    )
                rows.append(
                    (
                        name,
                        (row["source_value"] or "").strip(),
                        (row["target"] or "").strip(),
                        (row.get("note") or "").strip(),
                        origin,
                    )
                )
            return rows
    except FileNotFoundError:
        raise DataError("mapping file not found.", file=path, fix="check the path.") from None
    except UnicodeDecodeError:
        raise DataError("mapping file is not UTF-8.", file=path, fix="save it as UTF-8.") from None


class Mappings:
    """The mappings in force, held as the DuckDB table `mapping` for joins."""

    def __init__(self, con: duckdb.DuckDBPyConnection, overrides: list[Path] | None = None):
        self.files = [default_file(), *(overrides or [])]
        merged: dict[tuple[str, str], tuple[str, str, str, str, str]] = {}
        for i, path in enumerate(self.files):
            for row in _rows(path, "default" if i == 0 else str(path)):
                merged[(row[0], row[1])] = row
        self.rows = list(merged.values())
        con.execute(
            "CREATE OR REPLACE TABLE mapping (mapping VARCHAR, source_value VARCHAR, "
            "target VARCHAR, note VARCHAR, origin VARCHAR)"
        )
        if self.rows:
            con.executemany("INSERT INTO mapping VALUES (?, ?, ?, ?, ?)", self.rows)

    def value(self, mapping: str, source_value: str) -> str | None:
        """One mapped value (for defaults and single settings)."""
        for row in self.rows:
            if row[0] == mapping and row[1] == source_value:
                return row[2]
        return None

    def sql(self, mapping: str) -> str:
        """A sub-query (source_value, target) for joining one mapping."""
        return f"(SELECT source_value, target FROM mapping WHERE mapping = '{mapping}')"
