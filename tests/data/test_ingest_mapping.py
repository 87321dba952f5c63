"""Mappings are data: `careis ingest ... --mapping FILE` overrides a shipped mapping row, adds
new ones, and the report and mappings_used.csv cite the file. A bad mapping file is one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from ingest_support import SAMPLES, counts, ingest, rows, write_csv

from careis.cli import main
from careis.data.sources.ingest import IngestOptions, materialise
from careis.data.sources.mapping import default_file
from careis.errors import DataError

pytestmark = pytest.mark.skipif(not SAMPLES["synthea"].exists(), reason="shared samples absent")
HEAD = ["mapping", "source_value", "target", "note"]


def test_mapping_override_changes_the_result_and_is_cited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Synthea's 52 'outpatient' encounters are unmapped by default; a user's mapping file
    sends them to A&E (as urgent care, type 3) and the A&E count rises by exactly 52."""
    mapping = write_csv(tmp_path / "mine.csv", HEAD, [
        ["encounter_class", "outpatient", "ae", "local decision: count as A&E"],
        ["department_type", "outpatient", "3", "type 3"],
    ])  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["ingest", "synthea", str(SAMPLES["synthea"]), "--out", str(out),
              "--mapping", str(mapping)])  # fmt: skip
    assert info.value.code in (0, None), capsys.readouterr().err
    assert rows(out, "ae_attendances") == 19 + 52
    assert rows(out, "ae_attendances", "department_type = '3'") == 2 + 52
    with (out / "_ingest" / "mappings_used.csv").open(encoding="utf-8") as handle:
        used = {(r["mapping"], r["source_value"]): r for r in csv.DictReader(handle)}
    assert used[("encounter_class", "outpatient")]["origin"] == str(mapping)
    assert used[("encounter_class", "inpatient")]["origin"] == "default"
    assert str(mapping) in (out / "_ingest" / "report.html").read_text(encoding="utf-8")


def test_override_replaces_a_default_row(tmp_path: Path) -> None:
    """Replacing the `after_ae` rule's target: Synthea admissions after A&E become 24."""
    base = ingest("synthea")
    materialise(base, "admissions")
    before = base.con.execute("SELECT count(*) FILTER (admission_method = '21') "
                              "FROM out_admissions").fetchone()  # fmt: skip
    mapping = write_csv(tmp_path / "m.csv", HEAD[:3], [["admission_method", "after_ae", "24"]])
    run = ingest("synthea", options=IngestOptions(mapping=[mapping]))
    materialise(run, "admissions")
    after = run.con.execute("SELECT count(*) FILTER (admission_method = '24'), count(*) FILTER "
                            "(admission_method = '21') FROM out_admissions").fetchone()  # fmt: skip
    assert before and after and before[0] > 0
    assert after == (before[0], 0)
    assert counts(run) == counts(base)  # the ledger does not depend on the method


def test_default_mapping_file_is_complete_csv() -> None:
    with default_file().open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert {r["mapping"] for r in table} >= {"sex", "code_system", "encounter_class",
                                             "department_type", "admission_method"}  # fmt: skip
    assert all(r["note"] for r in table)  # every row says where it comes from


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("mapping,source_value,target\nsx,male,M\n", "line 2: unknown mapping 'sx'"),
        ("mapping,value,target\n", "lacks column source_value"),
    ],
)
def test_bad_mapping_file_is_one_line(tmp_path: Path, body: str, expect: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        ingest("synthea", options=IngestOptions(mapping=[path]))
    assert expect in str(err.value) and "Fix:" in str(err.value) and "bad.csv" in str(err.value)
