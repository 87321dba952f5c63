"""Runs side by side: two runs of one scheme, each provider's total in both and the change
`careis pay diff` finds; the commissioner only, never across schemes."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from conftest import ROLE_USER, Served, login, make_app


@pytest.fixture(scope="module")
def clients(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    app = make_app(served, tmp_path_factory.mktemp("compare"))
    return {role: login(app, name) for role, name in ROLE_USER.items()}


def test_the_overview_links_the_schemes_other_runs(clients: dict[str, TestClient]) -> None:
    page = clients["commissioner"].get("/runs/rerun").text
    assert "Runs side by side" in page
    assert 'href="/runs/rerun/compare/paid"' in page and 'href="/runs/rerun/compare/repaid"' in page
    assert "/compare/open" not in page  # another scheme's run
    assert "Runs side by side" not in clients["commissioner"].get("/runs/open").text


def test_totals_side_by_side_with_the_diffs_change(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    page = comm.get("/runs/rerun/compare/paid")
    assert page.status_code == 200
    assert "Run rerun beside run paid" in page.text and "gp_data:events.csv" in page.text
    rows = list(csv.DictReader(io.StringIO(comm.get("/runs/rerun/compare/paid/totals.csv").text)))
    by = {r["provider"]: r for r in rows}
    assert set(by) == {"A00001", "A00002", "A00003", "A00004"}
    assert (by["A00002"]["base_total"], by["A00002"]["this_total"]) == ("1500.00", "1575.00")
    assert by["A00002"]["change"] == "+75.00" and by["A00001"]["change"] == ""
    assert by["A00001"]["base_run"] == "paid" and by["A00001"]["this_run"] == "rerun"
    assert "+£75.00" in page.text


def test_only_runs_of_one_scheme_and_only_the_commissioner(
    clients: dict[str, TestClient],
) -> None:
    comm = clients["commissioner"]
    assert comm.get("/runs/rerun/compare/open").status_code == 404  # another scheme
    assert comm.get("/runs/rerun/compare/rerun").status_code == 404  # itself
    assert comm.get("/runs/rerun/compare/nope").status_code == 404
    assert comm.get("/runs/rerun/compare/..%2Fpaid").status_code == 404
    for role in ("federation", "practice", "finance"):
        assert clients[role].get("/runs/repaid/compare/paid").status_code == 403, role
