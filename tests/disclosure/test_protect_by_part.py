"""Protecting each independent part of a table on its own hides exactly what protecting the
whole table at once hides.

Why: careis protects each part (cells tied together by a sum or an equal-value link; in
practice one ICB) on its own, so that England's 42 ICBs do not each pay for every round of
the slowest (careis.measures.suppression.protect). What is published must not depend on it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careis.config import SuppressionConfig
from careis.measures import suppression
from careis.measures.results import RESULT_SCHEMA
from careis.measures.suppression import suppress_results

from .test_attacker import CAT, hierarchies

Case = tuple[list[dict[str, Any]], dict[tuple[str, str], str]]


def _renamed(case: Case, prefix: str) -> Case:
    """The same kind of hierarchy under other codes: another ICB, another part of the sums."""
    rows, groups = case
    renamed = [{**r, "org_code": prefix + str(r["org_code"])} for r in rows]
    return renamed, {(prefix + p, level): prefix + g for (p, level), g in groups.items()}


def _publish(rows: list[dict[str, Any]], groups: dict[tuple[str, str], str]) -> list[Any]:
    table = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    return suppress_results(table, CAT, SuppressionConfig(), groups).to_pylist()


def _whole_table(plan: Any) -> None:
    """protect() as it was: every round over the whole table."""
    suppression._protect(plan)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases=st.lists(hierarchies(), min_size=1, max_size=3))
def test_parts_protected_alone_hide_what_the_whole_table_hides(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], str] = {}
    for n, case in enumerate(cases):
        more_rows, more_groups = _renamed(case, f"X{n}")
        rows += more_rows
        groups |= more_groups
    by_part = _publish(rows, groups)
    with monkeypatch.context() as patched:
        patched.setattr(suppression, "protect", _whole_table)
        whole = _publish(rows, groups)
    assert by_part == whole
