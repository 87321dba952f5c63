"""Fixtures for the measures tests (the data are built in tests_measures_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_measures_data import CARE_PLAN, DM, EXCEPTION, HBA1C, build

from builders import Dataset


@pytest.fixture
def small() -> Dataset:
    return build()


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    folder = tmp_path / "codelists"
    folder.mkdir()
    (folder / "dm.csv").write_text(f"code,term\n{DM},Type 2 diabetes\n")
    (folder / "a1c.csv").write_text(f"code,term\n{HBA1C},HbA1c\n")
    (folder / "a1c_pca.csv").write_text(f"code,term\n{EXCEPTION},HbA1c not appropriate\n")
    (folder / "care_plan.csv").write_text(f"code,term\n{CARE_PLAN},Care plan\n")
    return folder
