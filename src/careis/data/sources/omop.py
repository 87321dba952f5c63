"""OMOP CDM v5.4 (CSV or Parquet) -> careis canonical tables.

Field by field (docs/data-sources.md has the full table):
- person -> patients: person_id, gender_concept_id (mapping `sex`; unmapped -> U),
  year_of_birth + month_of_birth (January when absent) -> birth_month; death.death_date.
- observation_period -> registrations (its start and end dates), with the practice the
  person is attributed to: person.care_site_id where given, else the care site (or, failing
  that, the provider) of most of their outpatient (9202) visits; else one "unattributed"
  practice. CARE_SITE.care_site_source_value is used as the practice code when it has the ODS
  form; otherwise a local Y-code (mapping `practice_code` overrides either).
- visit_occurrence -> admissions (9201, 262) and A&E attendances (9203, 262), mapping
  `encounter_class`. Admission method: 262 -> 21; else `admitted_from:<concept>` if mapped;
  else 21 when an ER visit of the person started that day or the day before; else 99.
  Primary diagnosis: an ICD-10 source code of a condition recorded on the visit, else R69.
- condition/procedure/drug/measurement/observation -> events: the *_source_concept_id's
  CONCEPT row when its vocabulary is mapped (mapping `code_system`), else the standard
  *_concept_id's; value_as_number where the table has one.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from careis.data.sources import _io
from careis.data.sources.ingest import (
    IngestOptions,
    IngestRun,
    add_groupings,
    admission_method_rule,
    assign_org_codes,
    materialise,
    new_run,
    require_columns,
    require_files,
)
from careis.errors import DataError

SPEC = "OMOP CDM v5.4"
# Columns that exist only in CDM v5.3 (renamed in v5.4): their presence means the wrong version.
V53_COLUMNS = {
    "visit_occurrence": ("admitting_source_concept_id", "discharge_to_concept_id"),
    "death": ("cause_concept_id_v53",),
}
EVENT_TABLES = {  # table: (id, concept, source concept, date, value)
    "condition_occurrence": ("condition_occurrence_id", "condition_concept_id",
                             "condition_source_concept_id", "condition_start_date", None),
    "procedure_occurrence": ("procedure_occurrence_id", "procedure_concept_id",
                             "procedure_source_concept_id", "procedure_date", None),
    "drug_exposure": ("drug_exposure_id", "drug_concept_id", "drug_source_concept_id",
                      "drug_exposure_start_date", None),
    "measurement": ("measurement_id", "measurement_concept_id", "measurement_source_concept_id",
                    "measurement_date", "value_as_number"),
    "observation": ("observation_id", "observation_concept_id", "observation_source_concept_id",
                    "observation_date", "value_as_number"),
}  # fmt: skip
READ = ("person", "observation_period", "death", "visit_occurrence", *EVENT_TABLES,
        "concept", "care_site", "cdm_source")  # fmt: skip
NEEDED = ("person", "concept")


def spec_fields() -> dict[str, dict[str, bool]]:
    """{table: {field: required}} from the shipped OMOP CDM v5.4 field-level spec."""
    path = resources.files("careis.data.sources") / "mappings" / "omop_cdm_v5.4_fields.csv"
    out: dict[str, dict[str, bool]] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["table"], {})[row["field"]] = row["required"] == "Yes"
    return out


def find_tables(folder: Path) -> dict[str, Path]:
    """{table: file} for the tables careis reads; names match case-insensitively."""
    found: dict[str, Path] = {}
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        name = entry.name.lower()
        for suffix in (".csv", ".parquet", ""):
            stem = name[: -len(suffix)] if suffix and name.endswith(suffix) else name
            if stem in READ and (suffix or entry.is_dir()) and stem not in found:
                found[stem] = entry
                break
    return found


def _read(run: IngestRun, table: str, path: Path, spec: dict[str, dict[str, bool]]) -> None:
    if path.suffix.lower() == ".csv":
        names = _io.read_csv(run.con, path, f"src_{table}")
    else:
        glob = f"{path}/*.parquet" if path.is_dir() else str(path)
        run.con.execute(
            f"CREATE OR REPLACE TABLE src_{table} AS SELECT COLUMNS(* EXCLUDE (file_row_number))"
            f"::VARCHAR, file_row_number + 1 AS _line "
            f"FROM read_parquet('{glob}', file_row_number=true)"
        )
        names = [c for c in run.con.table(f"src_{table}").columns if c != "_line"]
    lower = [n.lower() for n in names]
    old = [c for c in V53_COLUMNS.get(table, ()) if c in lower]
    if old:
        raise DataError(
            f"{table} is in the OMOP CDM v5.3 layout (column {', '.join(old)}); careis reads "
            "CDM v5.4.",
            file=path,
            where="line 1 (header)",
            fix="convert to v5.4 (e.g. admitting_source_concept_id became admitted_from_"
            "concept_id) with the OHDSI CDM migration script, or re-export as v5.4.",
        )
    fields = spec.get(table, {})
    required = tuple(f for f, req in fields.items() if req)
    require_columns(path, names, required, f"{SPEC} {table}: required fields")
    run.ignore(run.display(path), [n for n in names if n.lower() not in fields])
    rename = [f'"{n}" AS "{n.lower()}"' for n in names]
    # Optional v5.4 fields the export leaves out read as null, so the SQL can name them all.
    absent = [f'NULL::VARCHAR AS "{f}"' for f in fields if f not in lower]
    run.con.execute(
        f"CREATE OR REPLACE VIEW {table} AS SELECT {', '.join(rename + absent)}, _line "
        f"FROM src_{table}"
    )


def _check_version(run: IngestRun, path: Path | None) -> None:
    if path is None:
        run.note("No CDM_SOURCE table: the CDM version could not be checked (v5.4 assumed).")
        return
    got = run.con.execute("SELECT any_value(cdm_version) FROM cdm_source").fetchone()
    version = (got[0] if got else None) or ""
    if version and not version.lstrip("v").startswith("5.4"):
        raise DataError(
            f"the export is OMOP CDM version {version}; careis reads CDM v5.4.",
            file=path,
            where="cdm_source.cdm_version",
            fix="convert the database to CDM v5.4 (OHDSI CommonDataModel migration scripts).",
        )


def _persons(run: IngestRun, files: dict[str, Path]) -> None:
    has_death = "death" in files
    death = (
        "(SELECT person_id, min(TRY_CAST(death_date AS DATE)) AS death_date FROM death GROUP BY 1)"
        if has_death
        else "(SELECT NULL AS person_id, NULL::DATE AS death_date)"
    )
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_person AS
        SELECT p._line, p.person_id AS _id, p.person_id AS patient_id,
               coalesce(s.target, 'U') AS sex,
               make_date(TRY_CAST(p.year_of_birth AS INT),
                         coalesce(TRY_CAST(p.month_of_birth AS INT), 1), 1) AS birth_month,
               d.death_date, NULL::BIGINT AS imd_decile, p.care_site_id,
               CASE WHEN TRY_CAST(p.year_of_birth AS INT) IS NULL
                      THEN 'year_of_birth missing or not a whole number'
                    WHEN count(*) OVER (PARTITION BY p.person_id) > 1
                      THEN 'person_id appears more than once' END AS _reason
        FROM person p LEFT JOIN {run.mappings.sql("sex")} s ON s.source_value = p.gender_concept_id
        LEFT JOIN {death} d ON d.person_id = p.person_id"""
    )
    run.account(run.display(files["person"]), "person", "l_person")
    run.emit("patients", "SELECT * FROM l_person WHERE _reason IS NULL")
    materialise(run, "patients")
    if has_death:
        run.con.execute(
            """CREATE OR REPLACE VIEW l_death AS SELECT d._line, d.person_id AS _id,
               CASE WHEN p.patient_id IS NULL THEN 'person_id not in the person table'
                    WHEN TRY_CAST(d.death_date AS DATE) IS NULL THEN 'death_date missing or not a date'
               END AS _reason FROM death d LEFT JOIN out_patients p ON p.patient_id = d.person_id"""
        )
        run.account(run.display(files["death"]), "death", "l_death")


def _visits(run: IngestRun, files: dict[str, Path]) -> None:
    if "visit_occurrence" not in files:
        run.con.execute(
            "CREATE OR REPLACE TABLE l_visit (person_id VARCHAR, care_site_id "
            "VARCHAR, provider_id VARCHAR, cls VARCHAR, start_date DATE)"
        )
        run.note("No visit_occurrence table: no admissions or A&E attendances.")
        return
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_visit AS
        SELECT v._line, v.visit_occurrence_id AS _id, v.person_id, v.visit_concept_id,
               v.care_site_id, v.provider_id, v.admitted_from_concept_id, m.target AS cls,
               TRY_CAST(v.visit_start_date AS DATE) AS start_date,
               TRY_CAST(v.visit_end_date AS DATE) AS end_date,
               CASE WHEN p.patient_id IS NULL THEN 'person_id not in the person table'
                    WHEN TRY_CAST(v.visit_start_date AS DATE) IS NULL
                      THEN 'visit_start_date missing or not a date'
                    WHEN m.target IS NULL
                      THEN 'visit_concept_id not mapped to an admission or A&E visit'
                    WHEN m.target = 'primary_care'
                      THEN 'outpatient visit: no canonical table (used for practice attribution)'
               END AS _reason,
               CASE WHEN m.target IS NULL THEN v.visit_concept_id END AS _detail
        FROM visit_occurrence v
        LEFT JOIN out_patients p ON p.patient_id = v.person_id
        LEFT JOIN {run.mappings.sql("encounter_class")} m ON m.source_value = v.visit_concept_id"""
    )
    run.account(run.display(files["visit_occurrence"]), "visit_occurrence", "l_visit")


def _diagnoses(run: IngestRun, files: dict[str, Path]) -> str:
    """(visit_occurrence_id, icd10) for visits with an ICD-10 coded condition."""
    if "condition_occurrence" not in files:
        return "(SELECT NULL AS visit_occurrence_id, NULL AS icd10)"
    return f"""(SELECT c.visit_occurrence_id,
                       arg_min(k.concept_code, TRY_CAST(c.condition_occurrence_id AS BIGINT))
                       AS icd10
                FROM condition_occurrence c JOIN concept k
                  ON k.concept_id = c.condition_source_concept_id
                JOIN {run.mappings.sql("code_system")} m ON m.source_value = k.vocabulary_id
                WHERE m.target = 'icd10' GROUP BY 1)"""


def _hospital(run: IngestRun, files: dict[str, Path]) -> None:
    ok = "SELECT * FROM l_visit WHERE _reason IS NULL"
    site = "coalesce('care_site:' || v.care_site_id, 'UNKNOWN')"
    dept = run.mappings.value("department_type", "default") or "1"
    run.emit(
        "ae_attendances",
        f"SELECT 'visit-' || v._id AS attendance_id, v.person_id AS patient_id, "
        f"v.start_date AS arrival_date, '{dept}' AS department_type, {site} AS provider_code "
        f"FROM ({ok}) v WHERE v.cls IN ('ae', 'admission+ae')",
    )
    candidates = f"""SELECT v._id AS _key, v.person_id AS patient_id,
                     v.start_date AS admission_date,
                     coalesce(m262.target, ma.target) AS method
              FROM ({ok}) v
              LEFT JOIN {run.mappings.sql("admission_method")} m262
                ON m262.source_value = v.visit_concept_id
              LEFT JOIN {run.mappings.sql("admission_method")} ma
                ON ma.source_value = 'admitted_from:' || v.admitted_from_concept_id
              WHERE v.cls IN ('admission', 'admission+ae')"""
    ae = f"SELECT person_id AS patient_id, start_date AS arrival_date FROM ({ok}) WHERE cls = 'ae'"
    r69 = run.mappings.value("primary_diagnosis", "default") or "R69"
    run.emit(
        "admissions",
        f"""SELECT v._id AS spell_id, v.person_id AS patient_id, v.start_date AS admission_date,
                   v.end_date AS discharge_date, am.admission_method,
                   coalesce(dx.icd10, '{r69}') AS primary_diagnosis, {site} AS provider_code
            FROM ({ok}) v JOIN ({admission_method_rule(run, candidates, ae)}) am ON am._key = v._id
            LEFT JOIN {_diagnoses(run, files)} dx ON dx.visit_occurrence_id = v._id""",
    )


def _registrations(run: IngestRun, files: dict[str, Path]) -> None:
    has_site = "care_site" in files
    sites = (
        "SELECT 'care_site:' || care_site_id AS org_key, care_site_source_value AS ods, "
        "care_site_name AS name FROM care_site" if has_site else
        "SELECT NULL AS org_key, NULL AS ods, NULL AS name WHERE false"
    )  # fmt: skip
    run.con.execute(
        """CREATE OR REPLACE TABLE attributed AS
        WITH c AS (SELECT person_id, coalesce('care_site:' || care_site_id,
                                              'provider:' || provider_id) AS org_key,
                          count(*) AS n, max(start_date) AS last_day
                   FROM l_visit WHERE cls = 'primary_care' GROUP BY 1, 2 HAVING org_key IS NOT NULL),
             best AS (SELECT person_id, arg_max(org_key, (n, last_day, org_key)) AS org_key
                      FROM c GROUP BY 1)
        SELECT p.patient_id, coalesce('care_site:' || p.care_site_id, b.org_key,
                                      'unattributed') AS org_key
        FROM l_person p LEFT JOIN best b ON b.person_id = p.patient_id WHERE p._reason IS NULL"""
    )
    assign_org_codes(
        run,
        f"""SELECT org_key, NULL AS ods, CASE WHEN org_key = 'unattributed'
                   THEN 'Unattributed (no care site or outpatient visit)'
                   ELSE 'OMOP ' || replace(org_key, ':', ' ') END AS name FROM attributed
            UNION ALL {sites}""",
    )
    if "observation_period" not in files:
        raise DataError(
            "the export has no observation_period table.",
            file=run.source,
            fix="include OBSERVATION_PERIOD (OMOP CDM v5.4 requires it).",
        )
    run.con.execute(
        """CREATE OR REPLACE TABLE l_period AS
        SELECT o._line, o.observation_period_id AS _id, o.person_id AS patient_id,
               TRY_CAST(o.observation_period_start_date AS DATE) AS start_date,
               TRY_CAST(o.observation_period_end_date AS DATE) AS end_date, g.org_code,
               CASE WHEN a.patient_id IS NULL THEN 'person_id not in the person table'
                    WHEN TRY_CAST(o.observation_period_start_date AS DATE) IS NULL
                      THEN 'observation_period_start_date missing or not a date' END AS _reason
        FROM observation_period o LEFT JOIN attributed a ON a.patient_id = o.person_id
        LEFT JOIN orgcode g ON g.org_key = a.org_key"""
    )
    run.account(run.display(files["observation_period"]), "observation_period", "l_period")
    run.emit(
        "registrations",
        "SELECT patient_id, org_code AS practice_code, start_date, "
        "end_date FROM l_period WHERE _reason IS NULL",
    )
    run.note(
        "Practice registration: one registration per OMOP observation_period (its start and "
        "end dates), with the practice the person is attributed to: person.care_site_id, else "
        "the care site (else provider) of most of their outpatient (9202) visits (ties: the "
        "latest), else one 'unattributed' practice. Local codes Y00001... unless CARE_SITE "
        "gives an ODS code; override with mapping practice_code."
    )


def _events(run: IngestRun, files: dict[str, Path]) -> None:
    system = run.mappings.sql("code_system")
    for table, (id_col, concept, source, day, value) in EVENT_TABLES.items():
        if table not in files:
            continue
        val = f"TRY_CAST(t.{value} AS DOUBLE)" if value else "NULL::DOUBLE"
        run.con.execute(
            f"""CREATE OR REPLACE TABLE l_{table} AS
            SELECT t._line, t.{id_col} AS _id, p.patient_id,
                   TRY_CAST(t.{day} AS DATE) AS event_date,
                   coalesce(ms.target, mc.target) AS code_system,
                   CASE WHEN ms.target IS NOT NULL THEN ks.concept_code ELSE kc.concept_code END
                     AS code, {val} AS value,
                   CASE WHEN p.patient_id IS NULL THEN 'person_id not in the person table'
                        WHEN TRY_CAST(t.{day} AS DATE) IS NULL THEN '{day} missing or not a date'
                        WHEN ks.concept_id IS NULL AND kc.concept_id IS NULL
                          THEN 'concept not in the CONCEPT table'
                        WHEN ms.target IS NULL AND mc.target IS NULL
                          THEN 'vocabulary not mapped to a careis code system' END AS _reason,
                   CASE WHEN ks.concept_id IS NULL AND kc.concept_id IS NULL
                          THEN 'concept_id ' || t.{concept}
                        ELSE coalesce(ks.vocabulary_id, kc.vocabulary_id) END AS _detail
            FROM {table} t LEFT JOIN out_patients p ON p.patient_id = t.person_id
            LEFT JOIN concept ks ON ks.concept_id = t.{source} AND t.{source} <> '0'
            LEFT JOIN concept kc ON kc.concept_id = t.{concept} AND t.{concept} <> '0'
            LEFT JOIN {system} ms ON ms.source_value = ks.vocabulary_id
            LEFT JOIN {system} mc ON mc.source_value = kc.vocabulary_id"""
        )
        run.account(run.display(files[table]), table, f"l_{table}")
        run.emit("events", f"SELECT * FROM l_{table} WHERE _reason IS NULL")


def ingest(folder: Path, options: IngestOptions | None = None) -> IngestRun:
    """Read an OMOP CDM v5.4 export (one CSV or Parquet per table) into canonical tables."""
    run = new_run("omop", folder, options or IngestOptions())
    files = find_tables(folder)
    require_files(folder, list(files.values()), "OMOP CDM tables (PERSON.csv, CONCEPT.csv, ...)")
    missing = [t for t in NEEDED if t not in files]
    if missing:
        raise DataError(
            f"the export has no {' or '.join(missing)} table.",
            file=folder,
            fix=f"include {', '.join(t.upper() + '.csv' for t in missing)} (CONCEPT is needed "
            "to turn concept ids into SNOMED CT / ICD-10 codes).",
        )
    spec = spec_fields()
    for table, path in files.items():
        _read(run, table, path, spec)
    _check_version(run, files.get("cdm_source"))
    _persons(run, files)
    _visits(run, files)
    _registrations(run, files)
    _hospital(run, files)
    _events(run, files)
    add_groupings(run)
    return run
