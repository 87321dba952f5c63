"""End to end: a practice with no PCN or federation in the data, under a federation target.

NHS Digital's reference data has practices in no PCN ("U", unallocated), so in no federation;
`careis generate --england` produces them. Here four synthetic practices, one of whose PCN and
federation memberships are removed: `careis pay` must write its performance line as not
assessable (never "not met", £0), say so once after the run, in the report's summary and on
the practice's statement, and not count its block as a federation that missed the target.
"""

from __future__ import annotations

import csv
import io
from contextlib import redirect_stdout
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from careis.cli import main
from careis.synth import SynthConfig, generate

pytestmark = pytest.mark.slow

PRACTICES = ["P82001", "P82002", "P82003", "P82004"]
ALONE = "P82004"

CONTRACT = """\
id: ES-FED-2425
name: Federation target with a practice floor
model: enhanced_service
commissioner: {code: 00T, name: Test sub-ICB}
term: {start: 2024-04-01, end: 2025-03-31}
components:
  - {id: engage, type: engagement, basis: per_registered_patient, rate: "1.00"}
  - id: admissions
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 0
    practice_floor_reduction_percent: 0
    rate: "1.00"
"""
WHY = (
    f"not assessable: practice {ALONE} is in no federation; this component is judged at "
    "federation level"
)
NOTE = (
    f"1 practice is in no federation, so its 'admissions' line is not assessable (paid "
    f"nothing, not counted as missing the target): {ALONE}"
)


def _in_no_pcn(data: Path, practice: str) -> None:
    """Remove the practice's PCN and federation memberships, as for an unallocated practice."""
    path = data / "memberships.parquet"
    table = pq.read_table(path)
    grouped = pc.and_(
        pc.equal(table["practice_code"], practice),
        pc.is_in(table["group_type"], value_set=pa.array(["pcn", "federation"])),
    )
    pq.write_table(table.filter(pc.invert(grouped)), path)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("not-assessable-e2e")
    data = base / "data"
    generate(SynthConfig(practices=PRACTICES, scale=0.1, seed=5), data)
    _in_no_pcn(data, ALONE)
    (base / "contract.yaml").write_text(CONTRACT)
    cfg = base / "run.yaml"
    cfg.write_text(
        f"""name: A practice in no federation
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {base / "contract.yaml"}
output: {{dir: {base / "out"}, report: true}}
"""
    )
    printed = io.StringIO()  # the CLI's console writes to sys.stdout as it is at the time
    with redirect_stdout(printed), pytest.raises(SystemExit) as info:
        main(["pay", str(cfg)])
    assert info.value.code in (0, None)
    return base / "out", printed.getvalue()


def _lines(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (out / "payments/statements.csv").open(encoding="utf-8", newline="") as handle:
        return {(r["provider"], r["component_id"]): r for r in csv.DictReader(handle)}


def test_the_practice_in_no_federation_is_not_assessable(run: tuple[Path, str]) -> None:
    out, _ = run
    lines = _lines(out)
    line = lines[(ALONE, "admissions")]
    assert (line["met"], line["test"], line["amount"]) == ("not_assessable", WHY, "0.00")
    assert line["federation"] == "" and line["measure_org"] == ""
    assert lines[(ALONE, "engage")]["amount"] != "0.00"  # its other lines are paid as ever
    assert {lines[(p, "admissions")]["met"] for p in PRACTICES if p != ALONE} <= {"yes", "no"}


def test_the_run_the_report_and_the_statement_say_so(run: tuple[Path, str]) -> None:
    out, printed = run
    assert f"Not assessable: {NOTE}." in " ".join(printed.split())
    report = (out / "report.html").read_text("utf-8")
    assert f"<strong>Not assessable:</strong> {NOTE.replace(chr(39), '&#39;')}." in report
    assert "1 not assessable" in report  # the performance payment's reasons
    assert '<span class="status na">– Not assessable</span>' in report
    assert "1 of 1 federation met" in report  # the no-federation block is not a federation
    statement = (out / "practices" / ALONE / "statement.html").read_text("utf-8")
    assert WHY in statement and "Not assessable" in statement and "Not met" not in statement
