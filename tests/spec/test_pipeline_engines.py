"""The spec suite's whole run: `pipeline.run` on each engine gives DuckDB's outputs, byte for byte.

Tiny on purpose (one practice at 2% scale, points risk, and only the measures the contract
pays on with what they are built from): Spark plans every stage's deep Ibis expressions, so the
whole shipped library took 3.6 minutes there; each library measure is checked on Spark on its
own in tests/measures (test_core_library, test_measure_kinds).
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


#: The enhanced service's measures (list size, register, care plans, emergency admissions and
#: their change) and the adults the register is drawn from.
PAID_ON = {"list_size", "adults", "register", "care_plan", "emergency_admissions",
           "emergency_admissions_change"}  # fmt: skip


@pytest.fixture(scope="module")
def measures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import yaml

    from careis.measures.definitions import shipped_library

    library = yaml.safe_load((shipped_library() / "scheme.yaml").read_text("utf-8"))
    library["measures"] = [m for m in library["measures"] if m["id"] in PAID_ON]
    assert {m["id"] for m in library["measures"]} == PAID_ON
    path = tmp_path_factory.mktemp("spec-measures") / "paid_on.yaml"
    path.write_text(yaml.safe_dump(library, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def on_duckdb(
    data: Path, measures: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("spec-duckdb")
    engine = f"engine: {{backend: duckdb}}\nmeasures: {{files: [{measures}]}}"
    return outputs(run_on(folder, data, folder / "out", engine))


def test_the_run_writes_measures_and_statements(on_duckdb: dict[str, bytes]) -> None:
    assert any(name.endswith(".csv") for name in on_duckdb)
    assert len(on_duckdb) > 5


@pytest.mark.spark
def test_spark_run_matches_duckdb_byte_for_byte(
    data: Path, measures: Path, on_duckdb: dict[str, bytes], spark_session: object, tmp_path: Path
) -> None:
    # The run opens its own engine; with the test session active it joins that session
    # (and leaves it running) rather than starting a second JVM.
    engine = f"engine: {{backend: pyspark}}\nmeasures: {{files: [{measures}]}}"
    got = outputs(run_on(tmp_path, data, tmp_path / "out", engine))
    assert differences(on_duckdb, got) == []
