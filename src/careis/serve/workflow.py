"""The declare-approve-pay workflow: registering runs, accept/query, answers, approval or
rejection.

Why here and not in the routes: each transition has rules (an approved run never changes;
approval waits for open queries unless an override reason is recorded) and writes the audit
log in the same transaction, whichever page or command triggers it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from careis.serve.models import (
    DECISIONS,
    Approval,
    AuditEvent,
    Decision,
    Rejection,
    Run,
    User,
    WebSession,
    now,
)
from careis.serve.runs import discover, manifest_hash

SYSTEM = "system"


class StateError(Exception):
    """409: the action is not allowed in the run's current state."""


def audit(db: Session, user: str, action: str, detail: str = "", run: Run | None = None) -> None:
    """Add one audit row (committed with the caller's transaction)."""
    db.add(
        AuditEvent(
            user_name=user, action=action, detail=detail,
            run_name=run.name if run else None, manifest_hash=run.manifest_hash if run else None,
        )
    )  # fmt: skip


def register_runs(db: Session, runs_dir: Path) -> list[Run]:
    """Register every run folder under `runs_dir` not yet known; returns the new ones."""
    added = []
    for folder in discover(runs_dir):
        if db.scalar(select(Run).where(Run.name == folder.name)) is not None:
            continue
        run = Run(name=folder.name, path=str(folder.resolve()), manifest_hash=manifest_hash(folder))
        db.add(run)
        db.flush()
        audit(db, SYSTEM, "register_run", str(folder.resolve()), run)
        added.append(run)
    db.commit()
    return added


def _open(run: Run) -> None:
    if run.status == "approved":
        raise StateError("this run is approved and can no longer change.")
    if run.status == "rejected":
        raise StateError("this run was rejected: it can no longer change and is never paid.")


def current_decisions(db: Session, run: Run) -> dict[str, Decision]:
    """The latest decision of each practice on this run."""
    rows = db.scalars(select(Decision).where(Decision.run_id == run.id).order_by(Decision.id))
    return {d.practice_code: d for d in rows}


def open_queries(db: Session, run: Run) -> list[Decision]:
    """Practices whose latest decision is a query the commissioner has not answered."""
    current = current_decisions(db, run).values()
    return [d for d in current if d.decision == "query" and d.answer is None]


def decide(db: Session, run: Run, user: User, code: str, decision: str, comment: str) -> Decision:
    """A practice accepts its statement or queries it (a query needs a comment)."""
    _open(run)
    if decision not in DECISIONS:
        raise StateError("the decision must be accept or query.")
    comment = comment.strip()
    if decision == "query" and not comment:
        raise StateError("a query needs a comment saying what is wrong.")
    row = Decision(
        run_id=run.id, practice_code=code, decision=decision, comment=comment, user_id=user.id
    )
    db.add(row)
    audit(db, user.name, f"statement_{decision}", f"{code}: {comment}".rstrip(": "), run)
    db.commit()
    return row


def answer(db: Session, run: Run, user: User, code: str, text: str) -> Decision:
    """The commissioner answers a practice's open query (the practice may then decide again)."""
    _open(run)
    text = text.strip()
    if not text:
        raise StateError("an answer needs some text.")
    query = current_decisions(db, run).get(code)
    if query is None or query.decision != "query" or query.answer is not None:
        raise StateError(f"{code} has no open query on this run.")
    query.answer, query.answered_by, query.answered_at = text, user.id, now()
    audit(db, user.name, "query_answered", f"{code}: {text}", run)
    db.commit()
    return query


def approve(db: Session, run: Run, user: User, override_reason: str = "") -> Approval:
    """Approve the run for payment: refused while a query is open, unless a reason is given."""
    _open(run)
    reason = override_reason.strip()
    waiting = open_queries(db, run)
    if waiting and not reason:
        codes = ", ".join(d.practice_code for d in waiting)
        raise StateError(
            f"open queries from {codes}: answer them first, or give an override reason."
        )
    row = Approval(
        run_id=run.id, user_id=user.id, manifest_hash=run.manifest_hash,
        override_reason=reason or None,
    )  # fmt: skip
    run.status = "approved"
    db.add(row)
    detail = f"override with {len(waiting)} open: {reason}" if waiting else ""
    audit(db, user.name, "run_approved", detail, run)
    db.commit()
    return row


def approval(db: Session, run: Run) -> Approval | None:
    return db.scalar(select(Approval).where(Approval.run_id == run.id))


def reject(db: Session, run: Run, user: User, reason: str) -> Rejection:
    """The commissioner rejects the run, saying why: final (never approved, never exported).

    Open queries do not block a rejection: rejecting answers them all (the practices see the
    reason on their page).
    """
    _open(run)
    reason = reason.strip()
    if not reason:
        raise StateError("a rejection needs a reason (everyone who can see the run reads it).")
    row = Rejection(run_id=run.id, user_id=user.id, manifest_hash=run.manifest_hash, reason=reason)
    run.status = "rejected"
    db.add(row)
    audit(db, user.name, "run_rejected", reason, run)
    db.commit()
    return row


def rejection(db: Session, run: Run) -> Rejection | None:
    return db.scalar(select(Rejection).where(Rejection.run_id == run.id))


def add_user(db: Session, name: str, password_hash: str, role: str, org: str) -> User:
    """A new local account (the CLI checks the name, role and organisation code)."""
    if db.scalar(select(User).where(User.name == name)) is not None:
        raise StateError(f"a user called {name!r} already exists.")
    user = User(name=name, password_hash=password_hash, role=role, org_code=org)
    db.add(user)
    audit(db, SYSTEM, "user_added", f"{name} ({role}, {org})")
    db.commit()
    return user


def set_user(db: Session, name: str, password_hash: str, role: str, org: str) -> User:
    """Create the account, or give an existing one this role, scope and password (audited)."""
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        return add_user(db, name, password_hash, role, org)
    user.password_hash, user.role, user.org_code = password_hash, role, org
    user.disabled_at = None
    end_sessions(db, user)
    audit(db, SYSTEM, "user_reset", f"{name} ({role}, {org})")
    db.commit()
    return user


def users(db: Session) -> list[User]:
    """Every local account, by name."""
    return list(db.scalars(select(User).order_by(User.name)))


def _user(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise StateError(f"there is no user called {name!r}.")
    return user


def end_sessions(db: Session, user: User) -> int:
    """Delete every session of `user` (their cookies then lead to the login page)."""
    result = db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def disable_user(db: Session, name: str, by: str = SYSTEM) -> int:
    """Disable an account: it cannot log in, and its sessions end now (audited). Returns how
    many sessions were ended; refused when it is disabled already."""
    user = _user(db, name)
    if user.disabled_at is not None:
        raise StateError(
            f"{name!r} is disabled already (since {user.disabled_at:%Y-%m-%d %H:%M} UTC)."
        )
    user.disabled_at = now()
    ended = end_sessions(db, user)
    audit(db, by, "user_disabled", f"{name} ({ended} session(s) ended)")
    db.commit()
    return ended


def enable_user(db: Session, name: str, by: str = SYSTEM) -> None:
    """Let a disabled account log in again (audited)."""
    user = _user(db, name)
    if user.disabled_at is None:
        raise StateError(f"{name!r} is not disabled.")
    user.disabled_at = None
    audit(db, by, "user_enabled", name)
    db.commit()


def set_password(db: Session, name: str, password_hash: str, by: str = SYSTEM) -> int:
    """A new password for an account; its sessions end (audited). Returns sessions ended."""
    user = _user(db, name)
    user.password_hash = password_hash
    ended = end_sessions(db, user)
    audit(db, by, "user_password_changed", f"{name} ({ended} session(s) ended)")
    db.commit()
    return ended
