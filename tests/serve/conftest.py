"""Fixtures for the web app: small runs, a template state database, logged-in clients.

Why a template database copied per test: creating users and decisions once and copying the
SQLite file keeps each state-changing test independent at a few milliseconds each.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
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
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Served:
    runs_dir: Path
    database: Path


def _seed(app: FastAPI) -> None:
    """Users; run `open` with open queries from A00001 and A00003; run `paid` approved."""
    with app.state.sessions() as db:
        users = {
            n: workflow.add_user(db, n, PASSWORDS.hash(PASSWORD), r, o)
            for n, (r, o) in USERS.items()
        }
        runs = {r.name: r for r in db.scalars(select(Run))}
        for code, user in (("A00001", "prac"), ("A00003", "prac3")):
            workflow.decide(db, runs["open"], users[user], code, "query", "line 2 is wrong")
        workflow.approve(db, runs["paid"], users["comm"])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    """Three runs (`open`, `paid`, `fresh`) and the seeded template database."""
    base = tmp_path_factory.mktemp("serve")
    runs_dir = base / "runs"
    for name in ("open", "paid", "fresh"):
        build_run(runs_dir / name)
    database = base / "template.sqlite"
    _seed(create_app(Settings(runs_dir, f"sqlite:///{database}", passwords=PASSWORDS)))
    return Served(runs_dir, database)


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: correct in WAL mode, where a file copy can miss the -wal part."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def make_app(served: Served, tmp_path: Path) -> FastAPI:
    """A fresh app on a copy of the template database."""
    database = tmp_path / "state.sqlite"
    copy_database(served.database, database)
    return create_app(Settings(served.runs_dir, f"sqlite:///{database}", passwords=PASSWORDS))


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


def user(app: FastAPI, name: str) -> User:
    with app.state.sessions() as db:
        found = db.scalar(select(User).where(User.name == name))
        assert found is not None
        return found
