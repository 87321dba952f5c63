"""The report's "Measures" section: every measure by federation, SPC charts and funnel plots.

Which figures are suppressed (decided here, documented in docs/measures.md):
- the measure tables and the funnel plot use the *published* results (counts 1-7 suppressed,
  others rounded, secondary suppression; DSRs on fewer than 10 events not calculated), because
  a commissioner's report is shared beyond the analyst; a hidden cell shows "*", and a practice
  whose count is suppressed is left out of the funnel (the caption says how many);
- SPC charts are drawn only for series whose every monthly count is 0 or above the
  suppression range (federation and sub-ICB series usually are); otherwise the chart is
  replaced by a note.
The payment tables elsewhere in the report stay exact: payments depend on them.

Which SPC chart (issue 13): the monthly rates are charted as an XmR chart of the rate, Making
Data Count's default, with limits fixed on the baseline year. A u-chart's limits assume the
months differ by Poisson chance alone; with a sub-ICB's tens of thousands of person-years a
month they are far narrower than the real month-to-month variation, and every month is
flagged, so the chart could not say whether the scheme works. Each chart says how much wider
the real variation is (Laney's sigma_z, the factor a u'-chart would scale the u limits by).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from careis.measures.compile import DAYS_PER_YEAR, Evaluated
from careis.measures.results import MeasureInfo
from careis.measures.spc import (
    CHART_NAMES,
    RULE_TEXT,
    ChartType,
    SpcOptions,
    SpcPoint,
    SpcResult,
    funnel,
    spc,
)
from careis.measures.suppression import SuppressionConfig
from careis.report.spc_charts import (
    ASSURANCE_TEXT,
    VARIATION_TEXT,
    assurance_icon,
    funnel_chart,
    spc_chart,
    variation_icon,
)

SPC_LEVELS = ("sub_icb", "federation")
SPC_MEASURES = ("emergency_admissions", "ae_attendances")
FUNNEL_MEASURE = "emergency_admissions"
TABLE_LEVELS = ("sub_icb", "federation")
SPC_CHART: ChartType = "xmr"  # Making Data Count's default; see the module docstring


def build_measures_section(
    evaluated: Evaluated,
    published: pa.Table,
    suppression: SuppressionConfig,
    names: dict[str, str],
    periods: dict[str, Any],
) -> dict[str, Any]:
    """Rows and charts for the template (all inputs already aggregated)."""
    rows = published.to_pylist()
    headers, measure_rows = measure_table(evaluated.catalogue, rows, names)
    charts = _spc_charts(evaluated, suppression, names, periods)
    funnel_view = _funnel_view(evaluated, rows, names)
    return {
        "headers": headers,
        "rows": measure_rows,
        "spc": charts,
        "spc_summary": [c["summary"] for c in charts if c.get("summary")],
        "spc_chart_name": CHART_NAMES[SPC_CHART],
        **funnel_view,
    }


# --------------------------------------------------------------------------- measure table
def measure_table(
    catalogue: Mapping[str, MeasureInfo],
    rows: list[dict[str, Any]],
    names: dict[str, str],
    orgs: list[tuple[str, str]] | None = None,
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Each measure's published value by organisation, one row a measure and period: the
    report's by sub-ICB and federation; `careis serve`'s by the (level, organisation) pairs
    a user may see, in the same template (`_measures.html.j2`)."""
    if orgs is None:
        orgs = sorted(
            {(r["level"], r["org_code"]) for r in rows if r["level"] in TABLE_LEVELS},
            key=lambda lo: (TABLE_LEVELS.index(lo[0]), lo[1]),
        )
    cell = {(r["measure_id"], r["period"], r["level"], r["org_code"]): r for r in rows}
    periods: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        periods[r["measure_id"]].add(r["period"])
    measure_rows = []
    for mid, info in catalogue.items():
        for period in sorted(periods.get(mid, ())):
            cells = [_cell(cell.get((mid, period, level, org)), info.kind) for level, org in orgs]
            measure_rows.append(
                {
                    "id": mid,
                    "name": info.name,
                    "unit": info.unit,
                    "period": period,
                    "thresholds": _thresholds(info),
                    "cells": cells,
                }
            )
    headers = [
        {"level": lv.replace("_", "-"), "code": o, "name": names.get(o, o)} for lv, o in orgs
    ]
    return headers, measure_rows


def _cell(r: dict[str, Any] | None, kind: str) -> dict[str, str]:
    if r is None:
        return {"text": "", "ci": ""}
    if r.get("suppressed"):
        return {"text": "*", "ci": ""}
    v, lo, hi = r["value"], r.get("lower_ci"), r.get("upper_ci")
    ci = f"{_fmt(lo, kind)}–{_fmt(hi, kind)}" if lo is not None and hi is not None else ""
    return {"text": "" if v is None else _fmt(v, kind), "ci": ci}


def _thresholds(info: MeasureInfo) -> str:
    if info.lower_threshold is None or info.upper_threshold is None:
        return ""
    return f"{info.lower_threshold:g}–{info.upper_threshold:g}%"


# --------------------------------------------------------------------------- SPC
def _spc_charts(
    evaluated: Evaluated,
    suppression: SuppressionConfig,
    names: dict[str, str],
    periods: dict[str, Any],
) -> list[dict[str, Any]]:
    """One chart (or a note saying why not) per measure, level and organisation."""
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in evaluated.monthly.to_pylist():
        if r["level"] in SPC_LEVELS and r["measure_id"] in SPC_MEASURES:
            series[(r["measure_id"], r["level"], r["org_code"])].append(r)
    out = []
    for key in sorted(
        series, key=lambda k: (SPC_MEASURES.index(k[0]), SPC_LEVELS.index(k[1]), k[2])
    ):
        info = evaluated.catalogue.get(key[0])
        points = sorted(series[key], key=lambda r: r["month_start"])
        if info is None or len(points) < 2:
            continue
        out.append(spc_series(info, key[1], key[2], points, suppression, names, periods))
    return out


def _direction(info: MeasureInfo) -> str:
    if info.higher_is_better is None:
        return "neutral"
    return "increase" if info.higher_is_better else "decrease"


def spc_series(
    info: MeasureInfo,
    level: str,
    org: str,
    points: list[dict[str, Any]],
    suppression: SuppressionConfig,
    names: dict[str, str],
    periods: dict[str, Any],
    *,
    draw: bool = True,
) -> dict[str, Any]:
    """An XmR chart of one monthly rate, limits fixed on the baseline year, and its summary:
    `title`, `svg` ('' with a `note` when a month's count is suppressed; None with
    `draw=False`, as the SVG is most of the time), `variation`, the MDC `summary` row and the
    `result` (SpcResult). The report draws every series with it, and `careis serve`'s
    measure pages draw one, so the two are the same chart."""
    title = f"{info.name}, {names.get(org, org)} ({org})"
    if any(suppression.low <= (p["numerator"] or 0) <= suppression.high for p in points):
        return {"title": title, "svg": "", "note": "suppressed: a month has a count of 1-7"}
    base = periods.get("baseline")
    n_base = sum(1 for p in points if base is not None and p["month_start"] <= base.end)
    num = [float(p["numerator"]) for p in points]
    # thousands of person-years in the month, so the rate is per 1,000 person-years
    den = [p["denominator"] / DAYS_PER_YEAR / 1000 for p in points]
    labels = [_month(p["month_start"]) for p in points]
    opts = SpcOptions(
        chart=SPC_CHART,
        improvement=_direction(info),  # type: ignore[arg-type]
        fix_after=n_base if n_base >= 2 else None,
    )
    result = spc([n / d for n, d in zip(num, den, strict=True)], labels=labels, options=opts)
    laney = spc(
        numerators=num,
        denominators=den,
        labels=labels,
        options=SpcOptions(chart="u_prime", fix_after=opts.fix_after),
    )
    note = _chart_note(laney.sigma_z, sum(den) / len(den) * 1000, n_base)
    perf_from = base.end if base is not None else None
    return {
        "title": title,
        "svg": spc_chart(result, title=title, y_title=f"{info.unit} (monthly)", note=note)
        if draw
        else None,
        "note": "",
        "variation": result.variation,
        "summary": _summary_row(info, level, org, names, result, perf_from),
        "result": result,
    }


def _chart_note(sigma_z: float | None, person_years: float, n_base: int) -> str:
    """Why an XmR of the rate and not a u-chart, in the chart's own words."""
    base = f"limits from the {n_base} baseline months" if n_base >= 2 else "limits from all months"
    if sigma_z is None:
        return f"XmR chart of the monthly rate (Making Data Count default); {base}."
    return (
        f"XmR chart of the monthly rate (Making Data Count default); {base}. The months vary "
        f"{sigma_z:.1f}× as much as a u-chart for ~{person_years:,.0f} person-years a month "
        "assumes (Laney's σz), so u-chart limits would flag ordinary months."
    )


def _summary_row(
    info: MeasureInfo,
    level: str,
    org: str,
    names: dict[str, str],
    result: SpcResult,
    perf_from: dt.date | None,
) -> dict[str, Any]:
    """One row of the SPC summary: is the performance year's change special cause, and why."""
    perf = [p for p in result.points if perf_from is None or _month_after(p.label, perf_from)]
    special = [p for p in perf if p.special]
    return {
        "measure": info.name,
        "measure_id": info.id,
        "level": level.replace("_", "-"),
        "org": f"{names.get(org, org)} ({org})",
        "chart": CHART_NAMES[result.chart],
        "mean": result.points[-1].mean,
        "latest": f"{result.points[-1].label}: {result.points[-1].value:,.1f}",
        "variation_icon": variation_icon(result),
        "variation": VARIATION_TEXT[result.variation],
        "assurance_icon": assurance_icon(result),
        "assurance": ASSURANCE_TEXT[result.assurance] if result.assurance else "no target set",
        "special_cause": bool(special),
        "why": _why(special, len(perf)),
    }


def _why(special: list[SpcPoint], n_perf: int) -> str:
    """Which rule says so, with the months: 'concern: a run ... (7 months, Jun 2024–Dec 2024)'."""
    if not special:
        return f"No: all {n_perf} performance-year months are common-cause variation."
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in special:
        groups[(p.special or "", p.rule or "")].append(p.label)
    parts = []
    for (kind, rule), months in groups.items():
        span = months[0] if len(months) == 1 else f"{months[0]}–{months[-1]}"
        parts.append(f"{kind}: {RULE_TEXT.get(rule, rule)} ({len(months)} of them, {span})")
    return f"Yes, {len(special)} of {n_perf} performance-year months: " + "; ".join(parts) + "."


def _month_after(label: str, day: dt.date) -> bool:
    return dt.datetime.strptime(label, "%b %Y").date() > day


# --------------------------------------------------------------------------- funnel
def _funnel_view(
    evaluated: Evaluated, rows: list[dict[str, Any]], names: dict[str, str]
) -> dict[str, Any]:
    """Practices' performance-period rate against their person-years (published practices)."""
    practice_rows = [
        r
        for r in rows
        if r["measure_id"] == FUNNEL_MEASURE
        and r["level"] == "practice"
        and r["period"] == "performance"
    ]
    exact = {
        r["org_code"]: r
        for r in evaluated.results.to_pylist()
        if r["measure_id"] == FUNNEL_MEASURE
        and r["level"] == "practice"
        and r["period"] == "performance"
    }
    shown = [r for r in practice_rows if not r.get("suppressed") and r["org_code"] in exact]
    view: dict[str, Any] = {
        "funnel": "",
        "funnel_hidden": len(practice_rows) - len(shown),
        "funnel_outliers": [],
    }
    if not shown:
        return view
    centre, pts = funnel(
        [r["org_code"] for r in shown],
        [exact[r["org_code"]]["numerator"] for r in shown],
        [exact[r["org_code"]]["denominator"] for r in shown],
    )
    view["funnel"] = funnel_chart(
        centre,
        pts,
        title="Emergency admissions per 1,000 person-years, performance year, by practice",
    )
    view["funnel_outliers"] = [
        {"code": p.org, "name": names.get(p.org, p.org), "value": p.value, "where": p.outside}
        for p in pts
        if "99.8" in p.outside
    ]
    return view


def _fmt(value: float, kind: str) -> str:
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "change":
        return f"{value:+.1f}"
    return f"{value:,.1f}"


def _month(day: dt.date) -> str:
    return day.strftime("%b %Y")
