"""Changing one's own password in the app (`/account/password`), on SQLite and PostgreSQL.

Why these checks: the form is reached by a logged-in session, so it must not become what the
login form is not: a way to guess the password (wrong current passwords count toward the
login throttle), a way round CSRF, or a way to keep a stolen session alive (every other
session ends and this one gets a new id).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careis.serve.accounts import MIN_PASSWORD
from careis.serve.app import SESSION_COOKIE
from careis.serve.models import AuditEvent, LoginFailure, WebSession
from conftest import PASSWORD, PASSWORDS, ROLE_USER, csrf_of, login, user

PAGE = "/account/password"
NEW = "a brand new long password"


def _change(
    client: TestClient, current: str = PASSWORD, new: str = NEW, again: str | None = None,
    token: str | None = "",
) -> httpx.Response:  # fmt: skip
    """POST the form (with the page's CSRF token unless `token` is given; None: no token)."""
    data = {"current_password": current, "new_password": new,
            "confirm_password": new if again is None else again}  # fmt: skip
    if token is not None:
        data["csrf_token"] = token or csrf_of(client, PAGE)
    return client.post(PAGE, data=data)


def _try_login(app: FastAPI, name: str, password: str) -> int:
    client = TestClient(app, follow_redirects=False)
    data = {"username": name, "password": password, "csrf_token": csrf_of(client, "/login")}
    return client.post("/login", data=data).status_code


def _audit(app: FastAPI, action: str) -> list[AuditEvent]:
    with app.state.sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _count(app: FastAPI, *where: object) -> int:
    with app.state.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(WebSession).where(*where)) or 0)


@pytest.mark.parametrize("role", sorted(ROLE_USER))
def test_every_role_has_the_form_linked_from_every_page(role: str, app: FastAPI) -> None:
    client = login(app, ROLE_USER[role])
    assert f'href="{PAGE}"' in client.get("/").text
    page = client.get(PAGE)
    assert page.status_code == 200
    for field, autocomplete in (("current-password", "current-password"),
                                ("new-password", "new-password"),
                                ("confirm-password", "new-password")):  # fmt: skip
        assert f'<label class="nhsuk-label" for="{field}">' in page.text
        assert f'id="{field}"' in page.text and f'autocomplete="{autocomplete}"' in page.text
    assert f"At least {MIN_PASSWORD} characters" in page.text
    mangled = client.get(f"{PAGE}?changed=yes%00")  # the form again, not a 422
    assert mangled.status_code == 200 and "Your password has been changed" not in mangled.text


def test_a_wrong_current_password_is_refused_and_counts_toward_the_login_throttle(
    app: FastAPI,
) -> None:
    client = login(app, "prac")
    response = _change(client, current="not my password")
    assert response.status_code == 400
    assert "The current password is wrong." in response.text
    assert 'class="nhsuk-error-summary"' in response.text
    with app.state.sessions() as db:
        failures = db.scalar(select(func.count()).where(LoginFailure.user_name == "prac"))
    assert failures == 1
    assert [e.user_name for e in _audit(app, "password_change_failed")] == ["prac"]
    for _ in range(4):  # five failures in all: the form and the login are both throttled
        assert _change(client, current="guess").status_code == 400
    throttled = _change(client)  # even the right current password
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.text
    assert _audit(app, "password_change_throttled")
    assert _try_login(app, "prac", PASSWORD) == 429
    assert _audit(app, "user_password_changed") == []


def test_login_failures_throttle_the_form_too(app: FastAPI) -> None:
    client = login(app, "fed")
    for _ in range(5):
        assert _try_login(app, "fed", "guess") == 401
    response = _change(client)
    assert response.status_code == 429
    assert PASSWORDS.verify(user(app, "fed").password_hash, PASSWORD)  # unchanged


def test_two_different_new_passwords_are_refused(app: FastAPI) -> None:
    client = login(app, "comm")
    response = _change(client, again=NEW + "!")
    assert response.status_code == 400
    assert "The two new passwords are not the same." in response.text
    assert 'aria-describedby="confirm-password-error"' in response.text
    assert _try_login(app, "comm", PASSWORD) == 303 and _try_login(app, "comm", NEW) == 401


def test_a_new_password_breaking_the_clis_rule_is_refused(app: FastAPI) -> None:
    client = login(app, "fin")
    short = "x" * (MIN_PASSWORD - 1)
    response = _change(client, new=short)
    assert response.status_code == 400
    assert f"The password must have at least {MIN_PASSWORD} characters." in response.text
    assert _try_login(app, "fin", short) == 401
    assert _change(client, new="y" * MIN_PASSWORD).status_code == 303


@pytest.mark.parametrize("token", [None, "wrong"])
def test_without_the_csrf_token_nothing_changes(token: str | None, app: FastAPI) -> None:
    client = login(app, "prac")
    response = _change(client, token=token)
    assert response.status_code == 403
    assert "security token" in response.text
    assert _try_login(app, "prac", PASSWORD) == 303
    assert _audit(app, "user_password_changed") == []


def test_a_change_replaces_the_password_and_every_session(app: FastAPI) -> None:
    client = login(app, "prac")
    elsewhere = login(app, "prac")  # the same user in another browser
    other_user = login(app, "comm")
    before = client.cookies[SESSION_COOKIE]
    response = _change(client)
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?changed=true"
    after = client.cookies[SESSION_COOKIE]
    assert after != before  # a new session id: no fixation
    confirmation = client.get(response.headers["location"])
    assert confirmation.status_code == 200 and "Your password has been changed" in confirmation.text
    assert client.get("/").status_code == 200  # this browser stays logged in
    assert elsewhere.get("/").status_code == 303  # the other session ended
    stale = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: before})
    assert stale.get("/").status_code == 303  # the old id is dead
    assert other_user.get("/").status_code == 200  # other users are untouched
    assert _count(app, WebSession.user_id == user(app, "prac").id) == 1
    assert _try_login(app, "prac", PASSWORD) == 401
    assert _try_login(app, "prac", NEW) == 303
    events = _audit(app, "user_password_changed")
    assert [(e.user_name, e.detail) for e in events] == [("prac", "prac (2 session(s) ended)")]
