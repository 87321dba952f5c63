"""`careis users add` and `careis serve` from the command line."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tiny_run import build_run

from careis.cli import main
from careis.serve import db
from careis.serve.models import Run, User


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


def test_users_add_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    code, out = _main(
        ["users", "add", "--role", "practice", "--org", "A00001", "--database", url,
         "--password-stdin", "alice"], capsys,
    )  # fmt: skip
    assert code == 0 and "Added alice (practice, A00001)" in out
    with db.session_factory(db.open_engine(url))() as session:
        user = session.scalar(select(User))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert "a long enough password" not in user.password_hash


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "admin", "--org", "A00001", "bob"], "not one of"),
        (["--role", "practice", "--org", "../x", "bob"], "not an ODS-style code"),
        (["--role", "practice", "--org", "A00001", "<b>"], "is not allowed"),
        (["--role", "practice", "--org", "A00001", "--password-stdin", "bob"], "at least 12"),
    ],
)
def test_users_add_refuses_bad_input_in_one_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    code, out = _main(["users", "add", "--database", url, *args], capsys)
    assert code == 2 and message in out and "Traceback" not in out


def test_users_add_needs_a_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAREIS_DATABASE_URL", raising=False)
    code, out = _main(["users", "add", "--role", "finance", "--org", "00T", "x"], capsys)
    assert code == 2 and "no state database named" in out


def test_serve_registers_a_single_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    run = build_run(tmp_path / "demo")
    code, _ = _main(["serve", str(run), "--port", "8123"], capsys)
    assert code == 0 and seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert not (run / "careis-serve.sqlite").exists()  # the run folder stays untouched
    url = f"sqlite:///{tmp_path / 'demo.careis-serve.sqlite'}"
    with db.session_factory(db.open_engine(url))() as session:
        assert [r.name for r in session.scalars(select(Run))] == ["demo"]


def test_users_demo_makes_one_account_per_role_and_resets_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = build_run(tmp_path / "demo")
    code, first = _main(["users", "demo", str(run)], capsys)
    assert code == 0 and f"careis serve {run}" in first
    code, second = _main(["users", "demo", str(run)], capsys)
    assert code == 0
    url = f"sqlite:///{tmp_path / 'demo.careis-serve.sqlite'}"
    with db.session_factory(db.open_engine(url))() as session:
        users = {u.name: (u.role, u.org_code) for u in session.scalars(select(User))}
    assert users == {
        "demo-commissioner": ("commissioner", "00T"),
        "demo-federation": ("federation", "FEDA"),
        "demo-practice": ("practice", "A00001"),
        "demo-finance": ("finance", "00T"),
    }
    password = next(line.split()[1] for line in first.splitlines() if "demo-practice" in line)
    assert password not in second  # a new password each time
