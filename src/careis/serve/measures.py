"""The measures pages' data: a run's monthly series, charted exactly as the static report does.

Why here and not in the report: the app reads a finished run folder (`measures/monthly.csv`
and the manifest's periods and suppression settings), where the report had the evaluated
tables in memory; the chart, its Making Data Count summary row and the suppression rule are
the report's own (`careis.report.measures_view.spc_series`), never redrawn here.

Only aggregate series are read: monthly numerators and denominators per organisation (no
patient rows exist in monthly.csv). A series with a month's count in the suppression range
(1-7 by default) is not charted and has no data download, as in the report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from careis import layout
from careis.errors import DataError
from careis.measures.results import MeasureInfo
from careis.measures.suppression import SuppressionConfig
from careis.periods import Period
from careis.serve.runs import Row, RunFolder

#: Levels a series may be at, in the order the pages list them (the ICB level is left out:
#: it can cover practices of other commissioners' runs).
LEVELS = ("sub_icb", "federation", "pcn", "practice")
#: The levels of the commissioner's summary table (the static report's SPC levels).
COMMISSIONER_LEVELS = ("sub_icb", "federation")

Key = tuple[str, str, str]  # (measure id, level, organisation)


@cache
def shipped_catalogue() -> dict[str, MeasureInfo]:
    """What careis's shipped measures mean (name, unit, direction), by id."""
    from careis.measures.compile import catalogue_of
    from careis.measures.definitions import load_measures, shipped_library

    return catalogue_of(load_measures([shipped_library()]))


def measure_info(measure: str) -> MeasureInfo:
    """The shipped measure's meaning; a measure of the run's own library (not shipped) is
    named by its id, with no improvement direction."""
    found = shipped_catalogue().get(measure)
    if found is not None:
        return found
    return MeasureInfo(measure, measure, "rate", "rate", "")


@cache
def names() -> dict[str, str]:
    """Organisation names from careis's reference data (code -> name)."""
    from careis.serve.runs import org_names

    return org_names()


@dataclass(frozen=True)
class Series:
    """One measure at one organisation: its months, ready for `spc_series`."""

    measure: str
    level: str
    org: str
    points: list[dict[str, Any]]


def series_of(folder: RunFolder) -> dict[Key, Series]:
    """Every (measure, level, organisation) monthly series of the run, months in order."""
    grouped: dict[Key, list[dict[str, Any]]] = {}
    for r in folder.monthly():
        if r.get("level") not in LEVELS:
            continue
        try:
            point = {
                **r,
                "month_start": dt.date.fromisoformat(r["month_start"]),
                "numerator": float(r["numerator"] or 0),
                "denominator": float(r["denominator"] or 0),
            }
        except (KeyError, ValueError) as exc:
            raise DataError(f"{layout.MONTHLY} has a row that is not a monthly count.") from exc
        grouped.setdefault((r["measure_id"], r["level"], r["org_code"]), []).append(point)
    return {
        key: Series(*key, sorted(rows, key=lambda p: p["month_start"]))
        for key, rows in sorted(grouped.items())
        if len(rows) >= 2 and all(p["denominator"] > 0 for p in rows)
    }


def settings_of(folder: RunFolder) -> tuple[SuppressionConfig, dict[str, Any]]:
    """The run's suppression settings and periods, as its manifest recorded the config."""
    config = folder.manifest.get("config") or {}
    try:
        suppression = SuppressionConfig.model_validate(config.get("suppression") or {})
        periods = {
            key: Period.model_validate(value)
            for key, value in (config.get("periods") or {}).items()
            if key in ("baseline", "performance") and isinstance(value, dict)
        }
    except ValueError as exc:
        raise DataError("the run's manifest has unreadable periods or suppression.") from exc
    return suppression, periods


def sentence(chart: dict[str, Any], name: str) -> str:
    """The chart in one sentence: what varied and whether the target is assured."""
    if not chart.get("summary"):
        return f"{name} is not charted: {chart.get('note', '')}."
    summary = chart["summary"]
    text = f"{name}: {summary['variation'].lower()}"
    if summary["assurance"] != "no target set":
        text += f"; {summary['assurance'][0].lower()}{summary['assurance'][1:]}"
    return f"{text} (latest {summary['latest']}, mean {summary['mean']:,.1f})."


def data_rows(chart: dict[str, Any]) -> list[dict[str, str]]:
    """The chart's points as a table: month, value, mean, process limits, rules, special cause."""
    result = chart["result"]
    rows = []
    for p in result.points:
        rows.append(
            {
                "month": p.label,
                "value": f"{p.value:.6g}",
                "mean": f"{p.mean:.6g}",
                "lower_limit": "" if p.lower is None else f"{p.lower:.6g}",
                "upper_limit": "" if p.upper is None else f"{p.upper:.6g}",
                "rules": ", ".join(p.rules),
                "special_cause": p.special or "",
            }
        )
    return rows


SUMMARY_FIELDS = ["measure_id", "measure", "level", "organisation", "variation", "assurance",
                  "latest", "special_cause_in_performance_year"]  # fmt: skip


def summary_rows(charts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The Making Data Count summary table as download rows (text, no icons)."""
    rows = []
    for c in charts:
        s = c.get("summary")
        rows.append(
            {
                "measure_id": c["measure"], "measure": c["name"], "level": c["level"],
                "organisation": c["org"],
                "variation": s["variation"] if s else c.get("note", ""),
                "assurance": s["assurance"] if s else "",
                "latest": s["latest"] if s else "",
                "special_cause_in_performance_year": s["why"] if s else "",
            }
        )  # fmt: skip
    return rows


# --------------------------------------------------------------------------- yearly results
#: published.csv columns the report's measure table reads as numbers.
NUMBERS = ("numerator", "denominator", "value", "lower_ci", "upper_ci")


def published_rows(folder: RunFolder) -> list[dict[str, Any]]:
    """published.csv typed as the report's measure table reads it (numbers, a boolean
    `suppressed`), at the pages' levels: the figures anyone may see (docs/disclosure.md)."""
    rows = []
    for r in folder.published():
        if r.get("level") not in LEVELS:
            continue
        row: dict[str, Any] = dict(r)
        try:
            for col in NUMBERS:
                row[col] = float(r[col]) if r.get(col) not in (None, "") else None
        except ValueError as exc:
            raise DataError(f"{layout.PUBLISHED} has a {col} that is not a number.") from exc
        row["suppressed"] = str(r.get("suppressed", "")).lower() in ("true", "1", "yes")
        rows.append(row)
    return rows


def subjects_of(folder: RunFolder, series: dict[Key, Series]) -> dict[Key, Series]:
    """Every (measure, level, organisation) a measure page can be about: each with a monthly
    series (charted), and each with only yearly published results (a proportion, a change,
    a standardised rate...), as a Series with no months, so that every measure has a page."""
    found = dict(series)
    for r in folder.published():
        key = (r.get("measure_id", ""), r.get("level", ""), r.get("org_code", ""))
        if key[1] in LEVELS and key not in found:
            found[key] = Series(*key, [])
    return dict(sorted(found.items()))


def catalogue_for(rows: list[dict[str, Any]]) -> dict[str, MeasureInfo]:
    """The measures of `rows`, in the shipped library's order, then the run's own by id."""
    ids = {str(r["measure_id"]) for r in rows}
    shipped = shipped_catalogue()
    ordered = {m: info for m, info in shipped.items() if m in ids}
    ordered.update({m: measure_info(m) for m in sorted(ids - set(shipped))})
    return ordered


def results_section(rows: list[dict[str, Any]], orgs: list[tuple[str, str]]) -> dict[str, Any]:
    """The report's measure table (`careis.report.measures_view.measure_table`) for the
    (level, organisation) pairs given, from published rows: the same cells, "*" where hidden."""
    from careis.report.measures_view import measure_table

    headers, table = measure_table(catalogue_for(rows), rows, names(), orgs)
    return {"headers": headers, "rows": table}


RESULT_FIELDS = ["measure_id", "measure", "period", "level", "org_code", "organisation",
                 "numerator", "denominator", "value", "lower_ci", "upper_ci", "unit",
                 "suppressed", "suppression"]  # fmt: skip


def result_rows(folder: RunFolder, orgs: list[tuple[str, str]], measure: str = "") -> list[Row]:
    """The published rows of `orgs` (of one measure, if given) as download rows, as text."""
    wanted = set(orgs)
    out = []
    for r in folder.published():
        if (r.get("level"), r.get("org_code")) not in wanted:
            continue
        if measure and r.get("measure_id") != measure:
            continue
        out.append(
            {f: r.get(f, "") for f in RESULT_FIELDS}
            | {"measure": measure_info(r["measure_id"]).name,
               "organisation": names().get(r["org_code"], "")}
        )  # fmt: skip
    return out
