"""UK data through `careis ingest`: UK Core FHIR (NHS number with modulus 11, ODS codes,
generalPractitioner, admission-method extension) and HES admission methods.

NHS number 943 476 5919 is NHS Digital's published test number (modulus 11 check digit 9:
weights 10..2 give 299, 299 mod 11 = 2, 11 - 2 = 9); 943 476 5918 differs in the check digit
only, so it must fail. Emergency admission methods are those of the UK Core England code
system (shared/data/fhir/uk-core-codesystems, 'Emergency Admission: ...'): 21-25, 2A-2D, 28.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ingest_support import KEY, SHARED, counts, set_aside, write_csv, write_ndjson

from careis.data import pseudonym
from careis.data.load import load_dataset
from careis.data.schema import ADMISSION_METHODS, EMERGENCY_ADMISSION_METHODS
from careis.data.sources import fhir, hes
from careis.data.sources.ingest import write
from careis.engine import Engine

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
METHOD_URL = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
METHOD_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland"
CODESYSTEM = (
    SHARED / "fhir" / "uk-core-codesystems" / "CodeSystem-UKCore-AdmissionMethodEngland.xml"
)


def _patient(pid: str, nhs: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1948-07-15",
            "identifier": [{"system": NHS, "value": nhs}],
            "generalPractitioner": [{"type": "Organization",
                                     "identifier": {"system": ODS, "value": "P82001"}}]}  # fmt: skip


def _encounter(eid: str, pid: str, method: str, day: str) -> dict[str, Any]:
    ext = {"url": METHOD_URL,
           "valueCodeableConcept": {"coding": [{"system": METHOD_SYSTEM, "code": method}]}}  # fmt: skip
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"code": "IMP"}, "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": day, "end": day}, "extension": [ext],
            "serviceProvider": {"reference": "Organization/rxx"}}  # fmt: skip


@pytest.fixture
def uk_core(tmp_path: Path) -> tuple[Any, Path]:
    folder = tmp_path / "fhir"
    folder.mkdir()
    write_ndjson(folder / "Organization.ndjson", [
        {"resourceType": "Organization", "id": "gp1", "name": "The Surgery",
         "identifier": [{"system": ODS, "value": "P82001"}]},
        {"resourceType": "Organization", "id": "rxx", "name": "A Hospital Trust",
         "identifier": [{"system": ODS, "value": "RXX"}]},
    ])  # fmt: skip
    write_ndjson(folder / "Patient.ndjson", [_patient("good", "943 476 5919"),
                                             _patient("bad", "9434765918")])  # fmt: skip
    write_ndjson(folder / "Encounter.ndjson", [_encounter("e13", "good", "13", "2024-05-01"),
                                               _encounter("e21", "good", "21", "2024-06-01"),
                                               _encounter("e2a", "good", "2A", "2024-07-01")])  # fmt: skip
    run = fhir.ingest(folder, KEY)
    write(run, tmp_path / "out")
    return run, tmp_path / "out"


def test_nhs_number_modulus_11(uk_core: tuple[Any, Path]) -> None:
    run, out = uk_core
    assert counts(run)[("Patient.ndjson", "Patient")] == (2, 1, 1)
    (kept,) = set_aside(out)
    assert (kept["line"], kept["record_id"]) == ("2", "bad")
    assert kept["reason"] == "NHS number fails the modulus 11 check"
    assert kept["detail"] == "943*******"  # masked, never the number
    ids = [r[0] for r in run.con.execute("SELECT patient_id FROM out_patients").fetchall()]
    assert ids == [
        pseudonym.pseudonym("9434765919", KEY.pseudonym_key.get_secret_value())
    ]  # as careis load does


def test_general_practitioner_gives_the_ods_practice(uk_core: tuple[Any, Path]) -> None:
    run, _ = uk_core
    got = run.con.execute("SELECT practice_code FROM out_registrations").fetchall()
    assert got == [("P82001",)]


def test_uk_core_admission_method_extension(uk_core: tuple[Any, Path]) -> None:
    run, _ = uk_core
    got = dict(run.con.execute("SELECT spell_id, admission_method FROM out_admissions").fetchall())
    assert got == {"e13": "13", "e21": "21", "e2a": "2A"}  # text: 2A is a code, not a number


@pytest.mark.skipif(not CODESYSTEM.exists(), reason="shared UK Core code systems absent")
def test_emergency_methods_are_the_england_code_systems() -> None:
    ns = {"f": "http://hl7.org/fhir"}
    concepts = ET.parse(CODESYSTEM).getroot().findall("f:concept", ns)
    codes = {c.find("f:code", ns).get("value"): c.find("f:display", ns).get("value")  # type: ignore[union-attr]
             for c in concepts}  # fmt: skip
    emergency = {k for k, v in codes.items() if v and v.startswith("Emergency Admission")}
    assert emergency == set(EMERGENCY_ADMISSION_METHODS)
    assert set(codes) == set(ADMISSION_METHODS)


def test_elective_13_is_not_emergency_and_21_is(tmp_path: Path, duck: Engine) -> None:
    """HES APC through ingest and careis's own load: method 13 (planned) is elective, 21
    (via the emergency department) is an emergency; ADMIMETH stays text ('2A')."""
    head = ["PSEUDO_HESID", "EPIKEY", "ADMIDATE", "DISDATE", "ADMIMETH", "EPIORDER", "PROCODE3",
            "MYDOB", "SEX", "GPPRAC", "DIAG_4_01"]  # fmt: skip
    apc = write_csv(tmp_path / "apc.csv", head, [
        ["h1", "101", "2024-05-01", "2024-05-03", "13", "1", "RXX", "071948", "2", "P82001", "K409"],
        ["h1", "102", "2024-06-01", "2024-06-09", "21", "1", "RXX", "071948", "2", "P82001", "J441"],
        ["h1", "103", "2024-06-01", "2024-06-12", "13", "2", "RXX", "071948", "2", "P82001", "J18X"],
        ["h1", "104", "2024-07-01", "2024-07-02", "2A", "1", "RXX", "071948", "2", "P82001", "R69X"],
    ])  # fmt: skip
    write(hes.ingest(apc=apc), tmp_path / "out")
    loaded = load_dataset(duck, tmp_path / "out", extract_date=date(2024, 12, 31))
    got = (
        loaded.tables["admissions"]
        .select(
            "spell_id", "admission_method", "is_emergency", "discharge_date", "primary_diagnosis"
        )
        .order_by("spell_id")
        .to_pyarrow()
        .to_pylist()
    )
    assert [(r["spell_id"], r["admission_method"], r["is_emergency"]) for r in got] == [
        ("101", "13", False),
        ("102", "21", True),  # spell of episodes 102 and 103: the first episode's method
        ("104", "2A", True),
    ]
    assert str(got[1]["discharge_date"]) == "2024-06-12"  # the last episode's DISDATE
    assert [r["primary_diagnosis"] for r in got] == ["K409", "J441", "R69"]  # R69X unpadded
    assert loaded.quarantined == 0
