"""The canonical layout: a folder holding one source per canonical table, named after it.

Why a fixed layout: the generator writes it, analysts can produce it from any extract with a
few lines of SQL, and a person can see at a glance which tables a dataset holds. Each table
may be `<table>.parquet`, `<table>.csv`, `<table>.csv.gz` or a folder `<table>/` of Parquet
parts (how Spark and the generator's streaming writer emit big tables). Names match exactly:
`Patients.csv` is not `patients.csv`, because a silent near-match hides typos in larger
pipelines; such files are reported as unrecognised so the error can suggest the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from careis.data.schema import TABLES
from careis.errors import DataError

SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")


@dataclass(frozen=True)
class DatasetFiles:
    """What was found in a dataset folder."""

    folder: Path
    files: dict[str, Path]  # canonical table name -> file or folder
    unrecognised: tuple[str, ...]  # entries that are not a canonical table (names only)


def expected_names(table: str) -> str:
    """The ways a table may be supplied, for error messages."""
    return f"{table}.parquet, {table}.csv, {table}.csv.gz or a folder {table}/ of Parquet files"


def _table_of(entry: Path) -> str | None:
    if entry.is_dir():
        return entry.name if entry.name in TABLES else None
    for suffix in SUFFIXES:
        if entry.name.endswith(suffix):
            stem = entry.name[: -len(suffix)]
            return stem if stem in TABLES else None
    return None


def discover(folder: str | Path) -> DatasetFiles:
    """Find the canonical tables in `folder` (absent tables are simply not in `files`).

    Raises DataError when the folder does not exist or when one table is supplied twice
    (e.g. `patients.csv` and `patients.parquet`), since careis cannot guess which is meant.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            "no such dataset folder.",
            file=folder,
            fix="give the folder holding patients.parquet (or .csv), registrations, events, ...",
        )
    found: dict[str, list[Path]] = {}
    unrecognised: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue  # hidden files, _SUCCESS markers and the like
        table = _table_of(entry)
        if table is None:
            unrecognised.append(entry.name + ("/" if entry.is_dir() else ""))
        else:
            found.setdefault(table, []).append(entry)
    for table, entries in found.items():
        if len(entries) > 1:
            names = " and ".join(e.name for e in entries)
            raise DataError(
                f"table {table} is supplied twice ({names}).",
                file=folder,
                fix=f"keep one of {names} and move the other out of the folder.",
            )
    return DatasetFiles(
        folder=folder,
        files={table: entries[0] for table, entries in found.items()},
        unrecognised=tuple(unrecognised),
    )


def near_misses(table: str, unrecognised: tuple[str, ...]) -> list[str]:
    """Unrecognised entries that look like `table` apart from case or spacing (for hints)."""
    out = []
    for name in unrecognised:
        stem = name.rstrip("/")
        for suffix in SUFFIXES:
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        if stem.strip().lower().replace(" ", "_") == table:
            out.append(name)
    return out
