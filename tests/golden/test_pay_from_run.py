"""`careis pay --run DIR --contract FILE` gives exactly the statements the full run gives.

Issue 13 ("pay from results, without recomputing"): paying the demo's own contract from the
demo run's measures/results.csv and payments/memberships.csv must write byte-identical
statements, ledger and summaries to the full run's, and to the golden files; and it must not
re-run validation, risk or measures (it finishes in a few seconds; the full demo takes ~45 s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from careis.cli import main
from careis.payments.diff import diff_runs

CONTRACT = Path(__file__).parents[2] / "src" / "careis" / "examples" / "contracts"
GOLDEN = Path(__file__).parent / "demo"
SAME = [
    "payments/statements.csv",
    "payments/ledger.csv",
    "payments/summary.csv",
    "payments/ledger_summary.csv",
    "payments/memberships.csv",
]


def careis(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


@pytest.fixture(scope="module")
def repaid(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("repay") / "out"
    start = time.perf_counter()
    code = careis(
        "pay", "--run", str(demo_run), "--contract", str(CONTRACT / "enhanced_service.yaml"),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0
    return out, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("name", SAME)
def test_pay_from_run_equals_the_full_run(
    name: str, demo_run: Path, repaid: tuple[Path, float]
) -> None:
    out, _ = repaid
    assert (out / name).read_bytes() == (demo_run / name).read_bytes()
    if (GOLDEN / name).exists():
        assert (out / name).read_bytes() == (GOLDEN / name).read_bytes()


@pytest.mark.slow
def test_every_practice_statement_is_the_full_runs(
    demo_run: Path, repaid: tuple[Path, float]
) -> None:
    out, _ = repaid
    full = sorted(p.relative_to(demo_run) for p in demo_run.glob("*/*/statement.csv"))
    again = sorted(p.relative_to(out) for p in out.glob("*/*/statement.csv"))
    assert full and full == again
    for rel in full:
        assert (out / rel).read_bytes() == (demo_run / rel).read_bytes(), rel


@pytest.mark.slow
def test_pay_from_run_is_quick_and_recorded(repaid: tuple[Path, float], demo_run: Path) -> None:
    out, seconds = repaid
    assert seconds < 20, f"pay --run took {seconds:.1f} s"  # the full demo run takes ~45 s
    manifest = json.loads((out / "manifest.json").read_text())
    roles = {entry["role"] for entry in manifest["inputs"]}
    assert {"run-results", "run-memberships", "contract"} <= roles
    assert not (out / "measures").exists() and not (out / "risk").exists()
    # `careis pay diff` on the two folders: no money moves (only the inputs' roles differ)
    money = [d for d in diff_runs(demo_run, out) if d.table != "input"]
    assert money == []


@pytest.mark.slow
def test_another_list_size_date_is_refused_in_one_line(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # memberships.csv holds the groups on 1 April; an October list-size date needs a full run
    text = (CONTRACT / "enhanced_service.yaml").read_text()
    other = tmp_path / "october.yaml"
    other.write_text(text.replace("list_size_date: 2024-04-01", "list_size_date: 2024-10-01"))
    assert careis("pay", "--run", str(demo_run), "--contract", str(other)) != 0
    said = capsys.readouterr()
    text_out = said.out + said.err
    assert "Traceback" not in text_out and "2024-10-01" in text_out
    assert not (tmp_path / "out").exists()
