"""The state database: the Alembic migration builds exactly the tables the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from careis.serve import db
from careis.serve.models import Base
from conftest import Served


def test_migration_matches_the_models(served: Served, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL (`served` is parametrised over both)."""
    engine = db.open_engine(served.empty_url(tmp_path))
    try:
        db.upgrade(engine)
        db.upgrade(engine)  # a second upgrade is a no-op, not an error
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == []
            assert connection.dialect.name == served.backend
    finally:
        engine.dispose()


def test_database_sits_beside_the_runs_not_inside_a_run(tmp_path: Path) -> None:
    run = tmp_path / "demo"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    assert db.default_url(run) == f"sqlite:///{tmp_path / 'demo.careis-serve.sqlite'}"
    assert db.default_url(tmp_path) == f"sqlite:///{tmp_path / 'careis-serve.sqlite'}"
