"""A download on every table: each table of each page has a CSV and an Excel link, served by
authorised routes (the page's Authorizer scope, in the access matrix), with the same rows.

Why from the pages: the links are read from the HTML the role gets, so a new table without
its downloads, or a link to a route the role may not use, fails here.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from test_access_matrix import MATRIX
from tiny_run import STATEMENT_PDF, YEARLY_MEASURE

from careis.serve import routes
from conftest import ROLE_USER, XLSX, Served, body_text, login, make_app

#: (role, page route, run) covering every page of the app, the tables each role gets there.
PAGES = [
    *((role, "/", "open") for role in ROLE_USER),
    ("commissioner", "/runs/{run}", "open"),
    ("commissioner", "/runs/{run}", "rerun"),  # with the tables of what changed
    ("commissioner", "/runs/{run}/federations/{org}", "open"),
    ("federation", "/runs/{run}/federations/{org}", "open"),
    ("commissioner", "/runs/{run}/practices/{code}", "open"),
    ("federation", "/runs/{run}/practices/{code}", "open"),
    ("practice", "/runs/{run}/practices/{code}", "open"),  # with its worklist
    ("commissioner", "/runs/{run}/ledger", "rerun"),
    ("finance", "/runs/{run}/ledger", "repaid"),  # what changed, and the payment file
    ("commissioner", "/runs/{run}/audit", "open"),
    ("commissioner", "/runs/{run}/compare/{other}", "rerun"),
    *(
        (role, "/runs/{run}/measures", "open")
        for role in ("commissioner", "federation", "practice")
    ),
    *(
        (role, "/runs/{run}/measures/{measure}/{code}", "open")
        for role in ("commissioner", "federation", "practice")
    ),
]
#: Logged-in pages with no table (a form only): nothing to download.
NO_TABLES = {("GET", "/account/password")}
BLOCK = re.compile(r'<p class="careis-downloads">(.*?)</p>', re.S)
HREF = re.compile(r'href="([^"]+)"')


@pytest.fixture(scope="module")
def clients(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    app = make_app(served, tmp_path_factory.mktemp("downloads"))
    found = {role: login(app, name) for role, name in ROLE_USER.items()}
    found["practice3"] = login(app, "prac3")  # a practice whose run has no worklist for it
    return found


def test_the_pages_cover_every_page_route() -> None:
    """Every logged-in HTML page of the route table is in PAGES."""
    pages = {
        ("GET", r.path)
        for r in routes.router.routes
        if isinstance(r, APIRoute) and "GET" in r.methods and r.response_class is HTMLResponse
    }
    assert pages <= set(MATRIX)
    assert {("GET", path) for _, path, _ in PAGES} | NO_TABLES == pages


def _url(path: str, run: str) -> str:
    return path.format(
        run=run, org="FEDA", code="A00001", measure="emergency_admissions", other="paid"
    )


@pytest.mark.parametrize(("role", "path", "run"), PAGES)
def test_every_table_has_csv_and_excel_downloads(
    role: str, path: str, run: str, clients: dict[str, TestClient]
) -> None:
    _check_page(clients[role], _url(path, run), patients=role == "practice")


@pytest.mark.parametrize("role", ["commissioner", "federation", "practice"])
def test_a_yearly_measure_has_a_page_with_its_results(
    role: str, clients: dict[str, TestClient]
) -> None:
    """A measure with no monthly series (a proportion for the year) has a page too: no chart,
    a sentence saying why, its published results for the year and its peers."""
    url = f"/runs/open/measures/{YEARLY_MEASURE}/A00001"
    _check_page(clients[role], url, patients=False)
    page = clients[role].get(url).text
    assert "is not charted: the run reports it for each period" in page
    assert "chart.svg" not in page and "Results for the year" in page
    assert "75.0<br>" in page  # 30 of 40 with a care plan, as published
    listed = clients[role].get("/runs/open/measures").text
    assert f'href="/runs/open/measures/{YEARLY_MEASURE}/' in listed


def test_the_register_table_of_a_practice_without_worklist(clients: dict[str, TestClient]) -> None:
    _check_page(clients["practice3"], "/runs/open/practices/A00003", patients=True)


def _check_page(client: TestClient, url: str, *, patients: bool) -> None:
    page = client.get(url)
    assert page.status_code == 200, url
    blocks = BLOCK.findall(page.text)
    assert page.text.count("<table") == len(blocks) > 0, f"{url}: a table without downloads"
    for block in blocks:
        hrefs = HREF.findall(block)
        suffixes = [Path(h).suffix for h in hrefs]
        assert suffixes in ([".csv", ".xlsx"], [".csv", ".xlsx", ".pdf"]), block
        if ".pdf" in suffixes:  # a statement's own document, as the run wrote it
            as_pdf = client.get(hrefs[2])
            assert as_pdf.status_code == 200 and as_pdf.content == STATEMENT_PDF
            assert as_pdf.headers["content-type"] == "application/pdf"
        as_csv, as_xlsx = (client.get(h) for h in hrefs[:2])
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert as_xlsx.status_code == 200 and as_xlsx.headers["content-type"] == XLSX
        for response, suffix in ((as_csv, ".csv"), (as_xlsx, ".xlsx")):
            assert response.headers["content-disposition"].endswith(f'{suffix}"')
        rows = list(csv.reader(io.StringIO(as_csv.text)))
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
        cells = list(sheet.iter_rows(values_only=True))
        assert list(cells[0]) == rows[0], f"{hrefs}: the same columns"
        if len(rows) > 1:
            assert len(cells) == len(rows), f"{hrefs}: the same rows"
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
        if not patients:
            assert "pid-" not in as_csv.text and "pid-" not in body_text(as_xlsx)


def test_downloads_hold_the_pages_figures(clients: dict[str, TestClient]) -> None:
    comm, fed = clients["commissioner"], clients["federation"]
    practices = list(csv.DictReader(io.StringIO(comm.get("/runs/open/practices.csv").text)))
    assert [(r["practice"], r["total"], r["statement"]) for r in practices][:1] == [
        ("A00001", "2750.00", "query open")
    ]
    members = fed.get("/runs/open/federations/FEDA/members.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(members.content)).active
    header = [c.value for c in sheet[1]]
    totals = {r[0]: r[header.index("total")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert totals == {"A00001": 2750, "A00002": 1500}  # £ numbers, not text
    assert sheet.cell(2, header.index("total") + 1).number_format == "£#,##0.00"
    changes = list(
        csv.DictReader(io.StringIO(comm.get("/runs/rerun/changes/provider_total.csv").text))
    )
    assert [(r["key"], r["change"]) for r in changes] == [
        ("A00002", "+75.00"),
        ("A00004", "-275.00"),
    ]
    inputs = comm.get("/runs/rerun/changes/input.xlsx")
    row = list(
        openpyxl.load_workbook(io.BytesIO(inputs.content)).active.iter_rows(values_only=True)
    )[1]
    assert row[1] == "gp_data:events.csv" and row[6] == "content changed"
    assert isinstance(row[2], str) and len(row[2]) == 12  # a hash stays text
    audit = comm.get("/runs/open/audit.csv").text
    assert audit.startswith("at_utc,user,action") and "statement_query" in audit


def test_a_download_in_another_format_is_not_found(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    assert comm.get("/runs/open/practices.pdf").status_code == 404
    assert comm.get("/runs/rerun/changes/nonsense.csv").status_code == 404
    assert comm.get("/runs/open/changes/statement.csv").status_code == 404  # no approved base
    assert (
        clients["practice"].get("/runs/open/practices/A00001/files/register.pdf").status_code == 404
    )
