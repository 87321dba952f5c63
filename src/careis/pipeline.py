"""The commissioning run: data in, risk, measures, payments, report out.

Each stage is a function of the previous stage's outputs (see docs/architecture.md). This module
only sequences them and times them: each stage below is one short call into the layer that
owns the work and writes that layer's outputs (paths in `careis.layout`).

Outputs of a run (under `output.dir`):
- `manifest.json`: inputs' hashes, config, code version, outputs' hashes (no timestamps);
- `run_log.json`: wall-clock time per stage (differs between runs; not part of the manifest);
- `quarantine/`: rejected input rows with reasons, and `summary.csv`;
- `measures/results.csv` (exact; restricted) and `measures/published.csv` (suppressed);
- `payments/statements.csv` (every line) and `payments/summary.csv` (per practice);
  `payments/payment_file.csv` (each provider's net per payment date, named, for finance);
- `practices/<code>/register.csv`, `worklist.csv` (by the worklist rules) and
  `statement.csv`: patient-level data only in the practice's own folder;
- `report.html` and `results.xlsx` (the tables above as an Excel workbook).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from careis.codelists import CodelistLibrary
from careis.config import RunConfig
from careis.contracts.schema import LoadedContract, load_contract
from careis.data.load import LoadOptions, LoadResult, load_dataset
from careis.engine import Engine
from careis.errors import ConfigError, DataError
from careis.facts.membership import (
    Membership,
    joined_during,
    list_sizes_on,
    membership_on,
    org_names,
    with_contract_groups,
)
from careis.facts.population import data_span
from careis.layout import RunLayout
from careis.manifest import build as build_manifest
from careis.manifest import (
    describe_files,
    describe_inputs,
    files_under,
    git_commit,
    inputs_digest,
)
from careis.manifest import write as write_manifest
from careis.measures.compile import Evaluated
from careis.measures.compile import evaluate as evaluate_measures
from careis.measures.definitions import MeasureSet, load_measures
from careis.measures.outputs import write_measure_outputs
from careis.measures.results import MeasureResults
from careis.measures.suppression import suppress_results
from careis.money import ZERO
from careis.payments.assessable import (
    TableRows,
    not_assessable_note,
    not_assessable_practices,
    require_assessable,
)
from careis.payments.calculate import evaluate as evaluate_payments
from careis.payments.calculate import judged_with
from careis.payments.compare import (
    RunInputs,
    compare,
    load_alternatives,
    write_comparison,
)
from careis.payments.ledger import PaymentRun, reconcile
from careis.payments.outputs import (
    party_names,
    write_ledger,
    write_memberships,
    write_payment_file,
    write_statements,
)
from careis.report import charts
from careis.report.comparison import compared_party_names
from careis.report.scheme import build_view
from careis.report.statements import (
    StatementRun,
    statement_parties,
    write_statement_documents,
    write_statement_index,
)
from careis.report.workbook import WorkbookContext, write_workbook
from careis.risk.stage import COHORTS, RiskRun, RiskStage, cohorts, run_risk, write_registers
from careis.risk.worklist import run_sources, write_worklists
from careis.risk.worklist_rules import WorklistRules, load_rules
from careis.run_report import (
    ComparisonView,
    ReportContext,
    ReportPeriods,
    RunResults,
    write_report,
)
from careis.staging import staged_folder

__all__ = ["COHORTS", "Reporter", "RunResult", "SilentReporter", "run"]


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
    workbook: Path | None = None


@dataclass
class _Run:
    """One run in progress: its config, where it writes, its timings."""

    config: RunConfig
    reporter: Reporter
    layout: RunLayout
    timings: dict[str, float] = field(default_factory=dict)
    worklist_rules: WorklistRules | None = None  # None: a measures-only run writes no worklist

    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[dict[str, str]]:
        self.reporter.stage(name, description)
        start = time.perf_counter()
        note: dict[str, str] = {}
        yield note
        self.timings[name] = time.perf_counter() - start
        self.reporter.done(name, self.timings[name], note.get("note", ""))


@dataclass
class _Measured:
    evaluated: Evaluated
    results: MeasureResults
    published: pa.Table
    cohorts: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Paid:
    pay_run: PaymentRun
    membership: Membership
    joined: dict[tuple[str, str], dt.date]
    practices: list[str]
    names: dict[str, str]
    totals: dict[str, Decimal]  # amount paid by component type


def run(
    config: RunConfig, *, reporter: Reporter | None = None, measures_only: bool = False
) -> RunResult:
    """Run every stage of `config`; write outputs to `config.output.dir`.

    `measures_only` stops after the measures stage (`careis measures run`): no payments,
    register files or report, but the same manifest.
    """
    target = config.output.dir
    loaded, library, measure_set, rules = _check_inputs(config, measures_only)
    with staged_folder(target) as staging:
        r = _Run(config, reporter or SilentReporter(), RunLayout(staging), worklist_rules=rules)
        report = _run_stages(r, loaded, library, measure_set, measures_only)
        result = RunResult(
            out_dir=target, report=None, timings=r.timings, totals=report.totals, notes=report.notes
        )
    if report.report:
        result.report = target / report.report.relative_to(r.layout.root)
    if report.workbook:
        result.workbook = target / report.workbook.relative_to(r.layout.root)
    return result


@dataclass
class _Outcome:
    report: Path | None = None
    workbook: Path | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # stage -> a sentence to show the user


def _run_stages(
    r: _Run,
    loaded: LoadedContract,
    library: CodelistLibrary,
    measure_set: MeasureSet,
    measures_only: bool,
) -> _Outcome:
    """Every stage, writing into `r.layout` (the staging folder), then the manifest."""
    outcome = _Outcome()
    _prepare_data(r)
    engine = Engine.open(r.config.engine)
    try:
        with engine.errors():  # a Spark failure: one line naming the setting
            data = _validate(r, engine)
            if not measures_only:
                _check_assessable(loaded, measure_set, data)
            _judge_with_contract_groups(data.tables, loaded)
            risk = _risk(r, engine, data.tables, library)
            measured = _measures(r, engine, data.tables, library, measure_set, risk)
            if not measures_only:
                paid = _payments(r, engine, data.tables, loaded, measured.results)
                outcome.totals = paid.totals
                if unjudged := not_assessable_note(paid.pay_run.lines):
                    outcome.notes["payments"] = f"Not assessable: {unjudged}."
                write_registers(risk, r.layout, r.config.suppression)
                _worklists(r, engine, data.tables, library, risk, measured)
                comparison = _compare(r, loaded, measured.evaluated.results, paid)
                outcome.report = _report(r, engine, loaded, data, risk, measured, paid, comparison)
                _documents(r, loaded, library, measured, paid)
                outcome.workbook = _workbook(r, loaded, paid)
    finally:
        engine.close()
    _write_manifest(r, loaded, library)
    return outcome


def _check_inputs(
    config: RunConfig, measures_only: bool
) -> tuple[LoadedContract, CodelistLibrary, MeasureSet, WorklistRules | None]:
    """Contract, code lists, measures and worklist rules, checked before any data is
    touched: a typo in a measure file, a missing code list or a contract naming an unknown
    measure should cost seconds, not a full run."""
    out, data = config.output.dir.resolve(), config.data.path.resolve()
    if data.is_relative_to(out):
        raise ConfigError(
            "data.path is inside output.dir; a run replaces its output folder whole, so the "
            "data would be lost.",
            file=config.source,
            where="data.path",
            fix="keep the data and the outputs in separate folders.",
        )
    loaded = load_contract(config.contract_path)
    loaded.check_periods(config.periods.baseline, config.periods.performance)
    library = CodelistLibrary(config.codelists_path)
    measure_set = load_measures(config.measure_paths)
    measure_set.check(codelist_names=library.names(), cohorts=COHORTS)
    rules = None
    if not measures_only:  # payments need every measure the contract names
        loaded.check_measures(set(measure_set.by_id))
        rules = load_rules(config.worklist_rules_path)
        # the shipped rules leave out those whose measure this run's library lacks
        rules.check(measure_set.by_id, library.names(), strict=config.worklist.rules is not None)
    return loaded, library, measure_set, rules


def _has_data(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("patients*"))


def _prepare_data(r: _Run) -> None:
    """Use the data folder, or generate synthetic data into it when the config says so."""
    data = r.config.data
    with r.stage("data", "Preparing data") as note:
        if _has_data(data.path):
            note["note"] = f"using {data.path}"
            return
        if data.generate is None:
            raise DataError(
                "no data found (no patients table).",
                file=data.path,
                fix="point data.path at a folder of canonical tables, or add data.generate to create synthetic data.",
            )
        from careis.synth import expected_patients, generate

        total = expected_patients(data.generate)
        generate(data.generate, data.path, progress=r.reporter.progress)
        note["note"] = f"generated ~{total:,} patients"


def _validate(r: _Run, engine: Engine) -> LoadResult:
    """Load and validate every table; rejected rows go to quarantine/ with their reasons."""
    data = r.config.data
    with r.stage("validate", "Validating and loading") as note:
        options = LoadOptions(history_before_registration=data.history_before_registration)
        loaded = load_dataset(engine, data.path, extract_date=data.extract_date, options=options)
        loaded.write_quarantine(engine, r.layout.root)
        read = sum(s.read for s in loaded.summary)
        bad = sum(s.quarantined for s in loaded.summary)
        note["note"] = f"{read:,} rows read, {bad:,} quarantined"
    return loaded


def _check_assessable(loaded: LoadedContract, measure_set: MeasureSet, data: LoadResult) -> None:
    """Stop before risk and measures when a component's input table is empty (never pay £0)."""
    rows = {s.table: TableRows(s.file, s.read, s.accepted) for s in data.summary}
    require_assessable(loaded, measure_set, rows)


def _risk(r: _Run, engine: Engine, tables: dict[str, Any], library: CodelistLibrary) -> RiskStage:
    config = r.config
    synthetic = config.data.generate is not None or (config.data.path / "generation.json").exists()
    run = RiskRun(config.index_date, config.model_path, str(config.data.path), synthetic, r.layout)
    with r.stage("risk", "Scoring risk and drawing up registers") as note:
        stage = run_risk(engine, tables, library, config.risk, run)
        note["note"] = f"{stage.register_rows.num_rows:,} patients on registers"
    return stage


def _measures(
    r: _Run,
    engine: Engine,
    tables: dict[str, Any],
    library: CodelistLibrary,
    measure_set: MeasureSet,
    risk: RiskStage,
) -> _Measured:
    """Evaluate every measure at every level; write exact, published and patient-level files."""
    config = r.config
    with r.stage("measures", "Computing measures") as note:
        config.check_periods_covered(data_span(tables))
        given = cohorts(engine, risk, tables, library, config.risk, config.index_date)
        evaluated = evaluate_measures(
            engine,
            tables,
            measure_set,
            periods={
                "baseline": config.periods.baseline,
                "performance": config.periods.performance,
            },
            index_date=config.index_date,
            library=library,
            cohorts=given,
        )
        groups = membership_on(engine, tables, config.periods.performance.end)
        # The baseline's roll-up used the groups of its own days: an attacker differencing a
        # baseline PCN total against its members must meet the baseline's membership.
        by_period = {"baseline": membership_on(engine, tables, config.periods.baseline.end)}
        published = suppress_results(
            evaluated.results, evaluated.catalogue, config.suppression, groups, by_period
        )
        write_measure_outputs(evaluated, published, r.layout)
        note["note"] = (
            f"{len(measure_set.measures)} measures, {evaluated.results.num_rows:,} results"
        )
    results = MeasureResults(evaluated.results, evaluated.catalogue)
    return _Measured(evaluated, results, published, given)


def _payments(
    r: _Run,
    engine: Engine,
    tables: dict[str, Any],
    loaded: LoadedContract,
    results: MeasureResults,
) -> _Paid:
    """Pay the contract from the measure results; write statements, ledger and memberships."""
    with r.stage("payments", "Calculating payments") as note:
        contract = loaded.contract
        on_list_date = membership_on(engine, tables, contract.list_size_date or contract.term.start)
        membership, joined = joined_during(engine, tables, contract.term, on_list_date)
        # as judged (a contract joiner on or before the list date keeps its joining date)
        membership, joined = judged_with(contract, membership, joined)
        practice_rows = results.filter(measure_id="list_size", level="practice")
        practices = sorted({str(row["org_code"]) for row in practice_rows})
        # the list_size measure counts the list on the index date; a contract that takes its
        # list on another day ("per registered patient" on 1 October) is counted on that day
        list_day = contract.list_size_date or contract.term.start
        sizes = None if list_day == r.config.index_date else list_sizes_on(engine, tables, list_day)
        pay_run = evaluate_payments(loaded, results, practices, membership, joined, sizes)
        problems = reconcile(pay_run, contract.commissioner.code)
        if problems:  # a bug in careis, never the user's input: refuse to write statements
            raise RuntimeError("payment ledger does not reconcile: " + "; ".join(problems))
        write_statements(pay_run.lines, membership, r.layout, set(practices))
        write_ledger(pay_run, contract.commissioner.code, r.layout)
        names = org_names(engine, tables)
        write_payment_file(pay_run, contract, party_names(contract, names), r.layout)
        write_memberships(membership, joined, r.layout)
        providers = len({line.provider for line in pay_run.lines})
        totals = _totals(pay_run)
        total = sum(totals.values(), Decimal("0"))
        note["note"] = (
            f"£{total:,.2f} to {providers} providers; "
            f"{len(pay_run.ledger):,} ledger movements balance"
        )
        if unjudged := not_assessable_practices(pay_run.lines):  # the why: RunResult.notes
            n = len(unjudged)
            note["note"] += f"; {n} practice{'s' if n != 1 else ''} not assessable"
    return _Paid(pay_run, membership, joined, practices, names, totals)


def _judge_with_contract_groups(tables: dict[str, Any], loaded: LoadedContract) -> None:
    """Groups the contract states replace the data's at their levels before anything is
    measured, so the measures are rolled up, paid and shown over the groups judged."""
    groups = [(g.code, g.level, g.practices, g.joined) for g in loaded.contract.groups]
    tables["memberships"] = with_contract_groups(tables["memberships"], list(groups))


def _totals(pay_run: PaymentRun) -> dict[str, Decimal]:
    """Amount paid by component type."""
    totals: dict[str, Decimal] = {}
    for line in pay_run.lines:
        totals[line.component_type] = totals.get(line.component_type, ZERO) + line.amount
    return totals


def _compare(
    r: _Run, loaded: LoadedContract, table: pa.Table, paid: _Paid
) -> ComparisonView | None:
    """With a `compare:` block: every contract model paid from the same results."""
    settings = r.config.compare
    if settings is None:
        return None
    with r.stage("compare", "Comparing contract models") as note:
        paths = [r.config.resolve(p) for p in settings.contracts]
        contracts = load_alternatives(loaded, r.config.contract_path, paths, r.config.source)
        inputs = RunInputs(
            table.to_pylist(), dict(paid.membership), dict(paid.joined), paid.pay_run.practices
        )
        result = compare(
            contracts, inputs, settings.scenarios, settings.draws, settings.seed,
            settings.sd_common, settings.sd_practice,
        )  # fmt: skip
        write_comparison(result, r.layout)
        note["note"] = f"{len(contracts)} contracts, {settings.draws} draws"
    return ComparisonView(
        [c.contract.id for c in contracts],
        result.range_rows,
        result.scenario_rows,
        charts.surplus_by_scenario(
            result.scenario_rows, compared_party_names([c.contract for c in contracts])
        ),
        settings,
    )


def _report_context(config: RunConfig, backend: str) -> ReportContext:
    from careis import __version__

    return ReportContext(
        name=config.name,
        description=config.description,
        periods=ReportPeriods(config.periods.baseline, config.periods.performance),
        index_date=config.index_date,
        risk=config.risk,
        suppression=config.suppression,
        backend=backend,
        inputs=describe_files(files_under(config.data.path), Path.cwd()),
        version=__version__,
        commit=git_commit(),
    )


def _report(
    r: _Run,
    engine: Engine,
    loaded: LoadedContract,
    data: LoadResult,
    risk: RiskStage,
    measured: _Measured,
    paid: _Paid,
    comparison: ComparisonView | None,
) -> Path | None:
    """report.html, when the config asks for it."""
    if not r.config.output.report:
        return None
    with r.stage("report", "Writing report") as note:
        practices = set(paid.practices)
        practice_lines = [line for line in paid.pay_run.lines if line.provider in practices]
        components: list[tuple[str, str]] = [(c.id, c.type) for c in loaded.contract.components]
        view = build_view(
            measured.results, practice_lines, paid.names, paid.membership, components,
            paid.pay_run.practices,
        )  # fmt: skip
        res = RunResults(
            loaded, view, data, measured.evaluated, measured.published, risk.model,
            paid.names, paid.pay_run, comparison,
        )  # fmt: skip
        path = write_report(_report_context(r.config, engine.backend), res, r.layout.report)
        note["note"] = str(r.config.output.dir / path.name)
    return path


def _worklists(
    r: _Run,
    engine: Engine,
    tables: dict[str, Any],
    library: CodelistLibrary,
    risk: RiskStage,
    measured: _Measured,
) -> None:
    """practices/<code>/worklist.csv: who needs what and why, by the worklist rules."""
    rules = r.worklist_rules
    if rules is None:
        return
    with r.stage("worklist", "Drawing up the practices' worklists") as note:
        names = {k: v.name for k, v in measured.evaluated.catalogue.items()}
        src = run_sources(
            engine, risk, tables, measured.evaluated.patient_flags, measured.cohorts["efi"],
            r.config.index_date, library, rules, names,
        )  # fmt: skip
        written = write_worklists(r.layout.root / "practices", src, rules, engine.to_arrow)
        note["note"] = f"{len(written):,} practices, {len(rules.rules)} rules"
        if rules.left_out:
            note["note"] += f" ({', '.join(rules.left_out)} left out: measure not in this run)"


def _documents(
    r: _Run, loaded: LoadedContract, library: CodelistLibrary, measured: _Measured, paid: _Paid
) -> None:
    """Each paid provider's statement as HTML and PDF, and an index, when the config asks."""
    if not r.config.output.documents:
        return
    from careis import __version__

    with r.stage("documents", "Writing statements as documents") as note:
        perf = r.config.periods.performance
        run = StatementRun(
            contract=loaded.contract,
            pay_run=paid.pay_run,
            measure_names={k: v.name for k, v in measured.evaluated.catalogue.items()},
            digest=inputs_digest(_inputs(r.config, loaded, library, r.worklist_rules)),
            period=f"{perf.name} ({perf.start} to {perf.end})",
            careis_version=__version__,
        )
        parties = statement_parties(loaded.contract, paid.pay_run, paid.names, r.layout)
        written = write_statement_documents(run, parties)
        write_statement_index(run, parties, r.layout)
        note["note"] = f"{len(parties)} statements, {len(written)} files"


def _workbook(r: _Run, loaded: LoadedContract, paid: _Paid) -> Path:
    """results.xlsx, from the CSVs the payments and measures stages wrote (every full run)."""
    from careis import __version__

    with r.stage("workbook", "Writing Excel workbook") as note:
        contract = loaded.contract
        periods = r.config.periods
        ctx = WorkbookContext(
            run_name=r.config.name,
            contract=contract,
            baseline=periods.baseline,
            performance=periods.performance,
            names=party_names(contract, paid.names),
            practices=paid.practices,
            version=__version__,
        )
        path = write_workbook(r.layout, ctx)
        note["note"] = str(r.config.output.dir / path.name)
    return path


def _inputs(
    config: RunConfig,
    loaded: LoadedContract,
    library: CodelistLibrary,
    rules: WorklistRules | None = None,
) -> list[Any]:
    """Every input that can change an output, by role: data, config, contract and the files it
    reads, compared contracts, measures, the code lists read, the model, the worklist rules."""
    from careis.measures.definitions import measure_files

    compared = [config.resolve(c) for c in (config.compare.contracts if config.compare else [])]
    contract_dir = config.contract_path.parent
    lists = library.files_read()
    groups = [
        describe_inputs("data", files_under(config.data.path), config.data.path),
        describe_inputs("contract", [config.contract_path], single=True),
        describe_inputs("contract-file", loaded.referenced_files(), contract_dir),
        describe_inputs("compare-contract", compared),
        describe_inputs("measures", measure_files(config.measure_paths)),
        describe_inputs("model", [config.model_path] if config.model_path else [], single=True),
        describe_inputs("worklist-rules", [rules.path] if rules else [], single=True),
    ]
    codelists = [
        {**entry, "name": name}
        for name in sorted(lists)
        for entry in describe_inputs("codelist", [lists[name]])
    ]
    return [_settings_input(config, loaded), *(e for group in groups for e in group), *codelists]


def _settings_input(config: RunConfig, loaded: LoadedContract) -> dict[str, Any]:
    """The run's settings as an input: the config (and resolved contract) less the two
    workspace locations, data.path and output.dir, so moving the folders is no difference."""
    settings = _config_json(config, loaded)
    settings["data"] = {k: v for k, v in settings["data"].items() if k != "path"}
    settings["output"] = {k: v for k, v in settings["output"].items() if k != "dir"}
    text = json.dumps(settings, sort_keys=True, default=str).encode("utf-8")
    source = str(config.source) if config.source else ""
    digest = hashlib.sha256(text).hexdigest()
    return {"role": "settings", "name": "", "path": source, "bytes": len(text), "sha256": digest}


def _write_manifest(r: _Run, loaded: LoadedContract, library: CodelistLibrary) -> None:
    """manifest.json (inputs, config, outputs; no timestamps) and run_log.json (timings)."""
    layout = r.layout
    own = (layout.manifest.name, layout.run_log.name)
    outputs = [f for f in files_under(layout.root) if f.name not in own]
    inputs = _inputs(r.config, loaded, library, r.worklist_rules)
    config = _config_json(r.config, loaded)
    manifest = build_manifest(config, inputs, describe_files(outputs, layout.root))
    write_manifest(manifest, layout.manifest)
    seconds = {k: round(v, 3) for k, v in r.timings.items()}
    layout.run_log.write_text(json.dumps({"seconds": seconds}, indent=2) + "\n", encoding="utf-8")


def _config_json(config: RunConfig, loaded: LoadedContract) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(config.model_dump_json())
    data["contract_resolved"] = json.loads(loaded.contract.model_dump_json())
    return data
