"""Shared fixtures for the risk tests: one small synthetic area, loaded and trained once.

Six real Bolton practices at half their list size (about 7,000 patients, three financial
years): enough admissions to fit both model families, small enough to train in seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from careis.codelists import CodelistLibrary
from careis.data.load import load_dataset
from careis.engine import Engine
from careis.risk.training import TrainResult, train_and_validate
from careis.synth import SynthConfig, generate

PRACTICES = ["P82001", "P82002", "P82003", "P82004", "P82005", "P82007"]
TRAIN_INDEX = dt.date(2023, 4, 1)
VALIDATE_INDEX = dt.date(2024, 4, 1)


@pytest.fixture(scope="session")
def risk_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("risk-small")
    generate(SynthConfig(practices=PRACTICES, scale=0.5, seed=11), out)
    return out


@pytest.fixture(scope="session")
def risk_engine(risk_data: Path) -> Iterator[tuple[Engine, dict[str, Any]]]:
    engine = Engine.duckdb()
    loaded = load_dataset(engine, risk_data, extract_date=dt.date(2025, 6, 30))
    try:
        yield engine, loaded.tables
    finally:
        engine.close()


@pytest.fixture(scope="session")
def trained(risk_engine: tuple[Engine, dict[str, Any]]) -> TrainResult:
    engine, tables = risk_engine
    return train_and_validate(
        engine,
        tables,
        CodelistLibrary(),
        train_index=TRAIN_INDEX,
        validate_index=VALIDATE_INDEX,
        holdout_share=0.2,
        seed=5,
        data_label="risk-small",
    )
