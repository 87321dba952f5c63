"""Golden files of the demo's money: the statements, ledger and summary it pays, and the
measures it publishes, byte for byte.

Why: the other payment tests check that the money balances and follows each rule, but a
change that moved every practice's amount by the same small sum (a rounding step, a list-size
date, a changed default) would still balance. These files pin the figures themselves.

A difference fails with the diff. If the change is intended, rewrite the files with
`make golden` (or `pytest tests/golden --update-golden`) and commit their diff together with
the change that causes it; see tests/golden/README.md.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "demo"
FILES = [
    "payments/statements.csv",
    "payments/ledger.csv",
    "payments/summary.csv",
    "measures/published.csv",
]
# the demo run is the `demo_run` fixture (tests/conftest.py), shared with test_pay_from_run.py
# and tests/report/test_workbook.py
SHOWN = 60  # diff lines printed on failure


def readable_diff(golden: bytes, new: bytes, name: str) -> str:
    """The first SHOWN lines of a unified diff, with a count of the lines that differ."""
    diff = list(
        difflib.unified_diff(
            golden.decode("utf-8").splitlines(),
            new.decode("utf-8").splitlines(),
            fromfile=f"tests/golden/demo/{name} (golden)",
            tofile=f"{name} (this run)",
            lineterm="",
            n=0,
        )
    )
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    if not diff:  # same text, different bytes: line endings or a final newline
        return "the lines are equal but the bytes are not (line endings or a final newline?)"
    more = f"\n... {len(diff) - SHOWN} more diff lines" if len(diff) > SHOWN else ""
    return f"{changed} lines differ:\n" + "\n".join(diff[:SHOWN]) + more


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_demo_output_equals_its_golden_file(
    name: str, demo_run: Path, request: pytest.FixtureRequest
) -> None:
    new = (demo_run / name).read_bytes()
    golden = GOLDEN / name
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(new)
        return
    old = golden.read_bytes()
    if new != old:
        pytest.fail(
            f"the demo's {name} differs from tests/golden/demo/{name}. If the change is meant, "
            "run `make golden` and commit the diff with the change that causes it.\n"
            + readable_diff(old, new, name),
            pytrace=False,
        )
