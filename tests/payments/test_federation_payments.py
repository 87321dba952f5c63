"""Payments on the hand-worked federation: target met, one practice below its floor.

The federation and its arithmetic are in tests/federation.py; its measure results are
evaluated once per test run (`federation_results`, tests/conftest.py) and each test pays a
contract from them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from careis.contracts.schema import load_contract
from careis.errors import ConfigError
from careis.measures.results import MeasureResults
from careis.payments.calculate import statements, totals_by_practice

CONTRACT = """\
id: T-1
name: Test scheme
model: enhanced_service
commissioner: {code: S1, name: Sub-ICB One}
term: {start: 2024-04-01, end: 2025-03-31}
components:
  - id: engagement
    type: engagement
    basis: per_registered_patient
    rate: "0.75"
  - id: care_plans
    type: concordance
    measure: care_plan
    rate: "45.00"
  - id: performance
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 15
    practice_floor_reduction_percent: {floor}
    rate: "2.00"
"""

MEMBERSHIP = {
    ("A00001", "federation"): "FED1",
    ("A00002", "federation"): "FED1",
    ("A00003", "federation"): "FED1",
}


def write_contract(tmp_path: Path, floor: str = "10") -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT.replace("{floor}", floor))
    return path


def test_target_met_but_one_practice_misses_its_floor(
    federation_results: MeasureResults, tmp_path: Path
) -> None:
    results = federation_results
    loaded = load_contract(write_contract(tmp_path))
    lines = statements(loaded, results, ["A00001", "A00002", "A00003"], MEMBERSHIP)
    by = {(line.provider, line.component_id): line for line in lines}
    # engagement: 10 patients x £0.75
    assert by[("A00001", "engagement")].amount == Decimal("7.50")
    # concordance: one register patient with a plan x £45 (none at A00003)
    assert by[("A00001", "care_plans")].amount == Decimal("45.00")
    assert by[("A00003", "care_plans")].amount == Decimal("0.00")
    # performance: federation -19.78% meets 15%; A00003 at -9.75% misses its 10% floor
    assert by[("A00001", "performance")].met == "yes"
    assert by[("A00001", "performance")].amount == Decimal("20.00")
    assert by[("A00003", "performance")].met == "no"
    assert by[("A00003", "performance")].amount == Decimal("0.00")
    assert "practice change -9.75% <= -10.00% [not met]" in by[("A00003", "performance")].test
    totals = totals_by_practice(lines)
    assert totals == {
        "A00001": Decimal("72.50"),
        "A00002": Decimal("72.50"),
        "A00003": Decimal("7.50"),
    }


def test_floor_exactly_at_the_practice_value_is_met(
    federation_results: MeasureResults, tmp_path: Path
) -> None:
    results = federation_results
    loaded = load_contract(write_contract(tmp_path, floor="9.75"))
    lines = statements(loaded, results, ["A00003"], MEMBERSHIP)
    perf = next(line for line in lines if line.component_id == "performance")
    assert perf.met == "yes" and perf.amount == Decimal("20.00")


def test_unknown_measure_is_named_with_its_line(
    federation_results: MeasureResults, tmp_path: Path
) -> None:
    results = federation_results
    path = tmp_path / "c.yaml"
    path.write_text(
        CONTRACT.replace("{floor}", "10").replace("measure: care_plan", "measure: care_plans_typo")
    )
    loaded = load_contract(path)
    with pytest.raises(ConfigError) as info:
        statements(loaded, results, ["A00001"], MEMBERSHIP)
    msg = str(info.value)
    assert msg.startswith(
        f"{path}, line 13: component 'care_plans' names an unknown measure 'care_plans_typo'."
    )
    assert "\n" not in msg
