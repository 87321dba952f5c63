"""Every page and download. Each handler asks the Authorizer for its data, then renders.

Why thin handlers: the access rules live in `authorize.py` and the state rules in
`workflow.py`; a handler that reads a file any other way is a bug the matrix test catches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from careis.csvio import defuse
from careis.report.workbook import table_workbook
from careis.serve import security, views, workflow
from careis.serve.app import (
    SESSION_COOKIE,
    Ctx,
    context,
    get_db,
    render,
    set_session_cookie,
)
from careis.serve.authorize import Denied
from careis.serve.runs import Row

auth_router = APIRouter()
router = APIRouter()
FormText = Annotated[str, Form()]
CtxDep = Annotated[Ctx, Depends(context)]
DbDep = Annotated[Session, Depends(get_db)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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


@router.get("/", response_class=HTMLResponse)
def run_list(request: Request, ctx: CtxDep) -> Response:
    """The runs this user may see, each linked to this role's page in it."""
    runs = [views.run_link(ctx.user, v) for v in ctx.az.runs()]
    return render(request, "runs.html.j2", runs=runs)


@router.get("/runs/{run}", response_class=HTMLResponse)
def run_overview(request: Request, ctx: CtxDep, run: str) -> Response:
    """The commissioner's page: every practice and group, queries, approval."""
    view = ctx.az.overview(run)
    values = views.overview(ctx.db, view, ctx.az.rerun_of(view))
    return render(request, "run.html.j2", **values)


@router.get("/runs/{run}/federations/{org}", response_class=HTMLResponse)
def federation_page(request: Request, ctx: CtxDep, run: str, org: str) -> Response:
    """A federation or PCN: its members against the target and the practice floor."""
    view, members = ctx.az.federation(run, org)
    return render(request, "federation.html.j2", **views.federation(ctx.db, view, org, members))


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
    return render(
        request, "practice.html.j2", register=register, worklist=worklist, files=files, **values
    )


@router.get("/runs/{run}/practices/{code}/statement.csv")
def statement_csv(ctx: CtxDep, run: str, code: str) -> Response:
    """The statement as CSV, with the run's manifest hash on every line."""
    view, lines = ctx.az.statement(run, code)
    return _csv(lines, f"{run}-{code}-statement.csv", view.record.manifest_hash)


@router.get("/runs/{run}/practices/{code}/files/{name}")
def practice_file(ctx: CtxDep, run: str, code: str, name: str) -> Response:
    """A patient-level file of the practice's own folder (register, frailty list, flags)."""
    view, rows = ctx.az.practice_file(run, code, name)
    return _csv(rows, f"{run}-{code}-{name}", view.record.manifest_hash)


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


@router.get("/runs/{run}/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, ctx: CtxDep, run: str) -> Response:
    """Every money movement of the run, with the export link once approved."""
    view, rows = ctx.az.ledger(run)
    values = views.ledger(ctx.db, view, rows, ctx.az.rerun_of(view))
    return render(request, "ledger.html.j2", **values)


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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The workbook's created/modified time: fixed, so the same payment file is the same bytes.
XLSX_STAMP = dt.datetime(2000, 1, 1)


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
