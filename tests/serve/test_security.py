"""Security: CSRF, session fixation, brute force, escaping, path traversal."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_access_matrix import FORMS, MATRIX, url_for

from careis.errors import DataError
from careis.serve.app import SESSION_COOKIE
from careis.serve.runs import RunFolder
from conftest import PASSWORD, Served, csrf_of, login

ALLOWED_USER = {"commissioner": "comm", "federation": "fed", "practice": "prac", "finance": "fin"}


@pytest.mark.parametrize("path", sorted(p for m, p in MATRIX if m == "POST"))
@pytest.mark.parametrize("token", [None, "wrong"])
def test_every_post_without_the_csrf_token_is_refused(
    path: str, token: str | None, app: FastAPI
) -> None:
    role = next(r for r, rule in MATRIX[("POST", path)].items() if rule in ("all", "own"))
    client = login(app, ALLOWED_USER[role])
    data = {**FORMS, **({"csrf_token": token} if token else {})}
    response = client.post(url_for(path, "in", "open"), data=data)
    assert response.status_code == 403
    assert "security token" in response.text


def test_login_without_csrf_token_is_refused(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    response = client.post("/login", data={"username": "comm", "password": PASSWORD})
    assert response.status_code == 403


def test_session_id_changes_at_login_and_dies_at_logout(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client, "/login")
    planted = client.cookies[SESSION_COOKIE]
    client.post("/login", data={"username": "comm", "password": PASSWORD, "csrf_token": token})
    logged_in = client.cookies[SESSION_COOKIE]
    assert logged_in != planted
    # an attacker holding the pre-login cookie is not logged in
    attacker = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: planted})
    assert attacker.get("/").status_code == 303
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 303
    replay = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: logged_in})
    assert replay.get("/").status_code == 303


def test_cookie_flags(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    header = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header


def test_tampered_cookie_is_not_a_session(app: FastAPI) -> None:
    client = login(app, "comm")
    value = client.cookies[SESSION_COOKIE]
    forged = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: value[:-2] + "xx"})
    assert forged.get("/").status_code == 303


def _attempt(client: TestClient, name: str, password: str) -> int:
    token = csrf_of(client, "/login")
    data = {"username": name, "password": password, "csrf_token": token}
    return client.post("/login", data=data).status_code


def test_password_guessing_is_throttled(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    assert [_attempt(client, "comm", f"guess{i}") for i in range(5)] == [401] * 5
    assert _attempt(client, "comm", PASSWORD) == 429  # even the right password, for 15 minutes


def test_guessing_many_user_names_from_one_address_is_throttled(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    assert [_attempt(client, f"nobody{i}", "x") for i in range(5)] == [401] * 5
    assert _attempt(client, "fed", PASSWORD) == 429


def test_html_in_names_and_comments_is_escaped(app: FastAPI) -> None:
    prac = login(app, "prac")
    evil = "<img src=x onerror=alert(1)>"
    prac.post(
        "/runs/fresh/practices/A00001/decision",
        data={"decision": "query", "comment": evil, "csrf_token": csrf_of(prac)},
    )
    page = login(app, "comm").get("/runs/fresh").text
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page  # the commissioner's name


@pytest.mark.parametrize(
    "url",
    [
        "/runs/..%2F..%2Fetc/ledger",
        "/runs/%2E%2E/ledger",
        "/runs/open/practices/..%2Fx",
        "/runs/open/practices/..%2F..%2Fpayments",
        "/runs/open/practices/A00001/files/..%2F..%2Fmanifest.json",
        "/runs/open/practices/A00001/files/statement.csv",
        "/runs/open/practices/A00001/files/.register.csv",
        "/runs/open/federations/..%2FFEDA",
    ],
)
@pytest.mark.parametrize("name", ["prac", "comm"])
def test_path_traversal_in_run_practice_and_file_names_is_refused(
    url: str, name: str, app: FastAPI
) -> None:
    response = login(app, name).get(url)
    assert response.status_code in (403, 404)
    assert "pid-" not in response.text and "careis_version" not in response.text


def test_a_link_out_of_the_run_folder_is_refused(served: Served, tmp_path: Path) -> None:
    from tiny_run import build_run

    run = build_run(tmp_path / "run")
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    (run / "practices" / "A00001" / "frailty.csv").symlink_to(secret)
    folder = RunFolder(run)
    with pytest.raises(DataError, match="outside the run folder"):
        folder.practice_file("A00001", "frailty.csv")
    for bad in ("..", "../x", "a/b", ""):
        with pytest.raises(DataError):
            folder.practice_file(bad, "register.csv")
    # through the app: the page does not list it and the download is a 404, never a 500
    from careis.serve.app import Settings, create_app
    from conftest import PASSWORDS, track

    app = track(create_app(Settings(run, served.empty_url(tmp_path), passwords=PASSWORDS)))
    with app.state.sessions() as db:
        from careis.serve import workflow

        workflow.add_user(db, "p", PASSWORDS.hash(PASSWORD), "practice", "A00001")
    client = login(app, "p")
    page = client.get("/runs/run/practices/A00001")
    assert page.status_code == 200 and "frailty.csv" not in page.text
    assert client.get("/runs/run/practices/A00001/files/frailty.csv").status_code == 404


def test_expired_sessions_are_deleted(app: FastAPI) -> None:
    import datetime as dt

    from sqlalchemy import func, select, update

    from careis.serve.models import WebSession

    login(app, "comm")
    with app.state.sessions() as db:
        db.execute(update(WebSession).values(created_at=dt.datetime(2020, 1, 1)))
        db.commit()
    TestClient(app).get("/login")  # a new anonymous session clears the expired ones
    with app.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(WebSession)) == 1


def test_secure_cookie_option(served: Served, tmp_path: Path) -> None:
    from conftest import make_app

    app = make_app(served, tmp_path, secure_cookies=True)
    header = TestClient(app).get("/login").headers["set-cookie"].lower()
    assert "; secure" in header


@pytest.mark.parametrize("role", ["commissioner", "finance", "federation", "practice"])
def test_another_areas_users_do_not_see_the_runs(role: str, app: FastAPI) -> None:
    from careis.serve import workflow
    from conftest import PASSWORDS

    with app.state.sessions() as db:
        workflow.add_user(db, "elsewhere", PASSWORDS.hash(PASSWORD), role, "99X")
    client = login(app, "elsewhere")
    assert "/runs/" not in client.get("/").text
    for url in ("/runs/paid", "/runs/paid/ledger", "/runs/paid/practices/A00001"):
        assert client.get(url).status_code in (403, 404)
