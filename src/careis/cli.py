"""careis command line. Commands mirror the stages: generate, validate, run, demo.

User errors (`CareisError`) print one line and exit with status 2; no traceback. Anything else
is a bug in careis and shows its traceback.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable
from rich.text import Text

from careis import __version__
from careis.errors import CareisError
from careis.periods import parse_date_option

app = typer.Typer(
    name="careis",
    help="Commission and pay for integrated primary care: risk, measures, contracts, payments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _add_subapps() -> None:
    from careis.risk.cli import app as risk_app

    app.add_typer(risk_app, name="risk")
    app.add_typer(__import__("careis.data.sources.cli", fromlist=["app"]).app, name="ingest")


_add_subapps()


class RichReporter:
    """Shows each pipeline stage as a line, with a progress bar for long ones."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.task: Any = None

    def stage(self, name: str, description: str) -> None:
        self.task = self.p.add_task(description, total=None, counted=False)

    def progress(self, done: int, total: int) -> None:
        if self.task is not None:
            self.p.update(self.task, completed=done, total=total, counted=True)

    def done(self, name: str, seconds: float, note: str = "") -> None:
        if self.task is not None:
            task = self.p.tasks[self.task]
            self.p.update(
                self.task,
                total=task.total or 1,
                completed=task.total or 1,
                description=f"[green]✓[/green] {task.description} [dim]({seconds:.1f} s{'; ' + note if note else ''})[/dim]",
            )
        self.task = None


class _CountColumn(MofNCompleteColumn):
    """'done/total' for stages that report progress; blank for those that do not."""

    def render(self, task: Any) -> Any:
        if task.total is None or not task.fields.get("counted"):
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,}", style="progress.download")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(finished_text=" "),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        _CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _examples_dir() -> Path:
    return Path(str(resources.files("careis.examples")))


@app.command()
def generate(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the canonical tables to.")
    ] = Path("data/synthetic"),
    sub_icb: Annotated[
        list[str] | None,
        typer.Option("--sub-icb", help="Sub-ICB (old CCG) code, e.g. 00T. Repeatable."),
    ] = None,
    icb: Annotated[
        list[str] | None, typer.Option("--icb", help="ICB code, e.g. QOP. Repeatable.")
    ] = None,
    practice: Annotated[
        list[str] | None, typer.Option("--practice", help="Practice code. Repeatable.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    scale: Annotated[
        float, typer.Option(help="Multiply every list size by this (e.g. 0.1 for a quick try).")
    ] = 1.0,
    first_year: Annotated[
        int, typer.Option(help="First financial year generated (2022 = 2022/23).")
    ] = 2022,
    years: Annotated[int, typer.Option(help="Number of financial years generated.")] = 3,
) -> None:
    """Generate a synthetic population for real practices (Parquet canonical tables)."""
    from careis.synth import SynthConfig, expected_patients
    from careis.synth import generate as run_generate

    try:
        cfg = SynthConfig(
            sub_icb=sub_icb or None,
            icb=icb or None,
            practices=practice or None,
            seed=seed,
            scale=scale,
            first_year=first_year,
            years=years,
        )
    except ValueError as exc:
        raise CareisError(f"bad generator settings: {_first_line(exc)}") from None
    total = expected_patients(cfg)
    with _progress() as progress:
        task = progress.add_task(f"Generating ~{total:,} patients", total=total)
        summary = run_generate(
            cfg, out, progress=lambda done, tot: progress.update(task, completed=done, total=tot)
        )
    console.print(f"Wrote synthetic data to [bold]{out}[/bold]")
    counts = getattr(summary, "row_counts", None) or getattr(summary, "rows", None)
    if isinstance(counts, dict):
        table = RichTable("table", "rows", title="Rows written")
        for name, n in counts.items():
            table.add_row(str(name), f"{int(n):,}")
        console.print(table)


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="Folder of canonical tables (Parquet or CSV).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write quarantine files and summary here.")
    ] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Extract date YYYY-MM-DD (later dates are impossible).")
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


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see examples/demo.yaml).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (overrides output.dir).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Data folder (overrides data.path).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="Query engine: duckdb or pyspark (overrides engine.backend).")
    ] = None,
) -> None:
    """Run every stage from one config: validate, risk, measures, payments, report."""
    from careis.config import load_run_config

    overrides: dict[str, Any] = {}
    if out is not None:
        overrides["output.dir"] = str(out)
    if data is not None:
        overrides["data.path"] = str(data)
    if engine is not None:
        overrides["engine.backend"] = engine
    cfg = load_run_config(config, overrides=overrides)
    _run(cfg)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out/demo"),
    data: Annotated[
        Path, typer.Option("--data", help="Where the synthetic data live (generated if missing).")
    ] = Path("data/demo"),
    contract: Annotated[
        Path | None,
        typer.Option(
            "--contract",
            help="Contract YAML to run instead of the demo's enhanced service, e.g. "
            "examples/contracts/alliance.yaml (see docs/payments.md).",
        ),
    ] = None,
) -> None:
    """Generate a synthetic sub-ICB (if not already there) and run the example scheme on it."""
    from careis.config import load_run_config

    overrides = {"output.dir": str(out), "data.path": str(data)}
    if contract is not None:
        overrides["contract"] = str(_existing(contract).resolve())
    cfg = load_run_config(_examples_dir() / "demo.yaml", overrides=overrides)
    _run(cfg)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise CareisError("file not found.", file=path, fix="check the path.")
    return path


@app.command(
    context_settings={"help_option_names": ["--help", "-h"]},
    epilog="Two forms: `careis pay CONFIG [--contract FILE] [--out DIR]` runs the payments; "
    "`careis pay diff RUN_A RUN_B [--out FILE]` reports what changed between two runs "
    "(exit status 1 when they differ).",
)
def pay(
    args: Annotated[
        list[str],
        typer.Argument(
            help="CONFIG (a run config YAML), or: diff RUN_A RUN_B (two run output folders)."
        ),
    ],
    contract: Annotated[
        Path | None,
        typer.Option("--contract", help="Contract YAML (overrides the config's contract)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output folder of the run (or, for diff, a CSV of the differences)."
        ),
    ] = None,
) -> None:
    """Pay a scheme: statements per provider, a balancing ledger, evidence; or diff two runs."""
    if args and args[0] == "diff":
        if len(args) != 3:
            raise CareisError("pay diff needs two run folders.", fix="careis pay diff RUN_A RUN_B")
        _pay_diff(Path(args[1]), Path(args[2]), out)
        return
    if len(args) != 1:
        raise CareisError(
            "pay takes one run config.", fix="careis pay CONFIG [--contract FILE] [--out DIR]"
        )
    from careis.config import load_run_config

    overrides: dict[str, Any] = {}
    if out is not None:
        overrides["output.dir"] = str(out)
    if contract is not None:
        overrides["contract"] = str(_existing(contract).resolve())
    _run(load_run_config(Path(args[0]), overrides=overrides))


def _pay_diff(run_a: Path, run_b: Path, out: Path | None) -> None:
    from careis.payments.diff import diff_runs, write_diff

    diffs = diff_runs(run_a, run_b)
    if out is not None:
        write_diff(diffs, out)
    if not diffs:
        console.print(f"No differences: {run_a} and {run_b} pay the same, from the same inputs.")
        return
    table = RichTable("table", "key", "run A", "run B", "difference", title="Differences")
    for d in diffs:
        table.add_row(d.table, d.key, d.run_a, d.run_b, d.difference)
    console.print(table)
    raise typer.Exit(1)


def _run(cfg: Any) -> None:
    from careis.pipeline import run as run_pipeline

    console.print(f"[bold]{cfg.name}[/bold]")
    with _progress() as progress:
        result = run_pipeline(cfg, reporter=RichReporter(progress))
    total = sum(result.timings.values())
    console.print(f"Finished in {total:.1f} s. Outputs in [bold]{result.out_dir}[/bold]")
    if result.report is not None:
        console.print(
            f"Report: [bold link=file://{result.report.resolve()}]{result.report}[/bold link=file://{result.report.resolve()}]"
        )


contracts_app = typer.Typer(
    help="Contract models: compare candidate contracts on the same locality and outcomes.",
    no_args_is_help=True,
)
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("compare")
def contracts_compare(
    run: Annotated[Path, typer.Argument(help="Output folder of a finished `careis pay` run.")],
    contract: Annotated[
        list[Path],
        typer.Argument(help="Contract YAML files to compare (e.g. examples/contracts/*.yaml)."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the comparison outputs.")
    ] = Path("out/compare"),
    scenario: Annotated[
        list[float] | None,
        typer.Option(
            "--scenario",
            help="Admissions vs observed, % (repeatable; default -10 -5 0 5 10).",
        ),
    ] = None,
    draws: Annotated[int, typer.Option(min=1, max=100_000, help="Monte-Carlo draws.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same range).")] = 1,
    sd_common: Annotated[
        float, typer.Option(min=0, help="Sd of the area-wide admissions shift, %.")
    ] = 5.0,
    sd_practice: Annotated[
        float, typer.Option(min=0, help="Sd of each practice's own admissions shift, %.")
    ] = 5.0,
) -> None:
    """Pay each contract from the same run's results; show who receives what and who carries risk."""
    from careis.contracts.schema import load_contract
    from careis.payments.compare import compare, read_run, write_rows
    from careis.report.charts import surplus_by_scenario
    from careis.report.html import render

    inputs = read_run(run)
    loaded = [load_contract(_existing(c)) for c in contract]
    ids = [c.contract.id for c in loaded]
    if len(set(ids)) != len(ids):
        raise CareisError("two contracts share an id.", fix="give each contract its own 'id'.")
    result = compare(
        loaded,
        inputs,
        scenario if scenario else [-10.0, -5.0, 0.0, 5.0, 10.0],
        draws,
        seed,
        sd_common,
        sd_practice,
    )
    write_rows(result.scenario_rows, out / "scenarios.csv")
    write_rows(result.range_rows, out / "ranges.csv")
    html = render(
        "compare.html.j2",
        {
            "run": str(run),
            "ranges": result.range_rows,
            "scenarios": result.scenario_rows,
            "chart": surplus_by_scenario(result.scenario_rows),
            "draws": draws,
            "seed": seed,
            "sd_common": sd_common,
            "sd_practice": sd_practice,
        },
    )
    (out / "report.html").write_text(html, encoding="utf-8")
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


@app.command()
def measure(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see examples/demo.yaml).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (overrides output.dir).")
    ] = None,
) -> None:
    """Compute the measures only: validate the data, draw up the register, write measures/."""
    from careis.config import load_run_config
    from careis.pipeline import run as run_pipeline

    cfg = load_run_config(config, overrides={"output.dir": str(out)} if out else None)
    console.print(f"[bold]{cfg.name}[/bold] (measures only)")
    with _progress() as progress:
        result = run_pipeline(cfg, reporter=RichReporter(progress), measures_only=True)
    console.print(f"Measures in [bold]{result.out_dir / 'measures'}[/bold]")


measures_app = typer.Typer(
    help="Measure definitions: list the library, check a measure YAML file without running.",
    no_args_is_help=True,
)
app.add_typer(measures_app, name="measures")


def _load_measure_set(files: list[Path] | None, codelists: Path | None) -> Any:
    from careis.codelists import CodelistLibrary
    from careis.measures.definitions import load_measures, shipped_library
    from careis.pipeline import COHORTS

    mset = load_measures(files or [shipped_library()])
    mset.check(codelist_names=CodelistLibrary(codelists).names(), cohorts=COHORTS)
    return mset


def _measure_table(mset: Any, title: str) -> RichTable:
    from careis.measures.definitions import period_keys, unit_of

    table = RichTable(title=title, title_justify="left")
    table.add_column("id", no_wrap=True)
    for col in ("kind", "periods", "unit", "name"):
        table.add_column(col)
    for m in mset.measures:
        table.add_row(m.id, m.kind, ", ".join(period_keys(m)), unit_of(m), m.name)
    return table


@measures_app.command("list")
def measures_list(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Measure YAML files or folders (default: the shipped library)."),
    ] = None,
) -> None:
    """List measures: id, kind, periods, unit and name."""
    from careis.measures.definitions import load_measures, shipped_library

    mset = load_measures(files or [shipped_library()])
    console.print(_measure_table(mset, f"{len(mset.measures)} measures"))


@measures_app.command("check")
def measures_check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Measure YAML files or folders (default: the shipped library)."),
    ] = None,
    codelists: Annotated[
        Path | None, typer.Option(help="Your code list folder (searched before the shipped lists).")
    ] = None,
) -> None:
    """Validate measure files without running: fields, code lists, cohorts, references, cycles."""
    mset = _load_measure_set(files, codelists)
    console.print(_measure_table(mset, f"OK: {len(mset.measures)} measures are valid"))


@app.command()
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


@app.command()
def orgs(
    level: Annotated[str, typer.Option(help="sub_icb, icb or pcn.")] = "sub_icb",
    within: Annotated[
        str | None, typer.Option(help="Only those inside this ICB or sub-ICB code.")
    ] = None,
) -> None:
    """List the real organisations careis knows (for choosing what to generate)."""
    from careis.data.reference import practices

    if level not in ("sub_icb", "icb", "pcn"):
        raise CareisError(f"unknown level '{level}'.", fix="use sub_icb, icb or pcn.")
    table = practices()
    if within:
        table = table[(table["icb_code"] == within) | (table["sub_icb_code"] == within)]
    size_cols = [c for c in table.columns if c.startswith(("m_", "f_"))]
    table = table.assign(list_size=table[size_cols].sum(axis=1, min_count=1))
    grouped = (
        table.groupby([f"{level}_code", f"{level}_name"])
        .agg(practices=("practice_code", "size"), list_size=("list_size", "sum"))
        .reset_index()
    )
    out = RichTable(f"{level} code", "name", "practices", "list size (2016)")
    for row in grouped.itertuples(index=False):
        out.add_row(str(row[0]), str(row[1]), str(row[2]), f"{int(row[3]):,}")
    console.print(out)


@app.command()
def schema(
    table: Annotated[str | None, typer.Argument(help="One table (default: all).")] = None,
) -> None:
    """Show the canonical data model: tables, columns, types and rules."""
    from careis.data import schema as s

    specs = [s.spec(table)] if table else list(s.TABLES.values())
    for spec in specs:
        t = RichTable(
            "column",
            "type",
            "null?",
            "rule",
            "meaning",
            title=f"{spec.name} — {spec.description}",
            title_justify="left",
        )
        for col in (*spec.columns, *spec.derived):
            rule = ""
            if col.allowed:
                rule = "one of " + ", ".join(col.allowed)
            elif col.pattern:
                rule = f"matches {col.pattern}"
            elif col.minimum is not None:
                rule = f"{col.minimum:g}..{col.maximum:g}"
            if col in spec.derived:
                rule = "derived by careis"
            t.add_row(col.name, col.dtype, "yes" if col.nullable else "no", rule, col.description)
        if spec.key:
            t.caption = f"unique key: {', '.join(spec.key)}"
        console.print(t)


@app.command()
def version() -> None:
    """Print the careis version."""
    console.print(__version__)


def _mount_commission() -> None:
    from careis.commissioning.cli import app as commission_app

    app.add_typer(commission_app, name="commission")


_mount_commission()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the typer app, turning CareisError into one line and exit status 2."""
    try:
        app(args=argv, prog_name="careis")
    except CareisError as exc:
        err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
