"""Every page and download. Each handler asks the Authorizer for its data, then renders.

Why thin handlers: the access rules live in `authorize.py` and the state rules in
`workflow.py`; a handler that reads a file any other way is a bug the matrix test catches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from careis.csvio import defuse
from careis.report.workbook import table_workbook
from careis.serve import accounts, measures, peers, security, views, workflow
from careis.serve.app import (
    SESSION_COOKIE,
    STYLESHEET,
    STYLESHEET_DIGEST,
    Ctx,
    context,
    downloads,
    get_db,
    render,
    set_session_cookie,
)
from careis.serve.authorize import Denied, Missing
from careis.serve.models import Run
from careis.serve.runs import Row
from careis.serve.statement import SCHEDULE_FIELDS, schedule_rows, statement_html

auth_router = APIRouter()
router = APIRouter()
FormText = Annotated[str, Form()]
CtxDep = Annotated[Ctx, Depends(context)]
DbDep = Annotated[Session, Depends(get_db)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@auth_router.get("/static/careis-{digest}.css")
def stylesheet(digest: str) -> Response:
    """The app's one stylesheet, for anyone (the login page needs it): only at the address of
    its current content; the headers middleware lets the browser cache it for a year."""
    if digest != STYLESHEET_DIGEST:
        raise Missing("no such stylesheet (an older careis's; reload the page).")
    return Response(STYLESHEET, media_type="text/css; charset=utf-8")


@auth_router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, db: DbDep) -> Response:
    """The login form, with an anonymous session whose only use is the form's CSRF token."""
    key = request.app.state.key
    session = security.session_from_cookie(db, key, request.cookies.get(SESSION_COOKIE))
    if session is not None and session.user_id is not None:
        return _see_other("/")
    if session is None:
        session = security.new_session(db)
    response = render(request, "login.html.j2", csrf=session.csrf_token, message="")
    set_session_cookie(response, request, session)
    return response


@auth_router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, db: DbDep, username: FormText = "", password: FormText = "",
    csrf_token: FormText = "",
) -> Response:  # fmt: skip
    """Check the CSRF token, the throttle, then the password; a new session id on success."""
    key = request.app.state.key
    old = security.session_from_cookie(db, key, request.cookies.get(SESSION_COOKIE))
    if not security.csrf_ok(old, csrf_token):
        raise Denied("the login form's security token is missing or out of date; reload the page.")
    assert old is not None  # csrf_ok is False without a session
    client, name = _client(request), username.strip()[:64]
    if security.throttled(db, name, client):
        workflow.audit(db, name, "login_throttled", client)
        db.commit()
        message = "Too many failed attempts. Try again in 15 minutes."
        return render(request, "login.html.j2", 429, csrf=old.csrf_token, message=message)
    user = security.authenticate(db, request.app.state.settings.passwords, name, password)
    if user is None:
        security.record_failure(db, name, client)
        workflow.audit(db, name, "login_failed", client)
        db.commit()
        message = "The user name or password is wrong."
        return render(request, "login.html.j2", 401, csrf=old.csrf_token, message=message)
    security.end_session(db, old)
    session = security.new_session(db, user)
    workflow.audit(db, user.name, "login", client)
    db.commit()
    response = _see_other("/")
    set_session_cookie(response, request, session)
    return response


@auth_router.post("/logout")
def logout(ctx: CtxDep) -> Response:
    """End the session (its id is deleted) and drop the cookie."""
    workflow.audit(ctx.db, ctx.user.name, "logout")
    security.end_session(ctx.db, ctx.session)
    response = _see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


PASSWORD_PAGE = "/account/password"


def _password_form(request: Request, status: int, **errors: str) -> Response:
    """The password form again, saying what was wrong with which field."""
    return render(
        request, "password.html.j2", status, errors=errors, changed=False,
        min_length=accounts.MIN_PASSWORD,
    )  # fmt: skip


@router.get(PASSWORD_PAGE, response_class=HTMLResponse)
def password_page(request: Request, ctx: CtxDep, changed: str = "") -> Response:
    """The form to change one's own password (every role); after a change, the confirmation
    (`?changed=true`: a plain string, so a mangled query shows the form rather than a 422)."""
    return render(
        request, "password.html.j2", errors={}, changed=changed == "true",
        min_length=accounts.MIN_PASSWORD,
    )  # fmt: skip


def _new_password_errors(new: str, again: str) -> dict[str, str]:
    """What is wrong with the new password (the CLI's rule, `accounts`) and its repetition."""
    errors = {}
    problem = accounts.password_problem(new)
    if problem:
        errors["new_password"] = problem[0].upper() + problem[1:]
    if new != again:
        errors["confirm_password"] = "The two new passwords are not the same."
    return errors


@router.post(PASSWORD_PAGE, response_class=HTMLResponse)
def change_password(
    request: Request, ctx: CtxDep, current_password: FormText = "", new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:  # fmt: skip
    """Change one's own password: CSRF (`context`), the login throttle, the current password
    (a wrong one counts as a failed login, so the form is no guessing oracle), the CLI's rule.
    On success every session of the user ends (`workflow.set_password`, audited) and this
    browser gets a fresh session with a new id."""
    db, user, client = ctx.db, ctx.user, _client(request)
    passwords: security.Passwords = request.app.state.settings.passwords
    if security.throttled(db, user.name, client):
        workflow.audit(db, user.name, "password_change_throttled", client)
        db.commit()
        message = "Too many failed attempts. Try again in 15 minutes."
        return _password_form(request, 429, current_password=message)
    if not passwords.verify(user.password_hash, current_password):
        security.record_failure(db, user.name, client)
        workflow.audit(db, user.name, "password_change_failed", client)
        db.commit()
        return _password_form(request, 400, current_password="The current password is wrong.")
    errors = _new_password_errors(new_password, confirm_password)
    if errors:
        return _password_form(request, 400, **errors)
    workflow.set_password(db, user.name, passwords.hash(new_password), by=user.name)
    session = security.new_session(db, user)
    response = _see_other(f"{PASSWORD_PAGE}?changed=true")
    set_session_cookie(response, request, session)
    return response


@router.get("/", response_class=HTMLResponse)
def run_list(request: Request, ctx: CtxDep) -> Response:
    """The runs this user may see, each linked to this role's page in it."""
    runs = [views.run_link(ctx.user, v) for v in ctx.az.runs()]
    return render(request, "runs.html.j2", runs=runs)


@router.get("/runs.{fmt}")
def run_list_download(ctx: CtxDep, fmt: str) -> Response:
    """The run list's table (CSV or Excel)."""
    rows = views.run_rows([views.run_link(ctx.user, v) for v in ctx.az.runs()])
    return _download(rows, "runs", fmt, "Runs", fields=views.RUN_FIELDS)


@router.get("/runs/{run}", response_class=HTMLResponse)
def run_overview(request: Request, ctx: CtxDep, run: str) -> Response:
    """The commissioner's page: every practice and group, queries, approval."""
    view = ctx.az.overview(run)
    values = views.overview(ctx.db, view, ctx.az.rerun_of(view), ctx.az.same_scheme(view))
    return render(request, "run.html.j2", **values)


@router.get("/runs/{run}/practices.{fmt}")
def practices_download(ctx: CtxDep, run: str, fmt: str) -> Response:
    """The overview's table of practices (total and position), as the page shows it."""
    view = ctx.az.overview(run)
    rows = views.practice_rows(views.overview(ctx.db, view, None)["practices"])
    return _download(rows, f"{run}-practices", fmt, "Practices", {"total"}, view.record)


@router.get("/runs/{run}/changes/{table}.{fmt}")
def changes_download(ctx: CtxDep, run: str, table: str, fmt: str) -> Response:
    """One table of a re-run's differences against the approved run (`careis pay diff`)."""
    rerun = ctx.az.rerun(run)
    if rerun is None or table not in views.DIFF_TABLES:
        raise Missing("no such table of differences for this run.")
    rows = views.change_rows(rerun, table)
    name = f"{run}-changes-{table}"
    return _download(rows, name, fmt, "Changes", views.CHANGE_MONEY, fields=views.CHANGE_FIELDS)


@router.get("/runs/{run}/compare/{other}", response_class=HTMLResponse)
def compare_page(request: Request, ctx: CtxDep, run: str, other: str) -> Response:
    """Two runs of one scheme side by side: each provider's total in both, and the change."""
    view, base, differences = ctx.az.compare(run, other)
    values = views.side_by_side(ctx.db, view, base, differences)
    return render(request, "compare.html.j2", **values)


@router.get("/runs/{run}/compare/{other}/totals.{fmt}")
def compare_download(ctx: CtxDep, run: str, other: str, fmt: str) -> Response:
    """The side-by-side table of per-provider totals (CSV or Excel)."""
    view, base, differences = ctx.az.compare(run, other)
    rows = views.side_rows(views.side_by_side(ctx.db, view, base, differences))
    return _download(rows, f"{run}-vs-{other}-totals", fmt, "Side by side", views.SIDE_MONEY,
                     fields=views.SIDE_FIELDS)  # fmt: skip


@router.get("/runs/{run}/federations/{org}", response_class=HTMLResponse)
def federation_page(request: Request, ctx: CtxDep, run: str, org: str) -> Response:
    """A federation or PCN: its members against the target and the practice floor."""
    view, members = ctx.az.federation(run, org)
    return render(request, "federation.html.j2", **views.federation(ctx.db, view, org, members))


@router.get("/runs/{run}/federations/{org}/members.{fmt}")
def members_download(ctx: CtxDep, run: str, org: str, fmt: str) -> Response:
    """A federation's or PCN's member practices (aggregate figures only)."""
    view, members = ctx.az.federation(run, org)
    rows = views.member_rows(views.federation(ctx.db, view, org, members)["members"])
    return _download(rows, f"{run}-{org}-members", fmt, "Members", {"total"}, view.record)


@router.get("/runs/{run}/practices/{code}", response_class=HTMLResponse)
def practice_page(request: Request, ctx: CtxDep, run: str, code: str) -> Response:
    """A practice's statement; for its own users also the worklist and the accept/query form."""
    view, lines = ctx.az.statement(run, code)
    register: list[Row] = []
    worklist: list[Row] = []
    files: list[str] = []
    if ctx.user.role == "practice":
        files = ctx.az.practice_files(run, code)
        if "worklist.csv" in files:  # the run's worklist, in words (careis.risk.worklist)
            worklist = ctx.az.practice_file(run, code, "worklist.csv")[1]
        else:  # a run from before worklists: the register itself
            register = ctx.az.practice_file(run, code, "register.csv")[1]
    values = views.practice(ctx.db, view, code, lines)
    base = f"/runs/{run}/practices/{code}"
    pdf = view.folder.has_file("practices", code, "statement.pdf")
    after = {
        "lines": downloads(f"{base}/statement", "the statement", pdf=pdf),
        "when": downloads(f"{base}/schedule", "the payment dates"),
    }
    run_shared = ctx.az.folders.statement_run(view)
    statement = statement_html(view.folder, code, values["name"], after, run_shared)
    return render(
        request, "practice.html.j2", register=register, worklist=worklist, files=files,
        statement=statement, **values,
    )  # fmt: skip


@router.get("/runs/{run}/practices/{code}/statement.{fmt}")
def statement_download(ctx: CtxDep, run: str, code: str, fmt: str) -> Response:
    """The statement as CSV or Excel, with the run's manifest hash on every line, or the
    run's own statement.pdf (the document the practice files and prints)."""
    if fmt == "pdf":
        pdf = ctx.az.statement_pdf(run, code)
        headers = {"Content-Disposition": f'attachment; filename="{run}-{code}-statement.pdf"'}
        return Response(pdf.read_bytes(), media_type="application/pdf", headers=headers)
    view, lines = ctx.az.statement(run, code)
    money = {"rate", "amount"}
    return _download(lines, f"{run}-{code}-statement", fmt, "Statement", money, view.record)


@router.get("/runs/{run}/practices/{code}/schedule.{fmt}")
def schedule_download(ctx: CtxDep, run: str, code: str, fmt: str) -> Response:
    """The statement's payment dates (net amount by date), whoever may see the statement."""
    view, _ = ctx.az.statement(run, code)
    rows = schedule_rows(view.folder, code, ctx.az.folders.statement_run(view))
    return _download(rows, f"{run}-{code}-schedule", fmt, "Payment dates", {"amount"},
                     view.record, fields=SCHEDULE_FIELDS)  # fmt: skip


@router.get("/runs/{run}/practices/{code}/files/{name}")
def practice_file(ctx: CtxDep, run: str, code: str, name: str) -> Response:
    """A patient-level file of the practice's own folder (register, frailty list, flags), as
    CSV (`worklist.csv`) or Excel (`worklist.xlsx`, the same rows)."""
    stem, _, fmt = name.rpartition(".")
    view, rows = ctx.az.practice_file(run, code, f"{stem}.csv" if fmt == "xlsx" else name)
    return _download(rows, f"{run}-{code}-{stem}", fmt, stem, (), view.record)


@router.post("/runs/{run}/practices/{code}/decision")
def decide(
    ctx: CtxDep, run: str, code: str, decision: FormText = "", comment: FormText = ""
) -> Response:
    """The practice accepts its statement or queries it with a comment."""
    view = ctx.az.decide(run, code)
    workflow.decide(ctx.db, view.record, ctx.user, code, decision, comment)
    return _see_other(f"/runs/{run}/practices/{code}")


@router.post("/runs/{run}/practices/{code}/answer")
def answer(ctx: CtxDep, run: str, code: str, answer: FormText = "") -> Response:
    """The commissioner answers the practice's open query."""
    view = ctx.az.answer(run, code)
    workflow.answer(ctx.db, view.record, ctx.user, code, answer)
    return _see_other(f"/runs/{run}")


@router.post("/runs/{run}/approve")
def approve(ctx: CtxDep, run: str, override_reason: FormText = "") -> Response:
    """The commissioner approves the run for payment (refused while a query is open)."""
    view = ctx.az.approve(run)
    workflow.approve(ctx.db, view.record, ctx.user, override_reason)
    return _see_other(f"/runs/{run}")


@router.post("/runs/{run}/reject")
def reject(ctx: CtxDep, run: str, reason: FormText = "") -> Response:
    """The commissioner rejects the run with a reason: it is never approved nor exported."""
    view = ctx.az.reject(run)
    workflow.reject(ctx.db, view.record, ctx.user, reason)
    return _see_other(f"/runs/{run}")


@router.get("/runs/{run}/measures", response_class=HTMLResponse)
def measures_page(request: Request, ctx: CtxDep, run: str) -> Response:
    """The run's measures and their Making Data Count summary, at the user's levels."""
    view, charts = ctx.az.measures(run)
    _, results, _ = ctx.az.measure_results(run)
    return render(
        request, "measures.html.j2", results=results, **views.measures(ctx.db, view, charts)
    )


@router.get("/runs/{run}/results.{fmt}")
def results_download(ctx: CtxDep, run: str, fmt: str) -> Response:
    """Every measure's published results at the user's organisations (CSV or Excel)."""
    view, _, rows = ctx.az.measure_results(run)
    return _download(rows, f"{run}-results", fmt, "Results", (), view.record,
                     fields=measures.RESULT_FIELDS)  # fmt: skip


@router.get("/runs/{run}/measures.{fmt}")
def measures_download(ctx: CtxDep, run: str, fmt: str) -> Response:
    """The Making Data Count summary table (CSV or Excel)."""
    view, charts = ctx.az.measures(run)
    rows = measures.summary_rows(charts)
    return _download(rows, f"{run}-measures", fmt, "Measures", (), view.record,
                     fields=measures.SUMMARY_FIELDS)  # fmt: skip


@router.get("/runs/{run}/measures/{measure}/{code}", response_class=HTMLResponse)
def measure_page(request: Request, ctx: CtxDep, run: str, measure: str, code: str) -> Response:
    """One measure's SPC chart for one organisation, in a sentence and as a table, and the
    organisation against its peers (funnel plot and table, published figures only)."""
    view, chart = ctx.az.measure_chart(run, measure, code)
    points = measures.data_rows(chart) if chart["svg"] else []
    _, found, funnel = ctx.az.measure_peers(run, measure, code)
    _, results, _ = ctx.az.measure_result(run, measure, code)
    return render(
        request, "measure.html.j2", chart=chart, points=points, results=results,
        peers=views.peer_values(found, funnel, code), **views.run_values(ctx.db, view),
    )  # fmt: skip


@router.get("/runs/{run}/measures/{measure}/{code}/results.{fmt}")
def measure_results_download(ctx: CtxDep, run: str, measure: str, code: str, fmt: str) -> Response:
    """One measure's published results for one organisation (CSV or Excel)."""
    view, _, rows = ctx.az.measure_result(run, measure, code)
    return _download(rows, f"{run}-{measure}-{code}-results", fmt, "Results", (), view.record,
                     fields=measures.RESULT_FIELDS)  # fmt: skip


def _drawn(chart: dict[str, object]) -> str:
    svg = str(chart["svg"])
    if not svg:
        raise Missing(f"this series is not charted: {chart.get('note', '')}.")
    return svg


def _svg_file(svg: str, filename: str) -> Response:
    """A chart's SVG as a download."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}.svg"'}
    return Response(svg, media_type="image/svg+xml", headers=headers)


def _png_file(svg: str, filename: str) -> Response:
    """A chart as a PNG download (vl-convert renders the SVG the page shows)."""
    import vl_convert as vlc

    headers = {"Content-Disposition": f'attachment; filename="{filename}.png"'}
    return Response(vlc.svg_to_png(svg, scale=1.0), media_type="image/png", headers=headers)


@router.get("/runs/{run}/measures/{measure}/{code}/chart.svg")
def measure_svg(ctx: CtxDep, run: str, measure: str, code: str) -> Response:
    """The chart as the report draws it (SVG)."""
    _, chart = ctx.az.measure_chart(run, measure, code)
    return _svg_file(_drawn(chart), f"{run}-{measure}-{code}")


@router.get("/runs/{run}/measures/{measure}/{code}/chart.png")
def measure_png(ctx: CtxDep, run: str, measure: str, code: str) -> Response:
    """The same chart as PNG."""
    _, chart = ctx.az.measure_chart(run, measure, code)
    return _png_file(_drawn(chart), f"{run}-{measure}-{code}")


@router.get("/runs/{run}/measures/{measure}/{code}/data.{fmt}")
def measure_data(ctx: CtxDep, run: str, measure: str, code: str, fmt: str) -> Response:
    """The chart's points (CSV or Excel), with the run's manifest hash on every row."""
    view, chart = ctx.az.measure_chart(run, measure, code)
    _drawn(chart)
    rows = measures.data_rows(chart)
    return _download(rows, f"{run}-{measure}-{code}", fmt, "Chart data", (), view.record)


@router.get("/runs/{run}/measures/{measure}/{code}/peers.{fmt}")
def peers_data(ctx: CtxDep, run: str, measure: str, code: str, fmt: str) -> Response:
    """The peers' table (CSV or Excel): the page's cells, hidden ones saying so."""
    view, found, _ = ctx.az.measure_peers(run, measure, code)
    rows = peers.peer_rows(found)
    return _download(rows, f"{run}-{measure}-{code}-peers", fmt, "Peers", (), view.record,
                     fields=peers.PEER_FIELDS)  # fmt: skip


def _funnel_drawn(funnel: str, note: str) -> str:
    if not funnel:
        raise Missing(f"there is no funnel plot of these peers: {note}")
    return funnel


@router.get("/runs/{run}/measures/{measure}/{code}/funnel.svg")
def peers_svg(ctx: CtxDep, run: str, measure: str, code: str) -> Response:
    """The peers' funnel plot (SVG), as the page shows it."""
    _, found, funnel = ctx.az.measure_peers(run, measure, code)
    return _svg_file(_funnel_drawn(funnel, found.note), f"{run}-{measure}-{code}-funnel")


@router.get("/runs/{run}/measures/{measure}/{code}/funnel.png")
def peers_png(ctx: CtxDep, run: str, measure: str, code: str) -> Response:
    """The same funnel plot as PNG."""
    _, found, funnel = ctx.az.measure_peers(run, measure, code)
    return _png_file(_funnel_drawn(funnel, found.note), f"{run}-{measure}-{code}-funnel")


@router.get("/runs/{run}/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, ctx: CtxDep, run: str) -> Response:
    """Every money movement of the run, with the export link once approved."""
    view, rows = ctx.az.ledger(run)
    values = views.ledger(ctx.db, view, rows, ctx.az.rerun_of(view))
    return render(request, "ledger.html.j2", **values)


@router.get("/runs/{run}/ledger.{fmt}")
def ledger_download(ctx: CtxDep, run: str, fmt: str) -> Response:
    """The ledger's table for the commissioner (finance's is the audited payment file)."""
    view = ctx.az.ledger_table(run)
    rows = view.folder.ledger()
    return _download(rows, f"{run}-ledger", fmt, "Ledger", {"amount"}, view.record)


@router.get("/runs/{run}/payments.csv")
def payment_file(ctx: CtxDep, run: str) -> Response:
    """The payment file for the payment system: approved runs only; the export is audited."""
    view, rows = ctx.az.payment_file(run)
    workflow.audit(ctx.db, ctx.user.name, "payment_file_exported", f"{len(rows)} rows", view.record)
    ctx.db.commit()
    return _csv(rows, f"{run}-payments.csv", view.record.manifest_hash)


@router.get("/runs/{run}/payments.xlsx")
def payment_workbook(ctx: CtxDep, run: str) -> Response:
    """The payment file as an Excel workbook (amounts as £ numbers), approved runs only."""
    view, rows = ctx.az.payment_file(run)
    workflow.audit(
        ctx.db, ctx.user.name, "payment_file_exported", f"{len(rows)} rows (xlsx)", view.record
    )
    ctx.db.commit()
    hashed = [{**r, "manifest_sha256": view.record.manifest_hash} for r in rows]
    body = table_workbook("Payments", hashed, {"amount"}, XLSX_STAMP)
    headers = {"Content-Disposition": f'attachment; filename="{run}-payments.xlsx"'}
    return Response(body, media_type=XLSX, headers=headers)


@router.get("/runs/{run}/audit", response_class=HTMLResponse)
def audit_page(request: Request, ctx: CtxDep, run: str) -> Response:
    """The run's audit log, oldest first."""
    view = ctx.az.audit(run)
    return render(request, "audit.html.j2", **views.audit(ctx.db, view))


@router.get("/runs/{run}/audit.{fmt}")
def audit_download(ctx: CtxDep, run: str, fmt: str) -> Response:
    """The run's audit log as CSV or Excel."""
    view = ctx.az.audit(run)
    rows = views.audit_rows(views.audit(ctx.db, view)["events"])
    return _download(rows, f"{run}-audit", fmt, "Audit", fields=views.AUDIT_FIELDS)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The workbook's created/modified time: fixed, so the same payment file is the same bytes.
XLSX_STAMP = dt.datetime(2000, 1, 1)


def _download(
    rows: list[Row], stem: str, fmt: str, title: str, money: Iterable[str] = (),
    run: Run | None = None, fields: list[str] | None = None,
) -> Response:  # fmt: skip
    """A page's table as `<stem>.csv` or `<stem>.xlsx` (anything else: 404); with `run`, the
    run's manifest hash on every row. Excel: `money` fields as £ numbers, the rest text."""
    if fmt == "csv" and run is not None:
        return _csv(rows, f"{stem}.csv", run.manifest_hash)
    if run is not None:
        rows = [{**r, "manifest_sha256": run.manifest_hash} for r in rows]
    if fmt == "csv":
        return _plain_csv(rows, f"{stem}.csv", fields or [])
    if fmt != "xlsx":
        raise Missing("downloads are .csv or .xlsx.")
    if not rows and fields:
        rows = [dict.fromkeys(fields, "")]  # a header row for an empty table
    body = table_workbook(title, rows, money, XLSX_STAMP)
    headers = {"Content-Disposition": f'attachment; filename="{stem}.xlsx"'}
    return Response(body, media_type=XLSX, headers=headers)


def _plain_csv(rows: list[Row], filename: str, fields: list[str]) -> Response:
    """Rows as a CSV download (spreadsheet-safe cells), `fields` as the header if no rows."""
    out = io.StringIO()
    header = list(rows[0]) if rows else fields
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([defuse(row[f]) for f in header])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _csv(rows: list[Row], filename: str, manifest_hash: str) -> Response:
    """Rows as a CSV download, each with the run's manifest hash (spreadsheet-safe cells)."""
    out = io.StringIO()
    fields = [*(rows[0].keys() if rows else []), "manifest_sha256"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([defuse(row[f]) for f in fields[:-1]] + [manifest_hash])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
