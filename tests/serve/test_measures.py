"""The measures pages: the report's SPC charts and Making Data Count summary, per role's levels.

Why these checks: the app must draw exactly the chart the static report draws (the same
function, the same SVG), show each role only its levels (a practice its own, a federation its
own and its members', never finance), and never chart or export a suppressed series.
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from careis.measures.suppression import SuppressionConfig
from careis.report.measures_view import spc_series
from careis.serve import measures
from careis.serve.runs import RunFolder
from conftest import ROLE_USER, Served, login, make_app

CHART = "/runs/open/measures/emergency_admissions/{}"


@pytest.fixture(scope="module")
def clients(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    app = make_app(served, tmp_path_factory.mktemp("measures"))
    return {role: login(app, name) for role, name in ROLE_USER.items()}


def _summary_orgs(client: TestClient) -> list[str]:
    rows = csv.DictReader(io.StringIO(client.get("/runs/open/measures.csv").text))
    return [r["organisation"] for r in rows]


def test_commissioner_summary_is_the_reports_levels(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    page = comm.get("/runs/open/measures")
    assert page.status_code == 200
    assert "Making Data Count summary" in page.text and 'class="mdc-icon"' in page.text
    assert _summary_orgs(comm) == ["00T", "FEDA", "FEDB"]  # sub-ICB and federations
    rows = list(csv.DictReader(io.StringIO(comm.get("/runs/open/measures.csv").text)))
    feda = next(r for r in rows if r["organisation"] == "FEDA")
    assert feda["variation"] == "Special cause variation: improvement"  # FEDA fell by a third
    assert feda["special_cause_in_performance_year"].startswith("Yes")
    assert rows[0]["manifest_sha256"]


def test_the_chart_is_the_reports_svg(clients: dict[str, TestClient], served: Served) -> None:
    comm = clients["commissioner"]
    page = comm.get(CHART.format("FEDA"))
    assert page.status_code == 200
    series = measures.series_of(RunFolder(served.runs_dir / "open"))
    one = series[("emergency_admissions", "federation", "FEDA")]
    folder = RunFolder(served.runs_dir / "open")
    _, periods = measures.settings_of(folder)
    expected = spc_series(
        measures.measure_info("emergency_admissions"), "federation", "FEDA", one.points,
        SuppressionConfig(), measures.names(), periods,
    )  # fmt: skip
    svg = comm.get(CHART.format("FEDA") + "/chart.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text == expected["svg"] and expected["svg"] in page.text  # inline, the same
    assert "Emergency admissions, FEDA: special cause variation: improvement" in page.text
    png = comm.get(CHART.format("FEDA") + "/chart.png")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    data = list(csv.DictReader(io.StringIO(comm.get(CHART.format("FEDA") + "/data.csv").text)))
    assert len(data) == 24 and data[0]["month"] == "Apr 2023"
    assert {r["special_cause"] for r in data[12:]} == {"improvement"}


def test_federation_sees_its_own_and_its_members_levels(clients: dict[str, TestClient]) -> None:
    fed = clients["federation"]
    assert _summary_orgs(fed) == ["FEDA", "A00001", "A00002"]
    assert fed.get(CHART.format("FEDA")).status_code == 200
    assert fed.get(CHART.format("A00001") + "/chart.svg").status_code == 200
    page = fed.get("/runs/open/measures").text  # its suppressed member is listed, not charted
    assert "Not charted: suppressed: a month has a count of 1-7" in page
    for other in ("FEDB", "A00003", "00T", "U00002"):
        assert fed.get(CHART.format(other)).status_code == 403, other
        assert fed.get(CHART.format(other) + "/data.csv").status_code == 403, other


def test_practice_sees_only_its_own_level(clients: dict[str, TestClient]) -> None:
    prac = clients["practice"]
    assert _summary_orgs(prac) == ["A00001"]
    assert prac.get(CHART.format("A00001")).status_code == 200
    for other in ("A00002", "FEDA", "00T"):
        assert prac.get(CHART.format(other)).status_code == 403, other


def test_finance_sees_no_measures(clients: dict[str, TestClient]) -> None:
    fin = clients["finance"]
    assert fin.get("/runs/paid/measures").status_code == 403
    assert fin.get("/runs/paid/measures/emergency_admissions/FEDA").status_code == 403


def test_a_suppressed_series_is_not_charted_nor_exported(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    page = comm.get(CHART.format("A00002"))
    assert page.status_code == 200
    assert "is not charted: suppressed: a month has a count of 1-7" in page.text
    # no SPC chart (the peers' funnel below it uses the published performance-year value)
    spc_part = page.text.split("</h1>", 1)[1].split('<section aria-labelledby="peers">')[0]
    assert "<svg" not in spc_part.replace('class="mdc-icon"', "")
    for tail in ("/chart.svg", "/chart.png", "/data.csv", "/data.xlsx"):
        assert comm.get(CHART.format("A00002") + tail).status_code == 404, tail


def test_unknown_measure_or_organisation_is_not_found(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    assert comm.get("/runs/open/measures/no_such_measure/FEDA").status_code == 404
    assert comm.get(CHART.format("ZZZ99")).status_code == 404
    assert comm.get("/runs/open/measures/emergency_admissions/..%2Fx").status_code == 404
    assert comm.get("/runs/open/measures.pdf").status_code == 404


def test_a_cached_entry_is_made_once_however_many_ask_at_once() -> None:
    """Fifty users opening one measure at the same moment draw its chart once: the others
    wait for the first (a lock per entry), while other entries are made meanwhile."""
    import threading
    import time

    from careis.serve.authorize import Folders

    folders = Folders()
    made: list[str] = []
    start = threading.Barrier(12)

    def slow(name: str) -> str:
        made.append(name)
        time.sleep(0.05)
        return name.upper()

    results: list[str] = []

    def ask(key: str) -> None:
        start.wait()
        results.append(folders._once(("chart", key), lambda: slow(key)))

    threads = [threading.Thread(target=ask, args=("a" if i % 3 else "b",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == ["a", "b"]
    assert sorted(results) == ["A"] * 8 + ["B"] * 4
