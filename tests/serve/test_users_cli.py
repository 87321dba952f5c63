"""`careis users list / disable / enable / password` against the app's state database.

Why through the app: "a disabled user cannot log in and their sessions end" is a property of
the running app, so each test changes an account from the command line and then checks what
the app does with the same database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from careis.cli import main
from careis.serve.app import Settings, create_app
from careis.serve.models import AuditEvent
from conftest import PASSWORD, PASSWORDS, Served, csrf_of, login, track

NEW_PASSWORD = "a brand new long password"


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


@pytest.fixture
def state(served: Served, tmp_path: Path) -> tuple[FastAPI, str]:
    url = served.fresh_url(tmp_path)
    return track(create_app(Settings(served.runs_dir, url, passwords=PASSWORDS))), url


def _try_login(app: FastAPI, name: str, password: str) -> int:
    client = TestClient(app, follow_redirects=False)
    data = {"username": name, "password": password, "csrf_token": csrf_of(client, "/login")}
    return client.post("/login", data=data).status_code


def _audit(app: FastAPI, action: str) -> list[AuditEvent]:
    with app.state.sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_list_shows_every_account_without_hashes(
    state: tuple[FastAPI, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = state
    code, out = _main(["users", "list", "--database", url], capsys)
    assert code == 0 and "5 account(s)" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"comm", "fed", "fin", "prac", "prac3"}
    assert "practice" in lines["prac"] and "A00001" in lines["prac"] and "active" in lines["prac"]
    assert "$argon2" not in out


def test_disable_ends_sessions_and_refuses_login(
    state: tuple[FastAPI, str], capsys: pytest.CaptureFixture[str]
) -> None:
    app, url = state
    client = login(app, "prac")
    assert client.get("/").status_code == 200
    code, out = _main(["users", "disable", "prac", "--database", url], capsys)
    assert code == 0 and "Disabled prac" in out and "1 session(s) ended" in out
    assert client.get("/").headers["location"] == "/login"  # the session is gone
    assert _try_login(app, "prac", PASSWORD) == 401  # the right password, refused
    assert "disabled" in _main(["users", "list", "--database", url], capsys)[1]
    (event,) = _audit(app, "user_disabled")
    assert event.user_name.startswith("cli") and event.detail.startswith("prac")
    code, out = _main(["users", "disable", "prac", "--database", url], capsys)
    assert code == 2 and "disabled already" in out and "Traceback" not in out
    code, out = _main(["users", "enable", "prac", "--database", url], capsys)
    assert code == 0 and _try_login(app, "prac", PASSWORD) == 303
    assert len(_audit(app, "user_enabled")) == 1


def test_password_from_stdin_replaces_it_and_ends_sessions(
    state: tuple[FastAPI, str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    app, url = state
    client = login(app, "fed")
    monkeypatch.setattr(sys, "stdin", io.StringIO(NEW_PASSWORD + "\n"))
    code, out = _main(["users", "password", "fed", "--password-stdin", "--database", url], capsys)
    assert code == 0 and "New password for fed" in out and "1 session(s) ended" in out
    assert client.get("/").status_code == 303
    assert _try_login(app, "fed", PASSWORD) == 401
    assert _try_login(app, "fed", NEW_PASSWORD) == 303
    assert len(_audit(app, "user_password_changed")) == 1


def test_password_prompts_twice(
    state: tuple[FastAPI, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from typer.testing import CliRunner

    from careis.cli import app as cli

    app, url = state
    typed = f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    result = CliRunner().invoke(cli, ["users", "password", "comm", "--database", url], input=typed)
    assert result.exit_code == 0, result.output
    assert _try_login(app, "comm", NEW_PASSWORD) == 303


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["disable", "nobody"], "", "there is no user called 'nobody'"),
        (["enable", "prac"], "", "is not disabled"),
        (["password", "nobody", "--password-stdin"], NEW_PASSWORD, "there is no user called"),
        (["password", "prac", "--password-stdin"], "short", "at least 12"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str], stdin: str, message: str, state: tuple[FastAPI, str],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    app, url = state
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin + "\n"))
    code, out = _main(["users", *args, "--database", url], capsys)
    assert code == 2 and message in out and "Traceback" not in out
    assert _try_login(app, "prac", PASSWORD) == 303  # nothing changed
