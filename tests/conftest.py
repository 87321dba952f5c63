"""Shared fixtures. Spark is started at most once per test run (it costs ~10 s); the hand-worked
federation (tests/federation.py) is evaluated once per run and shared read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import federation as fed
from builders import Dataset
from careis.cli import main
from careis.engine import Engine
from careis.measures.results import MeasureResults
from engines import ENGINES, open_engine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Turn `@pytest.mark.notimpl(["pyspark"], reason=...)` into a strict xfail on that engine.

    A declared gap must really fail there: when the engine catches up, the xfail passes
    unexpectedly, the test fails, and whoever fixed it removes the marker.
    """
    for item in items:
        kind = getattr(item, "callspec", None) and item.callspec.params.get("engine_kind")
        for marker in item.iter_markers("notimpl"):
            if kind in marker.args[0]:
                reason = marker.kwargs["reason"]
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"{kind}: {reason}"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from this run's outputs (see tests/golden/README.md): review "
        "the diff and commit it with the change that causes it",
    )


@pytest.fixture
def duck() -> Iterator[Engine]:
    """A fresh in-memory DuckDB engine per test."""
    engine = Engine.duckdb()
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One local SparkSession for the whole run (tests using it are marked `spark`)."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("careis-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.memory", "3g")
        # A JVM out of memory inside Spark's Arrow-serving thread otherwise leaves the Python
        # side waiting for ever (the thread dies without completing its result): exit instead,
        # so the test fails with a py4j error rather than hanging CI.
        .config("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError")
        # Ibis plans are deep; Spark writes each physical plan out as a string for its event
        # log even without the UI. Cap it so the plan text does not crowd out the data.
        .config("spark.sql.maxPlanStringLength", "100000")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def spark_engine(spark_session) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An Ibis engine over the shared SparkSession (closing it leaves the session running)."""
    engine = Engine.pyspark(session=spark_session)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session", params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Which engine the spec suite runs on: every test using it runs on DuckDB and on Spark.

    Spark runs are marked `spark` (deselect with `-m "not spark"`); per-engine gaps are
    declared with `@pytest.mark.notimpl([...], reason=...)`.
    """
    return str(request.param)


@pytest.fixture
def engine(engine_kind: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh engine per test, on each engine of the spec suite in turn."""
    opened = open_engine(engine_kind, request)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def federation() -> Dataset:
    """The hand-worked federation's rows (fresh per test: a Dataset is mutable)."""
    return fed.build()


@pytest.fixture(scope="session")
def federation_lists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The federation's code lists, written once and read-only."""
    return fed.write_lists(tmp_path_factory.mktemp("federation") / "codelists")


@pytest.fixture(scope="session")
def federation_results(
    federation_lists: Path, engine_kind: str, request: pytest.FixtureRequest
) -> MeasureResults:
    """The whole shipped measure library on the federation, evaluated once per engine per run.

    Tests reading it are the cross-engine check of every shipped measure: a measure added to
    the library is evaluated (and its hand-worked values compared) on Spark too.
    """
    engine = open_engine(engine_kind, request)
    try:
        return fed.evaluate_core_library(fed.build(), federation_lists, engine)
    finally:
        engine.close()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`careis demo` as a user runs it (examples/demo.yaml), data generated into a tmp folder:
    one full demo per test session, shared read-only by the golden files (tests/golden) and
    the demo's workbook check (tests/report)."""
    base = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(base / "out"), "--data", str(base / "data")])
    assert info.value.code in (0, None)
    return base / "out"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL, shared by tests/serve and tests/browser (one per test session):
    $CAREIS_TEST_DATABASE_URL, or a throwaway server from tests/serve/pg_server.py.

    Without one the tests asking for it skip with the reason; with CAREIS_REQUIRE_POSTGRES=1
    (.ci/run sets it) they fail instead, so CI cannot pass by skipping them.
    """
    import os

    from serve import pg_server

    try:
        import psycopg  # noqa: F401

        server = pg_server.server()
        url = server.__enter__()
    except (ImportError, pg_server.Unavailable) as exc:
        reason = f"no PostgreSQL to test on: {exc}"
        if os.environ.get(pg_server.ENV_REQUIRE) == "1":
            pytest.fail(f"{pg_server.ENV_REQUIRE}=1 but {reason}")
        pytest.skip(reason)
    try:
        yield url
    finally:
        server.__exit__(None, None, None)
