"""No run writes outside its output folder (issue 15 item 2), checked on the filesystem.

The whole tree the run can reach (its working folder, the data, the config, the output's
parent) is listed before and after a run; the only new or changed files must be under the
output folder. A contract whose provider or practice codes try to climb out of it
(`../../x`, an absolute path, a slash) is refused in one line and writes nothing anywhere.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples"

pytestmark = pytest.mark.slow


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    generate(SynthConfig(practices=["P82001", "P82002"], scale=0.1, seed=7), root / "data")
    return root


def run(world: Path, contract: Path, out: str) -> subprocess.CompletedProcess[str]:
    config = world / "run.yaml"
    config.write_text(
        f"""name: Writes stay inside
data: {{path: data, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {contract}
output: {{dir: {out}}}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "HOME": str(world / "home")}  # a cache written to HOME would show
    return subprocess.run(
        [sys.executable, "-m", "careis.cli", "run", str(config)],
        cwd=world, capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip


def test_a_run_writes_only_inside_its_output_folder(world: Path) -> None:
    before = snapshot(world)
    done = run(world, EXAMPLES / "contracts" / "prime_contractor.yaml", "runs/a")
    assert done.returncode == 0, done.stderr
    after = snapshot(world)
    changed = {k for k in after if before.get(k) != after[k]} | (before.keys() - after.keys())
    outside = sorted(k for k in changed if not k.startswith("runs/a/") and k != "run.yaml")
    assert outside == [], outside
    assert any(k.startswith("runs/a/payments/providers/") for k in changed), "holder statements"


@pytest.mark.parametrize("code", ["../../escaped", "/tmp/escaped", "a/b", ".."])
def test_a_code_that_climbs_out_is_refused_and_writes_nothing(world: Path, code: str) -> None:
    text = (EXAMPLES / "contracts" / "prime_contractor.yaml").read_text("utf-8")
    assert "{code: BOLFED," in text  # the holder, whose statement goes to payments/providers/
    contract = world / "bad_contract.yaml"
    contract.write_text(text.replace("{code: BOLFED,", f"{{code: '{code}',"), encoding="utf-8")
    before = snapshot(world)
    done = run(world, contract, "runs/b")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "code" in done.stderr and "bad_contract.yaml" in done.stderr, done.stderr
    assert not (world / "runs" / "b").exists()
    after = snapshot(world)
    assert {k for k in after if before.get(k) != after[k]} <= {"run.yaml"}
    assert not Path("/tmp/escaped").exists()
