"""Fixtures for the loading tests (helpers live in careis_testdata.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from careis_testdata import Rows, base_tables, write_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Callable[..., Path]:
    """Build a dataset folder from the base tables plus changes.

    `dataset(add={"patients": [row]}, replace={...}, fmt="csv")`: rows in `add` are appended
    (missing columns empty), tables in `replace` are swapped whole.
    """
    counter = iter(range(1000))

    def build(
        add: Mapping[str, Rows] | None = None,
        replace: Mapping[str, Rows] | None = None,
        fmt: str = "csv",
        headers: Mapping[str, Sequence[str]] | None = None,
    ) -> Path:
        tables = base_tables()
        for name, rows in (replace or {}).items():
            tables[name] = list(rows)
        for name, rows in (add or {}).items():
            tables[name] = tables[name] + list(rows)
        return write_dataset(tmp_path / f"ds{next(counter)}", tables, fmt, headers)

    return build
