"""The run's HTML report: the view-model the template is filled from, and writing it.

Why here and not in the pipeline: what the report shows (the rule in words, money flows, risk
summary, data quality, charts) is the report's business; the pipeline hands over the stages'
results and this module turns them into the template's context.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from careis.contracts.schema import LoadedContract, PerformanceComponent
from careis.data.load import LoadResult
from careis.measures.compile import Evaluated
from careis.money import ZERO, format_gbp
from careis.payments.components import rule_text
from careis.payments.ledger import PaymentRun, balances
from careis.periods import Period
from careis.report import charts
from careis.report.headline import build_headline, mdc_summary
from careis.report.html import render
from careis.report.measures_view import build_measures_section
from careis.report.scheme import SchemeView
from careis.risk import points
from careis.risk.settings import RiskConfig
from careis.risk.stage import RiskOutputs

#: Ledger movements and statement lines shown in full up to this many; the CSVs hold all.
REPORT_MAX_ROWS = 2000


@dataclass(frozen=True)
class ReportPeriods:
    baseline: Period
    performance: Period


@dataclass(frozen=True)
class ReportContext:
    """What the report says about the run itself (from the run config)."""

    name: str
    description: str
    periods: ReportPeriods
    index_date: dt.date
    risk: RiskConfig
    suppression: Any
    backend: str
    inputs: list[dict[str, Any]]
    version: str
    commit: str | None


@dataclass
class ComparisonView:
    """Contract models compared, for the report (the CSVs hold the same rows)."""

    contracts: list[str]
    ranges: list[dict[str, str]]
    scenarios: list[dict[str, str]]
    chart: str
    settings: Any


@dataclass(frozen=True)
class RunResults:
    """The stages' results the report is made from."""

    loaded: LoadedContract
    view: SchemeView
    data: LoadResult
    evaluated: Evaluated
    published: pa.Table  # the measures section shows published (suppressed) figures
    risk_out: RiskOutputs | None
    names: dict[str, str]
    pay_run: PaymentRun | None
    comparison: ComparisonView | None


def _flows(pay_run: PaymentRun, practices: set[str]) -> list[dict[str, Any]]:
    """Ledger movements summed by (movement, payer, payee), practices pooled as 'practices'."""
    flows: dict[tuple[str, str, str], Decimal] = {}
    for e in pay_run.ledger:
        payer = e.payer if e.payer not in practices else "practices"
        payee = e.payee if e.payee not in practices else "practices"
        key = (e.movement, payer, payee)
        flows[key] = flows.get(key, ZERO) + e.amount
    return [
        {"movement": k[0], "payer": k[1], "payee": k[2], "amount": v}
        for k, v in sorted(flows.items())
    ]


def money_view(
    loaded: LoadedContract, pay_run: PaymentRun | None, practices: set[str]
) -> dict[str, Any]:
    """Ledger and non-practice statements for the report's money section."""
    if pay_run is None:
        return {}
    contract = loaded.contract
    net = balances(pay_run.ledger)
    return {
        "model": contract.model,
        "holder": contract.holder,
        "alliance": contract.alliance,
        "accounts": [{"account": a, "net": v, "practice": a in practices} for a, v in net.items()],
        "total": sum(net.values(), ZERO),
        "flows": _flows(pay_run, practices),
        "movements": len(pay_run.ledger),
        "other_lines": [line for line in pay_run.lines if line.provider not in practices],
        "ledger": pay_run.ledger[:REPORT_MAX_ROWS],
        "lines": pay_run.lines[:REPORT_MAX_ROWS],
        "max_rows": REPORT_MAX_ROWS,
        "line_count": len(pay_run.lines),
    }


def _changes(risk_out: RiskOutputs) -> dict[str, Any]:
    changes = risk_out.refresh.changes
    previous = risk_out.refresh.previous_index
    if changes is None:
        return {"previous": str(previous) if previous else None, "entered": None, "left": None}
    return {
        "previous": str(previous) if previous else None,
        "entered": sum(1 for c in changes if c["change"] == "entered"),
        "left": sum(1 for c in changes if c["change"] == "left"),
    }


def risk_view(risk_out: RiskOutputs, names: dict[str, str]) -> dict[str, Any]:
    """The report's risk-profiling section with the model method."""
    from careis.risk import report as risk_report
    from careis.risk.efi import CATEGORIES

    summary = risk_out.summary
    counted = ("adults", "register_target", "on_register", *CATEGORIES)
    return {
        "headline": risk_report.headline(risk_out.model),
        "card": risk_out.card.name,
        "summary": [
            {**r, "name": names.get(r["practice_code"], r["practice_code"])} for r in summary
        ],
        "totals": {c: sum(r[c] for r in summary) for c in counted},
        "efi_chart": risk_report.efi_chart(summary, names),
        "coverage": risk_out.coverage,
        **_changes(risk_out),
        "categories": CATEGORIES,
    }


def names_of(view: SchemeView) -> dict[str, str]:
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


def _charts(
    view: SchemeView, perf: PerformanceComponent | None, component_names: dict[str, str]
) -> dict[str, str]:
    """The change-by-practice, concordance-vs-change and payments-by-federation charts."""
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
        {
            "federation": f.row.code,
            "component": component_names.get(cid, cid),
            "amount": float(amount),
        }
        for f in view.federations
        for cid, amount in sorted(f.row.payments.items())
    ]
    target = float(perf.target_reduction_percent) if perf else None
    floor = float(perf.practice_floor_reduction_percent) if perf else None
    return {
        "change": charts.change_by_practice(prows, target, floor),
        "scatter": charts.concordance_vs_change(prows),
        "payments": charts.payments_by_federation(pay_rows),
        "change_text": _change_text(prows, floor),
        "scatter_text": _scatter_text(prows),
        "payments_text": "; ".join(
            f"{f.row.name} {format_gbp(f.row.total)}" for f in view.federations
        ),
    }


def _change_text(prows: list[dict[str, Any]], floor: float | None) -> str:
    """The change chart in one sentence, for readers who cannot see it."""
    known = [r for r in prows if r["change"] is not None]
    if not known:
        return ""
    fell = sum(1 for r in known if r["change"] < 0)
    low = min(known, key=lambda r: r["change"])
    high = max(known, key=lambda r: r["change"])
    text = f"Of {len(known)} practices, {fell} had fewer emergency admissions per 1,000 than in the baseline year and {len(known) - fell} had the same or more"
    if floor is not None:
        reached = sum(1 for r in known if r["change"] <= -floor)
        text += f"; {reached} fell by at least the {floor:g}% floor"
    return (
        text + f". Largest fall: {low['label']} ({low['change']:+.1f}%); "
        f"largest rise or smallest fall: {high['label']} ({high['change']:+.1f}%)."
    )


def _scatter_text(prows: list[dict[str, Any]]) -> str:
    known = [r for r in prows if r["care_plan_pct"] is not None and r["change"] is not None]
    if not known:
        return ""
    lo = min(r["care_plan_pct"] for r in known)
    hi = max(r["care_plan_pct"] for r in known)
    return (
        f"{len(known)} practices; the share of the register with a care plan ranged from "
        f"{lo:.1f}% to {hi:.1f}%."
    )


def _quality(data: LoadResult) -> list[dict[str, Any]]:
    """Rows read, accepted and quarantined per table, with the commonest reasons."""
    return [
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


def _risk_context(risk_out: RiskOutputs | None, names: dict[str, str]) -> dict[str, Any]:
    if risk_out is None:
        method = "transparent points score"
    else:
        method = f"{risk_out.model.kind} model {risk_out.model.model_id}"
    return {
        "risk_method": method,
        "risk_text": points.__doc__.split("\n\n")[1].replace("\n", " ") if points.__doc__ else "",
        "risk_points": points.POINTS_TABLE if risk_out is None else (),
        "risk_model": risk_view(risk_out, names) if risk_out is not None else None,
    }


def _context(ctx: ReportContext, res: RunResults) -> dict[str, Any]:
    contract = res.loaded.contract
    perf = next((c for c in contract.components if isinstance(c, PerformanceComponent)), None)
    periods = {"baseline": ctx.periods.baseline, "performance": ctx.periods.performance}
    measure_section = build_measures_section(
        res.evaluated, res.published, ctx.suppression, names_of(res.view), periods
    )
    practices = {p.code for p in res.view.practices} | set(
        res.pay_run.practices if res.pay_run else ()
    )
    return {
        "scheme": {"name": ctx.name, "description": ctx.description},
        "contract": contract,
        "periods": ctx.periods,
        "index_date": ctx.index_date,
        "risk": ctx.risk,
        **_risk_context(res.risk_out, res.names),
        "engine": ctx.backend,
        "view": res.view,
        "performance": perf,
        "charts": _charts(res.view, perf, contract.component_names()),
        "rules": {c.id: rule_text(c) for c in contract.components},
        "component_names": contract.component_names(),
        "quality": _quality(res.data),
        "money": money_view(res.loaded, res.pay_run, {p.code for p in res.view.practices}),
        "comparison": res.comparison,
        "measures": list(res.evaluated.catalogue.values()),
        "measure_section": measure_section,
        "headline": build_headline(contract, res.pay_run.lines, res.names, practices)
        if res.pay_run is not None
        else None,
        "mdc": mdc_summary(measure_section.get("spc_summary", []) if measure_section else []),
        "targets_met": _targets_met(res.view, perf),
        "manifest": {"careis_version": ctx.version, "git_commit": ctx.commit, "inputs": ctx.inputs},
    }


def _targets_met(view: SchemeView, perf: PerformanceComponent | None) -> dict[str, int] | None:
    """How many federations met the performance target (as the statements test it); the
    practices in no federation are not a federation, so they are not one that missed."""
    if perf is None:
        return None
    target = -perf.target_reduction_percent
    federations = [f for f in view.federations if f.is_federation]
    met = [
        f for f in federations if (tested := f.row.change_tested) is not None and tested <= target
    ]
    return {"met": len(met), "of": len(federations)}


def write_report(ctx: ReportContext, res: RunResults, path: Path) -> Path:
    """Render report.html for the run to `path`."""
    from careis.report.charts import deferred_svgs

    with deferred_svgs() as fill:  # the charts drawn together, in parallel
        html = fill(render("report.html.j2", _context(ctx, res)))
    path.write_text(html, encoding="utf-8")
    return path
