"""Reading a CSV series for `careis spc`: every bad input is one line naming the file and row.

Why a module of its own: the command takes any CSV an analyst has to hand (a download from a
dashboard, a spreadsheet saved from Excel), so most of its work is refusing what cannot be
charted — a missing column, a folder, a file in another encoding, text or `inf` where a number
should be, a negative count, a zero denominator, more breaches than attendances — each with the
file, the row and the fix, never a traceback. The rows are put in time order when the labels
are dates (an SPC chart of unsorted months is meaningless); otherwise the file's order is the
chart's and the `--help` says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from careis.errors import CareisError
from careis.measures.spc import CHART_NAMES, SpcOptions, SpcResult, spc

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m", "%d/%m/%Y", "%b %Y", "%B %Y", "%Y/%m/%d", "%m/%Y")
CHARTS = tuple(CHART_NAMES)
DIRECTIONS = ("increase", "decrease", "neutral")
COUNT_CHARTS = ("p", "u", "c", "p_prime", "u_prime")


@dataclass(frozen=True)
class SpcRequest:
    """What `careis spc` was asked for (the command's options, unchecked)."""

    value: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    label: str | None = None
    chart: str = "xmr"
    improvement: str = "neutral"
    target: float | None = None
    rebase: tuple[str, ...] = ()
    fix_after: int | None = None
    shift: int = 7
    trend: int = 7
    screen: bool = False
    two_of_three_beyond: bool = False


@dataclass(frozen=True)
class SpcRun:
    result: SpcResult
    notes: list[str]  # what was done to the input (e.g. rows sorted) and the result's warnings
    y_title: str


def read_rows(csv_file: Path) -> list[dict[str, str]]:
    """The CSV's rows as dicts, or one clear error for a file that cannot be read as a CSV."""
    if not csv_file.exists():
        raise CareisError("the file does not exist.", file=csv_file)
    if csv_file.is_dir():
        raise CareisError("is a folder, not a CSV file.", file=csv_file, fix="name the CSV in it.")
    data = csv_file.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CareisError(
            f"the file is not UTF-8 text (byte 0x{data[err.start]:02x}; latin-1 or Windows-1252?).",
            file=csv_file,
            where=f"row {line}",
            fix="save it as UTF-8 (Excel: 'CSV UTF-8').",
        ) from None
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as err:
        raise CareisError(f"not a readable CSV ({err}).", file=csv_file) from None
    if not rows:
        raise CareisError(
            "the CSV has no rows.", file=csv_file, fix="a header and one row a point."
        )
    return rows


def _require(rows: list[dict[str, str]], name: str, option: str, csv_file: Path) -> None:
    if name not in rows[0]:
        raise CareisError(
            f"no column '{name}' (given as {option}).",
            file=csv_file,
            fix=f"use one of: {', '.join(c for c in rows[0] if c)}.",
        )


def _number(raw: str | None, name: str, row: int, csv_file: Path) -> float:
    try:
        v = float(raw) if raw is not None else math.nan
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise CareisError(
            f"'{raw or ''}' in column '{name}' is not a finite number.",
            file=csv_file,
            where=f"row {row}",
            fix="fill or remove the row.",
        )
    return v


def _check_count_row(chart: str, num: float, den: float | None, row: int, csv_file: Path) -> None:
    """Counts charts: a count is >= 0, a denominator > 0, a proportion's numerator <= it."""
    if num < 0:
        raise CareisError(
            f"a negative count ({num:g}) cannot go on a {CHART_NAMES[chart]}.",
            file=csv_file,
            where=f"row {row}",
            fix="correct the count (counts start at 0) or chart the value as XmR.",
        )
    if den is None:
        return
    if den <= 0:
        raise CareisError(
            f"the denominator is {den:g}; a {CHART_NAMES[chart]} needs every denominator > 0.",
            file=csv_file,
            where=f"row {row}",
            fix="remove the row or correct the denominator.",
        )
    if chart in ("p", "p_prime") and num > den:
        raise CareisError(
            f"the numerator ({num:g}) is above the denominator ({den:g}): not a proportion.",
            file=csv_file,
            where=f"row {row}",
            fix="check the columns, or use a u-chart for a rate.",
        )


def _parse_date(text: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def _time_order(labels: list[str], csv_file: Path) -> tuple[list[int], str]:
    """Row order by date when every label is a date (and a note if that reordered the file)."""
    dates = [_parse_date(x) for x in labels]
    if any(d is None for d in dates):
        return list(range(len(labels))), ""
    seen: dict[dt.date, int] = {}
    for i, d in enumerate(dates):
        assert d is not None
        if d in seen:
            raise CareisError(
                f"the label '{labels[i]}' repeats row {seen[d] + 2}: one row a period.",
                file=csv_file,
                where=f"row {i + 2}",
                fix="add the rows of a period together, or remove the duplicate.",
            )
        seen[d] = i
    order = sorted(range(len(labels)), key=lambda i: dates[i])  # type: ignore[arg-type,return-value]
    if order == list(range(len(labels))):
        return order, ""
    return order, "the rows were not in date order; they are charted sorted by date."


def _check_request(req: SpcRequest) -> None:
    if req.chart not in CHARTS:
        raise CareisError(f"--chart must be one of {', '.join(CHARTS)} (got '{req.chart}').")
    if req.improvement not in DIRECTIONS:
        raise CareisError(
            f"--improvement must be increase, decrease or neutral (got '{req.improvement}')."
        )
    if req.chart == "xmr" and req.value is None:
        raise CareisError("an XmR chart needs --value COLUMN.")
    if req.chart != "xmr" and (
        req.numerator is None or (req.chart != "c" and req.denominator is None)
    ):
        raise CareisError(
            f"a {CHART_NAMES[req.chart]} needs --numerator (and --denominator, except a c-chart)."
        )


def _columns(
    rows: list[dict[str, str]], req: SpcRequest, csv_file: Path
) -> tuple[list[float] | None, list[float] | None, list[float] | None]:
    """(values, numerators, denominators) as checked numbers, in file order."""
    wanted = [("--value", req.value if req.chart == "xmr" else None)]
    if req.chart != "xmr":
        wanted = [("--numerator", req.numerator), ("--denominator", req.denominator)]
    for option, name in [*wanted, ("--label", req.label)]:
        if name is not None:
            _require(rows, name, option, csv_file)
    if req.chart == "xmr":
        assert req.value is not None
        return (
            [_number(r[req.value], req.value, i, csv_file) for i, r in enumerate(rows, 2)],
            None,
            None,
        )
    assert req.numerator is not None
    num = [_number(r[req.numerator], req.numerator, i, csv_file) for i, r in enumerate(rows, 2)]
    den = None
    if req.denominator is not None and req.chart != "c":
        den = [
            _number(r[req.denominator], req.denominator, i, csv_file) for i, r in enumerate(rows, 2)
        ]
    for i, n in enumerate(num):
        _check_count_row(req.chart, n, den[i] if den is not None else None, i + 2, csv_file)
    return None, num, den


def run_spc_csv(csv_file: Path, req: SpcRequest) -> SpcRun:
    """Read, check, order and chart a CSV series: what `careis spc` prints and writes."""
    rows = read_rows(csv_file)  # the file first: a missing file is the first thing to say
    _check_request(req)
    values, num, den = _columns(rows, req, csv_file)
    labels = (
        [r[req.label] or "" for r in rows] if req.label else [str(i + 1) for i in range(len(rows))]
    )
    order, note = _time_order(labels, csv_file) if req.label else (list(range(len(rows))), "")
    labels = [labels[i] for i in order]
    cuts: list[int] = []
    for lab in req.rebase:
        if not req.label or lab not in labels:
            raise CareisError(
                f"--rebase '{lab}' is not a label in the file.",
                file=csv_file,
                fix="give the --label value of the first point of the new limits.",
            )
        cuts.append(labels.index(lab))
    opts = SpcOptions(
        chart=req.chart,  # type: ignore[arg-type]
        improvement=req.improvement,  # type: ignore[arg-type]
        shift_length=req.shift,
        trend_length=req.trend,
        screen_outliers=req.screen,
        rebase_at=tuple(cuts),
        fix_after=req.fix_after,
        target=req.target,
        two_of_three_beyond=req.two_of_three_beyond,
    )

    def pick(xs: list[float] | None) -> list[float] | None:
        return None if xs is None else [xs[i] for i in order]

    result = spc(
        pick(values), labels=labels, numerators=pick(num), denominators=pick(den), options=opts
    )
    notes = ([note] if note else []) + result.warnings
    return SpcRun(result, notes, req.value or req.numerator or "")


def check_out_path(out: Path | None) -> None:
    """Refuse an --out the command could not write, before any work is done."""
    if out is None:
        return
    if out.is_dir():
        raise CareisError("--out is a folder.", file=out, fix="name a .svg or .csv file in it.")
    if not out.parent.exists():
        raise CareisError(
            f"the folder {out.parent} does not exist.",
            file=out,
            fix=f"create it first (mkdir -p {out.parent}) or write elsewhere.",
        )
