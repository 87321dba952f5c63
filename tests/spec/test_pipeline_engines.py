"""The spec suite's whole run: `pipeline.run` on each engine gives DuckDB's outputs, byte for byte.

Tiny on purpose (one practice at 2% scale, points risk): Spark plans every stage's deep Ibis
expressions, so even this takes tens of seconds there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.synth import SynthConfig, generate

from .spec_run import differences, outputs, run_on


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spec-data")
    generate(SynthConfig(practices=["P82001"], scale=0.02, seed=3), out)
    return out


@pytest.fixture(scope="module")
def on_duckdb(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("spec-duckdb")
    return outputs(run_on(folder, data, folder / "out", "engine: {backend: duckdb}"))


def test_the_run_writes_measures_and_statements(on_duckdb: dict[str, bytes]) -> None:
    assert any(name.endswith(".csv") for name in on_duckdb)
    assert len(on_duckdb) > 5


@pytest.mark.spark
def test_spark_run_matches_duckdb_byte_for_byte(
    data: Path, on_duckdb: dict[str, bytes], spark_session: object, tmp_path: Path
) -> None:
    # The run opens its own engine; with the test session active it joins that session
    # (and leaves it running) rather than starting a second JVM.
    got = outputs(run_on(tmp_path, data, tmp_path / "out", "engine: {backend: pyspark}"))
    assert differences(on_duckdb, got) == []
