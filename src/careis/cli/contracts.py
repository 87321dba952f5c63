"""`careis contracts compare RUN CONTRACT...`: candidate contract models on one run's results.

The work (paying each contract, the scenarios and range, the page) is `report.comparison`'s;
this module reads the options and prints the summary table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from careis.cli._common import console

app = typer.Typer(
    help="Contract models: compare candidate contracts on the same locality and outcomes.",
    no_args_is_help=True,
)


@app.command("compare")
def compare_cmd(
    run: Annotated[
        Path,
        typer.Argument(
            metavar="RUN", help="Output folder of a finished `careis pay` run.", file_okay=False
        ),
    ],
    contract: Annotated[
        list[Path],
        typer.Argument(
            metavar="CONTRACT",
            exists=True,
            dir_okay=False,
            help="Contract YAML files to compare (e.g. examples/contracts/*.yaml).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder for the comparison outputs."),
    ] = Path("out/compare"),
    scenario: Annotated[
        list[float] | None,
        typer.Option(
            "--scenario",
            metavar="PERCENT",
            help="Admissions vs observed, % (repeatable; default -10 -5 0 5 10).",
        ),
    ] = None,
    draws: Annotated[
        int, typer.Option(metavar="N", min=1, max=100_000, help="Monte-Carlo draws.")
    ] = 200,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Random seed (same seed, same range).")
    ] = 1,
    sd_common: Annotated[
        float,
        typer.Option(metavar="PERCENT", min=0, help="Sd of the area-wide admissions shift, %."),
    ] = 5.0,
    sd_practice: Annotated[
        float,
        typer.Option(
            metavar="PERCENT", min=0, help="Sd of each practice's own admissions shift, %."
        ),
    ] = 5.0,
) -> None:
    """Pay each contract from the same run's results; show who receives what and who carries risk."""
    from careis.report.comparison import DEFAULT_SCENARIOS, CompareSettings, compare_contracts

    settings = CompareSettings(
        tuple(scenario) if scenario else DEFAULT_SCENARIOS, draws, seed, sd_common, sd_practice
    )
    result = compare_contracts(run, contract, out, settings)
    table = RichTable(
        "contract", "party", "net receipts", "surplus p5", "p95", "risk",
        title="Contract models compared (net receipts with outcomes as observed)",
    )  # fmt: skip
    for r in result.range_rows:
        table.add_row(
            r["contract"], r["party"], r["expected_net"], r["surplus_p5"], r["surplus_p95"],
            r["carries_risk"],
        )  # fmt: skip
    console.print(table)
    console.print(f"Comparison in [bold]{out}[/bold] (report.html, scenarios.csv, ranges.csv)")
