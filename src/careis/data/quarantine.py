"""Quarantine: where rejected rows go, with the reason, so that bad input never vanishes.

Why a quarantine rather than an error: one bad row in twenty million must not stop a
commissioner's monthly run, but it must not disappear either. Every rejected row is kept with
the file and row it came from, one specific reason, and its values as text, so the data
supplier can be sent exactly what to fix. Counts always reconcile: rows read = rows accepted
+ rows quarantined, for every table.

Layout of a quarantine table: `_file`, `_row`, `_reason`, `_check` (the value-free name of the
rule, for counting), then the table's canonical columns as text: each value as careis read it
(trimmed, dates as YYYY-MM-DD), except that a value which could not be read at all is shown
exactly as it was in the file. Where the source carried NHS numbers, `patient_id` holds the
pseudonym (null if the number was invalid) and `nhs_number` is masked (`943*******`): the
number itself is never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from rich.table import Table as RichTable

from careis.csvio import write_records
from careis.data.validate import Checked, Prepared
from careis.engine import Engine

SUMMARY_FILE = "summary.csv"
SUMMARY_HEADER = ("table", "file", "read", "accepted", "quarantined", "reason", "count")


@dataclass(frozen=True)
class TableSummary:
    """What happened to one table on load."""

    table: str
    file: str
    read: int
    accepted: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)  # rule label -> rows, most first
    ignored_columns: tuple[str, ...] = ()
    missing_optional_columns: tuple[str, ...] = ()


def quarantine_rows(checked: Checked, prep: Prepared, output: ir.Table) -> ir.Table:
    """The rejected rows in the quarantine layout, from the materialised `checked.output()`.

    Values are shown as careis read them (text trimmed, dates as YYYY-MM-DD, numbers in
    canonical form); a value that could not be read at all is shown exactly as it was in
    the file. (Keeping every raw value beside its typed twin would double the memory and
    write time of a large table for the sake of a few rejected rows.)
    """
    rows = output.filter(output._c.notnull())
    cols: dict[str, Any] = {
        "_file": rows._file if prep.multi_file else ibis.literal(prep.file, "string"),
        "_row": rows._row,
        "_reason": rows._reason,
        "_check": checked.label(rows._c),
    }
    for col in prep.spec.columns:
        typed = rows[col.name] if col.dtype == "string" else rows[col.name].cast("string")
        if col.name == "patient_id" and prep.match.nhs_column:
            cols[col.name] = rows.patient_id
        elif f"_q_{col.name}" in rows.columns:
            cols[col.name] = rows[f"_q_{col.name}"].coalesce(typed)
        else:
            cols[col.name] = typed
    if prep.match.nhs_column:
        cols["nhs_number"] = rows._q_nhs_number
    return rows.select(**cols).order_by(["_file", "_row"])


def accepted_rows(prep: Prepared, output: ir.Table) -> ir.Table:
    """The accepted rows: exactly the schema columns in schema order, then derived ones."""
    names = [c.name for c in prep.spec.columns] + [c.name for c in prep.spec.derived]
    return output.filter(output._c.isnull()).select(*names)


def write_quarantine(
    engine: Engine,
    quarantine: dict[str, ir.Table],
    summary: Sequence[TableSummary],
    out_dir: str | Path,
) -> list[Path]:
    """Write `quarantine/<table>.parquet` for every table and `quarantine/summary.csv`.

    Every table gets a file, empty ones included, so a downstream job can tell "nothing was
    rejected" from "the step did not run". Returns the paths written.
    """
    folder = Path(out_dir) / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        engine.write_parquet(q, folder / f"{name}.parquet") for name, q in quarantine.items()
    ]
    written.append(write_records(summary_rows(summary), SUMMARY_HEADER, folder / SUMMARY_FILE))
    return written


def summary_rows(summary: Iterable[TableSummary]) -> list[tuple[str | int, ...]]:
    """The summary in long form: one row per (table, reason); tables with no rejections get
    one row with an empty reason and count 0."""
    rows: list[tuple[str | int, ...]] = []
    for s in summary:
        head = (s.table, s.file, s.read, s.accepted, s.quarantined)
        if not s.reasons:
            rows.append((*head, "", 0))
        rows.extend((*head, reason, n) for reason, n in s.reasons.items())
    return rows


def render_summary(summary: Sequence[TableSummary], *, top: int = 3) -> RichTable:
    """A rich table for the terminal: one line per table, the commonest reasons beside it."""
    table = RichTable(title="Data loaded", title_justify="left")
    table.add_column("table")
    table.add_column("file")
    table.add_column("read", justify="right")
    table.add_column("accepted", justify="right")
    table.add_column("quarantined", justify="right")
    table.add_column("commonest reasons")
    for s in summary:
        reasons = [f"{n:,} {label}" for label, n in list(s.reasons.items())[:top]]
        if len(s.reasons) > top:
            others = sum(list(s.reasons.values())[top:])
            reasons.append(f"{others:,} other ({len(s.reasons) - top} more rules)")
        if s.ignored_columns:
            reasons.append(f"[dim]ignored columns: {', '.join(s.ignored_columns)}[/dim]")
        style = "yellow" if s.quarantined else ""
        table.add_row(
            s.table,
            s.file,
            f"{s.read:,}",
            f"{s.accepted:,}",
            f"[{style}]{s.quarantined:,}[/{style}]" if style else f"{s.quarantined:,}",
            "\n".join(reasons),
        )
    return table


def format_summary(summary: Sequence[TableSummary]) -> str:
    """The summary as plain text (logs, `str(result)`)."""
    lines = []
    for s in summary:
        line = (
            f"{s.table} ({s.file}): read {s.read:,}, accepted {s.accepted:,}, "
            f"quarantined {s.quarantined:,}"
        )
        if s.reasons:
            line += " — " + "; ".join(f"{label}: {n:,}" for label, n in s.reasons.items())
        lines.append(line)
    return "\n".join(lines)
