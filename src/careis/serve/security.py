"""Passwords, sessions, CSRF tokens and login throttling.

Why each: argon2 so a stolen database does not give the passwords back; a server-side
session whose id is replaced at login, so an id planted before login is worthless (no
fixation); a per-session CSRF token checked on every POST, so another site cannot make a
logged-in user's browser accept or approve; throttling, so passwords cannot be guessed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from careis.serve.models import LoginFailure, Setting, User, WebSession, now

#: Failed logins allowed per user name, and per client address, in the window.
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
#: A session lasts at most this long (the signed cookie is refused after it).
SESSION_MAX_AGE_S = 8 * 60 * 60
SESSION_MAX_AGE = dt.timedelta(seconds=SESSION_MAX_AGE_S)


@dataclass(frozen=True)
class Passwords:
    """argon2id hashing; tests pass cheap parameters, production keeps the library's."""

    hasher: PasswordHasher

    @classmethod
    def default(cls) -> Passwords:
        return cls(PasswordHasher())

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


def signing_key(db: Session) -> str:
    """The cookie signing key, made once and kept in the database (sessions survive restarts)."""
    row = db.get(Setting, "session_key")
    if row is None:
        row = Setting(key="session_key", value=secrets.token_hex(32))
        db.add(row)
        db.commit()
    return row.value


def signer(key: str) -> TimestampSigner:
    return TimestampSigner(key, salt="careis-session")


def cookie_value(key: str, session_id: str) -> str:
    return signer(key).sign(session_id).decode()


def session_from_cookie(db: Session, key: str, cookie: str | None) -> WebSession | None:
    """The session a signed cookie names, if the signature holds and it has not expired."""
    if not cookie:
        return None
    try:
        session_id = signer(key).unsign(cookie, max_age=SESSION_MAX_AGE_S).decode()
    except BadSignature:
        return None
    return db.get(WebSession, session_id)


def new_session(db: Session, user: User | None = None) -> WebSession:
    """A fresh session with a fresh id and CSRF token (anonymous when `user` is None).

    Expired sessions and old login failures are deleted here, so neither table grows for ever.
    """
    db.execute(delete(WebSession).where(WebSession.created_at < now() - SESSION_MAX_AGE))
    db.execute(delete(LoginFailure).where(LoginFailure.at < now() - FAILURE_WINDOW))
    row = WebSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id if user else None,
        csrf_token=secrets.token_urlsafe(32),
    )
    db.add(row)
    db.commit()
    return row


def end_session(db: Session, session: WebSession | None) -> None:
    """Delete a session: its id can never be used again."""
    if session is not None:
        db.execute(delete(WebSession).where(WebSession.id == session.id))
        db.commit()


def csrf_ok(session: WebSession | None, token: str | None) -> bool:
    """Whether a form's token matches its session's (constant-time comparison)."""
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf_token, token)


def throttled(db: Session, user_name: str, client: str) -> bool:
    """Whether this user name or this client address has too many recent failures."""
    since = now() - FAILURE_WINDOW
    for column, value in ((LoginFailure.user_name, user_name), (LoginFailure.client, client)):
        count = db.scalar(select(func.count()).where(column == value, LoginFailure.at >= since))
        if (count or 0) >= MAX_FAILURES:
            return True
    return False


def record_failure(db: Session, user_name: str, client: str) -> None:
    db.add(LoginFailure(user_name=user_name[:64], client=client[:64]))
    db.commit()


def authenticate(db: Session, passwords: Passwords, name: str, password: str) -> User | None:
    """The user if the password verifies; a dummy verify for unknown names keeps timing even."""
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        passwords.verify(_DUMMY.get(passwords), password)
        return None
    verified = passwords.verify(user.password_hash, password)
    return user if verified and user.disabled_at is None else None


class _Dummy:
    """One hash per hasher, made on first use, verified against for unknown user names."""

    def __init__(self) -> None:
        self._hashes: dict[int, str] = {}

    def get(self, passwords: Passwords) -> str:
        key = id(passwords.hasher)
        if key not in self._hashes:
            self._hashes[key] = passwords.hash(secrets.token_hex(8))
        return self._hashes[key]


_DUMMY = _Dummy()
