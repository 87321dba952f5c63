"""`results.xlsx`: a run's tables as one Excel workbook, for the people who open them in Excel.

Sheets: Summary (what the run is), Statements (every payment line, the provider named),
Providers (totals per provider and component), Ledger (every movement, payer and payee
named), Accounts (the ledger's totals per account), Measures (the published, disclosure-
controlled figures only: never `measures/results.csv`) and Practices (name, PCN, federation,
published list size, total paid).

Why it reads the CSVs back: they are the run's record (hashed in the manifest, compared by
`careis pay diff` and the golden files), so every figure here is taken from their text. Money
goes in as `Decimal` parsed from that text and is shown with a £ format; there are no
formulas at all (a total is a value computed here from the same Decimals, so it cannot drift
from the lines), and every text cell is written as text, so a name starting with `=` is never
run as a formula.

Why the zip is rewritten: openpyxl stamps the time of saving in `docProps/core.xml` and on
every zip entry. Both are fixed here (the performance period's last day), and entries are
written in name order, so the same run gives the same bytes and the manifest's hash of this
file is stable.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from careis.contracts.schema import Contract, readable_id
from careis.layout import (
    LEDGER,
    LEDGER_SUMMARY,
    MANIFEST,
    MEMBERSHIPS,
    PAYMENT_FILE,
    PAYMENT_SUMMARY,
    PUBLISHED,
    STATEMENTS,
    RunLayout,
)
from careis.money import ZERO
from careis.periods import Period

__all__ = ["GBP", "SHEETS", "WorkbookContext", "build_workbook", "save", "write_workbook"]

#: The number format of every money cell.
GBP = "£#,##0.00"
DATE = "yyyy-mm-dd"
SHEETS = ["Summary", "Statements", "Providers", "Ledger", "Accounts", "Measures", "Practices"]
MIN_WIDTH, MAX_WIDTH = 8, 60

MODEL_WORDS = {
    "enhanced_service": "Enhanced service (the commissioner pays each practice)",
    "prime_contractor": "Prime contractor (one holder, subcontracting the practices)",
    "prime_provider": "Prime provider (one holder, subcontracting the practices)",
    "alliance": "Alliance (members keep their contracts and share a risk/gain pool)",
    "aco_virtual": "Accountable care, virtual (members share a pool)",
    "aco_partial": "Accountable care, partially integrated",
    "aco_full": "Accountable care, fully integrated",
}


@dataclass(frozen=True)
class WorkbookContext:
    """What the workbook needs beyond the run folder's CSVs."""

    run_name: str
    contract: Contract
    baseline: Period
    performance: Period
    names: Mapping[str, str]  # organisation / party code -> name
    practices: Sequence[str]  # the practices of the run (the rest are other providers)
    version: str


@dataclass(frozen=True)
class Column:
    """One column of a table sheet: its header, the CSV field it shows, how it is written."""

    header: str
    field: str
    kind: str = "text"  # text | money | number | int | date


Row = dict[str, str]


def write_workbook(layout: RunLayout, ctx: WorkbookContext) -> Path:
    """Write `results.xlsx` into the run folder from its CSVs; return its path."""
    workbook = build_workbook(layout, ctx)
    stamp = dt.datetime.combine(ctx.performance.end, dt.time())
    save(workbook, layout.workbook, stamp)
    return layout.workbook


def build_workbook(layout: RunLayout, ctx: WorkbookContext) -> Workbook:
    statements = _read(layout.file(STATEMENTS))
    summary = _read(layout.file(PAYMENT_SUMMARY))
    ledger = _read(layout.file(LEDGER))
    accounts = _read(layout.file(LEDGER_SUMMARY))
    published = _read(layout.file(PUBLISHED))
    memberships = _read(layout.file(MEMBERSHIPS))
    names = dict(ctx.names)

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Summary"
    _summary(sheet, ctx, statements, ledger, accounts)
    parts = ctx.contract.component_names()
    _statements(workbook.create_sheet("Statements"), statements, names, parts)
    _providers(workbook.create_sheet("Providers"), summary, names, parts)
    _ledger(workbook.create_sheet("Ledger"), ledger, names)
    _accounts(workbook.create_sheet("Accounts"), accounts, names)
    _measures(workbook.create_sheet("Measures"), published, names)
    _practices(workbook.create_sheet("Practices"), ctx, statements, memberships, published)
    props = workbook.properties
    props.creator = "careis"
    props.lastModifiedBy = "careis"
    props.title = f"{ctx.run_name}: results"
    return workbook


def save(workbook: Workbook, path: Path, stamp: dt.datetime) -> None:
    """Write `workbook` to `path` with the same bytes every time for the same content:
    `stamp` as its created/modified time and on every zip entry, entries in name order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(workbook, stamp))


def table_workbook(title: str, rows: list[Row], money: Iterable[str], stamp: dt.datetime) -> bytes:
    """One sheet of `rows` (CSV text by field) as .xlsx bytes, for a download: the fields in
    `money` as numbers with the £ format, the rest as text; no formulas; same bytes each time."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    fields = list(rows[0]) if rows else []
    money = set(money)
    _table(sheet, [Column(f, f, "money" if f in money else "text") for f in fields], rows)
    workbook.properties.creator = "careis"
    return to_bytes(workbook, stamp)


def to_bytes(workbook: Workbook, stamp: dt.datetime) -> bytes:
    """The workbook's bytes, deterministic: `stamp` as its times, zip entries in name order."""
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the modified time with the clock.
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with zipfile.ZipFile(buffer) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in sorted(entries):  # "[Content_Types].xml" sorts first, as Excel writes it
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, entries[name])
    return out.getvalue()


# --- sheets ---------------------------------------------------------------------------------


def _summary(
    sheet: Worksheet, ctx: WorkbookContext, statements: list[Row], ledger: list[Row],
    accounts: list[Row],
) -> None:  # fmt: skip
    contract = ctx.contract
    paid = sum((_money(r["amount"]) for r in statements), ZERO)
    providers = {r["provider"] for r in statements}
    practices = providers & set(ctx.practices)
    dates = sorted({r["date"] for r in ledger})
    balance = next((r["net"] for r in accounts if r["account"] == "TOTAL"), "")
    commissioner = contract.commissioner
    rows: list[tuple[str, Any, str]] = [
        ("Run", ctx.run_name, "text"),
        ("Contract", f"{contract.name} ({contract.id})", "text"),
        ("Contract model", MODEL_WORDS.get(contract.model, contract.model), "text"),
        ("Commissioner", _named(commissioner.code, commissioner.name or ctx.names.get(commissioner.code, "")), "text"),
        ("Contract term", f"{contract.term.start.isoformat()} to {contract.term.end.isoformat()}", "text"),
        ("Baseline period", ctx.baseline.name, "text"),
        ("Performance period", ctx.performance.name, "text"),
        ("Total paid", paid, "money"),
        ("Providers with a statement", len(providers), "int"),
        ("of which practices", len(practices), "int"),
        ("Payment dates", ", ".join(dates), "text"),
        ("Ledger balance (must be 0.00)", _money(balance) if balance else "", "money"),
        ("Evidence", f"{MANIFEST} in this folder holds the SHA-256 of every input and output "
         "of the run, this workbook included.", "text"),
        ("Source of the figures", f"{STATEMENTS}, {PAYMENT_SUMMARY}, {LEDGER}, {LEDGER_SUMMARY}, "
         f"{PUBLISHED}; {PAYMENT_FILE} is the payment file for finance. Values, no formulas: "
         "the CSV files are the record.", "text"),
        ("Measures shown", "Published figures only (small numbers suppressed); the exact "
         "figures are restricted and not in this workbook.", "text"),
        ("careis version", ctx.version, "text"),
    ]  # fmt: skip
    _header(sheet, ["Item", "Value"])
    for i, (item, value, kind) in enumerate(rows, start=2):
        _put(sheet, i, 1, item, "text")
        _put(sheet, i, 2, value, kind)
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 90
    for row in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
    sheet.freeze_panes = "A2"


STATEMENT_COLUMNS = [
    Column("Provider code", "provider"),
    Column("Provider name", "provider_name"),
    Column("PCN", "pcn"),
    Column("Federation", "federation"),
    Column("Component", "component_id"),
    Column("Component name", "component_name"),
    Column("Component type", "component_type"),
    Column("Description", "description"),
    Column("Measure", "measure_id"),
    Column("Measure level", "measure_level"),
    Column("Measured organisation", "measure_org"),
    Column("Measure value", "measure_value", "number"),
    Column("Test", "test"),
    Column("Met", "met"),
    Column("Quantity", "quantity", "number"),
    Column("Rate", "rate", "number"),
    Column("Amount", "amount", "money"),
    Column("Kind", "kind"),
    Column("Paid", "paid"),
    Column("Evidence", "evidence"),
]


def _statements(
    sheet: Worksheet, rows: list[Row], names: Mapping[str, str], parts: Mapping[str, str]
) -> None:
    named = [
        {**r, "provider_name": names.get(r["provider"], ""),
         "component_name": parts.get(r["component_id"]) or readable_id(r["component_id"])}
        for r in rows
    ]  # fmt: skip
    _table(sheet, STATEMENT_COLUMNS, named)


def _providers(
    sheet: Worksheet, rows: list[Row], names: Mapping[str, str], parts: Mapping[str, str]
) -> None:
    """One row a provider, one money column a component (headed by its name, not its id)."""
    fields = list(rows[0]) if rows else ["provider", "pcn", "federation", "total"]
    columns = [
        Column("Provider code", "provider"),
        Column("Provider name", "provider_name"),
        Column("PCN", "pcn"),
        Column("Federation", "federation"),
        *(Column(parts.get(f) or readable_id(f), f, "money") for f in fields
          if f not in ("provider", "pcn", "federation", "total")),
        Column("Total", "total", "money"),
    ]  # fmt: skip
    _table(sheet, columns, [{**r, "provider_name": names.get(r["provider"], "")} for r in rows])


LEDGER_COLUMNS = [
    Column("Seq", "seq", "int"),
    Column("Date", "date", "date"),
    Column("Payer", "payer"),
    Column("Payer name", "payer_name"),
    Column("Payee", "payee"),
    Column("Payee name", "payee_name"),
    Column("Amount", "amount", "money"),
    Column("Component", "component_id"),
    Column("Movement", "movement"),
    Column("Memo", "memo"),
]


def _ledger(sheet: Worksheet, rows: list[Row], names: Mapping[str, str]) -> None:
    named = [
        {**r, "payer_name": names.get(r["payer"], ""), "payee_name": names.get(r["payee"], "")}
        for r in rows
    ]
    _table(sheet, LEDGER_COLUMNS, named)


ACCOUNT_COLUMNS = [
    Column("Account", "account"),
    Column("Name", "name"),
    Column("Role", "role"),
    Column("Received", "received", "money"),
    Column("Paid", "paid", "money"),
    Column("Net", "net", "money"),
]


def _accounts(sheet: Worksheet, rows: list[Row], names: Mapping[str, str]) -> None:
    _table(sheet, ACCOUNT_COLUMNS, [{**r, "name": names.get(r["account"], "")} for r in rows])


MEASURE_NUMBERS = {
    "numerator", "denominator", "value", "exclusions", "lower_ci", "upper_ci", "crude_value",
    "lower_ci_998", "upper_ci_998",
}  # fmt: skip
MEASURE_DATES = {"period_start", "period_end"}


def _measures(sheet: Worksheet, rows: list[Row], names: Mapping[str, str]) -> None:
    fields = list(rows[0]) if rows else ["measure_id", "org_code"]
    columns: list[Column] = []
    for f in fields:
        kind = "number" if f in MEASURE_NUMBERS else ("date" if f in MEASURE_DATES else "text")
        columns.append(Column(f, f, kind))
        if f == "org_code":
            columns.append(Column("org_name", "org_name"))
    _table(sheet, columns, [{**r, "org_name": names.get(r.get("org_code", ""), "")} for r in rows])


PRACTICE_COLUMNS = [
    Column("Practice code", "code"),
    Column("Practice name", "name"),
    Column("PCN", "pcn"),
    Column("PCN name", "pcn_name"),
    Column("Federation", "federation"),
    Column("Federation name", "federation_name"),
    Column("List size (published)", "list_size", "int"),
    Column("Total paid", "total", "money"),
]


def _practices(
    sheet: Worksheet, ctx: WorkbookContext, statements: list[Row], memberships: list[Row],
    published: list[Row],
) -> None:  # fmt: skip
    groups = {(r["practice_code"], r["level"]): r["group_code"] for r in memberships}
    totals: dict[str, Decimal] = {}
    for r in statements:
        totals[r["provider"]] = totals.get(r["provider"], ZERO) + _money(r["amount"])
    sizes = {
        r["org_code"]: r["numerator"]
        for r in published
        if r["measure_id"] == "list_size" and r["level"] == "practice"
        and r["period"] == "performance" and r.get("suppressed") != "True"
    }  # fmt: skip
    rows = []
    for code in sorted(ctx.practices):
        pcn, fed = groups.get((code, "pcn"), ""), groups.get((code, "federation"), "")
        rows.append({
            "code": code, "name": ctx.names.get(code, ""),
            "pcn": pcn, "pcn_name": ctx.names.get(pcn, "") if pcn else "",
            "federation": fed, "federation_name": ctx.names.get(fed, "") if fed else "",
            "list_size": sizes.get(code, ""), "total": f"{totals.get(code, ZERO):.2f}",
        })  # fmt: skip
    _table(sheet, PRACTICE_COLUMNS, rows)


# --- cells ----------------------------------------------------------------------------------


def _read(path: Path) -> list[Row]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _money(text: str) -> Decimal:
    return Decimal(text)


def _named(code: str, name: str) -> str:
    return f"{code} {name}" if name else code


def _header(sheet: Worksheet, headers: Sequence[str]) -> None:
    bold = Font(bold=True)
    for j, header in enumerate(headers, start=1):
        cell = _put(sheet, 1, j, header, "text")
        cell.font = bold


def _table(sheet: Worksheet, columns: Sequence[Column], rows: Iterable[Row]) -> None:
    """A header row (bold, frozen, filtered) and one row per CSV row; widths from the text."""
    _header(sheet, [c.header for c in columns])
    widths = [len(c.header) for c in columns]
    count = 0
    for i, row in enumerate(rows, start=2):
        count += 1
        for j, col in enumerate(columns, start=1):
            text = row.get(col.field, "") or ""
            _put(sheet, i, j, _value(text, col.kind), col.kind)
            widths[j - 1] = max(widths[j - 1], _shown_width(text, col.kind))
    for j, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = min(
            max(width + 2, MIN_WIDTH), MAX_WIDTH
        )
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"


_PARSE: dict[str, Callable[[str], Any]] = {
    "money": Decimal,
    "number": Decimal,
    "int": int,
    "date": dt.date.fromisoformat,
}


def _value(text: str, kind: str) -> Any:
    """The CSV text as the cell's value: a number or a date where the column holds them (a
    text that does not parse stays text: the CSV is the record, never altered)."""
    if text == "" or kind == "text":
        return text
    try:
        value = _PARSE[kind](text)
    except (ValueError, InvalidOperation):
        return text
    if isinstance(value, Decimal) and not value.is_finite():
        return text  # "NaN" or "Infinity" is no number a spreadsheet can hold
    return value


def _shown_width(text: str, kind: str) -> int:
    if kind == "money":
        try:
            return len(f"£{Decimal(text):,.2f}")
        except InvalidOperation:
            return len(text)
    return len(text)


def _put(sheet: Worksheet, row: int, col: int, value: Any, kind: str) -> Any:
    """One cell, never a formula: text is always a text cell, money has the £ format."""
    cell = sheet.cell(row=row, column=col)
    if value is None or value == "":
        return cell
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
        return cell
    cell.value = value
    if isinstance(value, dt.date):
        cell.number_format = DATE
    elif kind == "money":
        cell.number_format = GBP
    return cell
