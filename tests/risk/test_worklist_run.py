"""Worklists in a whole run (issue 19 item 4): written for every practice by the shipped rules
or the config's own file, and the rules file used is an input the manifest hashes, so
`careis pay diff` names it when it changes."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from careis.config import load_run_config
from careis.payments.diff import diff_runs
from careis.pipeline import run
from careis.risk.worklist import COLUMNS
from careis.risk.worklist_rules import shipped_rules
from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples"
RISK = "risk: {method: model, model_kind: logistic, refresh_months: 3}"
MINE = """rules:
  - id: frail_on_register
    reason: Frail and on the register
    flag: efi
    among: [register]
    priority: 1
    params: {categories: [mild, moderate, severe]}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("worklist-data")
    generate(SynthConfig(practices=["P82001", "P82002"], scale=0.1, seed=9), out)
    return out


def run_with(folder: Path, data: Path, out: Path, extra: str = RISK) -> Path:
    path = folder / f"{out.name}.yaml"
    path.write_text(
        f"""name: Worklist test
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {EXAMPLES / "contracts" / "enhanced_service.yaml"}
output: {{dir: {out}, report: false, documents: false}}
{extra}
""",
        encoding="utf-8",
    )
    run(load_run_config(path))
    return out


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def base(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("worklist-runs")
    return run_with(folder, data, folder / "base")


def _worklist_input(root: Path) -> dict[str, str]:
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return next(i for i in manifest["inputs"] if i["role"] == "worklist-rules")


def test_every_practice_gets_its_worklist_by_the_shipped_rules(base: Path) -> None:
    for code in ("P82001", "P82002"):
        rows = read(base / "practices" / code / "worklist.csv")
        assert rows and list(rows[0]) == COLUMNS
        rules = {r["Rule"] for r in rows}
        assert {"on_register", "frail", "new_to_register"} <= rules
        register = read(base / "practices" / code / "register.csv")
        assert [r["Patient (pseudonym)"] for r in rows if r["Rule"] == "on_register"] == [
            r["patient_id"] for r in register
        ]  # the register's order: highest risk first
        frail = {r["patient_id"] for r in read(base / "practices" / code / "frailty.csv")}
        assert {r["Patient (pseudonym)"] for r in rows if r["Rule"] == "frail"} == frail
        assert all(r["Chance of an emergency admission in the next 12 months"].endswith("%")
                   for r in rows)  # fmt: skip
    shipped = shipped_rules().read_bytes()
    assert _worklist_input(base)["sha256"] == hashlib.sha256(shipped).hexdigest()


def test_a_config_names_its_own_rules_and_the_manifest_hashes_them(
    base: Path, data: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "my_rules.yaml"
    rules.write_text(MINE, encoding="utf-8")
    out = run_with(tmp_path, data, tmp_path / "mine", RISK + "\nworklist: {rules: my_rules.yaml}")
    rows = [r for c in ("P82001", "P82002") for r in read(out / "practices" / c / "worklist.csv")]
    assert rows and {r["Rule"] for r in rows} == {"frail_on_register"}
    assert rows[0]["Why on the list"] == "Frail and on the register"
    register = {r["patient_id"]: r for c in ("P82001", "P82002")
                for r in read(base / "practices" / c / "register.csv")}  # fmt: skip
    assert {r["Patient (pseudonym)"] for r in rows} == {
        p for p, r in register.items() if r["efi_category"] != "fit" and int(r["age"]) >= 65
    }
    assert _worklist_input(out)["sha256"] == hashlib.sha256(MINE.encode()).hexdigest()
    changed = {(d.key, d.difference) for d in diff_runs(base, out) if d.table == "input"}
    assert changed == {("worklist-rules", "content changed"), ("settings", "content changed")}
    # the same file edited: a new hash, named by pay diff
    rules.write_text(MINE.replace("mild, ", ""), encoding="utf-8")
    again = run_with(
        tmp_path, data, tmp_path / "again", RISK + "\nworklist: {rules: my_rules.yaml}"
    )
    assert _worklist_input(again)["sha256"] != _worklist_input(out)["sha256"]
    assert [(d.key, d.difference) for d in diff_runs(out, again) if d.table == "input"] == [
        ("worklist-rules", "content changed")
    ]


def test_with_the_points_score_the_worklist_says_it_is_not_a_chance(
    data: Path, tmp_path: Path
) -> None:
    out = run_with(tmp_path, data, tmp_path / "points", "")
    rows = read(out / "practices" / "P82001" / "worklist.csv")
    on = [r for r in rows if r["Rule"] == "on_register"]
    assert on and on[0]["Chance of an emergency admission in the next 12 months"].startswith(
        "not estimated (points score "
    )
    assert on[0]["Detail"].startswith("Rank 1 on the register; main factors: ")
