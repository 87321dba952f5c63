"""The web app's state in SQLAlchemy 2: who may log in, which runs are registered, and every
decision taken on them.

Why a database and not files: run folders are read-only evidence; decisions (accept, query,
answer, approve) are made by several people over days and must survive restarts, and each
points to the manifest hash of the run it was made on, so it cannot silently apply to another.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Role = Literal["commissioner", "federation", "practice", "finance"]
ROLES: tuple[str, ...] = get_args(Role)
DECISIONS = ("accept", "query")


def now() -> dt.datetime:
    """The time stamps are UTC, without tzinfo (SQLite keeps none)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    """All tables; `Base.metadata` is what the Alembic migration mirrors."""


class User(Base):
    """A local account: argon2 hash only, one role, one organisation code as its scope."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    org_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    #: When `careis users disable` disabled the account (None: active). A disabled user
    #: cannot log in; their sessions were deleted when it was disabled.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


RUN_STATES = ("registered", "approved", "rejected")


class Run(Base):
    """A registered run folder. `status` is registered -> approved or registered -> rejected;
    both are final (an approved run never changes, a rejected one is never paid)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="registered")
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Decision(Base):
    """A practice's accept or query on its statement; the latest per practice is current."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    practice_code: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Approval(Base):
    """The commissioner's approval of a run (one per run), with the override reason if any."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("run_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Rejection(Base):
    """The commissioner's rejection of a run (one per run), with the reason it must give.

    Why a row and not only a status: the reason is shown to everyone who can see the run,
    and, like an approval, it records who, when and the manifest hash it was made on.
    """

    __tablename__ = "rejections"
    __table_args__ = (UniqueConstraint("run_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """Who did what, when, on which run (by manifest hash). Rows are only ever added."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    run_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    manifest_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebSession(Base):
    """A server-side session: the cookie carries only this random id, signed.

    Why server-side: logging out or logging in again really ends the old session (the row
    is deleted), which a cookie holding the whole session cannot do.
    """

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class LoginFailure(Base):
    """One failed login, by user name and client address, for throttling."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Setting(Base):
    """Key/value settings the app makes itself (the cookie signing key)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
