"""The practice page's statement is the static statement: the report's own template
(statement_body.html.j2) fed from the run folder's files, so what a practice accepts in the app
reads exactly as statement.html and statement.pdf in its folder (issue 19: the app reuses the
static outputs' templates)."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from careis.errors import DataError
from careis.serve.runs import RunFolder
from careis.serve.statement import schedule_rows, statement_html
from careis.serve.views import name_of
from conftest import ROLE_USER, Served, login, make_app

END = "the total is the sum of the lines.</p>"


def _body(html: str) -> str:
    """From the print heading to the last note: the part page, PDF and app share."""
    start = html.index('<p class="print-only careis-print-head">')
    return html[start : html.index(END, start) + len(END)]


def _as_static(app_html: str) -> str:
    """The app's headings put back one level up, as the static page has them."""
    shifted = app_html.replace("<h3", "<h2").replace("</h3>", "</h2>")
    return shifted.replace("<h2>Payment statement</h2>", "<h1>Payment statement</h1>")


def _practices(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "practices").iterdir() if (p / "statement.html").is_file())


def test_every_practice_statement_reads_as_its_static_statement(demo_run: Path) -> None:
    folder = RunFolder(demo_run)
    codes = _practices(demo_run)
    assert len(codes) > 10
    for code in codes:
        static = (demo_run / "practices" / code / "statement.html").read_text("utf-8")
        shown = str(statement_html(folder, code, name_of(code), {}))
        assert _body(_as_static(shown)) == _body(static), code


def test_the_payment_dates_sum_to_the_statement_total(demo_run: Path) -> None:
    folder = RunFolder(demo_run)
    for code in _practices(demo_run):
        lines = folder.practice_statement(code)
        total = sum((Decimal(r["amount"]) for r in lines), Decimal("0"))
        dates = schedule_rows(folder, code)
        assert sum((Decimal(r["amount"]) for r in dates), Decimal("0")) == total, code


def test_an_unreadable_statement_line_names_the_file(demo_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "broken"
    shutil.copytree(demo_run, run, ignore=shutil.ignore_patterns("*.pdf", "*.html", "*.xlsx"))
    code = _practices(demo_run)[0]
    path = run / "practices" / code / "statement.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["amount"] = "twelve pounds"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(DataError, match=rf"practices/{code}/statement.csv .*'twelve pounds'"):
        statement_html(RunFolder(run), code, "", {})


@pytest.fixture(scope="module")
def client(served: Served, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return login(make_app(served, tmp_path_factory.mktemp("statement")), ROLE_USER["practice"])


def test_the_practice_page_shows_the_statement_with_its_downloads(client: TestClient) -> None:
    page = client.get("/runs/open/practices/A00001").text
    for heading in ("Payment statement", "What is paid, line by line", "When it is paid"):
        assert f">{heading}</h" in page
    assert "Engagement payment" in page  # the contract's name for the component, as printed
    assert 'href="/runs/open/practices/A00001/statement.pdf"' in page
    dates = client.get("/runs/open/practices/A00001/schedule.csv").text.splitlines()
    assert dates[0].startswith("payment_date,amount") and dates[1].startswith("2025-03-31,")
    assert page.count("<h1") == 1
