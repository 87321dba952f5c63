"""Load a dataset: read every canonical table, validate it, quarantine what fails.

Why one entry point: every later stage (patient facts, measures, payments) may assume the
tables it gets are clean — right types, known codes, plausible dates, no orphans — because
this function is the only way data comes in. What it rejects is kept, with reasons, in the
quarantine (see `careis.data.quarantine`), and the counts reconcile for every table.

Tables are validated in `schema.LOAD_ORDER`, each against the accepted rows of the tables
before it (registrations need accepted patients and practices, events need accepted
registrations). All the work is done by the engine through Ibis, so the same code runs on
DuckDB and on Spark. Each table is read, checked and joined once: the engine materialises
one result per table (typed columns plus the index and text of the first failed check), and
both the accepted table and the quarantine are views over it (`_c IS NULL` / `IS NOT NULL`).
Only those results are cached, plus two small look-ups (patients with their registration
span, organisations) and the gaps between registrations.

Usage::

    with Engine.duckdb() as engine:
        result = load_dataset(engine, Path("data/synthetic"), extract_date=date(2024, 3, 31))
        rich.print(result)                      # the summary table
        result.write_quarantine(engine, Path("out"))
        patients = result.tables["patients"]    # an Ibis table, ready for queries
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from rich.table import Table as RichTable

from careis.data import pseudonym
from careis.data.quarantine import (
    TableSummary,
    accepted_rows,
    format_summary,
    quarantine_rows,
    render_summary,
    write_quarantine,
)
from careis.data.schema import LOAD_ORDER, TABLES, TableSpec
from careis.data.sources.canonical import discover, expected_names, near_misses
from careis.data.validate import (
    FAR_FUTURE,
    Checked,
    ColumnMatch,
    Context,
    Lookup,
    Prepared,
    build_lookup,
    check_table,
    match_columns,
    prepare,
    registration_gaps,
)
from careis.engine import Engine
from careis.errors import DataError

__all__ = ["LoadOptions", "LoadResult", "Source", "TableSummary", "load_dataset", "render_summary"]

# A table's source: a file or Parquet folder, or an Arrow table already in memory (e.g.
# organisations and memberships built from the shipped reference data).
Source: TypeAlias = Path | str | pa.Table


class LoadOptions(BaseModel):
    """How strictly to load. Defaults suit GP and hospital extracts as they usually come."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history_before_registration: Literal["keep", "quarantine"] = Field(
        default="keep",
        description=(
            "Events dated before the patient's first registration: 'keep' them (history "
            "carried over from earlier practices, normal in GP records) or 'quarantine' them."
        ),
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description=(
            f"Secret key for pseudonymising NHS numbers (default: ${pseudonym.ENV_KEY}). "
            "Needed only when a source has nhs_number instead of patient_id."
        ),
    )


@dataclass
class LoadResult:
    """Validated tables, their quarantine and what happened to each."""

    tables: dict[str, ir.Table]  # canonical columns (+ derived) in schema order, over a cache
    quarantine: dict[str, ir.Table]  # rejected rows: _file, _row, _reason, _check, raw columns
    summary: list[TableSummary]
    extract_date: date

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.summary)

    def write_quarantine(self, engine: Engine, out_dir: str | Path) -> list[Path]:
        """Write quarantine/<table>.parquet and quarantine/summary.csv under `out_dir`."""
        return write_quarantine(engine, self.quarantine, self.summary, out_dir)

    def __rich__(self) -> RichTable:
        return render_summary(self.summary)

    def __str__(self) -> str:
        return format_summary(self.summary)


@dataclass(frozen=True)
class _Opened:
    raw: ir.Table
    display: str
    file_column: ir.StringValue | None
    multi_file: bool
    match: ColumnMatch
    text_source: bool  # CSV: every value is text and is trimmed


def load_dataset(
    engine: Engine,
    source: str | Path | Mapping[str, Source],
    *,
    extract_date: date | None = None,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Read, validate and cache every canonical table.

    `source` is a dataset folder in the canonical layout (see
    `careis.data.sources.canonical`) or a mapping from table name to a file, Parquet folder
    or in-memory Arrow table. `extract_date` (default: today) is the date the data were
    extracted: anything dated after it is impossible and quarantined.

    Raises DataError (one line: file, problem, fix) when a table is missing or a file cannot
    be used at all (unreadable, empty, missing required columns), and ConfigError when the
    data carry NHS numbers but no pseudonym key is set. Bad rows never raise: they go to the
    quarantine.
    """
    options = options or LoadOptions()
    extract = extract_date or date.today()
    sources, folder = _resolve(source)
    opened = {name: _open(engine, name, sources[name], folder) for name in LOAD_ORDER}
    nhs_files = [o.display for o in opened.values() if o.match.nhs_column]
    _refuse_nhs_numbers_as_ids(engine, opened["patients"])
    key = None
    if nhs_files:
        secret = options.pseudonym_key.get_secret_value() if options.pseudonym_key else None
        key = pseudonym.require_key(secret, nhs_files)

    tables: dict[str, ir.Table] = {}
    quarantine: dict[str, ir.Table] = {}
    summary: list[TableSummary] = []
    lookups: dict[str, Lookup] = {}
    gaps: ir.Table | None = None
    gaps_empty = False
    for name in LOAD_ORDER:
        spec = TABLES[name]
        o = opened[name]
        prep = prepare(
            o.raw,
            spec,
            o.match,
            file=o.display,
            file_column=o.file_column,
            multi_file=o.multi_file,
            text_source=o.text_source,
            pseudonym_key=key,
        )
        ctx = Context(
            extract_date=extract,
            history_before_registration=options.history_before_registration,
            lookups=lookups,
            gaps=gaps,
            gaps_empty=gaps_empty,
            window_shared_rows_only=engine.shares_repeated_subplans,
        )
        checked = check_table(prep, ctx)
        output = engine.cache(checked.output(prep))
        rejected = quarantine_rows(checked, prep, output)  # a view: the output is cached
        accepted = accepted_rows(prep, output)
        tables[name], quarantine[name] = accepted, rejected
        summary.append(_summarise(engine, prep, checked, output))
        engine.release(o.raw)
        parent_file = None if prep.multi_file else prep.file
        if name == "organisations":
            lookup = build_lookup(name, accepted, rejected, parent_file=parent_file)
            lookups[name] = Lookup(engine.cache(lookup.table), lookup.file)
        elif name == "patients":
            none = ibis.null("date")
            spans = {"first_registration": none, "last_registration_end": none}
            lookups[name] = build_lookup(name, accepted, rejected, spans, parent_file=parent_file)
        elif name == "registrations":
            patients = opened["patients"]
            lookup = _patients_with_registration_span(
                tables["patients"],
                quarantine["patients"],
                accepted,
                None if patients.multi_file else patients.display,
            )
            lookups["patients"] = Lookup(engine.cache(lookup.table), lookup.file)
            gaps = engine.cache(registration_gaps(accepted))
            gaps_empty = engine.count(gaps) == 0
    return LoadResult(tables, quarantine, summary, extract)


# --------------------------------------------------------------------------- helpers
def _resolve(
    source: str | Path | Mapping[str, Source],
) -> tuple[dict[str, Source], Path | None]:
    """Turn the caller's source into {table: source}; raise DataError if a table is missing."""
    folder: Path | None = None
    unrecognised: tuple[str, ...] = ()
    if isinstance(source, str | Path):
        found = discover(source)
        folder, unrecognised = found.folder, found.unrecognised
        sources: dict[str, Source] = dict(found.files)
    else:
        sources = dict(source)
        unknown = [name for name in sources if name not in TABLES]
        if unknown:
            raise DataError(
                f"unknown table name{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}.",
                fix=f"use the canonical names: {', '.join(LOAD_ORDER)}.",
            )
    missing = [name for name in LOAD_ORDER if name not in sources]
    if missing:
        hints = [m for name in missing for m in near_misses(name, unrecognised)]
        fix = "; ".join(f"add {expected_names(name)}" for name in missing)
        if hints:
            fix += f" (names must match exactly: found {', '.join(hints)})"
        if any(name in ("organisations", "memberships") for name in missing):
            fix += "; organisations and memberships may instead be passed in the source mapping"
        raise DataError(
            f"missing table{'s' if len(missing) > 1 else ''} {', '.join(missing)}.",
            file=folder,
            fix=fix + ".",
        )
    return sources, folder


def _refuse_nhs_numbers_as_ids(engine: Engine, patients: _Opened) -> None:
    """Stop when the patients' `patient_id` holds NHS numbers (one scan, in the engine).

    Why the patients table only: every other table's patient_id must match it (rows that do
    not are quarantined), so NHS numbers used as ids show here first; scanning the events as
    well would cost a pass over the largest table on every run."""
    source = patients.match.found.get("patient_id")
    if source is None or patients.match.nhs_column:
        return
    found = engine.con.execute(pseudonym.count_nhs_like(patients.raw[source]))
    if int(found or 0) == 0:
        return
    raise DataError(
        f"{int(found):,} patient_id value(s) are NHS numbers (10 digits with a valid modulus 11 "
        "check digit); careis would publish them in registers and flag files.",
        file=patients.display,
        where=f"column '{source}'",
        fix="put NHS numbers in a column named nhs_number (careis pseudonymises them with "
        f"{pseudonym.ENV_KEY}) or replace them with the extract's own pseudonyms.",
    )


def _open(engine: Engine, name: str, source: Source, folder: Path | None) -> _Opened:
    """Open one source lazily and match its columns (raises DataError if unusable)."""
    spec = TABLES[name]
    if isinstance(source, pa.Table):
        # An all-null column built in Python has Arrow type null, which backends refuse.
        fields = [
            pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in source.schema
        ]
        data = source.cast(pa.schema(fields))
        data = data.append_column("_row", pa.array(range(1, data.num_rows + 1), pa.int64()))
        display = f"<{name} in memory>"
        raw = engine.from_arrow(data)
        match = match_columns(raw.columns, spec, display)
        _refuse_nested(raw, spec, match, display)
        return _Opened(raw, display, None, False, match, text_source=False)
    path = Path(source)
    display = _display(path, folder)
    raw = engine.read_raw(path)
    file_column = None
    multi_file = path.is_dir()
    if multi_file:
        file_column = raw._file.replace(str(path.parent) + os.sep, "")
    text_source = path.is_file() and not path.name.lower().endswith(".parquet")
    match = match_columns(raw.columns, spec, str(path))
    _refuse_nested(raw, spec, match, str(path))
    return _Opened(raw, display, file_column, multi_file, match, text_source)


#: How each canonical type is named in a message.
_EXPECTED = {
    "string": "text (string)",
    "date": "a date",
    "int64": "a whole number (int64)",
    "float64": "a number (float64)",
    "boolean": "true or false (boolean)",
}


def _refuse_nested(raw: ir.Table, spec: TableSpec, match: ColumnMatch, file: str) -> None:
    """Stop when a column careis reads holds structs, lists or maps.

    Why refuse rather than read: cast to text, a struct code becomes "{'c': '123'}", which
    looks like a code and matches nothing, so every row would pass into the measures as an
    unknown code. Which field of the struct is meant is the supplier's decision."""
    used = dict(match.found)
    if match.nhs_column:
        used["nhs_number"] = match.nhs_column
    for name, source in used.items():
        found = raw[source].type()
        if not found.is_nested():
            continue
        dtype = spec.column(name).dtype if name != "nhs_number" else "string"
        raise DataError(
            f"holds nested values ({found}) where careis expects {_EXPECTED[dtype]}.",
            file=_nested_file(Path(file), source),
            where=f"column '{source}'",
            fix=f"write {source} as plain {dtype} values (take the one field or element meant).",
        )


def _nested_file(path: Path, column: str) -> Path:
    """The first Parquet part of a folder whose `column` is nested (the folder otherwise)."""
    if not path.is_dir():
        return path
    for part in sorted(path.glob("*.parquet")):
        schema = pq.read_schema(part)
        index = schema.get_field_index(column)
        if index >= 0 and pa.types.is_nested(schema.field(index).type):
            return part
    return path


def _display(path: Path, folder: Path | None) -> str:
    name = path.name + ("/" if path.is_dir() else "")
    if folder is None:
        return name
    try:
        return str(path.relative_to(folder)) + ("/" if path.is_dir() else "")
    except ValueError:
        return name


def _patients_with_registration_span(
    patients: ir.Table, rejected: ir.Table, registrations: ir.Table, parent_file: str | None
) -> Lookup:
    r = registrations
    span = r.group_by("patient_id").aggregate(
        _first=r.start_date.min(), _last=r.end_date.fill_null(FAR_FUTURE).max()
    )
    joined = patients.left_join(span, patients.patient_id == span.patient_id)
    joined = joined.select(
        patient_id=patients.patient_id,
        birth_month=patients.birth_month,
        death_date=patients.death_date,
        first_registration=span._first,
        last_registration_end=span._last,
    )
    return build_lookup("patients", joined, rejected, parent_file=parent_file)


def _summarise(engine: Engine, prep: Prepared, checked: Checked, output: ir.Table) -> TableSummary:
    """Counts for one table: rows read (from the source itself) against rows accepted and
    quarantined (one grouped count over the materialised output)."""
    read = engine.count(prep.table)
    counts = engine.to_arrow(output.group_by("_c").aggregate(_n=output.count()))
    by_check = dict(zip(counts["_c"].to_pylist(), counts["_n"].to_pylist(), strict=True))
    n_accepted = int(by_check.pop(None, 0))
    n_rejected = int(sum(by_check.values()))
    if read != n_accepted + n_rejected:  # a bug in careis, not in the data
        raise RuntimeError(
            f"{prep.file}: read {read} rows but accepted {n_accepted} + quarantined "
            f"{n_rejected}; please report this"
        )
    reasons: dict[str, int] = {}
    for c, n in by_check.items():
        label = checked.checks[int(c)].label
        reasons[label] = reasons.get(label, 0) + int(n)
    return TableSummary(
        table=prep.spec.name,
        file=prep.file,
        read=read,
        accepted=n_accepted,
        quarantined=n_rejected,
        reasons=dict(sorted(reasons.items(), key=lambda p: (-p[1], p[0]))),
        ignored_columns=prep.match.ignored,
        missing_optional_columns=prep.match.missing_optional,
    )
