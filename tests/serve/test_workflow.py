"""Declare, query, answer, approve, pay: the workflow end to end through the pages."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
from fastapi import FastAPI
from sqlalchemy import select

from careis.serve.models import AuditEvent, Run
from careis.serve.runs import manifest_hash
from conftest import Served, csrf_of, login


def _post(client, url: str, **form: str) -> int:  # type: ignore[no-untyped-def]
    return client.post(url, data={**form, "csrf_token": csrf_of(client)}).status_code


def test_practices_decide_commissioner_answers_and_approves_finance_exports(
    app: FastAPI, served: Served
) -> None:
    prac, prac3, comm, fin = (login(app, n) for n in ("prac", "prac3", "comm", "fin"))
    base = "/runs/fresh"
    assert "Fewer emergency admissions" in prac.get(f"{base}/practices/A00001").text
    assert _post(prac, f"{base}/practices/A00001/decision", decision="accept") == 303
    assert "accepted" in comm.get(base).text
    # a query needs a comment; with one it is open and blocks approval
    assert _post(prac3, f"{base}/practices/A00003/decision", decision="query") == 409
    assert (
        _post(prac3, f"{base}/practices/A00003/decision", decision="query", comment="Why £0?")
        == 303
    )
    assert "Why £0?" in comm.get(base).text
    assert "fresh" not in fin.get("/").text  # finance sees approved runs only
    assert _post(comm, f"{base}/approve") == 409
    assert (
        _post(comm, f"{base}/practices/A00003/answer", answer="The federation missed its target.")
        == 303
    )
    assert "The federation missed its target." in prac3.get(f"{base}/practices/A00003").text
    assert _post(comm, f"{base}/approve") == 303
    # approved: nothing changes any more
    assert _post(prac, f"{base}/practices/A00001/decision", decision="query", comment="late") == 409
    assert _post(comm, f"{base}/approve") == 409
    # finance: the run is listed, the ledger shown, the payment file carries the manifest hash
    assert 'href="/runs/fresh/ledger"' in fin.get("/").text
    export = fin.get(f"{base}/payments.csv")
    assert export.status_code == 200
    assert 'filename="fresh-payments.csv"' in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    digest = manifest_hash(served.runs_dir / "fresh")
    assert rows and {r["manifest_sha256"] for r in rows} == {digest}
    assert rows[0]["memo"].startswith("'=")  # a formula in a cell is defused for spreadsheets
    _check_audit(app, digest)
    # the same payment file as Excel: £ amounts as numbers summing to the CSV, no formulas,
    # the same bytes twice
    book = fin.get(f"{base}/payments.xlsx")
    assert book.status_code == 200 and book.content == fin.get(f"{base}/payments.xlsx").content
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    header = [c.value for c in sheet[1]]
    amounts = [r[header.index("amount")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert sum(Decimal(str(a)) for a in amounts) == sum(Decimal(r["amount"]) for r in rows)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def _check_audit(app: FastAPI, digest: str) -> None:
    with app.state.sessions() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.run_name == "fresh")).all()
        actions = [e.action for e in events]
        assert actions == [
            "register_run", "statement_accept", "statement_query", "query_answered",
            "run_approved", "payment_file_exported",
        ]  # fmt: skip
        assert {e.manifest_hash for e in events} == {digest}
        assert [e.user_name for e in events][1:] == ["prac", "prac3", "comm", "comm", "fin"]
        assert db.scalar(select(Run).where(Run.name == "fresh")).status == "approved"  # type: ignore[union-attr]


def test_approval_with_open_query_needs_an_override_reason(app: FastAPI) -> None:
    comm = login(app, "comm")
    assert _post(comm, "/runs/open/approve") == 409
    assert (
        "open queries from A00001, A00003"
        in comm.post("/runs/open/approve", data={"csrf_token": csrf_of(comm)}).text
    )
    assert (
        _post(comm, "/runs/open/approve", override_reason="Paid now, queries settled next month")
        == 303
    )
    page = comm.get("/runs/open").text
    assert "override: Paid now, queries settled next month" in page
    audit = comm.get("/runs/open/audit").text
    assert "run_approved" in audit and "override with 2 open" in audit


def test_federation_page_shows_members_against_target_and_floor(app: FastAPI) -> None:
    page = login(app, "fed").get("/runs/open/federations/FEDA").text
    assert "target a 10% reduction" in page and "practice floor 5%" in page
    assert "A00001" in page and "A00002" in page and "A00003" not in page
    assert page.count("below floor") == 1  # A00002: -3% against a 5% floor
    assert 'This federation: -7.50% <span class="nhsuk-tag nhsuk-tag--red">target not met' in page


def test_statement_is_named_lined_and_totalled(app: FastAPI) -> None:
    page = login(app, "prac").get("/runs/open/practices/A00001").text
    assert "Taking part" in page and "£750.00" in page and "£2,750.00" in page


def test_changed_manifest_is_refused(served: Served, app: FastAPI, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tiny_run import build_run

    from careis.serve.app import Settings, create_app
    from conftest import PASSWORDS, track

    runs = tmp_path / "runs"
    build_run(runs / "open")
    moved = track(create_app(Settings(runs, served.fresh_url(tmp_path), passwords=PASSWORDS)))
    # the database registered `open` at the session's folder; re-point it to this copy
    with moved.state.sessions() as db:
        run = db.scalar(select(Run).where(Run.name == "open"))
        assert run is not None
        run.path = str((runs / "open").resolve())
        db.commit()
    comm = login(moved, "comm")
    assert comm.get("/runs/open").status_code == 200
    (runs / "open" / "manifest.json").write_text('{"changed": true}')
    response = comm.get("/runs/open")
    assert response.status_code == 409 and "has changed since it was registered" in response.text


def test_the_practice_page_shows_the_runs_worklist_in_words(app: FastAPI) -> None:
    """A run with practices/<code>/worklist.csv (A00001 in the tiny run): the practice sees it,
    columns in words; a practice without one still sees its register (A00003)."""
    page = login(app, "prac").get("/runs/open/practices/A00001").text
    assert "Worklist: who needs what" in page and "Still to do this year" in page
    assert "pid-A00001-1" in page
    other = login(app, "prac3").get("/runs/open/practices/A00003").text
    assert "Worklist: your case-finding register" in other and "pid-A00003-1" in other


def test_commissioner_rejects_a_run_with_a_reason_everyone_sees(
    app: FastAPI, served: Served
) -> None:
    """A rejection needs a reason; it is final: never approved, never exported, never shown to
    finance; the practices, the federation and the commissioner read the reason; it is audited
    with who, when and the manifest hash."""
    comm, prac, fed, fin = (login(app, n) for n in ("comm", "prac", "fed", "fin"))
    assert _post(comm, "/runs/open/reject") == 409
    assert (
        "needs a reason"
        in comm.post("/runs/open/reject", data={"reason": "  ", "csrf_token": csrf_of(comm)}).text
    )
    reason = "The list sizes are from the wrong quarter; re-run with Q4."
    # open queries do not block a rejection
    assert _post(comm, "/runs/open/reject", reason=reason) == 303
    for client, url in (
        (comm, "/runs/open"), (comm, "/runs/open/practices/A00003"), (comm, "/runs/open/ledger"),
        (prac, "/runs/open/practices/A00001"), (fed, "/runs/open/federations/FEDA"),
        (fed, "/runs/open/practices/A00002"),
    ):  # fmt: skip
        page = client.get(url)
        assert page.status_code == 200 and "The commissioner rejected this run" in page.text, url
        assert "wrong quarter; re-run with Q4." in page.text, url
    overview = comm.get("/runs/open").text
    assert "Approve run open" not in overview and "Reject run open" not in overview
    assert "Send answer" not in overview
    assert "Accept the statement" not in prac.get("/runs/open/practices/A00001").text
    assert "can never be exported" in comm.get("/runs/open/ledger").text
    assert 'nhsuk-tag--red">rejected' in comm.get("/").text
    # final: no approval (even with an override), no second rejection, no decisions or answers
    assert _post(comm, "/runs/open/approve", override_reason="pay anyway") == 409
    assert _post(comm, "/runs/open/reject", reason="again") == 409
    assert _post(prac, "/runs/open/practices/A00001/decision", decision="accept") == 409
    assert _post(comm, "/runs/open/practices/A00003/answer", answer="late") == 409
    # never exported, and finance never sees it
    assert comm.get("/runs/open/payments.csv").status_code == 403
    assert comm.get("/runs/open/payments.xlsx").status_code == 403
    assert "/runs/open/" not in fin.get("/").text
    assert fin.get("/runs/open/ledger").status_code == 404
    assert fin.get("/runs/open/payments.csv").status_code == 404
    digest = manifest_hash(served.runs_dir / "open")
    with app.state.sessions() as db:
        run = db.scalar(select(Run).where(Run.name == "open"))
        assert run is not None and run.status == "rejected"
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "run_rejected")).all()
        assert [(e.user_name, e.detail, e.run_name, e.manifest_hash) for e in events] == [
            ("comm", reason, "open", digest)
        ]
        assert events[0].at is not None
    assert "run_rejected" in comm.get("/runs/open/audit").text


def test_an_approved_run_cannot_be_rejected(app: FastAPI) -> None:
    comm = login(app, "comm")
    assert _post(comm, "/runs/paid/reject", reason="changed my mind") == 409
    assert "approved" in comm.get("/runs/paid").text


def test_a_rerun_shows_what_changed_against_the_approved_run(app: FastAPI) -> None:
    """`rerun` pays `paid`'s scheme: its page shows `careis pay diff` against the latest
    approved run of the scheme (`repaid`): the changed input, totals, lines and ledger."""
    comm, fin = login(app, "comm"), login(app, "fin")
    page = comm.get("/runs/rerun").text
    assert "What changed against approved run repaid" in page
    assert "careis pay diff repaid rerun" in page
    # A00002's list size 2000 -> 2100 (+£75 taking part); A00004 back from 600 to 500 (-£275)
    assert "total paid £10,025.00 there, £9,825.00 here (-£200.00)" in page
    assert "<td>gp_data:events.csv</td>" in page and "content changed" in page
    assert "Inputs (1 changed)" in page  # the contract input is the same: not listed
    assert '<td>A00002</td><td class="n">£1,500.00</td><td class="n">£1,575.00</td>' in page
    assert '<td class="n">+£75.00</td>' in page and '<td class="n">-£275.00</td>' in page
    assert "A00002 | engagement | earned | Taking part" in page  # a statement line
    assert "Ledger movements" in page
    # the approved re-run keeps showing what it changed against the run approved before it;
    # finance sees that on its ledger page (finance sees approved runs only)
    ledger = fin.get("/runs/repaid/ledger").text
    assert "What changed against approved run paid" in ledger and "+£275.00" in ledger
    assert "What changed" not in fin.get("/runs/paid/ledger").text  # the first approved run
    assert fin.get("/runs/rerun/ledger").status_code == 404  # not approved: not finance's
    # runs of other schemes are not compared
    assert "What changed" not in comm.get("/runs/open").text
    assert "What changed" not in comm.get("/runs/paid").text


def test_a_rerun_with_the_same_inputs_and_money_says_so(
    app: FastAPI, served: Served, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tiny_run import build_run

    from careis.serve.app import Settings, create_app
    from conftest import PASSWORDS, RERUN_SCHEME, track

    runs = tmp_path / "runs"
    build_run(runs / "again", RERUN_SCHEME, {"A00004": 600})  # as `repaid`, another folder
    both = track(create_app(Settings(runs, served.fresh_url(tmp_path), passwords=PASSWORDS)))
    page = login(both, "comm").get("/runs/again").text
    assert "What changed against approved run repaid" in page
    assert "No differences: both runs pay the same, from the same inputs." in page


def test_a_changed_approved_run_blocks_only_its_own_schemes_reruns(
    served: Served, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The approved run a re-run is compared with is read through the Authorizer: if its
    folder changed, the re-run's page answers 409; another scheme's changed run is not read."""
    from tiny_run import build_run

    from careis.serve import workflow
    from careis.serve.app import Settings, create_app
    from conftest import PASSWORDS, track, user

    runs = tmp_path / "runs"
    build_run(runs / "base", "Scheme X")
    build_run(runs / "other", "Scheme Y")
    build_run(runs / "new", "Scheme X", {"A00001": 1100})
    app = track(create_app(Settings(runs, served.fresh_url(tmp_path), passwords=PASSWORDS)))
    comm_user = user(app, "comm")
    with app.state.sessions() as db:
        for name in ("base", "other"):
            run = db.scalar(select(Run).where(Run.name == name))
            assert run is not None
            workflow.approve(db, run, comm_user)
    comm = login(app, "comm")
    assert "What changed against approved run base" in comm.get("/runs/new").text
    (runs / "other" / "manifest.json").write_text('{"changed": true}')
    assert comm.get("/runs/new").status_code == 200
    (runs / "base" / "manifest.json").write_text('{"changed": true}')
    response = comm.get("/runs/new")
    assert response.status_code == 409 and "has changed since it was registered" in response.text
