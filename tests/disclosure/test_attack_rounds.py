"""Protection redoes only the parts of the table that changed, and hides the same cells as
when every round redid everything.

Why: at national scale (6,410 practices, ~460,000 sums) each round of the interval attack
took 30-45 s and protection takes a dozen rounds or more, so the attack now narrows again
only the components (cells linked by sums) in which a cell was hidden since its last round
(careis.measures.suppression._Attacks). What is published must not depend on that.
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
    """The same hierarchy under other codes: a second ICB, a second component of the sums."""
    rows, groups = case
    renamed = [{**r, "org_code": prefix + str(r["org_code"])} for r in rows]
    return renamed, {(prefix + p, level): prefix + g for (p, level), g in groups.items()}


def _publish(rows: list[dict[str, Any]], groups: dict[tuple[str, str], str]) -> list[Any]:
    table = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    return suppress_results(table, CAT, SuppressionConfig(), groups).to_pylist()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases=st.lists(hierarchies(), min_size=1, max_size=3))
def test_redoing_only_what_changed_hides_what_redoing_all_hides(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], str] = {}
    for n, case in enumerate(cases):
        more_rows, more_groups = _renamed(case, f"X{n}")
        rows += more_rows
        groups |= more_groups
    incremental = _publish(rows, groups)
    attack = suppression._attack

    def from_scratch(plan: Any) -> bool:
        plan.attacks = None  # forget the components: every round narrows everything again
        return attack(plan)

    with monkeypatch.context() as patched:
        patched.setattr(suppression, "_attack", from_scratch)
        full = _publish(rows, groups)
    assert incremental == full
