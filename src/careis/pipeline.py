"""The commissioning run: data in, risk, measures, payments, report out.

Each stage is a function of the previous stage's outputs (see docs/architecture.md). This module
only sequences them, times them and writes their outputs; the logic lives in the layers.

Outputs of a run (under `output.dir`):
- `manifest.json`: inputs' hashes, config, code version, outputs' hashes (no timestamps);
- `run_log.json`: wall-clock time per stage (differs between runs; not part of the manifest);
- `quarantine/`: rejected input rows with reasons, and `summary.csv`;
- `measures/results.csv` (exact; restricted) and `measures/published.csv` (suppressed);
- `payments/statements.csv` (every line) and `payments/summary.csv` (per practice);
- `practices/<code>/register.csv` and `statement.csv`: patient-level data only in the
  practice's own folder;
- `report.html`.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from careis.codelists import CodelistLibrary
from careis.config import RunConfig
from careis.contracts.schema import LoadedContract, PerformanceComponent, load_contract
from careis.data.load import LoadOptions, LoadResult, load_dataset
from careis.engine import Engine
from careis.errors import ConfigError, DataError
from careis.facts.patient import patient_facts
from careis.facts.population import OPEN_END
from careis.manifest import build as build_manifest
from careis.manifest import describe_files, files_under
from careis.manifest import write as write_manifest
from careis.measures.compile import Evaluated
from careis.measures.compile import evaluate as evaluate_measures
from careis.measures.definitions import load_measures
from careis.measures.results import MeasureResults
from careis.measures.suppression import suppress_results
from careis.payments.calculate import StatementLine
from careis.payments.calculate import evaluate as evaluate_payments
from careis.payments.ledger import LEDGER_FIELDS, PaymentRun, balances, reconcile
from careis.report import charts
from careis.report.html import render
from careis.report.measures_view import build_measures_section
from careis.report.scheme import SchemeView, build_view
from careis.risk import points
from careis.risk.register import register as draw_register
from careis.risk.register import tiers as draw_tiers
from careis.risk.scoring import Refresh

STAGES = ("data", "validate", "risk", "measures", "payments", "report")
# Named patient sets the risk stage hands to the measures: the case-finding register, the
# electronic Frailty Index of patients 65+ (`category`: fit / mild / moderate / severe) and every
# adult's risk tier within their practice (`category`: very_high = the register / high / moderate
# / low; see careis.risk.register.tiers).
COHORTS = ("register", "efi", "risk_tier")


class Reporter(Protocol):
    """Receives progress; the CLI shows it with rich, tests ignore it."""

    def stage(self, name: str, description: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...
    def done(self, name: str, seconds: float, note: str = "") -> None: ...


class SilentReporter:
    def stage(self, name: str, description: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass

    def done(self, name: str, seconds: float, note: str = "") -> None:
        pass


@dataclass
class RunResult:
    out_dir: Path
    report: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    totals: dict[str, Decimal] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@contextmanager
def _timed(
    timings: dict[str, float], name: str, reporter: Reporter, description: str
) -> Iterator[dict[str, str]]:
    reporter.stage(name, description)
    start = time.perf_counter()
    note: dict[str, str] = {}
    yield note
    timings[name] = time.perf_counter() - start
    reporter.done(name, timings[name], note.get("note", ""))


def _has_data(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("patients*"))


def run(
    config: RunConfig, *, reporter: Reporter | None = None, measures_only: bool = False
) -> RunResult:
    """Run every stage of `config`; write outputs to `config.output.dir`.

    `measures_only` stops after the measures stage (`careis measure`): no payments, register
    files or report, but the same manifest.
    """
    reporter = reporter or SilentReporter()
    timings: dict[str, float] = {}
    out = config.output.dir
    out.mkdir(parents=True, exist_ok=True)
    result = RunResult(out_dir=out, report=None, timings=timings)

    loaded = load_contract(config.contract_path)
    loaded.check_periods(config.periods.baseline, config.periods.performance)
    library = CodelistLibrary(config.codelists_path)
    # Measures are checked before any data is touched: a typo in a measure file, a missing
    # code list or a contract naming an unknown measure should cost seconds, not a full run.
    measure_set = load_measures(config.measure_paths)
    measure_set.check(codelist_names=library.names(), cohorts=COHORTS)
    if not measures_only:  # payments need every measure the contract names
        loaded.check_measures(set(measure_set.by_id))

    with _timed(timings, "data", reporter, "Preparing data") as note:
        if not _has_data(config.data.path):
            if config.data.generate is None:
                raise DataError(
                    "no data found (no patients table).",
                    file=config.data.path,
                    fix="point data.path at a folder of canonical tables, or add data.generate to create synthetic data.",
                )
            from careis.synth import expected_patients, generate

            total = expected_patients(config.data.generate)
            generate(config.data.generate, config.data.path, progress=reporter.progress)
            note["note"] = f"generated ~{total:,} patients"
        else:
            note["note"] = f"using {config.data.path}"

    engine = Engine.open(config.engine)
    try:
        with _timed(timings, "validate", reporter, "Validating and loading") as note:
            loaded_data = load_dataset(
                engine,
                config.data.path,
                extract_date=config.data.extract_date,
                options=LoadOptions(
                    history_before_registration=config.data.history_before_registration
                ),
            )
            loaded_data.write_quarantine(engine, out)
            read = sum(s.read for s in loaded_data.summary)
            bad = sum(s.quarantined for s in loaded_data.summary)
            note["note"] = f"{read:,} rows read, {bad:,} quarantined"
        tables = loaded_data.tables

        with _timed(timings, "risk", reporter, "Scoring risk and drawing up registers") as note:
            risk_out: RiskOutputs | None = None
            if config.risk.method == "model":
                risk_out = _model_risk(config, engine, tables, library, out)
                reg = engine.cache(
                    engine.from_arrow(
                        risk_out.refresh.register.select(["patient_id", "practice_code"])
                    )
                )
                reg_arrow = risk_out.refresh.register
                scored_now = risk_out.refresh.scored
            else:
                facts = patient_facts(
                    tables, config.index_date, library, lookback_days=config.risk.lookback_days
                )
                # cached: the register and the risk tiers both rank it
                scored = scored_now = engine.cache(points.score(facts))
                reg = engine.cache(
                    draw_register(
                        scored, percent=config.risk.register_percent, min_age=config.risk.min_age
                    )
                )
                reg_arrow = engine.to_arrow(reg.order_by(["practice_code", "register_rank"]))
            note["note"] = f"{reg_arrow.num_rows:,} patients on registers"

        with _timed(timings, "measures", reporter, "Computing measures") as note:
            periods = {
                "baseline": config.periods.baseline,
                "performance": config.periods.performance,
            }
            _check_periods(config, tables)
            evaluated = evaluate_measures(
                engine,
                tables,
                measure_set,
                periods=periods,
                index_date=config.index_date,
                library=library,
                cohorts={  # materialised once: several measures may read each
                    "register": reg,
                    "efi": engine.cache(_efi_cohort(config, tables, library, risk_out)),
                    "risk_tier": engine.cache(
                        draw_tiers(
                            scored_now,
                            percent=config.risk.register_percent,
                            min_age=config.risk.min_age,
                        )
                    ),
                },
            )
            table = evaluated.results
            results = MeasureResults(table, evaluated.catalogue)
            _write_csv(table, out / "measures" / "results.csv")
            groups = _membership_on(engine, tables, config.periods.performance.end)
            published = suppress_results(table, evaluated.catalogue, config.suppression, groups)
            _write_csv(published, out / "measures" / "published.csv")
            _write_csv(evaluated.monthly, out / "measures" / "monthly.csv")
            _write_patient_flags(evaluated, out)
            note["note"] = f"{len(measure_set.measures)} measures, {table.num_rows:,} results"
        if measures_only:  # the `finally` below closes the engine
            _write_manifest(config, loaded, out, timings)
            return result

        with _timed(timings, "payments", reporter, "Calculating payments") as note:
            contract = loaded.contract
            list_date = contract.list_size_date or contract.term.start
            membership = _membership_on(engine, tables, list_date)
            joined = _joined_during(engine, tables, contract.term, membership)
            names = _org_names(engine, tables)
            practices = sorted(
                {
                    str(r["org_code"])
                    for r in results.filter(measure_id="list_size", level="practice")
                }
            )
            pay_run = evaluate_payments(loaded, results, practices, membership, joined)
            problems = reconcile(pay_run, contract.commissioner.code)
            if problems:  # a bug in careis, never the user's input: refuse to write statements
                raise RuntimeError("payment ledger does not reconcile: " + "; ".join(problems))
            lines = pay_run.lines
            _write_statements(lines, membership, out, set(practices))
            _write_ledger(pay_run, contract.commissioner.code, out)
            _write_rows(
                [
                    {"practice_code": p, "level": lvl, "group_code": g,
                     "joined": joined[(p, lvl)].isoformat() if (p, lvl) in joined else ""}
                    for (p, lvl), g in sorted(membership.items())
                ],
                ["practice_code", "level", "group_code", "joined"],
                out / "payments" / "memberships.csv",
            )  # fmt: skip
            totals: dict[str, Decimal] = {}
            for line in lines:
                totals[line.component_type] = (
                    totals.get(line.component_type, Decimal("0.00")) + line.amount
                )
            result.totals = totals
            note["note"] = (
                f"£{sum(totals.values(), Decimal('0')):,.2f} to "
                f"{len({line.provider for line in lines})} providers; "
                f"{len(pay_run.ledger):,} ledger movements balance"
            )

        if risk_out is not None:
            _write_model_registers(risk_out, config, out)
        else:
            _write_registers(reg_arrow, out)
        comparison = None
        if config.compare is not None:
            with _timed(timings, "compare", reporter, "Comparing contract models") as note:
                comparison = _compare(config, loaded, table, membership, joined, pay_run, out)
                note["note"] = (
                    f"{len(comparison.contracts)} contracts, {config.compare.draws} draws"
                )

        if config.output.report:
            with _timed(timings, "report", reporter, "Writing report") as note:
                view = build_view(
                    results,
                    [line for line in lines if line.provider in set(practices)],
                    names,
                    membership,
                    [(c.id, c.type) for c in loaded.contract.components],
                    pay_run.practices,
                )
                inputs = describe_files(files_under(config.data.path), Path.cwd())
                result.report = _write_report(
                    config,
                    loaded,
                    view,
                    loaded_data,
                    inputs,
                    engine.backend,
                    out,
                    evaluated,
                    published,  # the measures section shows published (suppressed) figures
                    risk_out=risk_out,
                    names=names,
                    pay_run=pay_run,
                    comparison=comparison,
                )
                note["note"] = str(result.report)
    finally:
        engine.close()

    _write_manifest(config, loaded, out, timings)
    return result


def _write_manifest(
    config: RunConfig, loaded: LoadedContract, out: Path, timings: dict[str, float]
) -> None:
    outputs = [f for f in files_under(out) if f.name not in ("manifest.json", "run_log.json")]
    manifest = build_manifest(
        _config_json(config, loaded),
        describe_files(files_under(config.data.path), Path.cwd())
        + describe_files(
            [
                config.contract_path,
                *loaded.referenced_files(),
                *(config.resolve(c) for c in (config.compare.contracts if config.compare else [])),
            ],
            Path.cwd(),
        ),
        describe_files(outputs, out),
    )
    write_manifest(manifest, out / "manifest.json")
    (out / "run_log.json").write_text(
        json.dumps({"seconds": {k: round(v, 3) for k, v in timings.items()}}, indent=2) + "\n",
        encoding="utf-8",
    )


FLAG_FIELDS = ["measure_id", "period", "patient_id", "denominator", "excluded", "numerator"]


def _write_patient_flags(evaluated: Evaluated, out: Path) -> None:
    """Each practice's patient-level indicator flags, only in that practice's own folder.

    One row per patient in an indicator's denominator: excluded = 1 for a personalised care
    adjustment, numerator = 1 when achieved. A practice filters numerator = 0 and excluded = 0
    to find the patients it can still act for.
    """
    flags = evaluated.patient_flags
    if flags.num_rows == 0:
        return
    # Rows arrive sorted by practice: cut at each change of code and let Arrow write each
    # slice (a Python loop over millions of cells took ~7 s at ICB scale).
    codes = flags.column("practice_code").combine_chunks()
    changes = pc.not_equal(codes.slice(1), codes.slice(0, len(codes) - 1))
    cuts = [0, *(i + 1 for i in pc.indices_nonzero(changes).to_pylist()), len(codes)]
    table = flags.select(FLAG_FIELDS)
    # Values are ids, period keys and pseudonyms (no commas or quotes): written unquoted, with
    # the header as csv.writer would write it, so the files read the same as every other CSV.
    options = pa_csv.WriteOptions(quoting_style="none", include_header=False)
    header = (",".join(FLAG_FIELDS) + "\n").encode("utf-8")
    for start, end in itertools.pairwise(cuts):
        path = out / "practices" / str(codes[start].as_py()) / "measure_flags.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(header)
            pa_csv.write_csv(table.slice(start, end - start), handle, write_options=options)


def _check_periods(config: RunConfig, tables: dict[str, Any]) -> None:
    """Refuse a period the data do not cover: every measure would silently be empty or partial."""
    regs = tables["registrations"]
    span = regs.aggregate(
        lo=regs.start_date.min(), hi=regs.end_date.coalesce(ibis.literal(OPEN_END)).max()
    ).execute()
    if span.empty or span["lo"].iloc[0] is None:
        raise DataError("the registrations table is empty after validation.", file=config.data.path)
    adm = tables["admissions"]
    last = adm.admission_date.max().execute()
    lo = span["lo"].iloc[0]
    lo = lo.date() if hasattr(lo, "date") else lo
    for key in ("baseline", "performance"):
        period = getattr(config.periods, key)
        if period.start < lo:
            raise ConfigError(
                f"the {key} period starts {period.start}, before the data begin ({lo}).",
                file=config.source,
                where=f"periods.{key}",
                fix="choose a later period or supply earlier data.",
            )
    if last is not None:
        last_d = last.date() if hasattr(last, "date") else last
        if config.periods.performance.end > last_d + dt.timedelta(days=31):
            raise ConfigError(
                f"the performance period ends {config.periods.performance.end} but the last admission in the "
                f"data is {last_d}; the period is not covered by the data.",
                file=config.source,
                where="periods.performance",
                fix="choose an earlier period or supply later data.",
            )


def _fmt_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return (
            repr(round(value, 6))
            if value != int(value)
            else str(int(value))
            if abs(value) < 1e15
            else repr(value)
        )
    return str(value)


def _write_csv(table: pa.Table, path: Path) -> None:
    """Deterministic CSV: fixed column order, floats rounded to 6 decimals, '' for null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table.column_names)
        for row in table.to_pylist():
            writer.writerow([_fmt_cell(row[c]) for c in table.column_names])


def _membership_on(
    engine: Engine, tables: dict[str, Any], day: dt.date
) -> dict[tuple[str, str], str]:
    m = tables["memberships"]
    d = ibis.literal(day)
    valid = m.filter((m.valid_from <= d) & (m.valid_to.coalesce(ibis.literal(OPEN_END)) >= d))
    rows = engine.to_arrow(valid.select("practice_code", "group_type", "group_code")).to_pylist()
    return {(r["practice_code"], r["group_type"]): r["group_code"] for r in rows}


def _joined_during(
    engine: Engine,
    tables: dict[str, Any],
    term: Any,
    membership: dict[tuple[str, str], str],
) -> dict[tuple[str, str], dt.date]:
    """Practices that joined a group part-way through the term (none on the list-size date).

    They are added to `membership` (judged with the group they joined) and their first day is
    returned, so pots and per-patient performance pay are pro-rated by days of membership.
    """
    m = tables["memberships"]
    start, end = ibis.literal(term.start), ibis.literal(term.end)
    rows = engine.to_arrow(
        m.filter((m.valid_from > start) & (m.valid_from <= end))
        .select("practice_code", "group_type", "group_code", "valid_from")
        .order_by(["practice_code", "group_type", "valid_from"])
    ).to_pylist()
    joined: dict[tuple[str, str], dt.date] = {}
    for r in rows:
        key = (r["practice_code"], r["group_type"])
        if key not in membership:
            membership[key] = r["group_code"]
            joined[key] = r["valid_from"]
    return joined


def _org_names(engine: Engine, tables: dict[str, Any]) -> dict[str, str]:
    rows = engine.to_arrow(tables["organisations"].select("org_code", "name")).to_pylist()
    return {r["org_code"]: r["name"] for r in rows}


STATEMENT_FIELDS = [
    "provider", "pcn", "federation", "component_id", "component_type", "description", "measure_id",
    "measure_level", "measure_org", "measure_value", "test", "met", "quantity", "rate", "amount", "evidence",
    "kind", "paid",
]  # fmt: skip


def _statement_rows(
    lines: list[StatementLine], membership: dict[tuple[str, str], str]
) -> list[dict[str, str]]:
    rows = []
    for line in lines:
        row = line.as_row()
        row["pcn"] = membership.get((line.provider, "pcn"), "")
        row["federation"] = membership.get((line.provider, "federation"), "")
        rows.append(row)
    return rows


def _write_rows(rows: list[dict[str, str]], fields: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_statements(
    lines: list[StatementLine],
    membership: dict[tuple[str, str], str],
    out: Path,
    practices: set[str] | None = None,
) -> None:
    """Every line in one file; one statement per provider (a practice's in its own folder)."""
    rows = _statement_rows(lines, membership)
    _write_rows(rows, STATEMENT_FIELDS, out / "payments" / "statements.csv")
    by_practice: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_practice.setdefault(row["provider"], []).append(row)
    summary = []
    for practice, prow in sorted(by_practice.items()):
        if practices is None or practice in practices:
            folder = out / "practices" / practice
        else:  # a holder, subcontractor or alliance member that is not a practice
            folder = out / "payments" / "providers" / practice
        _write_rows(prow, STATEMENT_FIELDS, folder / "statement.csv")
        entry = {"provider": practice, "pcn": prow[0]["pcn"], "federation": prow[0]["federation"]}
        total = Decimal("0.00")
        for r in prow:
            entry[r["component_id"]] = (
                f"{Decimal(entry.get(r['component_id'], '0')) + Decimal(r['amount']):.2f}"
            )
            total += Decimal(r["amount"])
        entry["total"] = f"{total:.2f}"
        summary.append(entry)
    comp_ids = list(dict.fromkeys(line.component_id for line in lines))
    _write_rows(
        summary,
        ["provider", "pcn", "federation", *comp_ids, "total"],
        out / "payments" / "summary.csv",
    )


def _write_ledger(run: PaymentRun, commissioner: str, out: Path) -> None:
    """The ledger of movements, and per-account totals that show it balances to zero."""
    _write_rows([e.as_row() for e in run.ledger], LEDGER_FIELDS, out / "payments" / "ledger.csv")
    received: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    for e in run.ledger:
        paid[e.payer] = paid.get(e.payer, Decimal("0.00")) + e.amount
        received[e.payee] = received.get(e.payee, Decimal("0.00")) + e.amount
    net = balances(run.ledger)
    rows = [
        {
            "account": acc,
            "role": "commissioner"
            if acc == commissioner
            else ("holding" if ":" in acc else "provider"),
            "received": f"{received.get(acc, Decimal(0)):.2f}",
            "paid": f"{paid.get(acc, Decimal(0)):.2f}",
            "net": f"{value:.2f}",
        }
        for acc, value in net.items()
    ]
    rows.append(
        {"account": "TOTAL", "role": "check", "received": f"{sum(received.values(), Decimal(0)):.2f}",
         "paid": f"{sum(paid.values(), Decimal(0)):.2f}", "net": f"{sum(net.values(), Decimal(0)):.2f}"}
    )  # fmt: skip
    _write_rows(
        rows,
        ["account", "role", "received", "paid", "net"],
        out / "payments" / "ledger_summary.csv",
    )


REGISTER_FIELDS = [
    "register_rank", "patient_id", "age", "sex", "risk_score", "top_factors", "prior_emergency_admissions",
    "prior_ae_attendances", "n_conditions", "care_home",
]  # fmt: skip


def _write_registers(reg: pa.Table, out: Path) -> None:
    """Each practice's register goes only into that practice's own folder."""
    rows = reg.to_pylist()
    by_practice: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row["top_factors"] = "; ".join(points.top_factors(row))
        by_practice.setdefault(str(row["practice_code"]), []).append(row)
    for practice, prow in by_practice.items():
        path = out / "practices" / practice / "register.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(REGISTER_FIELDS)
            for r in prow:
                writer.writerow([_fmt_cell(r[f]) for f in REGISTER_FIELDS])


def _rule_text(comp: Any) -> str:
    """The component's rule in words, for the report (the YAML says the same in fields)."""
    if comp.type == "engagement":
        if comp.payee != "practices":
            return f"£{comp.rate} fixed sum to {comp.payee}"
        return (
            f"£{comp.rate} per registered patient"
            if comp.basis == "per_registered_patient"
            else f"£{comp.rate} per practice"
        )
    if comp.type == "capitation":
        who = (
            "the holder, for every patient in scope" if comp.payee == "holder" else "each practice"
        )
        return f"£{comp.rate} per registered patient a year to {who}"
    if comp.type == "concordance":
        if comp.basis == "qof_points":
            adj = " x APDF (prevalence / national)" if comp.prevalence_measure else ""
            return (
                f"QOF-style: up to {comp.max_points} points for '{comp.measure}' scaled linearly from "
                f"{comp.lower_threshold_percent}% to {comp.upper_threshold_percent}%, x £ per point x CPI{adj}"
            )
        return f"£{comp.rate} per patient in the numerator of '{comp.measure}'"
    if isinstance(comp, PerformanceComponent):
        pay = (
            f"a £{comp.pot:,.2f} pot per {comp.aggregate_level.replace('_', '-')} shared by {comp.distribute_by.replace('_', ' ')}"
            if comp.basis == "pot"
            else f"£{comp.rate} per registered patient"
        )
        return (
            f"{pay} if the {comp.aggregate_level.replace('_', '-')} reduction in '{comp.measure}' reaches "
            f"{comp.target_reduction_percent}% ({comp.scaling.replace('_', ' ')}) and the practice's own "
            f"reduction at least {comp.practice_floor_reduction_percent}%"
        )
    if comp.type == "gain_share":
        return (
            f"{comp.gain_share_percent}% of any saving (cap {comp.gain_cap or 'none'}) and "
            f"{comp.loss_share_percent}% of any overspend (collar {comp.loss_collar or 'none'}) on "
            f"'{comp.measure}' at £{comp.unit_cost} a unit, against the baseline"
        )
    if comp.type == "withhold":
        return (
            f"{comp.percent}% of {', '.join(comp.from_components)} withheld in year, released if "
            f"'{comp.measure}' is {comp.direction.replace('_', ' ')} {comp.target_percent}%"
        )
    return ""


REPORT_MAX_ROWS = 2000


@dataclass
class ComparisonView:
    """Contract models compared, for the report (the CSVs hold the same rows)."""

    contracts: list[str]
    ranges: list[dict[str, str]]
    scenarios: list[dict[str, str]]
    chart: str
    settings: Any


def _compare(
    config: RunConfig,
    loaded: LoadedContract,
    table: pa.Table,
    membership: dict[tuple[str, str], str],
    joined: dict[tuple[str, str], dt.date],
    pay_run: PaymentRun,
    out: Path,
) -> ComparisonView:
    """Pay the run's contract and the configured alternatives from the same results."""
    from careis.payments.compare import RunInputs, compare, write_rows

    settings = config.compare
    assert settings is not None
    contracts = [loaded]
    seen = {loaded.contract.id: config.contract_path}
    for i, path in enumerate(settings.contracts):
        if config.resolve(path).resolve() == config.contract_path.resolve():
            continue  # the run's own contract (e.g. `careis demo --contract` one of the list)
        other = load_contract(config.resolve(path))
        if other.contract.id in seen:
            raise ConfigError(
                f"contract id '{other.contract.id}' is used by {seen[other.contract.id]} too.",
                file=config.source,
                where=f"compare.contracts[{i}]",
                fix="compare contracts with different ids (the run's own contract is included).",
            )
        seen[other.contract.id] = config.resolve(path)
        contracts.append(other)
    inputs = RunInputs(table.to_pylist(), dict(membership), dict(joined), pay_run.practices)
    result = compare(
        contracts, inputs, settings.scenarios, settings.draws, settings.seed,
        settings.sd_common, settings.sd_practice,
    )  # fmt: skip
    write_rows(result.scenario_rows, out / "compare" / "scenarios.csv")
    write_rows(result.range_rows, out / "compare" / "ranges.csv")
    return ComparisonView(
        [c.contract.id for c in contracts],
        result.range_rows,
        result.scenario_rows,
        charts.surplus_by_scenario(result.scenario_rows),
        settings,
    )


def _money_view(
    loaded: LoadedContract, pay_run: PaymentRun | None, practice_codes: set[str]
) -> dict[str, Any]:
    """Ledger and non-practice statements for the report's money section."""
    if pay_run is None:
        return {}
    contract = loaded.contract
    net = balances(pay_run.ledger)
    flows: dict[tuple[str, str, str], Decimal] = {}
    for e in pay_run.ledger:
        key = (e.movement, e.payer if e.payer not in practice_codes else "practices",
               e.payee if e.payee not in practice_codes else "practices")  # fmt: skip
        flows[key] = flows.get(key, Decimal("0.00")) + e.amount
    others = [line for line in pay_run.lines if line.provider not in practice_codes]
    return {
        "model": contract.model,
        "holder": contract.holder,
        "alliance": contract.alliance,
        "accounts": [
            {"account": a, "net": v, "practice": a in practice_codes} for a, v in net.items()
        ],
        "total": sum(net.values(), Decimal("0.00")),
        "flows": [
            {"movement": k[0], "payer": k[1], "payee": k[2], "amount": v}
            for k, v in sorted(flows.items())
        ],
        "movements": len(pay_run.ledger),
        "other_lines": others,
        # shown in full up to these sizes; the CSVs always hold everything
        "ledger": pay_run.ledger[:REPORT_MAX_ROWS],
        "lines": pay_run.lines[:REPORT_MAX_ROWS],
        "max_rows": REPORT_MAX_ROWS,
        "line_count": len(pay_run.lines),
    }


def _write_report(
    config: RunConfig,
    loaded: LoadedContract,
    view: SchemeView,
    data: LoadResult,
    inputs: list[dict[str, Any]],
    backend: str,
    out: Path,
    evaluated: Evaluated,
    published: pa.Table | None = None,
    risk_out: RiskOutputs | None = None,
    names: dict[str, str] | None = None,
    pay_run: PaymentRun | None = None,
    comparison: ComparisonView | None = None,
) -> Path:
    perf = next(
        (c for c in loaded.contract.components if isinstance(c, PerformanceComponent)), None
    )
    fed_of = {p.code: f.row.code for f in view.federations for pcn in f.pcns for p in pcn.practices}
    prows = [
        {
            "label": f"{p.name.title()} ({p.code})",
            "federation": fed_of.get(p.code, ""),
            "change": p.change,
            "care_plan_pct": p.care_plan_pct,
            "list_size": p.list_size,
        }
        for p in view.practices
    ]
    pay_rows = [
        {"federation": f.row.code, "component": cid, "amount": float(amount)}
        for f in view.federations
        for cid, amount in sorted(f.row.payments.items())
    ]
    svg = {
        "change": charts.change_by_practice(
            prows,
            float(perf.target_reduction_percent) if perf else None,
            float(perf.practice_floor_reduction_percent) if perf else None,
        ),
        "scatter": charts.concordance_vs_change(prows),
        "payments": charts.payments_by_federation(pay_rows),
    }
    quality = [
        {
            "table": s.table,
            "read": s.read,
            "accepted": s.accepted,
            "quarantined": s.quarantined,
            "reasons": "; ".join(
                f"{k} ({v:,})" for k, v in sorted(s.reasons.items(), key=lambda kv: -kv[1])[:3]
            ),
        }
        for s in data.summary
    ]
    html = render(
        "report.html.j2",
        {
            "scheme": {"name": config.name, "description": config.description},
            "contract": loaded.contract,
            "periods": config.periods,
            "index_date": config.index_date,
            "risk": config.risk,
            "risk_method": "transparent points score"
            if risk_out is None
            else f"{risk_out.model.kind} model {risk_out.model.model_id}",
            "risk_text": points.__doc__.split("\n\n")[1].replace("\n", " ")
            if points.__doc__
            else "",
            "risk_points": points.POINTS_TABLE if risk_out is None else (),
            "risk_model": _risk_view(risk_out, names or {}) if risk_out is not None else None,
            "engine": backend,
            "view": view,
            "performance": perf,
            "charts": svg,
            "rules": {c.id: _rule_text(c) for c in loaded.contract.components},
            "quality": quality,
            "money": _money_view(loaded, pay_run, {p.code for p in view.practices}),
            "comparison": comparison,
            "measures": list(evaluated.catalogue.values()),
            "measure_section": build_measures_section(
                evaluated,
                published if published is not None else evaluated.results,
                config.suppression,
                _names_of(view),
                {"baseline": config.periods.baseline, "performance": config.periods.performance},
            ),
            "manifest": {"careis_version": _version(), "git_commit": _commit(), "inputs": inputs},
        },
    )
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


@dataclass
class RiskOutputs:
    """What the 'model' risk method produced: the model used, its card, the refresh."""

    model: Any
    card: Path
    refresh: Refresh
    summary: list[dict[str, Any]]
    coverage: dict[str, int]
    #: Cohorts already scored here, for the measures engine: 'efi' (patient_id, practice_code,
    #: efi_score, efi_category; 65+). The register and risk tiers come from the refresh.
    cohorts: dict[str, Any] = field(default_factory=dict)


def _model_risk(
    config: RunConfig, engine: Engine, tables: dict[str, Any], library: CodelistLibrary, out: Path
) -> RiskOutputs:
    """Load (or train on this data) the admission model, score, draw registers and frailty lists.

    Why train in the run when no model is given: the demo and a first look need no separate
    step. The run's model is trained with its index date a year before the register's, so its
    outcome year ends before the register is drawn (nothing from the future is used); it is
    written to risk/model.json with its card, so the next run can name it in `risk.model`.
    """
    from careis.risk import outputs as risk_outputs
    from careis.risk.card import write_card
    from careis.risk.model import load as load_model
    from careis.risk.scoring import efi_cohort
    from careis.risk.scoring import refresh as draw_refresh
    from careis.risk.training import coverage, train_and_validate, year_before

    risk = config.risk
    if config.model_path is not None:
        model = load_model(config.model_path)
        model.check_schema()
    else:
        trained = train_and_validate(
            engine,
            tables,
            library,
            train_index=year_before(config.index_date),
            validate_index=config.index_date,
            holdout_share=risk.holdout_share,
            kinds=[risk.model_kind],
            lookback_days=risk.lookback_days,
            data_label=str(config.data.path),
        )
        model = trained.models[risk.model_kind]
        model.save(out / "risk" / "model.json")
    synthetic = config.data.generate is not None or (config.data.path / "generation.json").exists()
    _, card = write_card(model, out / "risk", synthetic=synthetic)
    previous = None
    if risk.refresh_months:
        months = config.index_date.year * 12 + config.index_date.month - 1 - risk.refresh_months
        previous = dt.date(months // 12, months % 12 + 1, 1)
    ref = draw_refresh(
        engine,
        tables,
        library,
        model,
        config.index_date,
        percent=risk.register_percent,
        min_age=risk.min_age,
        lookback_days=risk.lookback_days,
        previous_index=previous,
    )
    summary = risk_outputs.practice_summary(ref.sizes, ref.register, ref.efi_distribution)
    cohorts = {"efi": efi_cohort(ref.scored)}
    return RiskOutputs(
        model, card, ref, summary, coverage(engine, tables, config.index_date), cohorts
    )


def _write_model_registers(risk_out: RiskOutputs, config: RunConfig, out: Path) -> None:
    """Registers, frailty lists and entry/exit only in each practice's own folder; the
    per-practice counts (suppressed) in risk/practice_summary.csv."""
    from careis.risk import outputs as risk_outputs

    ref = risk_out.refresh
    risk_outputs.write_practice_files(out, ref.practices, ref.register, ref.frailty, ref.changes)
    risk_outputs.write_summary(out, risk_out.summary, config.suppression)


def _risk_view(risk_out: RiskOutputs, names: dict[str, str]) -> dict[str, Any]:
    from careis.risk import report as risk_report
    from careis.risk.efi import CATEGORIES

    summary = risk_out.summary
    totals = {
        c: sum(r[c] for r in summary)
        for c in ("adults", "register_target", "on_register", *CATEGORIES)
    }
    changes = risk_out.refresh.changes
    return {
        "headline": risk_report.headline(risk_out.model),
        "card": risk_out.card.name,
        "summary": [
            {**r, "name": names.get(r["practice_code"], r["practice_code"])} for r in summary
        ],
        "totals": totals,
        "efi_chart": risk_report.efi_chart(summary, names),
        "coverage": risk_out.coverage,
        "previous": str(risk_out.refresh.previous_index)
        if risk_out.refresh.previous_index
        else None,
        "entered": sum(1 for c in changes if c["change"] == "entered")
        if changes is not None
        else None,
        "left": sum(1 for c in changes if c["change"] == "left") if changes is not None else None,
        "categories": CATEGORIES,
    }


def _efi_cohort(
    config: RunConfig,
    tables: dict[str, Any],
    library: CodelistLibrary,
    risk_out: RiskOutputs | None,
) -> Any:
    """The 'efi' cohort for measures: patient_id, practice_code, category (eFI category, 65+).

    The model method has already scored the eFI (reuse it); the points method has not, so the
    eFI is computed here: it is a count of coded deficits, cheap next to the measures.
    """
    if risk_out is not None and "efi" in risk_out.cohorts:
        t = risk_out.cohorts["efi"]
    else:
        from careis.risk.efi import efi

        t = efi(tables, config.index_date, library)
    return t.select("patient_id", "practice_code", category=t.efi_category)


def _names_of(view: SchemeView) -> dict[str, str]:
    """Organisation names the report already knows (federations, PCNs, practices, sub-ICBs)."""
    out: dict[str, str] = {}
    for f in view.federations:
        out[f.row.code] = f.row.name
        for pcn in f.pcns:
            out[pcn.row.code] = pcn.row.name
            for p in pcn.practices:
                out[p.code] = p.name.title()
    for area in view.sub_icbs:
        code = getattr(area, "code", None)
        if code:
            out[str(code)] = area.name
    return out


def _version() -> str:
    from careis import __version__

    return __version__


def _commit() -> str | None:
    from careis.manifest import git_commit

    return git_commit()


def _config_json(config: RunConfig, loaded: LoadedContract) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(config.model_dump_json())
    data["contract_resolved"] = json.loads(loaded.contract.model_dump_json())
    return data


ProgressCallback = Callable[[int, int], None]
