"""Opening the state database and bringing its schema up to date with Alembic.

Why Alembic from the first table: the database outlives careis versions (decisions and
approvals are kept for audit), so every schema change must be a migration, not a rebuild.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
DATABASE_FILE = "careis-serve.sqlite"


def default_url(runs_dir: Path) -> str:
    """A SQLite file beside the runs: in RUNS_DIR, or next to a single run folder.

    Why not inside a single run folder: the run folder is read-only evidence.
    """
    runs_dir = runs_dir.resolve()
    if (runs_dir / "manifest.json").is_file():
        return f"sqlite:///{runs_dir.parent / (runs_dir.name + '.' + DATABASE_FILE)}"
    return f"sqlite:///{runs_dir / DATABASE_FILE}"


def open_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and use from any thread."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: pages keep reading while a decision is written; wait rather than fail when busy.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (a new database gets them all)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (pages render after it)."""
    return sessionmaker(engine, expire_on_commit=False)
