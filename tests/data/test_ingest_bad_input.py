"""`careis ingest` on bad input: one line naming file, line or resource and the fix; nothing lost.

A whole-file problem (missing required column, wrong CDM version, not UTF-8, empty folder)
stops the ingest with one DataError line and exit status 2; a bad record (line that is not
JSON, unknown resource type, Bundle inside NDJSON, HES sentinel date) is set aside with its
file, line and reason while the rest loads, and read = mapped + set aside still holds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from ingest_support import SAMPLES, counts, set_aside, write_csv, write_ndjson

from careis.cli import main
from careis.data.sources import fhir, hes, omop, synthea
from careis.data.sources.ingest import write
from careis.errors import DataError

PATIENTS = ["Id", "BIRTHDATE", "DEATHDATE", "GENDER"]
ENCOUNTERS = ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "ENCOUNTERCLASS"]


def _synthea(folder: Path, patients: list[str] = PATIENTS, extra: list[str] | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    row = {"Id": "p1", "BIRTHDATE": "1950-03-04", "DEATHDATE": "", "GENDER": "F"}
    write_csv(folder / "patients.csv", patients + (extra or []),
              [[row.get(c, "x") for c in patients + (extra or [])]])  # fmt: skip
    write_csv(folder / "encounters.csv", ENCOUNTERS,
              [["e1", "2020-01-02T10:00:00Z", "", "p1", "o1", "wellness"],
               ["e2", "2020-02-02T10:00:00Z", "2020-02-05", "p1", "o1", "inpatient"]])  # fmt: skip
    return folder


def _one_line(err: pytest.ExceptionInfo[DataError], *parts: str) -> str:
    text = str(err.value)
    assert "\n" not in text and "Fix:" in text, text
    for part in parts:
        assert part in text, text
    return text


def test_missing_required_column_names_file_header_and_fix(tmp_path: Path) -> None:
    folder = _synthea(tmp_path / "s", patients=["Id", "BIRTHDATE", "DEATHDATE"])
    with pytest.raises(DataError) as err:
        synthea.ingest(folder)
    _one_line(err, "patients.csv", "line 1 (header)", "missing required column GENDER")


def test_missing_required_hes_column(tmp_path: Path) -> None:
    apc = write_csv(tmp_path / "apc.csv", ["PSEUDO_HESID", "EPIKEY", "ADMIDATE", "EPIORDER",
                                           "PROCODE3"], [["h1", "1", "2020-01-01", "1", "RXX"]])  # fmt: skip
    with pytest.raises(DataError) as err:
        hes.ingest(apc=apc)
    _one_line(err, "apc.csv", "ADMIMETH")


def test_unknown_synthea_column_is_ignored_and_listed(tmp_path: Path) -> None:
    folder = _synthea(tmp_path / "s", extra=["FIPS", "INCOME"])  # later Synthea versions
    run = synthea.ingest(folder)
    assert run.ignored_columns["patients.csv"] == ["FIPS", "INCOME"]
    assert counts(run)[("patients.csv", "patient")] == (1, 1, 0)
    write(run, tmp_path / "out")
    page = (tmp_path / "out" / "_ingest" / "report.html").read_text(encoding="utf-8")
    assert "patients.csv: FIPS, INCOME" in page


PATIENT = {"resourceType": "Patient", "id": "a", "gender": "female", "birthDate": "1960-05-01"}


@pytest.mark.parametrize(
    ("line", "rtype", "reason"),
    [
        ('{"resourceType": "Patient", "id": ', "(not JSON)", "not valid JSON"),
        ({"resourceType": "Fish", "id": "f1"}, "Fish", "unknown FHIR R4 resource type"),
        ({"resourceType": "Bundle", "id": "b1", "type": "collection", "entry": []}, "Bundle",
         "a Bundle inside NDJSON"),
    ],
)  # fmt: skip
def test_bad_fhir_record_is_set_aside_with_its_line(
    tmp_path: Path, line: object, rtype: str, reason: str
) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    write_ndjson(folder / "Mixed.ndjson", [PATIENT, line, {**PATIENT, "id": "b"}])  # type: ignore[list-item]
    run = fhir.ingest(folder)
    got = counts(run)
    assert got[("Mixed.ndjson", "Patient")] == (2, 2, 0)  # the rest loads
    assert got[("Mixed.ndjson", rtype)] == (1, 0, 1)  # nothing lost
    write(run, tmp_path / "out")
    (kept,) = set_aside(tmp_path / "out")
    assert (kept["source_file"], kept["line"], kept["reason"]) == ("Mixed.ndjson", "2", reason)


def _omop(folder: Path, cdm_version: str = "v5.4", visit_header: str | None = None) -> Path:
    folder.mkdir()
    write_csv(folder / "PERSON.csv", ["person_id", "gender_concept_id", "year_of_birth",
              "race_concept_id", "ethnicity_concept_id"], [["1", "8532", "1950", "0", "0"]])  # fmt: skip
    write_csv(folder / "CONCEPT.csv", ["concept_id", "concept_name", "domain_id",
              "vocabulary_id", "concept_class_id", "concept_code", "valid_start_date",
              "valid_end_date"], [["8532", "FEMALE", "Gender", "Gender", "Gender", "F",
              "1970-01-01", "2099-12-31"]])  # fmt: skip
    write_csv(folder / "OBSERVATION_PERIOD.csv", ["observation_period_id", "person_id",
              "observation_period_start_date", "observation_period_end_date",
              "period_type_concept_id"], [["1", "1", "2010-01-01", "2020-01-01", "0"]])  # fmt: skip
    write_csv(folder / "CDM_SOURCE.csv", ["cdm_source_name", "cdm_source_abbreviation",
              "cdm_holder", "source_release_date", "cdm_release_date", "cdm_version",
              "cdm_version_concept_id", "vocabulary_version"],
              [["t", "t", "t", "2020-01-01", "2020-01-01", cdm_version, "0", "v5"]])  # fmt: skip
    if visit_header:
        head = ["visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date",
                "visit_end_date", "visit_type_concept_id", visit_header]  # fmt: skip
        write_csv(folder / "VISIT_OCCURRENCE.csv", head,
                  [["1", "1", "9201", "2015-01-01", "2015-01-03", "0", "0"]])  # fmt: skip
    return folder


def test_omop_minimal_v54_loads(tmp_path: Path) -> None:
    run = omop.ingest(_omop(tmp_path / "o", visit_header="admitted_from_concept_id"))
    assert counts(run)[("VISIT_OCCURRENCE.csv", "visit_occurrence")] == (1, 1, 0)


def test_omop_wrong_cdm_version_in_cdm_source(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        omop.ingest(_omop(tmp_path / "o", cdm_version="v5.3.1"))
    _one_line(err, "CDM_SOURCE.csv", "cdm_source.cdm_version", "version v5.3.1", "v5.4")


def test_omop_v53_table_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        omop.ingest(_omop(tmp_path / "o", visit_header="admitting_source_concept_id"))
    _one_line(err, "VISIT_OCCURRENCE.csv", "v5.3", "admitted_from_concept_id")


APC = ["PSEUDO_HESID", "EPIKEY", "ADMIDATE", "DISDATE", "ADMIMETH", "EPIORDER", "PROCODE3",
       "MYDOB", "SEX", "DIAG_4_01"]  # fmt: skip


def test_hes_sentinel_dates(tmp_path: Path) -> None:
    apc = write_csv(tmp_path / "apc.csv", APC, [
        ["h1", "1", "1800-01-01", "2020-01-03", "21", "1", "RXX", "031950", "1", "J440"],
        ["h1", "2", "2020-01-01", "1801-01-01", "21", "1", "RXX", "031950", "1", "J440"],
        ["h1", "3", "2020-02-01", "2020-02-03", "21", "1", "RXX", "031950", "1", "J440"],
    ])  # fmt: skip
    run = hes.ingest(apc=apc)
    assert counts(run)[("apc.csv", "episode")] == (3, 2, 1)
    write(run, tmp_path / "out")
    (kept,) = set_aside(tmp_path / "out")
    assert (kept["line"], kept["record_id"]) == ("2", "1")
    assert kept["reason"].startswith("ADMIDATE is 1800-01-01, the HES sentinel for null")
    got = run.con.execute(
        "SELECT spell_id, discharge_date FROM out_admissions ORDER BY 1"
    ).fetchall()
    assert [(s, str(d)) for s, d in got] == [("2", "None"), ("3", "2020-02-03")]  # 1801: unknown


def test_file_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    folder = _synthea(tmp_path / "s")
    path = folder / "encounters.csv"
    path.write_bytes(
        path.read_bytes() + "e3,2020-03-01,,p1,o1,Urgence caf\u00e9\n".encode("latin-1")
    )
    with pytest.raises(DataError) as err:
        synthea.ingest(folder)
    _one_line(err, "encounters.csv", "line 4", "not UTF-8", "iconv")


def test_ndjson_not_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(b'{"resourceType": "Patient", "id": "caf\xe9"}\n')
    with pytest.raises(DataError) as err:
        fhir.ingest(folder)
    _one_line(err, "Patient.ndjson", "line 1", "not UTF-8")


@pytest.mark.parametrize("fmt", ["synthea", "fhir", "omop"])
def test_empty_folder(tmp_path: Path, fmt: str) -> None:
    adapter = {"synthea": synthea, "fhir": fhir, "omop": omop}[fmt]
    with pytest.raises(DataError) as err:
        adapter.ingest(tmp_path)
    _one_line(err, str(tmp_path), "holds no")


def test_empty_gp_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        hes.ingest(gp=tmp_path)
    _one_line(err, str(tmp_path), "holds none of patients.csv")


def test_cli_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["ingest", "omop", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2
    assert len(err.splitlines()) == 1 and "holds no OMOP CDM tables" in err and "Fix:" in err


@pytest.mark.skipif(not SAMPLES["synthea"].exists(), reason="shared samples absent")
def test_later_synthea_layout_loads(tmp_path: Path) -> None:
    """The shared v3.0-era sample with the later columns (patients gain MIDDLE, FIPS,
    INCOME; conditions gain SYSTEM) loads the same patients and condition events."""
    folder = tmp_path / "s"
    shutil.copytree(SAMPLES["synthea"], folder)
    for name, new in (
        ("patients.csv", ["MIDDLE", "FIPS", "INCOME"]),
        ("conditions.csv", ["SYSTEM"]),
    ):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        fill = "SNOMED-CT" if new == ["SYSTEM"] else ""
        body = [lines[0] + "," + ",".join(new)] + [
            f"{x}," + ",".join([fill] * len(new)) for x in lines[1:]
        ]
        (folder / name).write_text("\n".join(body) + "\n", encoding="utf-8")
    run = synthea.ingest(folder)
    got = counts(run)
    assert got[("patients.csv", "patient")] == (27, 27, 0)
    assert got[("conditions.csv", "conditions")] == (438, 438, 0)
    assert {"MIDDLE", "FIPS", "INCOME"} <= set(run.ignored_columns["patients.csv"])


def test_fhir_transaction_bundle_json(tmp_path: Path) -> None:
    """A .json transaction Bundle: one record per entry (line = entry number), urn:uuid
    references resolved; a non-JSON .json file is one record set aside, the rest loads."""
    folder = tmp_path / "fhir"
    folder.mkdir()
    uuid = "urn:uuid:0f3c"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": uuid, "resource": {**PATIENT, "id": "0f3c"}},
        {"resource": {"resourceType": "Encounter", "id": "enc1", "class": {"code": "EMER"},
                      "subject": {"reference": uuid}, "period": {"start": "2021-03-04"}}},
    ]}  # fmt: skip
    (folder / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    run = fhir.ingest(folder)
    got = counts(run)
    assert got[("bundle.json", "Patient")] == (1, 1, 0)
    assert got[("bundle.json", "Encounter")] == (1, 1, 0)
    assert got[("broken.json", "(not JSON)")] == (1, 0, 1)
    got_ae = run.con.execute("SELECT attendance_id, patient_id FROM (" + " UNION ALL ".join(
        f"({p})" for p in run.parts["ae_attendances"]) + ")").fetchall()  # fmt: skip
    assert got_ae == [("enc1", "0f3c")]


def test_omop_262_is_one_ae_attendance_and_one_emergency_admission(tmp_path: Path) -> None:
    folder = _omop(tmp_path / "o", visit_header="admitted_from_concept_id")
    path = folder / "VISIT_OCCURRENCE.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",9201,", ",262,"), encoding="utf-8")
    run = omop.ingest(folder)
    write(run, tmp_path / "out")
    assert run.con.execute("SELECT admission_method FROM out_admissions").fetchall() == [("21",)]
    assert run.con.execute("SELECT count(*) FROM out_ae_attendances").fetchone() == (1,)


@pytest.mark.skipif(not SAMPLES["omop"].exists(), reason="shared samples absent")
def test_omop_parquet_gives_the_same_counts_as_csv(tmp_path: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    con = duckdb.connect()
    for csv_path in SAMPLES["omop"].glob("*.csv"):
        if csv_path.stem.lower() in omop.READ:
            con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar=true)) TO "
                        f"'{folder / csv_path.stem}.parquet' (FORMAT parquet)")  # fmt: skip
    from_csv = {
        (f.split(".")[0], t): n for (f, t), n in counts(omop.ingest(SAMPLES["omop"])).items()
    }
    from_parquet = {(f.split(".")[0], t): n for (f, t), n in counts(omop.ingest(folder)).items()}
    assert from_parquet == from_csv
    assert from_csv[("VISIT_OCCURRENCE", "visit_occurrence")] == (1791, 69, 1722)
