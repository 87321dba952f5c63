"""Fixtures for the commissioning workbench tests (the data lives in commissioning_fixtures)."""

from commissioning_fixtures import locality, write

__all__ = ["locality", "write"]
