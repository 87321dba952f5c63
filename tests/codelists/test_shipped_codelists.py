"""The shipped starter code lists: complete index, valid and unique codes, known anchors.

Why: users replace these lists, but until they do, a wrong shipped code silently changes who is
counted and who is paid. These tests pin the invariants every shipped list must keep.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from careis.codelists import CodelistLibrary, index
from careis.codelists.sctid import is_concept_id, verhoeff_digit, verhoeff_ok
from careis.data.schema import CODE_SYSTEMS, PATTERNS

DATA = Path(__file__).resolve().parents[2] / "src" / "careis" / "codelists" / "data"
GROUPS = {"condition", "care_process", "flag", "efi", "medicine", "diagnosis"}

CONDITIONS = [
    "diabetes", "copd", "asthma", "heart_failure", "chd", "af", "hypertension", "ckd",
    "stroke_tia", "dementia", "cancer", "depression",
]  # fmt: skip
CARE_PROCESSES = [
    "care_plan", "care_plan_review", "care_plan_declined", "medication_review", "named_gp",
    "case_management_register", "care_home", "housebound", "hba1c", "frailty_mild",
    "frailty_moderate", "frailty_severe",
]  # fmt: skip
EFI = [
    "efi_activity_limitation", "efi_anaemia", "efi_arthritis", "efi_atrial_fibrillation",
    "efi_cerebrovascular_disease", "efi_chronic_kidney_disease", "efi_diabetes", "efi_dizziness",
    "efi_dyspnoea", "efi_falls", "efi_foot_problems", "efi_fragility_fracture",
    "efi_hearing_impairment", "efi_heart_failure", "efi_heart_valve_disease", "efi_housebound",
    "efi_hypertension", "efi_hypotension_syncope", "efi_ischaemic_heart_disease",
    "efi_memory_cognitive_problems", "efi_mobility_transfer_problems", "efi_osteoporosis",
    "efi_parkinsonism_tremor", "efi_peptic_ulcer", "efi_peripheral_vascular_disease",
    "efi_requirement_for_care", "efi_respiratory_disease", "efi_skin_ulcer",
    "efi_sleep_disturbance", "efi_social_vulnerability", "efi_thyroid_disease",
    "efi_urinary_incontinence", "efi_urinary_system_disease", "efi_visual_impairment",
    "efi_weight_loss_anorexia",
]  # fmt: skip
DIAGNOSES = [
    "acsc_chronic", "acsc_acute", "copd_admission", "heart_failure_admission", "falls_fracture",
]  # fmt: skip


def _raw_rows(name: str) -> list[dict[str, str]]:
    """The CSV rows exactly as shipped (the loader de-duplicates, so read the file itself)."""
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["code", "term"], f"{name}: header must be code,term"
        rows = list(reader)
    for row in rows:
        assert None not in row, f"{name}: a row has more fields than the header (unquoted comma?)"
    return rows


def test_index_has_unique_names_known_systems_and_groups() -> None:
    entries = index()
    assert entries, "index.csv is empty"
    for name, entry in entries.items():
        assert entry.system in CODE_SYSTEMS, name
        assert entry.group in GROUPS, name
        assert entry.description.strip(), f"{name}: no description"
        assert entry.source.strip(), f"{name}: no source (provenance is mandatory)"


def test_every_index_entry_has_a_file_and_loads() -> None:
    library = CodelistLibrary()
    for name, entry in index().items():
        assert (DATA / f"{name}.csv").is_file(), name
        codelist = library.get(name)
        assert codelist.system == entry.system
        assert len(codelist) > 0
        assert codelist.source == entry.source


def test_every_shipped_file_is_indexed() -> None:
    files = {p.stem for p in DATA.glob("*.csv")} - {"index"}
    assert files == set(index())


@pytest.mark.parametrize("name", sorted(index()))
def test_codes_are_unique_pattern_valid_and_termed(name: str) -> None:
    system = index()[name].system
    rows = _raw_rows(name)
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes)), f"{name}: duplicate codes"
    pattern = re.compile(PATTERNS[system]) if system in PATTERNS else None
    for row in rows:
        code = row["code"]
        assert code, f"{name}: blank code"
        assert code == code.strip(), f"{name}: padded code {code!r}"
        assert row["term"].strip(), f"{name}: code {code} has no term"
        if pattern is not None:
            assert pattern.match(code), f"{name}: {code} is not a valid {system} code"
        if system in ("snomed", "dmd"):
            assert is_concept_id(code), f"{name}: {code} fails the SNOMED check digit/partition"
        if system == "icd10":
            assert "." not in code, f"{name}: write {code} without the dot"
            assert len(code) in (3, 4), f"{name}: {code} should have 3 or 4 characters"


def test_required_lists_exist_with_the_expected_groups() -> None:
    entries = index()
    for name in CONDITIONS:
        assert entries[name].group == "condition"
    for name in CARE_PROCESSES:
        assert entries[name].group in ("care_process", "flag")
    for name in DIAGNOSES:
        assert entries[name].system == "icd10"
        assert entries[name].group == "diagnosis"
    assert entries["medicines"].system == "dmd"
    assert entries["medicines"].group == "medicine"


def test_all_35_efi_deficits_exist_and_nothing_else_is_efi() -> None:
    entries = index()
    assert len(EFI) == 35
    assert {n for n, e in entries.items() if e.group == "efi"} == set(EFI)
    for name in EFI:
        assert entries[name].system == "snomed"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("diabetes", "44054006"),  # Diabetes mellitus type 2
        ("diabetes", "73211009"),  # Diabetes mellitus
        ("heart_failure", "84114007"),  # Heart failure
        ("copd", "13645005"),  # Chronic obstructive lung disease
        ("asthma", "195967001"),  # Asthma
        ("chd", "22298006"),  # Myocardial infarction
        ("af", "49436004"),  # Atrial fibrillation
        ("hypertension", "59621000"),  # Essential hypertension
        ("ckd", "433144002"),  # CKD stage 3
        ("ckd", "700379002"),  # CKD stage 3B
        ("stroke_tia", "230690007"),  # Cerebrovascular accident
        ("stroke_tia", "266257000"),  # Transient ischemic attack
        ("dementia", "52448006"),  # Dementia
        ("cancer", "363346000"),  # Malignant neoplastic disease
        ("depression", "35489007"),  # Depressive disorder
        ("medication_review", "314530002"),  # Medication review done
        ("medication_review", "1239511000000100"),  # Structured medication review
        ("frailty_moderate", "925831000000107"),
        ("hba1c", "999791000000106"),  # HbA1c IFCC
        ("housebound", "160689007"),
        ("care_home", "248171000000108"),  # Lives in care home
        ("efi_diabetes", "44054006"),
        ("efi_falls", "161898004"),  # Falls
        ("medicines", "319773006"),  # Aspirin 75mg dispersible tablets
        ("medicines", "42084911000001109"),  # Metformin 500mg tablets
        ("acsc_chronic", "I50"),
        ("acsc_chronic", "J44"),
        ("acsc_acute", "N390"),
        ("copd_admission", "J40"),
        ("heart_failure_admission", "I50"),
        ("falls_fracture", "S720"),
    ],
)
def test_well_known_codes_are_present(name: str, code: str) -> None:
    assert code in CodelistLibrary().get(name)


@pytest.mark.parametrize(
    ("name", "code", "why"),
    [
        ("ckd", "709044004", "QOF counts CKD stage 3-5 only; unstaged CKD is not on the register"),
        ("acsc_chronic", "E119", "diabetes without complication is not an ACSC admission"),
        ("efi_chronic_kidney_disease", "73211009", "diabetes is not a kidney deficit"),
        ("efi_falls", "49808004", "old age is not a fall"),
        ("hba1c", "1019431000000105", "DCCT-aligned (%) HbA1c is not the IFCC mmol/mol code"),
        ("care_home", "1024771000000108", "a hospice is not a care home"),
    ],
)
def test_deliberately_excluded_codes_stay_out(name: str, code: str, why: str) -> None:
    assert code not in CodelistLibrary().get(name), why


def test_check_digit_helper_catches_corruption() -> None:
    assert verhoeff_ok("1127441000000107")
    assert not verhoeff_ok("1127441000000100")  # spreadsheet-zeroed tail
    assert not verhoeff_ok("44054060")  # adjacent transposition of 44054006
    assert verhoeff_digit("4405400") == "6"


def test_docs_table_lists_every_list_with_its_size() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "codelists.md"
    text = docs.read_text(encoding="utf-8")
    library = CodelistLibrary()
    for name, entry in index().items():
        row = re.search(rf"^\| `{name}` \| {entry.system} \| {entry.group} \| (\d+) \|", text, re.M)
        assert row, f"docs/codelists.md has no table row for {name}"
        assert int(row.group(1)) == len(library.get(name)), f"{name}: docs count is stale"
