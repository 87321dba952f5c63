"""results.xlsx, opened as a finance officer would open it (openpyxl), checked against the CSVs.

One small run (`careis run`, four Bolton practices at a tenth of their size, the alliance
contract so that non-practice members are paid too, no HTML report) is shared by the module;
the demo's workbook is checked on the golden tests' shared demo run (`demo_run`, marked slow,
no second demo).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from careis.cli import main
from careis.contracts.schema import load_contract
from careis.layout import PAYMENT_FILE, STATEMENTS, RunLayout
from careis.payments.outputs import party_names
from careis.periods import parse_financial_year
from careis.report.workbook import GBP, SHEETS, WorkbookContext, write_workbook
from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
CONTRACT = EXAMPLES / "alliance.yaml"
PRACTICES = ["P82001", "P82002", "P82003", "P82004"]
PENNY = Decimal("0.01")

# the columns holding money on each table sheet (by header)
MONEY = {
    "Statements": {"Amount"},
    "Ledger": {"Amount"},
    "Accounts": {"Received", "Paid", "Net"},
    "Practices": {"Total paid"},
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("workbook")
    data, out = base / "data", base / "out"
    generate(SynthConfig(practices=PRACTICES, scale=0.1, seed=3), data)
    config = base / "run.yaml"
    config.write_text(
        f"""name: Small workbook run
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {CONTRACT}
output: {{dir: {out}, report: false}}
"""
    )
    with pytest.raises(SystemExit) as info:
        main(["run", str(config)])
    assert info.value.code in (0, None)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def pence(value: object) -> Decimal:
    """A money cell's value as Decimal pence (openpyxl reads numbers back as float or int)."""
    assert isinstance(value, int | float), value
    return Decimal(repr(value)).quantize(PENNY)


def table(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[dict[str, object]]:
    rows = list(sheet.iter_rows(values_only=True))
    headers = rows[0]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:]]


def check_statements_total(run: Path) -> None:
    """The Statements sheet sums to statements.csv to the penny, overall and per provider."""
    csv_rows = read_csv(run / STATEMENTS)
    expected: dict[str, Decimal] = {}
    for r in csv_rows:
        expected[r["provider"]] = expected.get(r["provider"], Decimal(0)) + Decimal(r["amount"])
    rows = table(openpyxl.load_workbook(run / "results.xlsx")["Statements"])
    assert len(rows) == len(csv_rows)
    got: dict[str, Decimal] = {}
    for r in rows:
        code = str(r["Provider code"])
        got[code] = got.get(code, Decimal(0)) + pence(r["Amount"])
    assert got == expected
    assert sum(got.values()) == sum(expected.values())


def test_every_sheet_is_there_with_frozen_bold_filtered_headers(small_run: Path) -> None:
    book = openpyxl.load_workbook(small_run / "results.xlsx")
    assert book.sheetnames == SHEETS
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(c.font.bold for c in sheet[1] if c.value is not None), sheet.title
        if sheet.title != "Summary":
            assert sheet.auto_filter.ref == sheet.dimensions, sheet.title
            widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
            assert all(8 <= w <= 62 for w in widths), (sheet.title, widths)


def test_statements_sheet_totals_equal_the_csv_to_the_penny(small_run: Path) -> None:
    check_statements_total(small_run)


def test_every_provider_and_party_is_named(small_run: Path) -> None:
    book = openpyxl.load_workbook(small_run / "results.xlsx")
    statements = table(book["Statements"])
    # the alliance members (BOLFED, RMC, RXV) are named from the contract, practices from the data
    assert {r["Provider code"] for r in statements} >= {*PRACTICES, "BOLFED", "RMC", "RXV"}
    assert all(r["Provider name"] for r in statements)
    practices = table(book["Practices"])
    assert [r["Practice code"] for r in practices] == PRACTICES
    for r in practices:
        assert r["Practice name"] and r["PCN"] and r["PCN name"] and r["Federation"]
        assert isinstance(r["List size (published)"], int)
        assert r["List size (published)"] % 5 == 0  # the published (rounded) figure


def test_no_cell_is_a_formula_and_money_has_the_pound_format(small_run: Path) -> None:
    book = openpyxl.load_workbook(small_run / "results.xlsx")
    money_cells = 0
    for sheet in book:
        headers = [c.value for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for header, cell in zip(headers, row, strict=True):
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if header in MONEY.get(sheet.title, ()) and cell.value is not None:
                    assert cell.number_format == GBP, (sheet.title, cell.coordinate)
                    assert isinstance(cell.value, int | float)
                    money_cells += 1
    assert money_cells > 20
    summary = {r["Item"]: r["Value"] for r in table(book["Summary"])}
    assert pence(summary["Total paid"]) == sum(
        (Decimal(r["amount"]) for r in read_csv(small_run / STATEMENTS)), Decimal(0)
    )
    assert summary["Providers with a statement"] == 7


def test_measures_sheet_holds_only_the_published_figures(small_run: Path) -> None:
    rows = table(openpyxl.load_workbook(small_run / "results.xlsx")["Measures"])
    published = read_csv(small_run / "measures/published.csv")
    assert len(rows) == len(published)
    for row, pub in zip(rows, published, strict=True):
        numerator = row["numerator"]
        assert (numerator is None) == (pub["numerator"] == "")
        if numerator is not None:
            assert Decimal(repr(numerator)) == Decimal(pub["numerator"])


def test_text_that_looks_like_a_formula_is_written_as_text(small_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    loaded = load_contract(CONTRACT)
    evil = {"P82001": '=HYPERLINK("http://x","click")', "P82002": "+1+1", "P82003": "@SUM(A1)"}
    evil["P82004"] = "-2+3"
    ctx = context(loaded.contract, evil)
    write_workbook(RunLayout(run), ctx)
    book = openpyxl.load_workbook(run / "results.xlsx")
    seen = set()
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if cell.value in evil.values():
                    assert cell.data_type == "s"
                    seen.add(cell.value)
    assert seen == set(evil.values())


def context(contract: object, names: dict[str, str]) -> WorkbookContext:
    from careis.contracts.schema import Contract

    assert isinstance(contract, Contract)
    return WorkbookContext(
        run_name="Small workbook run",
        contract=contract,
        baseline=parse_financial_year("2023/24"),
        performance=parse_financial_year("2024/25"),
        names=party_names(contract, names),
        practices=PRACTICES,
        version="test",
    )


def test_two_writes_are_byte_identical_with_fixed_times(small_run: Path, tmp_path: Path) -> None:
    first = (small_run / "results.xlsx").read_bytes()
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "results.xlsx").unlink()
    ctx = context(load_contract(CONTRACT).contract, {})
    write_workbook(RunLayout(run), ctx)
    again = (run / "results.xlsx").read_bytes()
    write_workbook(RunLayout(run), ctx)
    assert (run / "results.xlsx").read_bytes() == again
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        assert names == sorted(names) and names[0] == "[Content_Types].xml"
        assert {i.date_time for i in archive.infolist()} == {(2025, 3, 31, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2025-03-31T00:00:00Z") == 2  # created and modified
    book = openpyxl.load_workbook(io.BytesIO(first))
    assert book.properties.modified == dt.datetime(2025, 3, 31)


def test_payment_file_names_each_provider_and_sums_to_its_statement(small_run: Path) -> None:
    rows = read_csv(small_run / PAYMENT_FILE)
    statements: dict[str, Decimal] = {}
    for r in read_csv(small_run / STATEMENTS):
        statements[r["provider"]] = statements.get(r["provider"], Decimal(0)) + Decimal(r["amount"])
    paid: dict[str, Decimal] = {}
    for r in rows:
        assert r["name"], r
        assert r["contract"] == "AL-00T-2024"
        assert (r["period_start"], r["period_end"]) == ("2024-04-01", "2025-03-31")
        dt.date.fromisoformat(r["payment_date"])
        paid[r["provider"]] = paid.get(r["provider"], Decimal(0)) + Decimal(r["amount"])
    assert paid == statements
    members = {r["provider"]: r for r in rows if r["provider"] in ("BOLFED", "RMC", "RXV")}
    assert all(r["paid_to"] == "POOL:risk_gain_pool" for r in members.values())


@pytest.mark.slow
def test_demo_workbook_totals_equal_its_csvs(demo_run: Path) -> None:
    check_statements_total(demo_run)
    practices = table(openpyxl.load_workbook(demo_run / "results.xlsx")["Practices"])
    assert len(practices) == 49
    summary = read_csv(demo_run / "payments/summary.csv")
    totals = {r["provider"]: Decimal(r["total"]) for r in summary}
    assert {str(r["Practice code"]): pence(r["Total paid"]) for r in practices} == totals


def test_a_figure_that_is_no_number_stays_text() -> None:
    from careis.report.workbook import _value

    assert _value("12.50", "money") == Decimal("12.50")
    assert _value("2025-03-31", "date") == dt.date(2025, 3, 31)
    assert _value("NaN", "number") == "NaN"
    assert _value("Infinity", "number") == "Infinity"
    assert _value("n/a", "int") == "n/a"
    assert _value("", "money") == ""
