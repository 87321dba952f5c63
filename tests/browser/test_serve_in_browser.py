"""`careis serve` in real headless Chromium: each role does its job end to end (issue 19).

The app runs under uvicorn on 127.0.0.1 (a free port, a background thread) on the small run
tests/serve builds and a temporary database: each test runs on SQLite and on PostgreSQL (the
server of tests/conftest.py's `postgres_server`, as tests/serve's; without one the PostgreSQL
variants skip with the reason, and CAREIS_REQUIRE_POSTGRES=1 makes that a failure). Through the real pages, with the app's
Content-Security-Policy in force: practice A accepts its statement, practice B queries its
statement with a comment, the commissioner answers the query and approves the run (and rejects
another run with a reason), and finance exports the payment file (the downloaded bytes carry
the run's manifest hash).

Every page visited is also checked: a screenshot is kept under out/browser/serve/ (PostgreSQL's
under out/browser/serve/postgresql/), axe-core
finds no accessibility violation, and at a 390 px phone width the page is no wider than the
screen (what scrolls sideways instead, a wide table, is a named region reachable by
keyboard). The app's CSP allows no scripts at all, so axe (vendored, injected with
`page.add_script_tag`) cannot run in the workflow's own context: the axe check opens the same
address in a second context created with `bypass_csp=True` that carries the same cookies.
That context is used for the axe check only; everything the users do runs under the CSP.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn
from argon2 import PasswordHasher

from careis.serve import security, workflow
from careis.serve.app import Settings, create_app
from careis.serve.runs import manifest_hash
from conftest import ARTEFACTS
from serve.tiny_run import build_run

pytestmark = pytest.mark.slow

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text("utf-8")
SHOTS = ARTEFACTS / "serve"
PHONE = 390
PASSWORD = "correct horse battery"
#: name -> (role, organisation)
USERS = {
    "prac-a": ("practice", "A00001"),
    "prac-b": ("practice", "A00003"),
    "comm": ("commissioner", "00T"),
    "fin": ("finance", "00T"),
    "comm-m": ("commissioner", "00T"),  # the measures journey's own accounts
    "fed-a": ("federation", "FEDA"),
    "prac-m": ("practice", "A00001"),
    "prac-p": ("practice", "A00001"),  # changes its own password
}
AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
    .map(v => v.id + ' (' + v.impact + ', ' + v.nodes.length + '): '
         + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join('; '))"""

#: Elements that scroll sideways at this width but lack tabindex=0, a region role or a name.
SCROLLERS = """() => [...document.querySelectorAll('main *')]
    .filter(e => e.scrollWidth > e.clientWidth + 1
                 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .filter(e => e.getAttribute('tabindex') !== '0' || e.getAttribute('role') !== 'region'
                 || !e.getAttribute('aria-label'))
    .map(e => e.className || e.tagName)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Live:
    base: str
    manifest_hash: str
    shots: Path
    visited: list[str] = field(default_factory=list)


def _database(request: pytest.FixtureRequest, base: Path) -> tuple[str, str]:
    """(URL, the PostgreSQL server's URL or "") of a new state database on the test's backend.

    PostgreSQL: a database of its own on the server of tests/conftest.py (`postgres_server`:
    skipped without one, a failure under CAREIS_REQUIRE_POSTGRES=1, as in tests/serve)."""
    if request.param == "sqlite":
        return f"sqlite:///{base / 'state.sqlite'}", ""
    from serve import pg_server

    server = request.getfixturevalue("postgres_server")
    name = f"careis_browser_{os.getpid()}"
    pg_server.admin(server, f"DROP DATABASE IF EXISTS {name}")
    pg_server.admin(server, f"CREATE DATABASE {name}")
    return pg_server.with_database(server, name), server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The app on 127.0.0.1 with its runs and an account per role, on SQLite and PostgreSQL."""
    base = tmp_path_factory.mktemp("serve-browser")
    url, server_url = _database(request, base)
    build_run(base / "runs" / "open")
    build_run(base / "runs" / "redo")  # the commissioner rejects this one
    build_run(base / "runs" / "again", "Tiny scheme open", {"A00002": 2100})  # a re-run of open
    passwords = security.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    settings = Settings(base / "runs", url, passwords=passwords)
    app = create_app(settings)
    with app.state.sessions() as db:
        for name, (role, org) in USERS.items():
            workflow.add_user(db, name, passwords.hash(PASSWORD), role, org)
        db.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    # the screenshots of the SQLite run where they always were, PostgreSQL's beside them
    shots = SHOTS if request.param == "sqlite" else SHOTS / request.param
    try:
        yield Live(f"http://127.0.0.1:{port}", manifest_hash(base / "runs" / "open"), shots)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.sessions.kw["bind"].dispose()
        if server_url:
            from sqlalchemy.engine import make_url

            from serve import pg_server

            pg_server.admin(server_url, f"DROP DATABASE {make_url(url).database}")


def check(browser: Any, page: Any, live: Live, name: str) -> None:
    """Screenshot, a 390 px phone width, and axe-core (in a CSP-bypassing twin context)."""
    live.shots.mkdir(parents=True, exist_ok=True)
    live.visited.append(name)
    page.screenshot(path=str(live.shots / f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": PHONE, "height": 844})
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(live.shots / f"{name}-{PHONE}.png"), full_page=True)
        assert width <= PHONE, f"{name} is {width} px wide on a {PHONE} px screen"
        # what scrolls sideways instead must be reachable by keyboard and named for a reader
        unreachable = page.evaluate(SCROLLERS)
        assert unreachable == [], f"{name}: sideways scrollers without tabindex/name"
    finally:
        page.set_viewport_size(size)
    twin = browser.new_context(bypass_csp=True, storage_state=page.context.storage_state())
    try:
        axe_page = twin.new_page()
        axe_page.goto(page.url)
        axe_page.add_script_tag(content=AXE)
        violations = axe_page.evaluate(AXE_RUN)
        assert violations == [], f"{name}: {violations}"
    finally:
        twin.close()


def log_in(browser: Any, live: Live, name: str) -> Any:
    """A new context (its own cookies) logged in as `name` through the login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live.base}/login")
    check(browser, page, live, f"{name}-login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live.base}/")
    check(browser, page, live, f"{name}-runs")
    return page


def test_csp_blocks_injected_scripts(browser: Any, live: Live) -> None:
    """Why the axe check needs `bypass_csp`: the app's own pages refuse any script."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live.base}/login")
        with pytest.raises(Exception, match=r"(?i)content security policy|refused|csp"):
            page.add_script_tag(content="window.injected = 1")
        assert page.evaluate("window.injected") is None
    finally:
        context.close()


def test_the_stylesheet_loads_from_its_own_address_under_the_csp(browser: Any, live: Live) -> None:
    """The page links the content-hashed stylesheet (CSP `style-src 'self'`) and it applies."""
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_response(lambda r: "/static/careis-" in r.url) as info:
            page.goto(f"{live.base}/login")
        css = info.value
        assert css.status == 200 and "immutable" in css.headers["cache-control"]
        header = page.evaluate(
            "getComputedStyle(document.querySelector('.nhsuk-header')).backgroundColor"
        )
        assert header == "rgb(0, 94, 184)"  # NHS blue: the stylesheet applied
    finally:
        context.close()


def test_each_role_does_its_job(browser: Any, live: Live) -> None:
    run = f"{live.base}/runs/open"

    # Practice A accepts its statement.
    page = log_in(browser, live, "prac-a")
    page.get_by_role("link", name="open", exact=True).click()
    page.wait_for_url(f"{run}/practices/A00001")
    check(browser, page, live, "prac-a-statement")
    page.get_by_label("Accept the statement").check()
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{run}/practices/A00001")
    assert "Position: accepted" in page.locator("main").inner_text()
    check(browser, page, live, "prac-a-accepted")
    with page.expect_download() as info:  # the statement table's own download
        page.get_by_role("link", name="CSV of the statement").click()
    assert info.value.suggested_filename == "open-A00001-statement.csv"
    assert b"Taking part" in Path(info.value.path()).read_bytes()
    page.context.close()

    # Practice B queries its statement with a comment.
    page = log_in(browser, live, "prac-b")
    page.get_by_role("link", name="open", exact=True).click()
    page.wait_for_url(f"{run}/practices/A00003")
    page.get_by_label("Query it").check()
    page.get_by_label("Comment (required for a query)").fill("Line 2: our list size is 1,520.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{run}/practices/A00003")
    text = page.locator("main").inner_text()
    assert "Position: query open" in text and "our list size is 1,520" in text
    check(browser, page, live, "prac-b-queried")
    page.context.close()

    # The commissioner answers the query, then approves the run.
    page = log_in(browser, live, "comm")
    page.get_by_role("link", name="open", exact=True).click()
    page.wait_for_url(run)
    check(browser, page, live, "comm-overview")
    with page.expect_download() as info:  # the practices table as Excel
        page.get_by_role("link", name="Excel of the practices").click()
    assert info.value.suggested_filename == "open-practices.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    assert [c.value for c in sheet["A"]][:2] == ["practice", "A00001"]
    assert "our list size is 1,520" in page.locator("main").inner_text()
    page.get_by_label("Answer").fill("Checked against the list at 1 January: 1,500 stands.")
    page.get_by_role("button", name="Send answer").click()
    page.wait_for_url(run)
    assert "No open queries." in page.locator("main").inner_text()
    check(browser, page, live, "comm-answered")
    page.goto(f"{run}/federations/FEDA")
    check(browser, page, live, "comm-federation")
    page.goto(f"{run}/practices/A00003")
    assert "Position: query answered" in page.locator("main").inner_text()
    assert "1,500 stands" in page.locator("main").inner_text()
    check(browser, page, live, "comm-practice")
    page.goto(run)
    page.get_by_role("button", name="Approve run open").click()
    page.wait_for_url(run)
    assert "approved" in page.locator("main .nhsuk-tag").first.inner_text()
    check(browser, page, live, "comm-approved")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{run}/audit")
    check(browser, page, live, "comm-audit")
    # ... sees what the re-run of the scheme changed against the approved run
    page.goto(f"{live.base}/runs/again")
    text = page.locator("main").inner_text()
    assert "What changed against approved run open" in text and "+£75.00" in text
    check(browser, page, live, "comm-rerun-diff")
    # ... and rejects another run, saying why (the reason is required)
    page.goto(f"{live.base}/runs/redo")
    page.get_by_role("button", name="Reject run redo").click()
    page.wait_for_url(f"{live.base}/runs/redo/reject")
    assert "a rejection needs a reason" in page.locator("main").inner_text()
    page.goto(f"{live.base}/runs/redo")
    page.get_by_label("Reason for rejecting (required)").fill("Wrong list sizes: re-run with Q4.")
    page.get_by_role("button", name="Reject run redo").click()
    page.wait_for_url(f"{live.base}/runs/redo")
    text = page.locator("main").inner_text()
    assert "The commissioner rejected this run" in text and "re-run with Q4." in text
    assert "Approve run redo" not in text
    check(browser, page, live, "comm-rejected")
    page.context.close()

    # Finance exports the payment file (and never sees the rejected run).
    page = log_in(browser, live, "fin")
    assert "redo" not in page.locator("main").inner_text()
    page.get_by_role("link", name="open", exact=True).click()
    page.wait_for_url(f"{run}/ledger")
    check(browser, page, live, "fin-ledger")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export the payment file").click()
    download = info.value
    assert download.suggested_filename == "open-payments.csv"
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"seq,"), body[:80]
    assert live.manifest_hash.encode() in body
    assert body.count(live.manifest_hash.encode()) == body.count(b"\n") - 1  # every line
    page.context.close()

    assert len(live.visited) == len(set(live.visited))


def test_measures_pages_show_the_reports_charts(browser: Any, live: Live) -> None:
    """The commissioner opens the run's measures, FEDA's chart (inline SVG under the CSP) and
    downloads it as PNG; the federation sees its own level and its members'; the practice its
    own, and itself against its PCN's practices (funnel plot and table). Each page
    screenshotted, phone-width and axe-checked as every other."""
    run = f"{live.base}/runs/open"
    page = log_in(browser, live, "comm-m")
    page.goto(run)
    page.get_by_role("link", name="Measures").click()
    page.wait_for_url(f"{run}/measures")
    text = page.locator("main").inner_text()
    assert "Making Data Count summary" in text and "Special cause variation: improvement" in text
    check(browser, page, live, "comm-measures")
    summary = page.get_by_role("region", name="Making Data Count summary")
    summary.locator("tr", has_text="FEDA").get_by_role("link").click()
    page.wait_for_url(f"{run}/measures/emergency_admissions/FEDA")
    box = page.locator("figure.careis-chart svg").first.bounding_box()
    assert box is not None and box["width"] > 300  # the inline chart is drawn
    check(browser, page, live, "comm-measure-chart")
    with page.expect_download() as info:
        page.get_by_role("link", name="PNG of the chart").click()
    assert info.value.suggested_filename == "open-emergency_admissions-FEDA.png"
    assert Path(info.value.path()).read_bytes()[:4] == b"\x89PNG"
    page.context.close()

    page = log_in(browser, live, "fed-a")
    page.goto(f"{run}/measures")
    text = page.locator("main").inner_text()
    assert "FEDA" in text and "A00001" in text and "FEDB" not in text and "A00003" not in text
    check(browser, page, live, "fed-measures")
    page.context.close()

    page = log_in(browser, live, "prac-m")
    page.goto(f"{run}/practices/A00001")
    page.get_by_role("link", name="This practice's measures (SPC)").click()
    page.wait_for_url(f"{run}/measures")
    check(browser, page, live, "prac-m-measures")
    page.goto(f"{run}/measures/emergency_admissions/A00001")
    check(browser, page, live, "prac-m-measure-chart")
    _peers_section(browser, page, live, run)
    page.goto(f"{run}/measures/care_plan/A00001")  # a measure for the year: no chart
    text = page.locator("main").inner_text()
    assert "is not charted" in text and "Results for the year" in text
    check(browser, page, live, "prac-m-measure-yearly")
    page.context.close()


def _peers_section(browser: Any, page: Any, live: Live, run: str) -> None:
    """The practice's "Compared with peers": its PCN's practices, the funnel drawn inline
    (under the CSP) with the practice ringed, the table, and both downloads."""
    page.goto(f"{run}/measures/emergency_admissions/A00001#peers")
    section = page.locator("section", has=page.locator("h2#peers"))
    text = section.inner_text()
    assert "the 2 practices of PCN U00001" in text and "A00001 is above the 99.8% limit" in text
    rows = section.locator("tbody tr")
    assert rows.count() == 2 and "(this practice)" in rows.first.inner_text()
    box = section.locator("figure.careis-chart svg").bounding_box()
    assert box is not None and box["width"] > 300  # the funnel is drawn
    live.shots.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(live.shots / "prac-m-peers-section.png"))
    check(browser, page, live, "prac-m-peers")
    with page.expect_download() as info:
        page.get_by_role("link", name="PNG of the funnel plot").click()
    assert info.value.suggested_filename == "open-emergency_admissions-A00001-funnel.png"
    assert Path(info.value.path()).read_bytes()[:4] == b"\x89PNG"
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV of the peers' values").click()
    table = Path(info.value.path()).read_text("utf-8")
    assert table.startswith("organisation,name,numerator,denominator,value")
    assert live.manifest_hash in table


def _fill_password_form(page: Any, current: str, new: str, again: str) -> None:
    page.get_by_label("Current password", exact=True).fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password again", exact=True).fill(again)
    with page.expect_navigation():
        page.get_by_role("button", name="Change password").click()


def test_a_user_changes_their_own_password(browser: Any, live: Live) -> None:
    """From the header's link: two different new passwords are refused with the field named
    (the error state axe-checked in its own CSP-bypassing context, which submits the same
    form), then the change, its confirmation, and a login with the new password."""
    new = "a brand new long password"
    page = log_in(browser, live, "prac-p")
    page.get_by_role("link", name="Change password").click()
    page.wait_for_url(f"{live.base}/account/password")
    check(browser, page, live, "prac-p-password")
    _fill_password_form(page, PASSWORD, new, new + "!")
    text = page.locator("main").inner_text()
    assert "There is a problem" in text and "The two new passwords are not the same." in text
    page.set_viewport_size({"width": PHONE, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    live.shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(live.shots / f"prac-p-password-error-{PHONE}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    twin = browser.new_context(bypass_csp=True, storage_state=page.context.storage_state())
    try:
        axe_page = twin.new_page()
        axe_page.goto(f"{live.base}/account/password")
        _fill_password_form(axe_page, PASSWORD, new, new + "!")
        assert "There is a problem" in axe_page.locator("main").inner_text()
        axe_page.add_script_tag(content=AXE)
        assert axe_page.evaluate(AXE_RUN) == []
    finally:
        twin.close()
    _fill_password_form(page, PASSWORD, new, new)
    page.wait_for_url(f"{live.base}/account/password?changed=true")
    assert "Your password has been changed" in page.locator("main").inner_text()
    check(browser, page, live, "prac-p-password-changed")
    page.context.close()
    context = browser.new_context()
    try:
        again = context.new_page()
        again.goto(f"{live.base}/login")
        again.get_by_label("User name").fill("prac-p")
        again.get_by_label("Password").fill(new)
        again.get_by_role("button", name="Log in").click()
        again.wait_for_url(f"{live.base}/")
    finally:
        context.close()
