"""Contract YAML validation: bad contracts are refused with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.contracts.schema import load_contract
from careis.errors import ConfigError

GOOD = """\
id: T-1
name: Test scheme
model: enhanced_service
commissioner: {code: S1}
term: {start: 2024-04-01, end: 2025-03-31}
components:
  - id: engagement
    type: engagement
    basis: per_registered_patient
    rate: 0.75
  - id: perf
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 20
    practice_floor_reduction_percent: 10
    rate: "1.00"
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    return load_contract(path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_the_example_contracts_load() -> None:
    folder = Path(__file__).parents[2] / "examples" / "contracts"
    for path in sorted(folder.glob("*.yaml")):
        load_contract(path)


def test_good_contract_and_money_is_decimal(tmp_path: Path) -> None:
    loaded = load(tmp_path, GOOD)
    rate = loaded.contract.components[0].rate  # type: ignore[attr-defined]
    assert str(rate) == "0.75"


def test_typo_in_a_field(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        GOOD.replace("    basis: per_registered_patient", "    basys: per_registered_patient"),
    )
    assert "line 9: unknown field 'basys'. Fix: did you mean 'basis'?" in msg


def test_negative_rate(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD.replace("rate: 0.75", "rate: -0.75"))
    assert "line 10: field 'components[0].rate': Input should be greater than or equal to 0" in msg


def test_floor_above_target(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        GOOD.replace(
            "practice_floor_reduction_percent: 10", "practice_floor_reduction_percent: 25"
        ),
    )
    assert "line 11" in msg and "must not exceed target_reduction_percent" in msg


def test_unknown_component_type(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD.replace("type: engagement", "type: bonus"))
    assert "line 8" in msg and "components[0].type" in msg and "bonus" in msg


def test_duplicate_component_ids(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD.replace("id: perf", "id: engagement"))
    assert "component id 'engagement' is used twice" in msg


def test_term_end_before_start(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD.replace("end: 2025-03-31", "end: 2024-03-31"))
    assert "line 5" in msg and "before its start" in msg
