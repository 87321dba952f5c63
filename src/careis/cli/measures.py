"""`careis measures run CONFIG | list | check`: the measures stage, and the measure library.

Why one group: running the stage and reading the library were `careis measure` and
`careis measures`, one letter apart; now both are under `measures`, named for what they do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from careis.cli._common import ConfigArg, OutDirOpt, console, load_config, path_text, run_stages

if TYPE_CHECKING:
    from careis.measures.definitions import MeasureSet

app = typer.Typer(
    help="Measures: run the measures stage; list the library; check a measure YAML file.",
    no_args_is_help=True,
)

FilesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="FILE", exists=True,
        help="Measure YAML files or folders (default: the shipped library).",
    ),
]  # fmt: skip


@app.command("run")
def run_cmd(config: ConfigArg, out: OutDirOpt = None) -> None:
    """Compute the measures only: validate the data, draw up the register, write measures/."""
    run_stages(load_config(config, {"output.dir": path_text(out)}), measures_only=True)


@app.command("list")
def list_cmd(files: FilesArg = None) -> None:
    """List measures: id, kind, periods, unit and name."""
    from careis.measures.definitions import load_measures, shipped_library

    mset = load_measures(files or [shipped_library()])
    console.print(_measure_table(mset, f"{len(mset.measures)} measures"))


@app.command("check")
def check_cmd(
    files: FilesArg = None,
    codelists: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="Your code list folder (searched before the shipped lists).",
        ),
    ] = None,
) -> None:
    """Validate measure files without running: fields, code lists, cohorts, references, cycles."""
    from careis.codelists import CodelistLibrary
    from careis.measures.definitions import load_measures, shipped_library
    from careis.pipeline import COHORTS

    mset = load_measures(files or [shipped_library()])
    mset.check(codelist_names=CodelistLibrary(codelists).names(), cohorts=COHORTS)
    console.print(_measure_table(mset, f"OK: {len(mset.measures)} measures are valid"))


def _measure_table(mset: MeasureSet, title: str) -> RichTable:
    from careis.measures.definitions import period_keys, unit_of

    table = RichTable(title=title, title_justify="left")
    table.add_column("id", no_wrap=True)
    for col in ("kind", "periods", "unit", "name"):
        table.add_column(col)
    for m in mset.measures:
        table.add_row(m.id, m.kind, ", ".join(period_keys(m)), unit_of(m), m.name)
    return table
