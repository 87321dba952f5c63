"""The FastAPI application: settings, request context, error pages and rendering.

Why an app factory: the CLI, the tests and a WSGI/ASGI host each build the app from explicit
settings (database URL, runs folder, cookie options); nothing is read from globals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from careis.money import format_gbp
from careis.report.html import stylesheet
from careis.serve import db as database
from careis.serve import security
from careis.serve.authorize import Authorizer, Changed, Denied, Folders, Missing
from careis.serve.models import User, WebSession
from careis.serve.workflow import StateError, register_runs

SESSION_COOKIE = "careis_session"


def _stylesheet() -> bytes:
    """The vendored NHS.UK frontend CSS, careis.css (both as the static report inlines them)
    and serve's own rules: one file, served once and cached by the browser.

    Why not inline, as the report does: it is ~284 KB, and every page of the app would carry
    it again (pages are `no-store`); the report must stay one self-contained file, the app
    need not.
    """
    own = resources.files("careis.serve").joinpath("static", "serve.css").read_text("utf-8")
    return (str(stylesheet()) + "\n" + own).encode("utf-8")


STYLESHEET = _stylesheet()
#: Its address names its content: a new careis version's CSS is a new URL, so the old one
#: may be cached for a year (`immutable`).
STYLESHEET_DIGEST = hashlib.sha256(STYLESHEET).hexdigest()[:16]
STYLESHEET_URL = f"/static/careis-{STYLESHEET_DIGEST}.css"
STATIC_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Settings:
    """What one app instance serves and how."""

    runs_dir: Path
    database_url: str
    secure_cookies: bool = False
    passwords: security.Passwords = field(default_factory=security.Passwords.default)


class LoginRequired(Exception):
    """No valid logged-in session: the browser is sent to the login page."""


@dataclass
class Ctx:
    """One logged-in request: the database session, the user and their Authorizer."""

    db: Session
    user: User
    session: WebSession
    az: Authorizer


def _gbp_signed(value: object) -> str:
    """A change of money: +£1,234.56, -£1,234.56 (zero as £0.00)."""
    amount = Decimal(str(value or "0"))
    return ("+" if amount > 0 else "") + format_gbp(amount)


def _environment() -> Environment:
    env = Environment(
        # the app's pages first, then the static report's templates they share (its measure
        # table macro, _measures.html.j2)
        loader=ChoiceLoader(
            [
                PackageLoader("careis.serve", "templates"),
                PackageLoader("careis.report", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["gbp"] = lambda value: format_gbp(Decimal(str(value or "0")))
    env.filters["gbp_signed"] = _gbp_signed
    env.globals["stylesheet_url"] = STYLESHEET_URL
    return env


TEMPLATES = _environment()


def downloads(base: str, what: str, *, pdf: bool = False) -> Markup:
    """The download links under a table (the macro of templates/_downloads.html.j2), for HTML
    made outside the app's page templates: the statement, which the report's template draws."""
    macro = TEMPLATES.get_template("_downloads.html.j2").module.downloads  # type: ignore[attr-defined]
    return Markup(macro(base, what, pdf=pdf))


def render(
    request: Request, template: str, status: int = 200, *, csrf: str = "", **values: Any
) -> HTMLResponse:
    """A page from templates/, given the logged-in context (if any) for the layout."""
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    token = ctx.session.csrf_token if ctx else csrf
    html = TEMPLATES.get_template(template).render(
        user=ctx.user if ctx else None, csrf_token=token, **values
    )
    return HTMLResponse(html, status_code=status)


def get_db(request: Request) -> Iterator[Session]:
    """One database session per request, closed after the response."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        yield session


def logged_in(request: Request, db: Annotated[Session, Depends(get_db)]) -> Ctx:
    """The logged-in user for this request (sync: FastAPI runs it off the event loop)."""
    session = security.session_from_cookie(
        db, request.app.state.key, request.cookies.get(SESSION_COOKIE)
    )
    user = db.get(User, session.user_id) if session and session.user_id else None
    if session is None or user is None or user.disabled_at is not None:
        raise LoginRequired
    ctx = Ctx(db, user, session, Authorizer(user, db, request.app.state.folders))
    request.state.ctx = ctx
    return ctx


async def context(request: Request, ctx: Annotated[Ctx, Depends(logged_in)]) -> Ctx:
    """`logged_in`, and every POST must carry its session's CSRF token."""
    if request.method == "POST":
        form = await request.form()
        token = form.get("csrf_token")
        if not security.csrf_ok(ctx.session, token if isinstance(token, str) else None):
            raise Denied("the form's security token is missing or out of date; reload the page.")
    return ctx


def set_session_cookie(response: Response, request: Request, session: WebSession) -> None:
    """The signed session id: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        security.cookie_value(request.app.state.key, session.id),
        max_age=security.SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
        path="/",
    )


def _error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html.j2", status=status, status_code=status, message=message)


def _install_errors(app: FastAPI) -> None:
    async def login(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def denied(request: Request, exc: Exception) -> Response:
        return _error(request, 403, str(exc) or "not yours to see.")

    async def missing(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc) or "not found.")

    async def conflict(request: Request, exc: Exception) -> Response:
        return _error(request, 409, str(exc))

    app.add_exception_handler(LoginRequired, login)
    app.add_exception_handler(Denied, denied)
    app.add_exception_handler(Missing, missing)
    app.add_exception_handler(Changed, conflict)
    app.add_exception_handler(StateError, conflict)


def _install_headers(app: FastAPI) -> None:
    """Pages may hold patient data: never cached, never framed, no outside resources. The
    stylesheet (the same bytes for everyone, at an address naming its content) is the one
    response the browser may keep."""

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        static = request.url.path == STYLESHEET_URL and response.status_code == 200
        response.headers["Cache-Control"] = STATIC_CACHE if static else "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response


def create_app(settings: Settings) -> FastAPI:
    """The app: migrates the database, registers the runs found, mounts every route."""
    from careis.serve import routes

    engine = database.open_engine(settings.database_url)
    database.upgrade(engine)
    sessions = database.session_factory(engine)
    with sessions() as db:
        register_runs(db, settings.runs_dir)
        key = security.signing_key(db)
    app = FastAPI(title="careis", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.sessions, app.state.key = settings, sessions, key
    app.state.folders = Folders()
    _install_errors(app)
    _install_headers(app)
    app.include_router(routes.auth_router)
    app.include_router(routes.router)
    return app
