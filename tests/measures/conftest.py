"""Fixtures for the measures tests (the data are built in tests_measures_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_measures_data import build, write_lists

from builders import Dataset


@pytest.fixture
def small() -> Dataset:
    return build()


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    return write_lists(tmp_path / "codelists")
