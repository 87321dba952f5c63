"""`careis spc CSV`: an NHS Making Data Count SPC chart of a series in a CSV file.

Moved here from the old single `cli.py` as it was; its CSV reading is due to move to
`careis.measures` (issue 13), leaving this module to parse options and print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from careis.cli._common import console
from careis.errors import CareisError


def spc(
    csv_file: Annotated[Path, typer.Argument(help="CSV with one row per point, in time order.")],
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
    chart: Annotated[str, typer.Option(help="xmr, p, u or c.")] = "xmr",
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
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the chart: .svg, or .csv of points.")
    ] = None,
) -> None:
    """NHS Making Data Count SPC chart of a series in a CSV: rules, variation and assurance."""
    import csv as csvmod

    from careis.measures.spc import SpcOptions
    from careis.measures.spc import spc as make_spc

    if not csv_file.exists():
        raise CareisError("the file does not exist.", file=csv_file)
    with csv_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csvmod.DictReader(handle))
    if not rows:
        raise CareisError("the CSV has no rows.", file=csv_file)

    def column(name: str) -> list[float]:
        if name not in rows[0]:
            raise CareisError(
                f"no column '{name}'.", file=csv_file, fix=f"use one of: {', '.join(rows[0])}."
            )
        out_vals = []
        for i, r in enumerate(rows, start=2):
            try:
                out_vals.append(float(r[name]))
            except (TypeError, ValueError):
                raise CareisError(
                    f"'{r[name]}' in column '{name}' is not a number.",
                    file=csv_file,
                    where=f"row {i}",
                    fix="fill or remove the row.",
                ) from None
        return out_vals

    if chart not in ("xmr", "p", "u", "c") or improvement not in (
        "increase",
        "decrease",
        "neutral",
    ):
        raise CareisError(
            "--chart must be xmr, p, u or c; --improvement increase, decrease or neutral."
        )
    labels = [r[label] for r in rows] if label else None
    if label and label not in rows[0]:
        raise CareisError(
            f"no column '{label}'.", file=csv_file, fix=f"use one of: {', '.join(rows[0])}."
        )
    cuts: list[int] = []
    for lab in rebase or []:
        if labels is None or lab not in labels:
            raise CareisError(f"--rebase '{lab}' is not a label in the file.", file=csv_file)
        cuts.append(labels.index(lab))
    opts = SpcOptions(
        chart=chart,  # type: ignore[arg-type]
        improvement=improvement,  # type: ignore[arg-type]
        shift_length=shift,
        trend_length=trend,
        screen_outliers=screen,
        rebase_at=tuple(cuts),
        fix_after=fix_after,
        target=target,
    )
    if chart == "xmr":
        if value is None:
            raise CareisError("an XmR chart needs --value COLUMN.")
        result = make_spc(column(value), labels=labels, options=opts)
    else:
        if numerator is None or (chart != "c" and denominator is None):
            raise CareisError(f"a {chart}-chart needs --numerator (and --denominator for p and u).")
        result = make_spc(
            numerators=column(numerator),
            denominators=column(denominator) if denominator else None,
            labels=labels,
            options=opts,
        )
    table = RichTable("point", "value", "mean", "lower", "upper", "rules", "special cause")
    for p in result.points:
        table.add_row(
            p.label,
            f"{p.value:.4g}",
            f"{p.mean:.4g}",
            "" if p.lower is None else f"{p.lower:.4g}",
            "" if p.upper is None else f"{p.upper:.4g}",
            ", ".join(p.rules),
            p.special or "",
        )
    console.print(table)
    console.print(
        f"Variation: [bold]{result.variation}[/bold]"
        + (f"; assurance: [bold]{result.assurance}[/bold]" if result.assurance else "")
    )
    if out is not None:
        if out.suffix.lower() == ".svg":
            from careis.report.spc_charts import spc_chart

            out.write_text(
                spc_chart(result, title=csv_file.stem, y_title=value or numerator or ""),
                encoding="utf-8",
            )
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                fields = list(result.rows()[0])
                writer = csvmod.DictWriter(handle, fieldnames=fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(result.rows())
        console.print(f"Written: [bold]{out}[/bold]")
