"""`careis generate | validate | run | demo`: the pipeline's stages from the command line.

Each command turns its options into a config (or generator settings) and calls the layer that
does the work; the stage display and the error line come from `_common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table as RichTable

from careis.cli._common import (
    ConfigArg,
    ContractOpt,
    OutDirOpt,
    console,
    load_config,
    path_text,
    progress,
    run_stages,
)
from careis.errors import CareisError
from careis.periods import parse_date_option

# careis.engine.Backend, spelled here so `careis --help` need not import ibis (a test checks
# that the two agree).
Backend = Literal["duckdb", "pyspark"]


def generate(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder to write the canonical tables to."),
    ] = Path("data/synthetic"),
    sub_icb: Annotated[
        list[str] | None,
        typer.Option(
            "--sub-icb", metavar="CODE", help="Sub-ICB (old CCG) code, e.g. 00T. Repeatable."
        ),
    ] = None,
    icb: Annotated[
        list[str] | None,
        typer.Option("--icb", metavar="CODE", help="ICB code, e.g. QOP. Repeatable."),
    ] = None,
    practice: Annotated[
        list[str] | None,
        typer.Option("--practice", metavar="CODE", help="Practice code. Repeatable."),
    ] = None,
    england: Annotated[
        bool,
        typer.Option(
            "--england",
            help="Every practice in England with an ICB in the shipped reference (with a "
            "small --scale: 0.01 is about 611k patients ever registered).",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Random seed (same seed, same data).")
    ] = 42,
    scale: Annotated[
        float,
        typer.Option(
            metavar="X", help="Multiply every list size by this (e.g. 0.1 for a quick try)."
        ),
    ] = 1.0,
    first_year: Annotated[
        int, typer.Option(metavar="YEAR", help="First financial year generated (2022 = 2022/23).")
    ] = 2022,
    years: Annotated[
        int, typer.Option(metavar="N", help="Number of financial years generated.")
    ] = 3,
) -> None:
    """Generate a synthetic population for real practices (Parquet canonical tables)."""
    from careis.synth import SynthConfig, expected_patients
    from careis.synth import generate as run_generate

    try:
        cfg = SynthConfig(
            sub_icb=sub_icb or None,
            icb=icb or None,
            practices=practice or None,
            england=england,
            seed=seed,
            scale=scale,
            first_year=first_year,
            years=years,
        )
    except ValueError as exc:
        raise CareisError(f"bad generator settings: {_first_line(exc)}") from None
    total = expected_patients(cfg)
    with progress() as bar:
        task = bar.add_task(f"Generating ~{total:,} patients", total=total)
        summary = run_generate(
            cfg, out, progress=lambda done, tot: bar.update(task, completed=done, total=tot)
        )
    console.print(f"Wrote synthetic data to [bold]{out}[/bold]")
    counts = getattr(summary, "row_counts", None) or getattr(summary, "rows", None)
    if isinstance(counts, dict):
        table = RichTable("table", "rows", title="Rows written")
        for name, n in counts.items():
            table.add_row(str(name), f"{int(n):,}")
        console.print(table)


def validate(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="Folder of canonical tables (Parquet or CSV).",
            exists=True,
            file_okay=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Write quarantine files and summary here."),
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Extract date YYYY-MM-DD (later dates are impossible)."),
    ] = None,
) -> None:
    """Validate a dataset: accepted rows, quarantined rows with reasons, and counts that reconcile."""
    from careis.data.load import load_dataset, render_summary
    from careis.engine import Engine

    day = parse_date_option(extract_date, "--extract-date") if extract_date else None
    with Engine.duckdb() as engine:
        result = load_dataset(engine, data, extract_date=day)
        console.print(render_summary(result.summary))
        if out is not None:
            result.write_quarantine(engine, out)
            console.print(f"Quarantine written to [bold]{out}[/bold]")


def run(
    config: ConfigArg,
    out: OutDirOpt = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="Data folder (overrides data.path)."),
    ] = None,
    engine: Annotated[
        Backend | None, typer.Option(help="Query engine (overrides engine.backend).")
    ] = None,
) -> None:
    """Run every stage from one config: validate, risk, measures, payments, report."""
    overrides = {
        "output.dir": path_text(out),
        "data.path": path_text(data),
        "engine.backend": engine,
    }
    run_stages(load_config(config, overrides))


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Output folder.")] = Path(
        "out/demo"
    ),
    data: Annotated[
        Path,
        typer.Option(
            "--data", metavar="DIR", help="Where the synthetic data live (generated if missing)."
        ),
    ] = Path("data/demo"),
    contract: ContractOpt = None,
) -> None:
    """Generate a synthetic sub-ICB (if not already there) and run the example scheme on it."""
    from careis.examples import example_path

    overrides = {
        "output.dir": path_text(out),
        "data.path": path_text(data),
        "contract": path_text(contract, resolve=True),
    }
    run_stages(load_config(example_path("demo.yaml"), overrides))


def _first_line(exc: Exception) -> str:
    """The reason in one line: a pydantic error's own message, not its "1 validation error
    for ..." heading."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
