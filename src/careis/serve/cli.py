"""`careis serve RUNS_DIR` and `careis users ...`: the web app and its local accounts.

Why light imports here: the CLI imports this module on every `careis` command, so FastAPI,
SQLAlchemy and uvicorn are imported only inside the commands that need them.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from careis.errors import ConfigError
from careis.serve.accounts import password_problem

console = Console()
users_app = typer.Typer(
    name="users", help="Local accounts for `careis serve`.", no_args_is_help=True
)

ROLE_NAMES = ("commissioner", "federation", "practice", "finance")
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
DATABASE_ENV = "CAREIS_DATABASE_URL"

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", metavar="URL",
        help=f"State database URL, e.g. postgresql+psycopg://careis@localhost/careis (default: "
        f"${DATABASE_ENV}, else a SQLite file beside the runs).",
    ),
]  # fmt: skip


def _database_url(database: str | None, runs_dir: Path | None) -> str:
    """--database, else $CAREIS_DATABASE_URL, else the SQLite file beside RUNS_DIR."""
    from careis.serve.db import default_url

    url = database or os.environ.get(DATABASE_ENV)
    if url:
        return url
    if runs_dir is None:
        raise ConfigError(
            "no state database named.",
            fix=f"give --database URL, --runs RUNS_DIR (the folder you serve) or set {DATABASE_ENV}.",
        )
    return default_url(runs_dir)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(
    runs_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUNS_DIR",
            exists=True,
            file_okay=False,
            help="A run folder (e.g. out/demo) or a folder of run folders; each is registered.",
        ),
    ],
    database: DatabaseOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (keep 127.0.0.1 behind a proxy).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark the session cookie Secure (set this when served over HTTPS).")
    ] = False,
) -> None:
    """Serve the web app: statements, worklists, queries, approval and the payment file."""
    import uvicorn

    from careis.serve.app import Settings, create_app

    url = _database_url(database, runs_dir)
    app = create_app(Settings(runs_dir, url, secure_cookies=secure_cookies))
    console.print(
        f"careis serve: {runs_dir} at http://{host}:{port}/ (state: {_shown(url)})",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise ConfigError(problem)
    return password


def _check_name(name: str) -> None:
    """A user name careis could have created: checked before any database is opened, so a
    mistyped name says so, whichever other option is missing."""
    if not USER_NAME.fullmatch(name):
        raise ConfigError(
            f"the user name {name!r} is not allowed.",
            fix="use letters, digits and . _ @ - (at most 64 characters).",
        )


def _check_user(name: str, role: str, org: str) -> None:
    from careis.layout import SAFE_CODE

    _check_name(name)
    if role not in ROLE_NAMES:
        raise ConfigError(f"the role {role!r} is not one of {', '.join(ROLE_NAMES)}.")
    if not SAFE_CODE.fullmatch(org):
        raise ConfigError(f"the organisation code {org!r} is not an ODS-style code.")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user name to log in with.")],
    role: Annotated[str, typer.Option(help="commissioner, federation, practice or finance.")],
    org: Annotated[
        str,
        typer.Option(
            help="The organisation the user acts for: sub-ICB, federation/PCN or practice code."
        ),
    ],
    database: DatabaseOpt = None,
    runs: Annotated[
        Path | None,
        typer.Option(
            "--runs", metavar="RUNS_DIR", help="The folder you serve (finds its SQLite file)."
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Add a local account (the password is stored only as an argon2 hash)."""
    from careis.serve import db, security, workflow

    _check_user(name, role, org)
    url = _database_url(database, runs)
    password = _password(password_stdin)
    engine = db.open_engine(url)
    db.upgrade(engine)
    with db.session_factory(engine)() as session:
        try:
            workflow.add_user(session, name, security.Passwords.default().hash(password), role, org)
        except workflow.StateError as exc:
            raise ConfigError(str(exc)) from exc
    console.print(
        f"Added {name} ({role}, {org}) to {_shown(url)}.", highlight=False, soft_wrap=True
    )


RunsOpt = Annotated[
    Path | None,
    typer.Option(
        "--runs", metavar="RUNS_DIR", help="The folder you serve (finds its SQLite file)."
    ),
]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The user name.")]


def _open(database: str | None, runs: Path | None) -> tuple[str, Any]:
    """The state database's URL (for messages) and a session on it, upgraded."""
    from careis.serve import db

    url = _database_url(database, runs)
    engine = db.open_engine(url)
    db.upgrade(engine)
    return url, db.session_factory(engine)()


def _operator() -> str:
    """Who ran the command, for the audit log: `cli:<login name>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@users_app.command("list")
def list_users(database: DatabaseOpt = None, runs: RunsOpt = None) -> None:
    """List the accounts: name, role, organisation, created, active or disabled (no hashes)."""
    from careis.serve import workflow

    url, session = _open(database, runs)
    with session:
        found = workflow.users(session)
        console.print(f"{len(found)} account(s) in {_shown(url)}:", highlight=False, soft_wrap=True)
        for u in found:
            state = (
                "active"
                if u.disabled_at is None
                else f"disabled {u.disabled_at:%Y-%m-%d %H:%M} UTC"
            )
            console.print(
                f"  {u.name:<20} {u.role:<13} {u.org_code:<10} created {u.created_at:%Y-%m-%d}  {state}",
                highlight=False, soft_wrap=True,
            )  # fmt: skip


@users_app.command("disable")
def disable(name: NameArg, database: DatabaseOpt = None, runs: RunsOpt = None) -> None:
    """Disable an account: it can no longer log in and its open sessions end now (audited)."""
    from careis.serve import workflow

    _check_name(name)
    url, session = _open(database, runs)
    with session:
        try:
            ended = workflow.disable_user(session, name, _operator())
        except workflow.StateError as exc:
            raise ConfigError(str(exc)) from exc
    console.print(
        f"Disabled {name} in {_shown(url)}; {ended} session(s) ended.",
        highlight=False,
        soft_wrap=True,
    )


@users_app.command("enable")
def enable(name: NameArg, database: DatabaseOpt = None, runs: RunsOpt = None) -> None:
    """Let a disabled account log in again (audited)."""
    from careis.serve import workflow

    _check_name(name)
    url, session = _open(database, runs)
    with session:
        try:
            workflow.enable_user(session, name, _operator())
        except workflow.StateError as exc:
            raise ConfigError(str(exc)) from exc
    console.print(f"Enabled {name} in {_shown(url)}.", highlight=False, soft_wrap=True)


@users_app.command("password")
def password(
    name: NameArg,
    database: DatabaseOpt = None,
    runs: RunsOpt = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Set a new password (asked twice, or --password-stdin); the account's sessions end."""
    from careis.serve import security, workflow

    _check_name(name)
    url, session = _open(database, runs)
    with session:
        if not any(u.name == name for u in workflow.users(session)):
            raise ConfigError(f"there is no user called {name!r}.")
        new = security.Passwords.default().hash(_password(password_stdin))
        try:
            ended = workflow.set_password(session, name, new, _operator())
        except workflow.StateError as exc:
            raise ConfigError(str(exc)) from exc
    console.print(
        f"New password for {name} in {_shown(url)}; {ended} session(s) ended.",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


def demo_accounts(run_dir: Path) -> list[tuple[str, str, str]]:
    """(name, role, organisation) of one account per role for a run: its commissioner, its
    first federation and first practice, and finance."""
    from careis.serve.runs import RunFolder

    folder = RunFolder(run_dir)
    federations, practices = folder.groups("federation"), folder.practices()
    if not folder.commissioner_code or not federations or not practices:
        raise ConfigError(
            "this run names no commissioner, federation or practice to make accounts for.",
            file=run_dir,
        )
    commissioner = folder.commissioner_code
    return [
        ("demo-commissioner", "commissioner", commissioner),
        ("demo-federation", "federation", federations[0]),
        ("demo-practice", "practice", practices[0]),
        ("demo-finance", "finance", commissioner),
    ]


@users_app.command("demo")
def demo(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            exists=True,
            file_okay=False,
            help="A run folder, e.g. out/demo (its SQLite file, beside it, is used).",
        ),
    ],
    database: DatabaseOpt = None,
) -> None:
    """One account per role to try a run with; new random passwords each time, printed once."""
    import secrets

    from careis.serve import db, security, workflow

    if not (run_dir / "manifest.json").is_file():
        raise ConfigError("not a run folder (no manifest.json).", file=run_dir)
    url = _database_url(database, run_dir)
    engine = db.open_engine(url)
    db.upgrade(engine)
    passwords = security.Passwords.default()
    console.print(
        f"Demo accounts in {_shown(url)} (passwords shown once):", highlight=False, soft_wrap=True
    )
    with db.session_factory(engine)() as session:
        for name, role, org in demo_accounts(run_dir):
            password = secrets.token_urlsafe(12)
            workflow.set_user(session, name, passwords.hash(password), role, org)
            console.print(f"  {name:<18} {password}  ({role}, {org})", highlight=False)
    console.print(f"Try them: careis serve {run_dir}", highlight=False, soft_wrap=True)
