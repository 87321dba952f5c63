"""Permuting the rows of every input table changes no output (issue 13, metamorphic test).

A whole `careis run` on a small synthetic area, then again on the same tables with their rows
shuffled (two seeds): every statement, ledger, measure, register and summary must be the same
bytes. Only what records the input itself may differ: the manifest and the statements' run
reference (they hash the input files, whose bytes changed), timings, and the quarantined rows'
file row numbers (`quarantine/*.parquet` name the row of the file they came from; the
quarantine summary, which counts them by reason, is compared).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from careis.synth import SynthConfig, generate

from .spec_run import differences, outputs, run_on

pytestmark = pytest.mark.slow


def shuffled(data: Path, out: Path, seed: int) -> Path:
    import numpy as np

    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for table in sorted(data.glob("*.parquet")):
        rows = pq.read_table(table)
        pq.write_table(rows.take(rng.permutation(rows.num_rows)), out / table.name)
    for other in data.iterdir():
        if other.is_file() and other.suffix != ".parquet":
            (out / other.name).write_bytes(other.read_bytes())
    return out


def comparable(folder: Path) -> dict[str, bytes]:
    return {
        k: v
        for k, v in outputs(folder).items()
        if not (k.startswith("quarantine/") and k.endswith(".parquet"))
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("order") / "data"
    generate(SynthConfig(practices=["P82001", "P82002"], scale=0.05, seed=11), out)
    return out


@pytest.fixture(scope="module")
def original(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("order-a")
    return comparable(run_on(folder, data, folder / "out", "engine: {}"))


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_rows_give_the_same_outputs(
    data: Path, original: dict[str, bytes], tmp_path: Path, seed: int
) -> None:
    again = shuffled(data, tmp_path / "data", seed)
    got = comparable(run_on(tmp_path, again, tmp_path / "out", "engine: {}"))
    assert len(original) >= 15 and "payments/statements.csv" in original
    assert differences(original, got) == []
