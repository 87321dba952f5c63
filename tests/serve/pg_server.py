"""A throwaway PostgreSQL server for the tests, or the one named by $CAREIS_TEST_DATABASE_URL.

Why a private server: tests/serve must pass on PostgreSQL as on SQLite (issue 19), and a
developer or CI machine with the PostgreSQL binaries but no running server should still run
them. The server lives in a temporary folder on a free port of 127.0.0.1, with `trust`
authentication for one user, fsync off (its data is thrown away), and is stopped at the end.
PostgreSQL refuses to run as root: as root the server runs as the `postgres` user when there
is one (Debian's package creates it).

Each test gets its own database, copied from a seeded template with `CREATE DATABASE ...
TEMPLATE` (a file copy, tens of milliseconds), as the SQLite tests copy a template file.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_URL = "CAREIS_TEST_DATABASE_URL"
ENV_REQUIRE = "CAREIS_REQUIRE_POSTGRES"
USER = "careis"


class Unavailable(Exception):
    """No PostgreSQL to test on, with the reason in words."""


def _binary(name: str) -> str | None:
    """`name` on PATH, else in Debian's versioned folder (the package leaves it off PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _scratch() -> str | None:
    """Memory-backed /dev/shm when there is room (CREATE DATABASE is 10x faster there)."""
    shm = Path("/dev/shm")
    try:
        room = shutil.disk_usage(shm).free
    except OSError:
        return None
    return str(shm) if room > 512 * 2**20 and os.access(shm, os.W_OK) else None


def _as_user() -> list[str]:
    """The command prefix that runs the server's binaries as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise Unavailable(
            "running as root and there is no `postgres` user to run the server as"
        ) from exc
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root and there is no runuser to drop to `postgres`")
    return [runuser, "-u", "postgres", "--"]


@contextmanager
def server() -> Iterator[str]:
    """A server URL (SQLAlchemy form, to its `postgres` database) for the tests' lifetime."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise Unavailable(
            f"no initdb/pg_ctl found (install Debian's postgresql) and ${ENV_URL} is not set"
        )
    prefix = _as_user()
    folder = Path(tempfile.mkdtemp(prefix="careis-pg-", dir=_scratch()))
    try:
        if prefix:
            shutil.chown(folder, "postgres")
        data, port = folder / "data", _free_port()
        _run([*prefix, initdb, "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync",
              "-D", str(data)])  # fmt: skip
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run([*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"),
              "-w", "-t", "30", "start"])  # fmt: skip
        try:
            yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
        finally:
            _run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Unavailable(
            f"{Path(command[-1]).name if command else ''}: {' '.join(command)} failed "
            f"({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}"
        )


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def admin(url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    with psycopg.connect(
        host=parts.host, port=parts.port, user=parts.username, password=parts.password,
        dbname=parts.database, autocommit=True,
    ) as connection:  # fmt: skip
        connection.execute(statement)  # type: ignore[arg-type]
