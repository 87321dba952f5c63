"""A code that could leave the run folder is refused where it is read (issue 15 item 2).

Organisation and group codes become folder names (`practices/<code>/`) and CSV keys. The
writer already refuses unsafe ones (careis.layout.safe_segment); these tests check the readers
refuse them first, naming the file and line, so a hostile contract or data file stops the run
before any work is done, and a bad row goes to the quarantine rather than ending the load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.contracts.schema import load_contract
from careis.data.load import load_dataset
from careis.engine import Engine
from careis.errors import ConfigError
from careis_testdata import EXTRACT, base_tables, write_dataset

CONTRACT = """\
id: CP-1
name: Care planning scheme
model: enhanced_service
commissioner: {{code: "{commissioner}", name: Sub-ICB}}
term: {{start: 2025-04-01, end: 2026-03-31}}
components:
  - id: plans
    type: concordance
    measure: care_plan
    rate: "40.00"
groups:
  - {{code: "{group}", level: pcn, practices: ["{practice}"]}}
"""

UNSAFE = ["../x", "..", "P82001/../../etc", "a b", "/abs", "P8\\2001", ""]


def _contract(tmp_path: Path, **codes: str) -> Path:
    values = {"commissioner": "00T", "group": "PCN1", "practice": "P82001", **codes}
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT.format(**values), encoding="utf-8")
    return path


def test_safe_codes_load(tmp_path: Path) -> None:
    loaded = load_contract(_contract(tmp_path))
    assert loaded.contract.groups[0].practices == ["P82001"]


@pytest.mark.parametrize("field", ["commissioner", "group", "practice"])
@pytest.mark.parametrize("code", UNSAFE)
def test_unsafe_codes_in_a_contract_are_refused_with_the_line(
    tmp_path: Path, field: str, code: str
) -> None:
    path = _contract(tmp_path, **{field: code})
    with pytest.raises(ConfigError) as err:
        load_contract(path)
    message = str(err.value)
    line = 4 if field == "commissioner" else 12
    assert message.startswith(f"{path}, line {line}")
    assert "\n" not in message


def test_unsafe_org_and_group_codes_in_data_are_quarantined(tmp_path: Path) -> None:
    tables = base_tables()
    tables["organisations"].append({"org_code": "../../x", "org_type": "pcn", "name": "Bad"})
    tables["memberships"].append(
        {"practice_code": "A81002", "group_type": "federation", "group_code": "../x",
         "valid_from": "2019-07-01", "valid_to": ""}
    )  # fmt: skip
    folder = write_dataset(tmp_path / "d", tables, "csv")
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        orgs = result.quarantine["organisations"].to_pyarrow().to_pylist()
        members = result.quarantine["memberships"].to_pyarrow().to_pylist()
    assert [r["org_code"] for r in orgs] == ["../../x"]
    assert "org_code" in orgs[0]["_reason"]
    assert [r["group_code"] for r in members] == ["../x"]
