"""`careis spc CSV`: an NHS Making Data Count SPC chart of a series in a CSV file.

Reading and checking the CSV is `careis.measures.spc_input`'s; this module parses options
and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from careis.cli._common import console


def spc(
    csv_file: Annotated[
        Path, typer.Argument(help="CSV with one row per point (UTF-8), in time order.")
    ],
    value: Annotated[
        str | None, typer.Option(help="Column to chart (XmR); or use --numerator/--denominator.")
    ] = None,
    numerator: Annotated[str | None, typer.Option(help="p/u/c-charts: the count column.")] = None,
    denominator: Annotated[
        str | None, typer.Option(help="p/u-charts: the denominator column.")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Column naming each point (e.g. month).")
    ] = None,
    chart: Annotated[
        str,
        typer.Option(
            help="xmr (Making Data Count's default), p, u, c, or Laney's p_prime / u_prime."
        ),
    ] = "xmr",
    improvement: Annotated[str, typer.Option(help="increase, decrease or neutral.")] = "neutral",
    target: Annotated[float | None, typer.Option(help="Target, for assurance.")] = None,
    rebase: Annotated[
        list[str] | None, typer.Option(help="Label of a point that starts new limits (repeatable).")
    ] = None,
    fix_after: Annotated[int | None, typer.Option(help="Fix the limits after n points.")] = None,
    shift: Annotated[int, typer.Option(help="Run length for a shift (6, 7 or 8).")] = 7,
    trend: Annotated[int, typer.Option(help="Points in a trend (6, 7 or 8).")] = 7,
    screen: Annotated[
        bool, typer.Option(help="Screen moving ranges above 3.267 x their mean.")
    ] = False,
    two_of_three_beyond: Annotated[
        bool,
        typer.Option(
            help="Count points beyond the limits in the 2-of-3 rule (default: not, as "
            "NHSRplotthedots)."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the chart: .svg, or .csv of points.")
    ] = None,
) -> None:
    """NHS Making Data Count SPC chart of a series in a CSV: rules, variation and assurance.

    Rows are charted in date order when every --label is a date, else in the file's order.
    """
    from careis.measures.spc_input import SpcRequest, check_out_path, run_spc_csv
    from careis.report.spc_charts import point_table, write_spc_output

    check_out_path(out)
    request = SpcRequest(
        value, numerator, denominator, label, chart, improvement, target, tuple(rebase or ()),
        fix_after, shift, trend, screen, two_of_three_beyond,
    )  # fmt: skip
    run = run_spc_csv(csv_file, request)
    table = RichTable(*point_table(run.result)[0])
    for row in point_table(run.result)[1:]:
        table.add_row(*row)
    console.print(table)
    for note in run.notes:
        console.print(f"Note: {note}")
    result = run.result
    console.print(
        f"Variation: [bold]{result.variation}[/bold]"
        + (f"; assurance: [bold]{result.assurance}[/bold]" if result.assurance else "")
    )
    if out is not None:
        write_spc_output(result, out, title=csv_file.stem, y_title=run.y_title)
        console.print(f"Written: [bold]{out}[/bold]")
