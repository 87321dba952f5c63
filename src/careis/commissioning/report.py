"""`careis commission report`: the whole workbench in one folder and one HTML report.

Why one config naming the others: a commissioning decision is the register, the model, the
route questions, the business case and the specification together; one file lists them so
the decision can be re-run (same inputs, byte-identical outputs) and the manifest hashes
every input the decision rested on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careis import __version__, csvio
from careis.commissioning import charts
from careis.commissioning.business_case import BusinessCase, build, load_business_case
from careis.commissioning.conflicts import ConflictsRegister, load_conflicts
from careis.commissioning.involvement import Assessment, assess
from careis.commissioning.mapping import Mapping, map_register, totals
from careis.commissioning.model import load_care_model
from careis.commissioning.records import DecisionRecord, build_record, notices_text, record_text
from careis.commissioning.register import Register, load_register
from careis.commissioning.route import (
    MissingRouteFact,
    RouteDecision,
    RouteRequest,
    decide,
    load_request,
    rules_for,
)
from careis.commissioning.spec import ServiceSpec, build_spec, render_spec
from careis.contracts.schema import load_contract
from careis.errors import CareisError, ConfigError, MissingFactError
from careis.manifest import describe_files
from careis.report.html import environment, scrollable_tables
from careis.yamlio import load_yaml, validation_error

T = TypeVar("T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpecConfig(_Model):
    contract: str = Field(description="The scheme contract YAML (relative to this file).")
    run_config: str | None = Field(
        default=None, description="A run config whose risk block defines the eligible population."
    )
    aims: list[str] | None = None
    eligible_population: str | None = None
    requirements: list[str] = Field(default_factory=list, description="Extra requirements.")
    version: str = Field(default="0.1 (draft)", description="Document version, on the title page.")
    issued: dt.date | None = Field(
        default=None, description="Date of issue; omitted: the document says it is a draft."
    )
    sign_off: list[str] = Field(
        default_factory=lambda: ["Commissioner", "Provider"],
        description="Who signs the specification (one row each in the sign-off block).",
    )


class WorkbenchConfig(_Model):
    name: str
    register_file: str = Field(
        alias="register", description="Contract register (.csv or .yaml), relative to this file."
    )
    model: str = Field(description="Care model YAML, relative to this file.")
    routes: list[str] = Field(default_factory=list, description="Route question files.")
    business_case: str | None = None
    service_spec: SpecConfig | None = None
    conflicts: str | None = Field(
        default=None,
        description="Conflicts of interest register (reg 21), YAML or CSV, cited by each "
        "route file's record.conflicts.",
    )


def template_env() -> Environment:
    """The report's Jinja environment (filters £, numbers) with the commissioning templates."""
    env = environment()
    here = Path(str(resources.files("careis.commissioning").joinpath("templates")))
    base = env.loader
    assert base is not None
    env.loader = ChoiceLoader([FileSystemLoader(here), base])
    return env


def with_register(request: RouteRequest, register: Register | None, source: str) -> RouteRequest:
    """Fill the facts the register already knows (existing value, award date) for a route."""
    cid = request.existing_contract
    if cid is None:
        return request
    if register is None or cid not in register.by_id():
        raise ConfigError(
            f"existing_contract '{cid}' is not in the contract register.",
            file=source,
            fix="use a contract id from the register.",
        )
    c = register.by_id()[cid]
    facts = dict(request.facts)
    if request.question == "modification":
        if c.value.lifetime is not None:
            facts.setdefault("original_lifetime_value", str(c.value.lifetime))
    else:
        facts.setdefault("existing_provider", True)
        if c.value.lifetime is not None:
            facts.setdefault("existing_lifetime_value", str(c.value.lifetime))
    awarded = request.existing_contract_awarded or c.term.start
    return request.model_copy(update={"facts": facts, "existing_contract_awarded": awarded})


@dataclass(frozen=True)
class RouteOutcome:
    file: str
    request: RouteRequest
    decision: RouteDecision | None
    missing: str | None  # the question still to answer
    record: DecisionRecord | None = None

    @property
    def stem(self) -> str:
        return Path(self.file).stem


@dataclass(frozen=True)
class Workbench:
    config: WorkbenchConfig
    register: Register
    mapping: Mapping
    involvement: Assessment | None
    involvement_missing: str | None
    routes: tuple[RouteOutcome, ...]
    business_case: BusinessCase | None
    spec: ServiceSpec | None
    inputs: tuple[Path, ...]
    base: Path
    conflicts: ConflictsRegister | None = None
    disagreements: tuple[str, ...] = ()


def load_workbench(path: str | Path, run: Path | None = None) -> Workbench:
    path = Path(path)
    data, lines = load_yaml(path)
    try:
        cfg = WorkbenchConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None
    base = path.resolve().parent
    inputs = [path, base / cfg.register_file, base / cfg.model]
    register = _named(path, "register", lambda: load_register(base / cfg.register_file))
    model = _named(path, "model", lambda: load_care_model(base / cfg.model))
    mapping = map_register(register, model)
    try:
        involvement, inv_missing = assess(mapping, str(base / cfg.model)), None
    except MissingFactError as exc:
        involvement, inv_missing = None, exc.problem
    conflicts = None
    if cfg.conflicts:
        cpath = base / cfg.conflicts
        inputs.append(cpath)
        conflicts = _named(path, "conflicts", partial(load_conflicts, cpath))
    routes = []
    for name in cfg.routes:
        rpath = base / name
        inputs.append(rpath)
        rules = _named(path, "routes", partial(load_request, rpath)).rules
        if rules is not None:
            inputs.append(rpath.parent / rules)
        routes.append(_named(path, "routes", partial(_outcome, name, rpath, register, conflicts)))
    bc = None
    if cfg.business_case:
        bpath = base / cfg.business_case
        inputs.append(bpath)
        spec, bbase = _named(path, "business_case", lambda: load_business_case(bpath))
        bc = _named(path, "business_case", lambda: build(spec, bbase, run, file=bpath))
    sspec = None
    if cfg.service_spec is not None:
        sc = cfg.service_spec
        cpath = base / sc.contract
        inputs.append(cpath)
        loaded = _named(path, "service_spec.contract", lambda: load_contract(cpath))
        pct: float | None = None
        age: int | None = None
        if sc.run_config:
            from careis.config import load_run_config

            rcpath = base / sc.run_config
            rc = _named(path, "service_spec.run_config", partial(load_run_config, rcpath))
            inputs.append(rcpath)
            pct, age = rc.risk.register_percent, rc.risk.min_age
        sspec = build_spec(loaded.contract, cpath.name, sc.aims, sc.eligible_population,
                           sc.requirements, pct, age)  # fmt: skip
        sspec = replace(sspec, version=sc.version, issued=sc.issued, sign_off=tuple(sc.sign_off))
    return Workbench(cfg, register, mapping, involvement, inv_missing, tuple(routes), bc, sspec,
                     tuple(inputs), base, conflicts, disagreements(mapping, routes))  # fmt: skip


def _named(workbench: Path, field: str, load: Callable[[], T]) -> T:
    """Load a file the workbench names. An error in it (or a path that is not there) also
    names the workbench file and the field, so the user knows which reference to check."""
    try:
        return load()
    except CareisError as exc:
        raise type(exc)(exc.message, file=workbench, where=f"field '{field}'") from None


def _outcome(
    name: str, rpath: Path, register: Register, conflicts: ConflictsRegister | None
) -> RouteOutcome:
    """Decide one route file and build its decision record (or name the missing fact)."""
    request = with_register(load_request(rpath), register, str(rpath))
    table = rules_for(request, rpath)
    try:
        decision = decide(request, table, str(rpath))
    except MissingRouteFact as exc:
        return RouteOutcome(name, request, None, f"{exc.fact}: {exc.question}")
    record = build_record(name, request, decision, table, conflicts)
    return RouteOutcome(name, request, decision, None, record)


REAWARD = frozenset({"direct_award_a", "direct_award_c"})


def disagreements(mapping: Mapping, routes: list[RouteOutcome]) -> tuple[str, ...]:
    """Where the mapping and the route decisions contradict each other.

    Why: a contract cannot both end (its services moving into the new model) and be re-awarded
    to its existing provider, and a modification cannot take effect after the contract ends."""
    rows = {r.contract_id: r for r in mapping.rows}
    out: list[str] = []
    for o in routes:
        cid, d = o.request.existing_contract, o.decision
        row = rows.get(cid or "")
        if row is None or d is None:
            continue
        if d.question == "award" and d.process in REAWARD and row.moves_into_model:
            out.append(
                f"{o.file} re-awards {cid} to its existing provider ({d.name}), but the mapping "
                f"ends {cid} at go-live ({row.effective}) and moves its services into the new "
                "model: decide one - take the services out of the model's scope, or drop the "
                "re-award and award them in the new contract."
            )
        when = o.request.record.modification_effective
        if d.question == "modification" and when and row.effective and when >= row.effective:
            out.append(
                f"{o.file} modifies {cid} from {when}, but the mapping ends it on "
                f"{row.effective}: the modification would take effect after the contract ends."
            )
    return tuple(out)


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """Through the one CSV writer (number format, formula-safe text) like every careis CSV."""
    csvio.write_records(rows, header, path)


def write_mapping_csv(mapping: Mapping, path: Path) -> None:
    _csv(path, ["contract_id", "type", "provider", "action", "how", "effective", "serve_notice_by",
                "consent_needed", "reason", "fallback", "reactivation_review", "gap_from",
                "gap_to", "reg13"],
         [[r.contract_id, r.contract_type, r.provider, r.action.value, r.how, r.effective,
           r.serve_notice_by, "yes" if r.consent_needed else "no", r.reason, r.fallback,
           r.reactivation_review, r.gap[0] if r.gap else None, r.gap[1] if r.gap else None,
           r.reg13]
          for r in mapping.rows])  # fmt: skip


def _pence(value: Decimal) -> str:
    """Money in a CSV: always two decimals (0.00, not 0), so columns read alike."""
    return f"{value:.2f}"


def write_business_case_csvs(bc: BusinessCase, out: Path) -> None:
    _csv(out / "business_case_monthly.csv",
         ["month", "start", "savings", "costs", "net", "cumulative"],
         [[m.index, m.start, _pence(m.savings), _pence(m.costs), _pence(m.net),
           _pence(m.cumulative)] for m in bc.months])  # fmt: skip
    acts = list(bc.spec.activities)
    items = [c.name for c in bc.spec.costs]
    _csv(out / "business_case_yearly.csv",
         ["year", *[f"avoided_{a}" for a in acts], "savings", *[f"cost: {i}" for i in items],
          "total_costs", "net", "cumulative"],
         [[y.year, *[y.avoided[a].quantize(Decimal("0.1")) for a in acts], _pence(y.savings),
           *[_pence(y.costs[i]) for i in items], _pence(y.total_costs), _pence(y.net),
           _pence(y.cumulative)]
          for y in bc.years])  # fmt: skip


def _route_json(o: RouteOutcome) -> dict[str, Any]:
    d = o.decision
    if d is None:
        return {"file": o.file, "service": o.request.service, "needs": o.missing}
    return {
        "file": o.file,
        "service": d.service,
        "decision_date": d.decision_date.isoformat(),
        "rules": d.rules,
        "process": d.process,
        "obligation": d.obligation,
        "regulation": d.regulation,
        "reason": d.reason,
        "tests": [
            {"fact": t.fact, "condition": t.condition, "value": t.shown, "held": t.held}
            for t in d.trail
        ],
        "rejected": [{"route": r, "because": why} for r, why in d.rejected],
        "question": d.question,
        "notices": list(d.notice_ids),
        "standstill_first_day": d.standstill.first_day.isoformat() if d.standstill else None,
        "standstill_last_day": d.standstill.last_day.isoformat() if d.standstill else None,
        "earliest_award": d.standstill.earliest_award.isoformat() if d.standstill else None,
        "record_missing": list(o.record.missing) if o.record else [],
        "record_problems": list(o.record.problems) if o.record else [],
        "award_notice_by": d.award_notice_by.isoformat() if d.award_notice_by else None,
        "notes": list(d.notes),
    }


def write_records(wb: Workbench, out: Path, env: Environment) -> list[Path]:
    """For each decided route: decision_record_<stem>.html and .txt, and notices_<stem>.txt."""
    written: list[Path] = []
    template = env.get_template("decision_record.html.j2")
    for o in wb.routes:
        if o.record is None:
            continue
        stem = f"decision_record_{o.stem}"
        notices = f"notices_{o.stem}.txt"
        html = scrollable_tables(
            template.render(r=o.record, version=__version__, stem=stem, notices_name=notices)
        )
        (out / f"{stem}.html").write_text(html, encoding="utf-8")
        (out / f"{stem}.txt").write_text(record_text(o.record), encoding="utf-8")
        (out / notices).write_text(notices_text(o.record), encoding="utf-8")
        written += [out / f"{stem}.html", out / f"{stem}.txt", out / notices]
    return written


def write_workbench(wb: Workbench, out: Path) -> list[Path]:
    """Write every output and the report; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    write_mapping_csv(wb.mapping, out / "mapping.csv")
    written = [out / "mapping.csv"]
    decisions = {
        "routes": [_route_json(o) for o in wb.routes],
        "involvement": None if wb.involvement is None else {
            "involvement_duty": wb.involvement.involvement_duty,
            "involvement_reasons": list(wb.involvement.involvement_reasons),
            "likely_substantial": wb.involvement.likely_substantial,
            "substantial_reasons": list(wb.involvement.substantial_reasons),
            "actions": list(wb.involvement.actions),
        },
        "earliest_start": wb.mapping.earliest_start.isoformat(),
        "timeline_errors": list(wb.mapping.errors),
        "timeline_missing": list(wb.mapping.missing),
        "disagreements": list(wb.disagreements),
    }  # fmt: skip
    (out / "decisions.json").write_text(json.dumps(decisions, indent=2, sort_keys=True) + "\n")
    written.append(out / "decisions.json")
    if wb.business_case is not None:
        write_business_case_csvs(wb.business_case, out)
        written += [out / "business_case_monthly.csv", out / "business_case_yearly.csv"]
    if wb.spec is not None:
        written += list(render_spec(wb.spec, out))
    env = template_env()
    written += write_records(wb, out, env)
    html = env.get_template("commissioning.html.j2").render(
        wb=wb,
        totals=totals(wb.mapping, wb.register),
        m=wb.mapping,
        model=wb.mapping.model,
        bc=wb.business_case,
        timeline_svg=charts.timeline(wb.mapping),
        cash_svg=charts.cumulative_cash(wb.business_case) if wb.business_case else "",
        tornado_svg=charts.tornado(wb.business_case) if wb.business_case else "",
    )
    (out / "commissioning_report.html").write_text(scrollable_tables(html), encoding="utf-8")
    written.append(out / "commissioning_report.html")
    manifest = {
        "careis_version": __version__,
        "workbench": wb.config.name,
        "inputs": [
            {**f, "path": os.path.relpath(p.resolve(), wb.base)}
            for p, f in zip(
                sorted(set(wb.inputs)), describe_files(sorted(set(wb.inputs))), strict=True
            )
        ],
        "outputs": describe_files(sorted(written), root=out),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return [*written, out / "manifest.json"]
