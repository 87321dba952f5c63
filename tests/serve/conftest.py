"""Fixtures for the web app: small runs, a template state database, logged-in clients.

Why a template database copied per test: creating users and decisions once and copying the
SQLite file keeps each state-changing test independent at a few milliseconds each.

Every test that uses `served` (or `app`) runs twice: on SQLite and on PostgreSQL (a throwaway
server from tests/serve/pg_server.py, or $CAREIS_TEST_DATABASE_URL), where each test's
database is a `CREATE DATABASE ... TEMPLATE` copy of the seeded one. Without PostgreSQL the
PostgreSQL variants skip with the reason; CAREIS_REQUIRE_POSTGRES=1 makes that a failure.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pg_server
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tiny_run import build_run

from careis.serve import security, workflow
from careis.serve.app import Settings, create_app
from careis.serve.models import Run, User

#: Cheap argon2 parameters: the tests log in hundreds of times.
PASSWORDS = security.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
PASSWORD = "correct horse battery"
#: name -> (role, organisation). The in-scope organisation of each role is its own.
USERS = {
    "prac": ("practice", "A00001"),
    "prac3": ("practice", "A00003"),
    "fed": ("federation", "FEDA"),
    "comm": ("commissioner", "00T"),
    "fin": ("finance", "00T"),
}
ROLE_USER = {"practice": "prac", "federation": "fed", "commissioner": "comm", "finance": "fin"}
#: The scheme of run `paid` and its re-runs.
RERUN_SCHEME = "Tiny scheme paid"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Served:
    """The runs and a seeded template state database on one backend (SQLite or PostgreSQL).

    `database` is the SQLite template file, or the PostgreSQL template database's name on
    the server at `server_url`.
    """

    runs_dir: Path
    database: Path
    backend: str = "sqlite"
    server_url: str = ""

    def fresh_url(self, tmp_path: Path) -> str:
        """A new database holding a copy of the seeded template."""
        if self.backend == "sqlite":
            target = tmp_path / f"state-{next(_COUNTER)}.sqlite"
            copy_database(self.database, target)
            return f"sqlite:///{target}"
        return _pg_database(self.server_url, template=str(self.database))

    def empty_url(self, tmp_path: Path) -> str:
        """A new, empty database on this backend."""
        if self.backend == "sqlite":
            return f"sqlite:///{tmp_path / f'empty-{next(_COUNTER)}.sqlite'}"
        return _pg_database(self.server_url)


_COUNTER = itertools.count()
#: Engines the apps of the running test opened: closed after it (PostgreSQL's connection cap).
_ENGINES: list[Engine] = []
#: Databases made on a PostgreSQL server the tests did not start: dropped at the end.
_MADE: list[str] = []


def _pg_database(server_url: str, template: str = "") -> str:
    name = f"careis_t{os.getpid()}_{next(_COUNTER)}"
    copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
    pg_server.admin(server_url, f"CREATE DATABASE {name}{copy}")
    _MADE.append(name)
    return pg_server.with_database(server_url, name)


def _seed(app: FastAPI) -> None:
    """Users; run `open` with open queries from A00001 and A00003; run `paid` approved, then
    its re-run `repaid`."""
    with app.state.sessions() as db:
        users = {
            n: workflow.add_user(db, n, PASSWORDS.hash(PASSWORD), r, o)
            for n, (r, o) in USERS.items()
        }
        runs = {r.name: r for r in db.scalars(select(Run))}
        for code, user in (("A00001", "prac"), ("A00003", "prac3")):
            workflow.decide(db, runs["open"], users[user], code, "query", "line 2 is wrong")
        workflow.approve(db, runs["paid"], users["comm"])
        workflow.approve(db, runs["repaid"], users["comm"])


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The PostgreSQL server of tests/conftest.py (skipped, or failed under
    CAREIS_REQUIRE_POSTGRES=1, without one); the tests' engines are closed and, on a server
    the tests did not start, their databases dropped at the end."""
    try:
        yield postgres_server
    finally:
        for engine in _ENGINES:
            engine.dispose()
        if os.environ.get(pg_server.ENV_URL):
            for name in _MADE:
                pg_server.admin(postgres_server, f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """Five runs (`open`, `paid`, `fresh` (A00004's published admissions suppressed), and
    `paid`'s re-runs `repaid` and `rerun`) and the seeded template database, per backend."""
    base = tmp_path_factory.mktemp("serve")
    runs_dir = base / "runs"
    for name in ("open", "paid"):
        build_run(runs_dir / name)
    build_run(runs_dir / "fresh", hidden=True)  # a practice's published count suppressed
    # re-runs of `paid`'s scheme: `repaid` (approved after it), `rerun` (open)
    build_run(runs_dir / "repaid", RERUN_SCHEME, {"A00004": 600})
    build_run(runs_dir / "rerun", RERUN_SCHEME, {"A00002": 2100})
    if request.param == "sqlite":
        database = base / "template.sqlite"
        _seed(create_app(Settings(runs_dir, f"sqlite:///{database}", passwords=PASSWORDS)))
        return Served(runs_dir, database)
    server_url = request.getfixturevalue("postgres_url")
    template = _pg_database(server_url)
    app = create_app(Settings(runs_dir, template, passwords=PASSWORDS))
    _seed(app)
    app.state.sessions.kw["bind"].dispose()  # a template database must have no connections
    return Served(runs_dir, Path(_MADE[-1]), "postgresql", server_url)


@pytest.fixture(autouse=True)
def _close_engines() -> Iterator[None]:
    yield
    for engine in _ENGINES:
        engine.dispose()


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: correct in WAL mode, where a file copy can miss the -wal part."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def make_app(served: Served, tmp_path: Path, **options: Any) -> FastAPI:
    """A fresh app on a copy of the template database (SQLite or PostgreSQL)."""
    return track(
        create_app(
            Settings(served.runs_dir, served.fresh_url(tmp_path), passwords=PASSWORDS, **options)
        )
    )


def track(app: FastAPI) -> FastAPI:
    """Close `app`'s database connections after the test."""
    _ENGINES.append(app.state.sessions.kw["bind"])
    return app


@pytest.fixture
def app(served: Served, tmp_path: Path) -> FastAPI:
    return make_app(served, tmp_path)


def csrf_of(client: TestClient, url: str = "/") -> str:
    """The CSRF token in a page's forms (the layout's logout form has one on every page)."""
    found = CSRF.search(client.get(url).text)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def login(app: FastAPI, name: str, password: str = PASSWORD) -> TestClient:
    """A client logged in as `name` (fails the test if the login is refused)."""
    client = TestClient(app, follow_redirects=False)
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(client, "/login")},
    )
    assert response.status_code == 303, response.text
    return client


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def body_text(response: Any) -> str:
    """A response's text; an Excel download's cell values (its bytes are a zip), one row a line."""
    if response.headers.get("content-type") != XLSX:
        return str(response.text)
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = sheet.iter_rows(values_only=True)
    return "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows)


def user(app: FastAPI, name: str) -> User:
    with app.state.sessions() as db:
        found = db.scalar(select(User).where(User.name == name))
        assert found is not None
        return found
