"""`careis risk train|score|evaluate`: the risk model outside a full commissioning run.

Why separate commands: an analyst trains and inspects a model (its card) once, then scores the
population at each refresh with the saved file; `evaluate` re-checks a saved model on newer
data before anyone relies on it again. `careis run` uses the same functions.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from careis.errors import CareisError
from careis.periods import parse_date_option

app = typer.Typer(
    name="risk",
    help="Unplanned-admission risk models and the case-finding and frailty registers.",
    no_args_is_help=True,
)
console = Console()

DataArg = Annotated[Path, typer.Argument(help="Folder of canonical tables (Parquet or CSV).")]
CodelistOpt = Annotated[
    Path | None, typer.Option("--codelists", help="Folder of your own code,term CSVs.")
]
ExtractOpt = Annotated[
    str | None, typer.Option(help="Extract date YYYY-MM-DD (later dates are impossible).")
]
LookbackOpt = Annotated[
    int, typer.Option(help="Days of past hospital use counted as predictors.", min=1)
]


def _date(text: str | None, name: str) -> dt.date | None:
    return None if text is None else parse_date_option(text, name)


def _load(data: Path, extract_date: str | None) -> tuple[Any, Any]:
    from careis.data.load import load_dataset
    from careis.engine import Engine
    from careis.errors import DataError

    if not data.is_dir():
        raise DataError("the data folder does not exist.", file=data)
    engine = Engine.duckdb()
    loaded = load_dataset(engine, data, extract_date=_date(extract_date, "--extract-date"))
    bad = sum(s.quarantined for s in loaded.summary)
    if bad:
        console.print(
            f"[yellow]{bad:,} input rows quarantined[/yellow] (see `careis validate {data} --out DIR`)."
        )
    return engine, loaded.tables


def _synthetic(data: Path) -> bool:
    """careis synthetic data carry generation.json; the card then says what the figures mean."""
    return (data / "generation.json").exists()


def _latest_april(last: dt.date | None) -> dt.date | None:
    """The latest 1 April whose following 12 months the data cover."""
    from careis.risk.training import HORIZON_DAYS, outcome_covered

    if last is None:
        return None
    for year in range(last.year, last.year - 30, -1):
        day = dt.date(year, 4, 1)
        if outcome_covered(last, day, HORIZON_DAYS):
            return day
    return None


def _metrics_table(title: str, metrics: dict[str, Any]) -> RichTable:
    table = RichTable(
        "data", "patients", "admitted", "AUROC (95% CI)", "cal. slope", "cal. intercept",
        "Brier", "top 2%: sens / PPV / adm.", title=title,
    )  # fmt: skip
    for name in ("apparent", "temporal", "geographic", "evaluation"):
        m = metrics.get(name)
        if not m:
            continue
        top2 = next((t for t in m["top"] if t["percent"] == 2.0), None)
        table.add_row(
            name,
            f"{m['patients']:,}",
            f"{m['admitted']:,}",
            f"{m['auroc']:.3f} ({m['auroc_ci'][0]:.3f}-{m['auroc_ci'][1]:.3f})",
            f"{m['calibration']['slope']:.2f}",
            f"{m['calibration']['intercept']:+.2f}",
            f"{m['brier']:.4f}",
            f"{100 * top2['sensitivity']:.1f}% / {100 * top2['ppv']:.1f}% / "
            f"{100 * top2['admissions_captured']:.1f}%"
            if top2
            else "",
        )
    return table


@app.command()
def train(
    data: DataArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for <kind>/model.json and model cards.")
    ] = Path("out/models"),
    index_date: Annotated[
        str | None,
        typer.Option(help="Training index date (default: a year before --validate-index-date)."),
    ] = None,
    validate_index_date: Annotated[
        str | None,
        typer.Option(
            help="Temporal validation index date (default: the latest 1 April whose next 12 months the data cover)."
        ),
    ] = None,
    holdout_share: Annotated[
        float, typer.Option(help="Share of practices held out for geographic validation.")
    ] = 0.2,
    kind: Annotated[
        list[str] | None,
        typer.Option(help="Model family: logistic, lightgbm (repeatable; default both)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for choosing held-out practices.")] = 42,
    codelists: CodelistOpt = None,
    extract_date: ExtractOpt = None,
    lookback_days: LookbackOpt = 365,
) -> None:
    """Train the unplanned-admission models, validate them, write models and model cards."""
    from careis.codelists import CodelistLibrary
    from careis.risk.card import write_card
    from careis.risk.model import KINDS
    from careis.risk.training import data_end, train_and_validate, year_before

    kinds = kind or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise CareisError(
            f"--kind: unknown model family '{unknown[0]}'.", fix=f"use one of {', '.join(KINDS)}."
        )
    if not 0 <= holdout_share < 1:
        raise CareisError("--holdout-share must be at least 0 and below 1.")
    library = CodelistLibrary(codelists)
    engine, tables = _load(data, extract_date)
    try:
        validate = _date(validate_index_date, "--validate-index-date")
        train_day = _date(index_date, "--index-date")
        if validate is None and train_day is None:
            validate = _latest_april(data_end(engine, tables))
        if train_day is None:
            if validate is None:
                raise CareisError(
                    "the data do not cover a full year of admissions after any 1 April.",
                    file=data,
                    fix="give --index-date, or supply more data.",
                )
            train_day = year_before(validate)
        result = train_and_validate(
            engine, tables, library,
            train_index=train_day, validate_index=validate, holdout_share=holdout_share,
            seed=seed, kinds=kinds,  # type: ignore[arg-type]
            lookback_days=lookback_days, data_label=str(data),
        )  # fmt: skip
    finally:
        engine.close()
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for name, model in result.models.items():
        folder = out / name
        model.save(folder / "model.json")
        _, html = write_card(model, folder, synthetic=_synthetic(data))
        console.print(_metrics_table(f"{model.model_id}", model.metrics))
        console.print(f"Model: [bold]{folder / 'model.json'}[/bold]  Card: [bold]{html}[/bold]")


def _model(path: Path) -> Any:
    from careis.risk.model import load

    model = load(path)
    model.check_schema()
    return model


@app.command()
def score(
    data: DataArg,
    model: Annotated[Path, typer.Option("--model", "-m", help="A model.json from `risk train`.")],
    index_date: Annotated[str, typer.Option(help="Date the registers are drawn up (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out/risk"),
    percent: Annotated[
        float, typer.Option(help="Register size: top N% of adults per practice.", min=0.01, max=100)
    ] = 2.0,
    min_age: Annotated[int, typer.Option(help="Adults: aged at least this.", min=0)] = 18,
    previous_index_date: Annotated[
        str | None,
        typer.Option(help="Previous refresh date: also list who entered and left the register."),
    ] = None,
    codelists: CodelistOpt = None,
    extract_date: ExtractOpt = None,
    lookback_days: LookbackOpt = 365,
) -> None:
    """Score everyone registered on the index date and draw the registers and frailty lists.

    Each practice's register, frailty list (and entry/exit) go only into practices/<code>/;
    per-practice counts, small numbers suppressed, into risk/practice_summary.csv.
    """
    from careis.codelists import CodelistLibrary
    from careis.measures.suppression import SuppressionConfig
    from careis.risk import outputs
    from careis.risk.scoring import refresh
    from careis.risk.training import coverage

    day = _date(index_date, "--index-date")
    assert day is not None
    previous = _date(previous_index_date, "--previous-index-date")
    m = _model(model)
    library = CodelistLibrary(codelists)
    engine, tables = _load(data, extract_date)
    try:
        result = refresh(
            engine, tables, library, m, day, percent=percent, min_age=min_age,
            lookback_days=lookback_days, previous_index=previous,
        )  # fmt: skip
        cover = coverage(engine, tables, day)
        summary = outputs.practice_summary(result.sizes, result.register, result.efi_distribution)
        outputs.write_practice_files(
            out, result.practices, result.register, result.frailty, result.changes
        )
        outputs.write_summary(out, summary, SuppressionConfig())
    finally:
        engine.close()
    console.print(
        f"{cover['registered']:,} of {cover['patients']:,} patients scored on {day}: "
        f"{cover['died_before']:,} died before, {cover['not_registered_on_date']:,} not registered "
        f"that day, {cover['no_registration']:,} with no registration at all."
    )
    console.print(
        f"{result.register.num_rows:,} patients on {len(result.practices)} practice registers; "
        f"{result.frailty.num_rows:,} moderately or severely frail. Model {m.model_id}."
    )
    if result.changes is not None:
        entered = sum(1 for c in result.changes if c["change"] == "entered")
        console.print(
            f"Since {previous}: {entered:,} entered, {len(result.changes) - entered:,} left."
        )
    console.print(f"Outputs in [bold]{out}[/bold] (patient-level files only under practices/).")


@app.command()
def evaluate(
    data: DataArg,
    model: Annotated[Path, typer.Option("--model", "-m", help="A model.json from `risk train`.")],
    index_date: Annotated[
        str, typer.Option(help="Index date; the data must cover the 12 months after it.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write evaluation.json here.")
    ] = None,
    codelists: CodelistOpt = None,
    extract_date: ExtractOpt = None,
    lookback_days: LookbackOpt = 365,
) -> None:
    """Evaluate a saved model on data at an index date: AUROC, calibration, top-N% yield."""
    from careis.codelists import CodelistLibrary
    from careis.risk import evaluate as ev
    from careis.risk.training import HORIZON_DAYS, data_end, load_labelled, require_outcome

    day = _date(index_date, "--index-date")
    assert day is not None
    m = _model(model)
    library = CodelistLibrary(codelists)
    engine, tables = _load(data, extract_date)
    try:
        require_outcome(data_end(engine, tables), day, HORIZON_DAYS, "evaluation")
        lab = load_labelled(engine, tables, library, day, lookback_days=lookback_days)
    finally:
        engine.close()
    metrics = ev.evaluate(lab.y, m.predict(lab.x), lab.admissions)
    console.print(_metrics_table(f"{m.model_id} on {data} at {day}", {"evaluation": metrics}))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        body = {"model_id": m.model_id, "data": str(data), "index_date": str(day), **metrics}
        path = out / "evaluation.json"
        path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        console.print(f"Wrote [bold]{path}[/bold]")


@app.command()
def reidentify(
    worklist: Annotated[Path, typer.Argument(help="A practice's worklist.csv from a run.")],
    numbers: Annotated[
        Path, typer.Option("--numbers", help="The practice's own CSV with an nhs_number column.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write (outside the run).")],
    key: Annotated[
        str | None,
        typer.Option(help="Pseudonym key (default: $CAREIS_PSEUDONYM_KEY), as used for the run."),
    ] = None,
) -> None:
    """Put NHS numbers back on a practice's worklist, from the practice's own list.

    The run's files hold only pseudonyms; this joins them, on the practice's machine, to the
    NHS numbers of its own registered patients, into a file the practice keeps.
    """
    from careis.data.pseudonym import require_key
    from careis.risk.worklist import reidentify as join_numbers

    for path in (worklist, numbers):
        if not path.is_file():
            raise CareisError(f"{path}: no such file; give a worklist.csv and your own list")
    secret = require_key(key, [str(numbers)])
    if out.resolve().is_relative_to(worklist.resolve().parents[2]):
        raise CareisError(f"{out}: write the identifiable worklist outside the run folder")
    matched, unmatched = join_numbers(worklist, numbers, secret, out)
    console.print(f"Wrote {out}: {matched} patients matched, {unmatched} not in your list.")
