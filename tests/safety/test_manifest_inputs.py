"""The manifest hashes every input that can change money, keyed by role and content.

Issue 15 item 5: editing the measures YAML or a user code list moved money while `careis pay
diff` named no changed input (neither was hashed), and identical data in another folder
showed as 14 differences (inputs were keyed by path). Each test runs the pipeline twice and
reads what `pay diff` says about the inputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from careis.config import load_run_config
from careis.measures.definitions import shipped_library
from careis.payments.diff import diff_runs
from careis.pipeline import run
from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manifest-data")
    generate(SynthConfig(practices=["P82001", "P82002"], scale=0.1, seed=9), out)
    return out


def run_with(folder: Path, data: Path, out: Path, extra: str = "") -> Path:
    path = folder / f"{out.name}.yaml"
    path.write_text(
        f"""name: Manifest test
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {EXAMPLES / "contracts" / "enhanced_service.yaml"}
output: {{dir: {out}, report: false}}
{extra}
""",
        encoding="utf-8",
    )
    run(load_run_config(path))
    return out


def inputs_changed(a: Path, b: Path) -> set[tuple[str, str]]:
    return {(d.key, d.difference) for d in diff_runs(a, b) if d.table == "input"}


@pytest.fixture(scope="module")
def base(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("manifest-runs")
    return run_with(folder, data, folder / "base")


def test_the_same_data_in_another_folder_is_the_same_input(
    base: Path, data: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(data, copy)
    assert inputs_changed(base, run_with(tmp_path, copy, tmp_path / "moved")) == set()


def test_an_edited_measure_file_is_named(base: Path, data: Path, tmp_path: Path) -> None:
    edited = tmp_path / "measures.yaml"
    text = (shipped_library() / "scheme.yaml").read_text(encoding="utf-8")
    edited.write_text(text + "\n# a comment is still a change of input\n", encoding="utf-8")
    out = run_with(tmp_path, data, tmp_path / "m", f"measures: {{files: [{edited}]}}")
    # the measure files are a setting too: all three are named
    assert inputs_changed(base, out) == {
        ("measures:measures.yaml", "added"),
        ("measures:scheme.yaml", "removed"),
        ("settings", "content changed"),
    }


def test_an_edited_user_code_list_is_named(base: Path, data: Path, tmp_path: Path) -> None:
    lists = tmp_path / "codelists"
    lists.mkdir()
    # the user's care_plan list keeps only the first code of the shipped one
    (lists / "care_plan.csv").write_text("code,term\n734163000,Care plan\n", encoding="utf-8")
    out = run_with(tmp_path, data, tmp_path / "c", f"codelists: {{path: {lists}}}")
    # the code list folder is a setting too: both are named
    assert inputs_changed(base, out) == {
        ("codelist:care_plan", "content changed"),
        ("settings", "content changed"),
    }
