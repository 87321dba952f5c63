"""The report's "Measures" section: every measure by federation, SPC charts and funnel plots.

Which figures are suppressed (decided here, documented in docs/measures.md):
- the measure tables and the funnel plot use the *published* results (counts 1-7 suppressed,
  others rounded, secondary suppression), because a commissioner's report is shared beyond
  the analyst; a suppressed cell shows "*", and a practice whose count is suppressed is left
  out of the funnel (the caption says how many);
- SPC charts are drawn only for series whose every monthly count is 0 or above the
  suppression range (federation and sub-ICB series usually are); otherwise the chart is
  replaced by a note.
The payment tables elsewhere in the report stay exact: payments depend on them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pyarrow as pa

from careis.measures.compile import DAYS_PER_YEAR, Evaluated
from careis.measures.spc import SpcOptions, funnel, spc
from careis.measures.suppression import SuppressionConfig
from careis.report.spc_charts import funnel_chart, spc_chart

SPC_LEVELS = ("sub_icb", "federation")
SPC_MEASURES = ("emergency_admissions", "ae_attendances")
FUNNEL_MEASURE = "emergency_admissions"


def build_measures_section(
    evaluated: Evaluated,
    published: pa.Table,
    suppression: SuppressionConfig,
    names: dict[str, str],
    periods: dict[str, Any],
) -> dict[str, Any]:
    """Rows and charts for the template (all inputs already aggregated)."""
    catalogue = evaluated.catalogue
    rows = published.to_pylist()
    # ---- table: each measure's value by federation (and sub-ICB), published figures
    levels = ("sub_icb", "federation")
    orgs = sorted({(r["level"], r["org_code"]) for r in rows if r["level"] in levels})
    orgs.sort(key=lambda lo: (levels.index(lo[0]), lo[1]))
    cell: dict[tuple[str, str, str, str], dict[str, Any]] = {
        (r["measure_id"], r["period"], r["level"], r["org_code"]): r for r in rows
    }
    measure_rows = []
    for mid, info in catalogue.items():
        mperiods = sorted({r["period"] for r in rows if r["measure_id"] == mid})
        for period in mperiods:
            cells = []
            for level, org in orgs:
                r = cell.get((mid, period, level, org))
                if r is None:
                    cells.append({"text": "", "ci": ""})
                elif r.get("suppressed"):
                    cells.append({"text": "*", "ci": ""})
                else:
                    v = r["value"]
                    lo, hi = r.get("lower_ci"), r.get("upper_ci")
                    cells.append(
                        {
                            "text": "" if v is None else _fmt(v, info.kind),
                            "ci": (
                                f"{_fmt(lo, info.kind)}–{_fmt(hi, info.kind)}"
                                if lo is not None and hi is not None
                                else ""
                            ),
                        }
                    )
            thresholds = (
                f"{info.lower_threshold:g}–{info.upper_threshold:g}%"
                if info.lower_threshold is not None and info.upper_threshold is not None
                else ""
            )
            measure_rows.append(
                {
                    "id": mid,
                    "name": info.name,
                    "unit": info.unit,
                    "period": period,
                    "thresholds": thresholds,
                    "cells": cells,
                }
            )
    headers = [
        {"level": lv.replace("_", "-"), "code": o, "name": names.get(o, o)} for lv, o in orgs
    ]

    # ---- SPC: monthly u-charts of rates, limits from the baseline year
    spc_charts = []
    monthly = evaluated.monthly.to_pylist()
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in monthly:
        if r["level"] in SPC_LEVELS and r["measure_id"] in SPC_MEASURES:
            series[(r["measure_id"], r["level"], r["org_code"])].append(r)
    base = periods.get("baseline")
    for (mid, _level, org), points in sorted(
        series.items(),
        key=lambda kv: (SPC_MEASURES.index(kv[0][0]), SPC_LEVELS.index(kv[0][1]), kv[0][2]),
    ):
        points.sort(key=lambda r: r["month_start"])
        found = catalogue.get(mid)
        if found is None or len(points) < 2:
            continue
        info = found
        title = f"{info.name}, {names.get(org, org)} ({org})"
        if any(suppression.low <= (p["numerator"] or 0) <= suppression.high for p in points):
            spc_charts.append(
                {"title": title, "svg": "", "note": "suppressed: a month has a count of 1-7"}
            )
            continue
        n_base = sum(1 for p in points if base is not None and p["month_start"] <= base.end)
        result = spc(
            numerators=[p["numerator"] for p in points],
            denominators=[p["denominator"] / DAYS_PER_YEAR / 1000 for p in points],
            labels=[_month(p["month_start"]) for p in points],
            options=SpcOptions(
                chart="u",
                improvement="decrease"
                if info.higher_is_better is False
                else "increase"
                if info.higher_is_better
                else "neutral",
                fix_after=n_base if n_base >= 2 else None,
            ),
        )
        spc_charts.append(
            {
                "title": title,
                "svg": spc_chart(result, title=title, y_title=f"{info.unit} (monthly)"),
                "note": "",
                "variation": result.variation,
            }
        )

    # ---- funnel: practices' performance-period rate against their person-years
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
    hidden = len(practice_rows) - len(shown)
    funnel_svg = ""
    outliers: list[dict[str, Any]] = []
    if shown:
        centre, pts = funnel(
            [r["org_code"] for r in shown],
            [exact[r["org_code"]]["numerator"] for r in shown],
            [exact[r["org_code"]]["denominator"] for r in shown],
        )
        funnel_svg = funnel_chart(
            centre,
            pts,
            title="Emergency admissions per 1,000 person-years, performance year, by practice",
        )
        outliers = [
            {"code": p.org, "name": names.get(p.org, p.org), "value": p.value, "where": p.outside}
            for p in pts
            if "99.8" in p.outside
        ]
    return {
        "headers": headers,
        "rows": measure_rows,
        "spc": spc_charts,
        "funnel": funnel_svg,
        "funnel_hidden": hidden,
        "funnel_outliers": outliers,
    }


def _fmt(value: float, kind: str) -> str:
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "change":
        return f"{value:+.1f}"
    return f"{value:,.1f}"


def _month(day: dt.date) -> str:
    return day.strftime("%b %Y")
