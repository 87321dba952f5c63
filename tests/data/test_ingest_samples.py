"""`careis ingest` on every shared sample: hand-checked figures and exact reconciliation.

The figures are those of the samples' own documentation (shared/data/README.md and each
SOURCE.txt) and of issue 16: OMOP Synthea27Nj has 28 persons, 13 inpatient (9201) and 56 ER
(9203) visits; the Synthea FHIR bulk export has 13 Patients (3 deceased), 49 IMP and 23 EMER
Encounters; the Synthea CSV sample has 27 patients (2 with a DEATHDATE) and 604 encounters (11
inpatient, 17 emergency, 2 urgent care). Reconciliation is checked against an independent
count of the records in each source file (csv / json modules), not against the ledger itself.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from ingest_support import (
    HES_AE,
    HES_APC,
    KEY,
    SAMPLES,
    counts,
    ingest,
    report_csv,
    rows,
    set_aside,
    write,
)

from careis.data.sources.ingest import IngestRun

pytestmark = pytest.mark.skipif(not SAMPLES["omop"].exists(), reason="shared samples absent")


def _records(path: Path) -> int:
    """Records in a source file, counted without careis: CSV rows, or non-blank NDJSON lines."""
    if path.suffix == ".ndjson":
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[IngestRun, Path]]:
    base = tmp_path_factory.mktemp("ingest")
    runs = {
        "omop": ingest("omop"),
        "fhir": ingest("fhir", options=KEY),
        "synthea": ingest("synthea"),
        "hes": ingest("hes", apc=HES_APC, ae=HES_AE),
    }
    out = {}
    for fmt, run in runs.items():
        write(run, base / fmt)
        out[fmt] = (run, base / fmt)
    return out


def test_omop_synthea27nj_figures(outputs: dict[str, tuple[IngestRun, Path]]) -> None:
    run, out = outputs["omop"]
    assert rows(out, "patients") == 28
    assert rows(out, "admissions") == 13  # visit_concept_id 9201
    assert rows(out, "ae_attendances") == 56  # 9203
    assert rows(out, "patients", "death_date IS NOT NULL") == 3  # DEATH.csv
    assert counts(run)[("VISIT_OCCURRENCE.csv", "visit_occurrence")] == (1791, 69, 1722)


def test_fhir_synthea_bulk_figures(outputs: dict[str, tuple[IngestRun, Path]]) -> None:
    run, out = outputs["fhir"]
    assert rows(out, "patients") == 13
    assert rows(out, "patients", "death_date IS NOT NULL") == 3
    assert rows(out, "admissions") == 49  # Encounter.class IMP
    assert rows(out, "ae_attendances") == 23  # EMER
    assert counts(run)[("Encounter.000.ndjson", "Encounter")][0] == 1215


def test_synthea_csv_figures(outputs: dict[str, tuple[IngestRun, Path]]) -> None:
    run, out = outputs["synthea"]
    assert rows(out, "patients") == 27
    assert rows(out, "patients", "death_date IS NOT NULL") == 2
    assert counts(run)[("encounters.csv", "encounter")][0] == 604
    assert rows(out, "admissions") == 11  # ENCOUNTERCLASS inpatient
    assert rows(out, "ae_attendances") == 19  # 17 emergency + 2 urgentcare
    assert rows(out, "ae_attendances", "department_type = '3'") == 2  # urgent care: type 3
    # Synthea has no admission method: none is invented as elective, none as a number.
    assert rows(out, "admissions", "admission_method NOT IN ('21', '99')") == 0


def test_hes_artificial_figures(outputs: dict[str, tuple[IngestRun, Path]]) -> None:
    run, out = outputs["hes"]
    got = counts(run)
    assert got[(HES_APC.name, "episode")] == (2075, 2074, 1)  # SOURCE.txt: 1 sentinel ADMIDATE
    assert got[(HES_AE.name, "attendance")][0] == 1000
    line = next(r for r in set_aside(out) if r["source_file"] == HES_APC.name)
    assert (line["line"], line["reason"].split(",")[0]) == ("1943", "ADMIDATE is 1801-01-01")
    # ADMIMETH is text: the sample's own tallies (SOURCE.txt) survive spell building, since
    # the artificial episodes never share patient, date and provider.
    assert rows(out, "admissions", "admission_method = '13'") == 277
    assert rows(out, "admissions", "admission_method = '21'") == 431


@pytest.mark.parametrize("fmt", ["omop", "fhir", "synthea", "hes"])
def test_reconciles_exactly_per_source_file(
    outputs: dict[str, tuple[IngestRun, Path]], fmt: str
) -> None:
    """read = mapped + set aside per file and record type, read = the file's own records,
    and the report CSV and set_aside.csv say the same."""
    run, out = outputs[fmt]
    source = SAMPLES[fmt]
    per_file: Counter[str] = Counter()
    for c in run.counts:
        assert c.read == c.mapped + c.set_aside, c
        per_file[c.file] += c.read
    for file, read in per_file.items():
        assert read == _records(source / file), file
    report = report_csv(out)
    for c in run.counts:
        lines = [
            r for r in report if (r["source_file"], r["record_type"]) == (c.file, c.record_type)
        ]
        assert {(r["read"], r["mapped"], r["set_aside"]) for r in lines} == {
            (str(c.read), str(c.mapped), str(c.set_aside))
        }
        assert sum(int(r["count"]) for r in lines) == c.set_aside
    kept = Counter((r["source_file"], r["record_type"]) for r in set_aside(out))
    assert kept == Counter(
        {(c.file, c.record_type): c.set_aside for c in run.counts if c.set_aside}
    )
    page = (out / "_ingest" / "report.html").read_text(encoding="utf-8")
    assert "<strong>reconciles</strong>" in page
    assert "very little data" in page  # said plainly: a run will suppress most figures


def test_every_source_file_is_accounted_for(outputs: dict[str, tuple[IngestRun, Path]]) -> None:
    """No file of the Synthea export or the FHIR export is skipped without a line."""
    for fmt, pattern in (("synthea", "*.csv"), ("fhir", "*.ndjson")):
        run, _ = outputs[fmt]
        files = {c.file for c in run.counts}
        assert files == {p.name for p in SAMPLES[fmt].glob(pattern)}, fmt
