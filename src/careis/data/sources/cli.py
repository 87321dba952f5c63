"""`careis ingest synthea|fhir|omop|hes`: real-format data in, canonical tables out.

Each command writes the canonical tables (Parquet) to --out, plus `_ingest/` beside them:
report.html and report.csv (read = mapped + set aside for every source file and record
type), set_aside.csv (every record not mapped, with file, line and id, and why) and
mappings_used.csv (every mapping in force). Then `careis validate OUT` and `careis run` read
OUT like any canonical dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

app = typer.Typer(
    name="ingest",
    help="Read Synthea, FHIR R4, OMOP CDM v5.4 or HES/SUS extracts into careis's tables.",
    no_args_is_help=True,
)
console = Console()

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for the canonical tables.")]
MappingOpt = Annotated[
    list[Path] | None,
    typer.Option("--mapping", help="CSV mapping,source_value,target overriding the defaults "
                 "(repeatable; see docs/data-sources.md)."),
]  # fmt: skip


def _finish(run: object, out: Path) -> None:
    from careis.data.sources.ingest import REPORT_DIR, IngestRun, write

    assert isinstance(run, IngestRun)
    rows = write(run, out)
    table = RichTable("source file", "record type", "read", "mapped", "set aside",
                      title=f"careis ingest {run.fmt}", title_justify="left")  # fmt: skip
    for c in run.counts:
        table.add_row(c.file, c.record_type, f"{c.read:,}", f"{c.mapped:,}", f"{c.set_aside:,}")
    console.print(table)
    console.print("Canonical rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    console.print(f"Report: [bold]{out / REPORT_DIR / 'report.html'}[/bold]")


def _options(mapping: list[Path] | None) -> object:
    from careis.data.sources.ingest import IngestOptions

    return IngestOptions(mapping=list(mapping or []))


@app.command()
def omop(
    folder: Annotated[Path, typer.Argument(help="Folder of OMOP CDM v5.4 tables (CSV/Parquet).")],
    out: OutOpt,
    mapping: MappingOpt = None,
) -> None:
    """OMOP CDM v5.4: person, observation_period, death, visits and clinical tables."""
    from careis.data.sources import omop as adapter

    _finish(adapter.ingest(folder, _options(mapping)), out)  # type: ignore[arg-type]


@app.command()
def fhir(
    folder: Annotated[Path, typer.Argument(help="Folder of FHIR R4 *.ndjson (Bulk) or *.json.")],
    out: OutOpt,
    mapping: MappingOpt = None,
) -> None:
    """FHIR R4 (US Core or UK Core): Patient, Organization, Encounter and clinical resources."""
    from careis.data.sources import fhir as adapter

    _finish(adapter.ingest(folder, _options(mapping)), out)  # type: ignore[arg-type]


@app.command()
def synthea(
    folder: Annotated[Path, typer.Argument(help="Synthea CSV output folder (patients.csv, ...).")],
    out: OutOpt,
    mapping: MappingOpt = None,
) -> None:
    """Synthea CSV export (v3.0 layout or later): patients, encounters, clinical files."""
    from careis.data.sources import synthea as adapter

    _finish(adapter.ingest(folder, _options(mapping)), out)  # type: ignore[arg-type]


@app.command()
def hes(
    out: OutOpt,
    apc: Annotated[
        Path | None, typer.Option("--apc", help="HES APC episodes CSV (one row per episode).")
    ] = None,
    ae: Annotated[
        Path | None, typer.Option("--ae", help="HES A&E (or ECDS-like) attendances CSV.")
    ] = None,
    gp: Annotated[
        Path | None,
        typer.Option(
            "--gp", help="GP extract folder: patients.csv, registrations.csv, events.csv."
        ),
    ] = None,
    mapping: MappingOpt = None,
) -> None:
    """HES/SUS-layout APC episodes (built into spells) and A&E attendances, plus a GP extract."""
    from careis.data.sources import hes as adapter

    _finish(adapter.ingest(apc, ae, gp, _options(mapping)), out)  # type: ignore[arg-type]
