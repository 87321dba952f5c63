"""The spec suite's engines: one place that says which engines every hand-worked test runs on.

`engine_kind` (tests/conftest.py) is parametrised over `ENGINES`; a module-scoped fixture that
evaluates once per engine opens its engine with `open_engine`. Per-engine gaps are declared on
the test with `@pytest.mark.notimpl(["pyspark"], reason="...")`: a strict xfail on that engine.
"""

from __future__ import annotations

import pytest

from careis.engine import Engine

ENGINES = ["duckdb", pytest.param("pyspark", marks=pytest.mark.spark)]


def open_engine(kind: str, request: pytest.FixtureRequest) -> Engine:
    """A fresh engine of `kind`; Spark reuses the run's one session (started on first use)."""
    if kind == "duckdb":
        return Engine.duckdb()
    return Engine.pyspark(session=request.getfixturevalue("spark_session"))
