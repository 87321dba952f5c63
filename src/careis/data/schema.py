"""The canonical data model: every table, column and type careis reads, declared once.

Why one module: loaders, the validator, the synthetic generator, the engine and the docs all
need to agree on what an admission or a registration looks like. They all read it from here,
so a new column is added in one place and the validator, the generator's writer and
`careis schema` pick it up.

Conventions
- Dates are calendar dates (no time). End dates are *inclusive*: a registration with
  end_date 2024-03-31 covers 31 March. A null end date means "still open".
- `patient_id` is always a pseudonym (a keyed hash or a synthetic identifier), never an
  NHS number. Sources that carry NHS numbers are pseudonymised on load.
- Codes are strings, even when they look numeric (SNOMED CT identifiers exceed 2**53 and
  HES admission methods include '2A').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from careis.layout import SAFE_CODE_PATTERN

DType = Literal["string", "date", "int64", "float64", "boolean"]

SEXES = ("F", "M", "U")  # female, male, unknown / indeterminate
ORG_TYPES = ("practice", "pcn", "federation", "sub_icb", "icb", "provider")
GROUP_TYPES = ("pcn", "federation", "sub_icb", "icb")
CODE_SYSTEMS = ("snomed", "dmd", "ctv3", "read2", "icd10", "opcs4", "loinc", "rxnorm", "local")
# HES admission method codes (NHS Data Dictionary); emergency = 21-25, 2A-2D, 28.
ADMISSION_METHODS = (
    "11", "12", "13",
    "21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28",
    "31", "32",
    "81", "82", "83", "98", "99",
)  # fmt: skip
EMERGENCY_ADMISSION_METHODS = ("21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28")
AE_DEPARTMENT_TYPES = ("1", "2", "3", "4")  # ECDS department type: 1 major A&E ... 4 walk-in

# Patterns are checked with a regular expression (anchored); they reject malformed codes.
PATTERNS = {
    "icd10": r"^[A-Z][0-9][0-9AX](\.?[0-9A-Z]{0,4})?$",
    "snomed": r"^[1-9][0-9]{5,17}$",
    "ods_practice": r"^[A-Z][0-9]{5}$",
}

EARLIEST_DATE = "1880-01-01"  # no living patient was born before this; older dates are typos


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: DType
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None  # closed list of codes
    pattern: str | None = None  # regular expression a non-null value must match
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One canonical table: its columns, its unique key and what it means."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    derived: tuple[Column, ...] = field(default=())  # added by careis on load, not read from input

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in (*self.columns, *self.derived):
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")


ORGANISATIONS = TableSpec(
    name="organisations",
    description="Every organisation careis reports on or pays: practices and their groupings.",
    key=("org_code",),
    columns=(
        Column(
            "org_code",
            "string",
            "ODS code (or a local code for federations): letters, digits, '_' and '-'.",
            pattern=SAFE_CODE_PATTERN,
        ),
        Column("org_type", "string", "What the organisation is.", allowed=ORG_TYPES),
        Column("name", "string", "Display name."),
    ),
)

MEMBERSHIPS = TableSpec(
    name="memberships",
    description=(
        "Effective-dated practice membership of each grouping (PCN, federation, sub-ICB, ICB). "
        "A practice may move PCN; the row valid on a date says where it belonged that day."
    ),
    key=("practice_code", "group_type", "valid_from"),
    columns=(
        Column("practice_code", "string", "The member practice.", pattern=PATTERNS["ods_practice"]),
        Column("group_type", "string", "Kind of grouping.", allowed=GROUP_TYPES),
        Column("group_code", "string", "The grouping's org_code.", pattern=SAFE_CODE_PATTERN),
        Column("valid_from", "date", "First day of membership (inclusive)."),
        Column(
            "valid_to", "date", "Last day of membership (inclusive); null = open.", nullable=True
        ),
    ),
)

PATIENTS = TableSpec(
    name="patients",
    description="One row per patient (pseudonymised).",
    key=("patient_id",),
    columns=(
        Column("patient_id", "string", "Pseudonym (keyed hash); never an NHS number."),
        Column("sex", "string", "F, M or U (unknown/indeterminate).", allowed=SEXES),
        Column("birth_month", "date", "First day of the month of birth (day is not kept)."),
        Column("death_date", "date", "Date of death; null if alive.", nullable=True),
        Column(
            "imd_decile",
            "int64",
            "Index of Multiple Deprivation decile of residence (1 most deprived .. 10 least).",
            nullable=True,
            minimum=1,
            maximum=10,
        ),
    ),
)

REGISTRATIONS = TableSpec(
    name="registrations",
    description="Periods of registration with a GP practice. A patient has at most one at a time.",
    key=("patient_id", "start_date"),
    columns=(
        Column("patient_id", "string", "The patient."),
        Column(
            "practice_code",
            "string",
            "The practice (must be a known practice).",
            pattern=PATTERNS["ods_practice"],
        ),
        Column("start_date", "date", "First day registered (inclusive)."),
        Column(
            "end_date",
            "date",
            "Last day registered (inclusive); null = still registered.",
            nullable=True,
        ),
    ),
)

EVENTS = TableSpec(
    name="events",
    description=(
        "Coded clinical events from the GP record (diagnoses, care processes, observations, "
        "medicine issues). Must fall within one of the patient's registrations, or before the first (history carried over from earlier practices; see LoadOptions.history_before_registration)."
    ),
    columns=(
        Column("patient_id", "string", "The patient."),
        Column("event_date", "date", "Date the event was recorded as happening."),
        Column("code_system", "string", "Terminology of `code`.", allowed=CODE_SYSTEMS),
        Column("code", "string", "The clinical code (string; SNOMED CT ids exceed 2**53)."),
        Column(
            "value",
            "float64",
            "Numeric value where the code carries one (e.g. HbA1c).",
            nullable=True,
        ),
    ),
)

ADMISSIONS = TableSpec(
    name="admissions",
    description="Hospital inpatient spells (HES APC / SUS), one row per spell.",
    key=("spell_id",),
    columns=(
        Column("spell_id", "string", "Unique spell identifier."),
        Column("patient_id", "string", "The patient."),
        Column("admission_date", "date", "Date of admission."),
        Column(
            "discharge_date",
            "date",
            "Date of discharge; null while still in hospital.",
            nullable=True,
        ),
        Column(
            "admission_method",
            "string",
            "HES admission method code (21-25, 2A-2D, 28 are emergencies).",
            allowed=ADMISSION_METHODS,
        ),
        Column(
            "primary_diagnosis",
            "string",
            "Primary diagnosis, ICD-10 (e.g. J44.1 or J441).",
            pattern=PATTERNS["icd10"],
        ),
        Column("provider_code", "string", "Hospital provider ODS code."),
    ),
    derived=(Column("is_emergency", "boolean", "Admission method is an emergency method."),),
)

AE_ATTENDANCES = TableSpec(
    name="ae_attendances",
    description="A&E (emergency care) attendances (ECDS), one row per attendance.",
    key=("attendance_id",),
    columns=(
        Column("attendance_id", "string", "Unique attendance identifier."),
        Column("patient_id", "string", "The patient."),
        Column("arrival_date", "date", "Date of arrival."),
        Column(
            "department_type", "string", "ECDS department type 1-4.", allowed=AE_DEPARTMENT_TYPES
        ),
        Column("provider_code", "string", "Provider ODS code."),
    ),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        ORGANISATIONS,
        MEMBERSHIPS,
        PATIENTS,
        REGISTRATIONS,
        EVENTS,
        ADMISSIONS,
        AE_ATTENDANCES,
    )
}

# Order in which tables must be validated: later tables are checked against earlier ones
# (registrations need known practices and patients; events need registrations).
LOAD_ORDER: tuple[str, ...] = (
    "organisations",
    "memberships",
    "patients",
    "registrations",
    "events",
    "admissions",
    "ae_attendances",
)


def spec(name: str) -> TableSpec:
    """The TableSpec called `name` (KeyError names the known tables)."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}'; known tables: {', '.join(TABLES)}") from None
