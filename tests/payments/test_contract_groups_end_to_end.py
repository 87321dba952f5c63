"""Issue 13, end to end: a contract's own groups and list date govern the whole run.

A commissioner splits four practices into two PCNs of its own (the data put them elsewhere)
and takes lists on 1 October. `careis pay` must roll the measures up over those PCNs, judge and
pay on them, show them in memberships.csv and statements.csv, and count lists on 1 October.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from careis.cli import main
from careis.synth import SynthConfig, generate

PRACTICES = ["P82001", "P82002", "P82003", "P82004"]
NORTH, SOUTH = ["P82001", "P82003"], ["P82002", "P82004"]

CONTRACT = """\
id: ES-PCN-2425
name: Admissions scheme judged on the commissioner's own PCNs
model: enhanced_service
commissioner: {code: 00T, name: Test sub-ICB}
term: {start: 2024-04-01, end: 2025-03-31}
list_size_date: 2024-10-01
components:
  - {id: engage, type: engagement, basis: per_registered_patient, rate: "1.00"}
  - id: admissions
    type: performance
    measure: emergency_admissions_change
    aggregate_level: pcn
    target_reduction_percent: 0
    practice_floor_reduction_percent: 0
    rate: "1.00"
groups:
  - {code: NORTH, level: pcn, practices: [P82001, P82003]}
  - {code: SOUTH, level: pcn, practices: [P82002, P82004]}
"""


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("groups-e2e")
    data = base / "data"
    generate(SynthConfig(practices=PRACTICES, scale=0.1, seed=5), data)
    (base / "contract.yaml").write_text(CONTRACT)
    cfg = base / "run.yaml"
    cfg.write_text(
        f"""name: Contract groups
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {base / "contract.yaml"}
output: {{dir: {base / "out"}, report: false}}
"""
    )
    with pytest.raises(SystemExit) as info:
        main(["pay", str(cfg)])
    assert info.value.code in (0, None)
    return base / "out", data


def test_memberships_and_statements_show_the_contracts_pcns(run: tuple[Path, Path]) -> None:
    out, data = run
    pcns = {r["practice_code"]: r["group_code"] for r in rows(out / "payments/memberships.csv")
            if r["level"] == "pcn"}  # fmt: skip
    assert pcns == dict.fromkeys(NORTH, "NORTH") | dict.fromkeys(SOUTH, "SOUTH")
    data_pcns = {r["practice_code"]: r["group_code"] for r in
                 pq.read_table(data / "memberships.parquet").to_pylist()
                 if r["group_type"] == "pcn"}  # fmt: skip
    assert data_pcns[NORTH[0]] != data_pcns[NORTH[1]]  # the contract regroups the data's PCNs
    judged = {(r["provider"], r["measure_org"]) for r in rows(out / "payments/statements.csv")
              if r["component_id"] == "admissions"}  # fmt: skip
    assert judged == {(p, "NORTH") for p in NORTH} | {(p, "SOUTH") for p in SOUTH}


def test_measures_are_rolled_up_over_the_contracts_pcns(run: tuple[Path, Path]) -> None:
    out, _ = run
    results = rows(out / "measures/results.csv")

    def num(level: str, org: str) -> float:
        (r,) = [
            r
            for r in results
            if (r["measure_id"], r["period"], r["level"], r["org_code"])
            == ("emergency_admissions", "performance", level, org)
        ]
        return float(r["numerator"])

    for pcn, members in (("NORTH", NORTH), ("SOUTH", SOUTH)):
        assert num("pcn", pcn) == sum(num("practice", p) for p in members)
        assert num("pcn", pcn) > 0


def test_per_patient_payments_use_the_list_on_1_october(run: tuple[Path, Path]) -> None:
    out, data = run
    day = dt.date(2024, 10, 1)
    regs = pq.read_table(data / "registrations.parquet").to_pylist()
    dead = {
        r["patient_id"]: r["death_date"]
        for r in pq.read_table(data / "patients.parquet").to_pylist()
    }

    def on(day: dt.date) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in regs:
            death = dead.get(r["patient_id"])
            if (
                r["start_date"] <= day
                and (r["end_date"] is None or r["end_date"] >= day)
                and (death is None or death >= day)
            ):
                counts[r["practice_code"]] = counts.get(r["practice_code"], 0) + 1
        return counts

    expected = on(day)
    assert expected != on(dt.date(2024, 4, 1))  # the test tells the two dates apart
    engage = {r["provider"]: int(r["quantity"]) for r in rows(out / "payments/statements.csv")
              if r["component_id"] == "engage"}  # fmt: skip
    assert engage == {p: expected[p] for p in PRACTICES}
