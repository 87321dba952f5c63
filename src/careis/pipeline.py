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
from careis.measures.compile import Evaluated, evaluate
from careis.measures.definitions import load_measures
from careis.measures.results import MeasureResults
from careis.measures.suppression import suppress_results
from careis.payments.calculate import StatementLine, statements
from careis.report import charts
from careis.report.html import render
from careis.report.measures_view import build_measures_section
from careis.report.scheme import SchemeView, build_view
from careis.risk import points
from careis.risk.register import register as draw_register

STAGES = ("data", "validate", "risk", "measures", "payments", "report")
COHORTS = ("register",)  # named patient sets the risk stage hands to the measures


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
            facts = patient_facts(
                tables, config.index_date, library, lookback_days=config.risk.lookback_days
            )
            scored = points.score(facts)
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
            evaluated = evaluate(
                engine,
                tables,
                measure_set,
                periods=periods,
                index_date=config.index_date,
                library=library,
                cohorts={"register": reg},
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
            list_date = loaded.contract.list_size_date or loaded.contract.term.start
            membership = _membership_on(engine, tables, list_date)
            names = _org_names(engine, tables)
            practices = sorted(
                {
                    str(r["org_code"])
                    for r in results.filter(measure_id="list_size", level="practice")
                }
            )
            lines = statements(loaded, results, practices, membership)
            _write_statements(lines, membership, out)
            totals: dict[str, Decimal] = {}
            for line in lines:
                totals[line.component_type] = (
                    totals.get(line.component_type, Decimal("0.00")) + line.amount
                )
            result.totals = totals
            note["note"] = (
                f"£{sum(totals.values(), Decimal('0')):,.2f} to {len(practices)} practices"
            )

        _write_registers(reg_arrow, out)

        if config.output.report:
            with _timed(timings, "report", reporter, "Writing report") as note:
                view = build_view(
                    results,
                    lines,
                    names,
                    membership,
                    [(c.id, c.type) for c in loaded.contract.components],
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
        + describe_files([config.contract_path], Path.cwd()),
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
    codes = flags.column("practice_code").to_pylist()
    cols = {c: flags.column(c).to_pylist() for c in FLAG_FIELDS}
    start = 0
    n = len(codes)
    while start < n:
        end = start
        while end < n and codes[end] == codes[start]:
            end += 1
        path = out / "practices" / str(codes[start]) / "measure_flags.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(FLAG_FIELDS)
            for i in range(start, end):
                writer.writerow([_fmt_cell(cols[c][i]) for c in FLAG_FIELDS])
        start = end


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


def _org_names(engine: Engine, tables: dict[str, Any]) -> dict[str, str]:
    rows = engine.to_arrow(tables["organisations"].select("org_code", "name")).to_pylist()
    return {r["org_code"]: r["name"] for r in rows}


STATEMENT_FIELDS = [
    "provider", "pcn", "federation", "component_id", "component_type", "description", "measure_id",
    "measure_level", "measure_org", "measure_value", "test", "met", "quantity", "rate", "amount", "evidence",
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
    lines: list[StatementLine], membership: dict[tuple[str, str], str], out: Path
) -> None:
    rows = _statement_rows(lines, membership)
    _write_rows(rows, STATEMENT_FIELDS, out / "payments" / "statements.csv")
    by_practice: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_practice.setdefault(row["provider"], []).append(row)
    summary = []
    for practice, prow in sorted(by_practice.items()):
        _write_rows(prow, STATEMENT_FIELDS, out / "practices" / practice / "statement.csv")
        entry = {"provider": practice, "pcn": prow[0]["pcn"], "federation": prow[0]["federation"]}
        total = Decimal("0.00")
        for r in prow:
            entry[r["component_id"]] = r["amount"]
            total += Decimal(r["amount"])
        entry["total"] = f"{total:.2f}"
        summary.append(entry)
    comp_ids = list(dict.fromkeys(line.component_id for line in lines))
    _write_rows(
        summary,
        ["provider", "pcn", "federation", *comp_ids, "total"],
        out / "payments" / "summary.csv",
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
    if comp.type == "engagement":
        return (
            f"£{comp.rate} per registered patient"
            if comp.basis == "per_registered_patient"
            else f"£{comp.rate} per practice"
        )
    if comp.type == "concordance":
        return f"£{comp.rate} per patient in the numerator of '{comp.measure}'"
    if isinstance(comp, PerformanceComponent):
        return (
            f"£{comp.rate} per registered patient if the {comp.aggregate_level.replace('_', '-')} reduction in "
            f"'{comp.measure}' is at least {comp.target_reduction_percent}% and the practice's own reduction at "
            f"least {comp.practice_floor_reduction_percent}%"
        )
    return ""


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
            "risk_method": "transparent points score",
            "risk_text": points.__doc__.split("\n\n")[1].replace("\n", " ")
            if points.__doc__
            else "",
            "risk_points": points.POINTS_TABLE,
            "engine": backend,
            "view": view,
            "performance": perf,
            "charts": svg,
            "rules": {c.id: _rule_text(c) for c in loaded.contract.components},
            "quality": quality,
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
