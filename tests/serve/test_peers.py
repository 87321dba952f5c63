"""The measure page's "Compared with peers": who the peers are, published cells only, the
funnel's classification worked by hand, and the downloads.

Why these checks: a peer comparison shows other practices' figures, so it must carry
disclosure control through untouched (a suppressed cell never appears, in any form, in the
page, the table downloads or the chart), and its "above/below the limits" must be OHID's.
"""

from __future__ import annotations

import csv
import html
import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from tiny_run import HIDDEN_PRACTICE, exact_performance

from careis.measures.results import MeasureInfo
from careis.serve import peers
from careis.serve.runs import manifest_hash
from conftest import ROLE_USER, Served, login, make_app

PAGE = "/runs/{}/measures/emergency_admissions/{}"
RATE = MeasureInfo("m", "A rate", "rate", "per 1,000 person-years", "", per=1000.0)


@pytest.fixture(scope="module")
def clients(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    app = make_app(served, tmp_path_factory.mktemp("peers"))
    clients = {role: login(app, name) for role, name in ROLE_USER.items()}
    clients["practice3"] = login(app, "prac3")
    return clients


def _member(code: str, level: str, group: str, joined: str = "") -> dict[str, str]:
    return {"practice_code": code, "level": level, "group_code": group, "joined": joined}


MEMBERS = [
    _member("P1", "pcn", "U1"), _member("P2", "pcn", "U1"), _member("P1", "federation", "F1"),
    _member("P2", "federation", "F1"), _member("P3", "federation", "F1"),
    _member("P4", "pcn", "U1"), _member("P4", "pcn", "U2", "2024-10-01"),
    _member("P5", "pcn", "U2"),
]  # fmt: skip


def test_a_practice_is_compared_with_its_pcn() -> None:
    group = peers.peer_group(MEMBERS, "practice", "P1")
    assert group == peers.PeerGroup("pcn", "U1", ["P1", "P2", "P4"], "P1")


def test_a_practice_without_a_pcn_is_compared_with_its_federation() -> None:
    group = peers.peer_group(MEMBERS, "practice", "P3")
    assert group == peers.PeerGroup("federation", "F1", ["P1", "P2", "P3"], "P3")


def test_a_practice_that_moved_is_compared_with_the_pcn_it_joined_last() -> None:
    group = peers.peer_group(MEMBERS, "practice", "P4")
    assert group is not None and (group.code, group.members) == ("U2", ["P4", "P5"])


def test_a_group_is_compared_through_its_members_and_an_unknown_code_has_none() -> None:
    assert peers.peer_group(MEMBERS, "federation", "F1") == peers.PeerGroup(
        "federation", "F1", ["P1", "P2", "P3"], ""
    )
    assert peers.peer_group(MEMBERS, "practice", "P9") is None
    assert peers.peer_group(MEMBERS, "pcn", "U9") is None


def _published(code: str, num: str, den: str, hidden: bool = False) -> dict[str, str]:
    value = "" if hidden or not num else f"{float(num) / float(den) * 1000:.6f}"
    return {"measure_id": "m", "period": "performance", "level": "practice", "org_code": code,
            "numerator": num, "denominator": den, "value": value, "unit": "per 1,000",
            "suppressed": str(hidden)}  # fmt: skip


def test_funnel_classification_against_a_hand_worked_case() -> None:
    """Five practices of 1,000 person-years each, 500 events in all: pooled rate 100 per
    1,000, so 100 expected events each. OHID's funnel limits (PHE, "Technical Guide: Funnel
    plots for indicators", as in Fingertips and PHEindicatormethods'
    `calculate_funnel_limits`; careis.measures.spc) are the event counts whose exact Poisson
    interval just reaches 100. By Byar's approximation, the lower limit of O observed is
    O(1 - 1/(9O) - z/(3 sqrt O))^3 and the upper (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3:
    - 95% (z = 1.96): upper ~ 120.6 (O = 121 gives a lower limit of 100.4), lower ~ 80.4
      (O = 80 has upper limit 99.6, O = 81 100.7);
    - 99.8% (z = 3.09): upper ~ 132.8 (O = 133: 100.2), lower ~ 70.1 (O = 70: 99.9).
    So 140 is above 99.8%, 125 above 95% only, 97 within, 78 below 95% only, 60 below 99.8%.
    """
    rows = [_published(c, n, "1000") for c, n in
            (("A", "140"), ("B", "125"), ("C", "78"), ("D", "97"), ("E", "60"))]  # fmt: skip
    group = peers.PeerGroup("pcn", "U1", ["A", "B", "C", "D", "E"], "D")
    view = peers.compare(RATE, group, rows, {})
    assert view.centre == pytest.approx(100.0)
    assert [p.where for p in view.peers] == [
        "above the 99.8% limit", "above the 95% limit", "below the 95% limit",
        "within the limits", "below the 99.8% limit",
    ]  # fmt: skip
    limits = view.points[0].limits
    assert limits["95"] == pytest.approx((80.4, 120.6), abs=0.1)
    assert limits["99.8"] == pytest.approx((70.1, 132.8), abs=0.1)
    assert [p.focus for p in view.peers] == [False, False, False, True, False]


def test_a_suppressed_peer_is_shown_as_suppressed_and_left_out_of_the_funnel() -> None:
    rows = [_published("A", "140", "1000"), _published("B", "", "1005", hidden=True),
            _published("C", "60", "1000")]  # fmt: skip
    view = peers.compare(RATE, peers.PeerGroup("pcn", "U1", ["A", "B", "C"], "B"), rows, {})
    hidden = view.peers[1]
    assert (hidden.numerator, hidden.value, hidden.suppressed) == ("suppressed",) * 2 + (True,)
    assert hidden.denominator == "1,005"  # published, so shown
    assert hidden.where == "not plotted (suppressed)"
    assert [p.org for p in view.points] == ["A", "C"]
    assert view.centre == pytest.approx(100.0)  # from the published cells only


def test_standardised_rates_and_single_values_have_no_funnel() -> None:
    rows = [_published("A", "140", "1000"), _published("B", "60", "1000")]
    group = peers.PeerGroup("pcn", "U1", ["A", "B"], "A")
    dsr = MeasureInfo("m", "DSR", "rate", "per 1,000", "", per=1000.0, standardised=True)
    assert peers.compare(dsr, group, rows, {}).centre is None
    assert "standardised rate has no funnel" in peers.compare(dsr, group, rows, {}).note
    assert "fewer than two" in peers.compare(RATE, group, rows[:1], {}).note
    share = MeasureInfo("m", "Share", "proportion", "%", "")
    assert peers.compare(share, group, rows, {}).kind == "proportion"


def _section(html: str) -> str:
    return html.split('<section aria-labelledby="peers">', 1)[1].split("</section>", 1)[0]


def test_the_page_compares_a_practice_with_its_pcn(clients: dict[str, TestClient]) -> None:
    page = clients["practice"].get(PAGE.format("open", "A00001"))
    assert page.status_code == 200
    section = _section(page.text)
    assert "the 2 practices of PCN U00001" in section
    assert "A00002" in section and "A00003" not in section  # the other PCN is not a peer
    assert "(this practice)" in section and "<svg" in section
    # the tiny run's A00001 has ~850 admissions per 1,000 person-years, A00002 ~28
    assert "A00001 is above the 99.8% limit of the funnel" in section


def test_a_group_page_compares_its_member_practices(clients: dict[str, TestClient]) -> None:
    fed = _section(clients["federation"].get(PAGE.format("open", "FEDA")).text)
    assert "the 2 practices of federation FEDA" in fed and "(this practice)" not in fed
    comm = _section(clients["commissioner"].get(PAGE.format("open", "00T")).text)
    assert "the 4 practices of sub-ICB 00T" in comm
    assert all(code in comm for code in ("A00001", "A00002", "A00003", "A00004"))


def _forbidden(client: TestClient, run: str, code: str) -> list[str]:
    """Every form of the hidden practice's count a page or download might leak."""
    events, years = exact_performance()[("practice", HIDDEN_PRACTICE)]
    rounded = 5 * round(events / 5)
    rates = [events / years * 1000, rounded / (5 * round(years / 5)) * 1000]
    return [str(events), str(rounded), *(f"{r:.1f}" for r in rates),
            *(f"{r:,.1f}" for r in rates)]  # fmt: skip


@pytest.mark.parametrize("who", ["commissioner", "practice3"])
def test_a_suppressed_peer_never_appears_in_the_page_or_downloads(
    who: str, clients: dict[str, TestClient]
) -> None:  # fmt: skip
    client, base = clients[who], PAGE.format("fresh", "A00003")
    forbidden = _forbidden(client, "fresh", "A00003")
    section = _section(client.get(base).text)
    row = section.split(HIDDEN_PRACTICE, 1)[1].split("</tr>", 1)[0]
    assert row.count("suppressed") >= 3  # numerator, value, against the limits
    table = section.split("<table", 1)[1]
    data = client.get(base + "/peers.csv").text
    book = openpyxl.load_workbook(io.BytesIO(client.get(base + "/peers.xlsx").content))
    cells = " ".join(str(c.value) for r in book.active.iter_rows() for c in r)
    for text in (table, data, cells):
        assert not [f for f in forbidden if f in text], forbidden
    hidden = next(r for r in csv.DictReader(io.StringIO(data)) if r["organisation"] == "A00004")
    assert (hidden["numerator"], hidden["value"]) == ("suppressed", "suppressed")
    # one plotted peer is left: no funnel, and its downloads say so
    assert "No funnel plot: fewer than two peers" in section and "no funnel plot</td>" in section
    assert client.get(base + "/funnel.svg").status_code == 404


def test_a_practice_whose_own_value_is_suppressed_is_told_so(
    clients: dict[str, TestClient],
) -> None:  # fmt: skip
    page = clients["commissioner"].get(PAGE.format("fresh", HIDDEN_PRACTICE)).text
    section = html.unescape(_section(page))
    assert f"{HIDDEN_PRACTICE}'s published value is suppressed, so it is not plotted." in section
    own = section.split("(this practice)", 1)[1].split("</tr>", 1)[0]
    assert own.count("suppressed") == 3


def test_the_funnel_leaves_the_suppressed_practice_out(clients: dict[str, TestClient]) -> None:
    comm = clients["commissioner"]
    svg = comm.get(PAGE.format("fresh", "00T") + "/funnel.svg").text
    assert svg.startswith("<svg") and "A00004" not in svg
    section = _section(comm.get(PAGE.format("fresh", "00T")).text)
    assert "not plotted (suppressed)" in section


def test_downloads_are_the_pages_table_and_chart(
    clients: dict[str, TestClient], served: Served
) -> None:  # fmt: skip
    prac, base = clients["practice"], PAGE.format("open", "A00001")
    page = prac.get(base).text
    svg = prac.get(base + "/funnel.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text in page and ">A00001<" in svg.text  # inline, the same, labelled
    png = prac.get(base + "/funnel.png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO(prac.get(base + "/peers.csv").text)))
    assert [r["organisation"] for r in rows] == ["A00001", "A00002"]
    assert rows[0]["this_organisation"] == "yes" and rows[0]["value"] in page
    assert [r["denominator"] for r in rows] == ["985", "1970"]  # page: 1,970
    assert rows[0]["manifest_sha256"] == manifest_hash(served.runs_dir / "open")
    assert prac.get(base + "/peers.pdf").status_code == 404


def test_peers_of_others_are_refused(clients: dict[str, TestClient]) -> None:
    prac, fed = clients["practice"], clients["federation"]
    for tail in ("", "/peers.csv", "/funnel.svg"):
        assert prac.get(PAGE.format("open", "A00002") + tail).status_code == 403, tail
        assert fed.get(PAGE.format("open", "A00003") + tail).status_code == 403, tail
        assert clients["finance"].get(PAGE.format("paid", "A00001") + tail).status_code == 403
