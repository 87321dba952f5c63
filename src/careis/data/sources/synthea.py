"""Synthea CSV export (v3.0 layout and later ones) -> careis canonical tables.

Columns are found by header name, so later Synthea versions (patients gain MIDDLE, FIPS,
INCOME; conditions gain SYSTEM; other columns appear) load unchanged; every column careis
does not read is listed in the report. Field by field (docs/data-sources.md):
- patients.csv -> patients: Id, GENDER (mapping `sex`), BIRTHDATE (month kept), DEATHDATE.
- encounters.csv: ENCOUNTERCLASS (mapping `encounter_class`) inpatient -> admissions,
  emergency and urgentcare -> A&E (department type 1, urgent care 3); wellness and
  ambulatory -> the practice registration (organisation of most such encounters, from the
  first until death). Admission method: Synthea has none, so 21 (emergency via the
  emergency department) when the stay starts on the day of, or the day after, an emergency
  or urgent-care encounter of the patient, else 99 (not known). Primary diagnosis: R69
  (Synthea's REASONCODE is SNOMED CT, not ICD-10).
- conditions, observations (numeric VALUE), medications, procedures, careplans,
  immunizations, allergies -> events, code system from SYSTEM where present, else the
  file's (mapping `synthea_file_system`), then mapping `code_system`.
"""

from __future__ import annotations

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
    registrations_from_contacts,
    require_columns,
    require_files,
)
from careis.errors import DataError

SPEC = "Synthea CSV export"
REQUIRED = {
    "patients.csv": ("Id", "BIRTHDATE", "GENDER"),
    "encounters.csv": ("Id", "START", "PATIENT", "ORGANIZATION", "ENCOUNTERCLASS"),
    "organizations.csv": ("Id", "NAME"),
}
EVENT_FILES = {  # file: (date column(s) in order, numeric value column)
    "conditions.csv": (("START",), None),
    "observations.csv": (("DATE",), "VALUE"),
    "medications.csv": (("START",), None),
    "procedures.csv": (("START", "DATE"), None),
    "careplans.csv": (("START",), None),
    "immunizations.csv": (("DATE",), None),
    "allergies.csv": (("START",), None),
}
READS = {  # columns careis reads from each file (the rest are listed as ignored)
    "patients.csv": {"Id", "BIRTHDATE", "DEATHDATE", "GENDER"},
    "encounters.csv": {"Id", "START", "STOP", "PATIENT", "ORGANIZATION", "ENCOUNTERCLASS"},
    "organizations.csv": {"Id", "NAME"},
    **{f: {"PATIENT", "CODE", "SYSTEM", "TYPE", *d, *([v] if v else [])}
       for f, (d, v) in EVENT_FILES.items()},
}  # fmt: skip


def _col(names: list[str], wanted: str) -> str | None:
    """The file's own spelling of column `wanted` (header names match case-insensitively)."""
    for n in names:
        if n.strip().lower() == wanted.lower():
            return '"' + n.replace('"', '""') + '"'
    return None


def _read_all(run: IngestRun, folder: Path) -> dict[str, list[str]]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")
    require_files(folder, files, "Synthea CSV files (patients.csv, encounters.csv, ...)")
    headers: dict[str, list[str]] = {}
    for path in files:
        key = path.name.lower()
        table = "s_" + key[:-4].replace("-", "_").replace(" ", "_")
        names = _io.read_csv(run.con, path, table)
        if key in REQUIRED:
            require_columns(path, names, REQUIRED[key], f"{SPEC} {path.name}")
        if key in READS:
            run.ignore(path.name, [n for n in names if n.strip() not in READS[key]])
        headers[key] = names
    missing = [f for f in ("patients.csv", "encounters.csv") if f not in headers]
    if missing:
        raise DataError(f"the folder has no {' or '.join(missing)}.", file=folder,
                        fix="give the Synthea output's csv/ folder (with patients.csv "
                        "and encounters.csv).")  # fmt: skip
    return headers


def _patients(run: IngestRun, names: list[str]) -> None:
    died = _col(names, "DEATHDATE") or "NULL"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_patients AS
        SELECT _line, {_col(names, "Id")} AS _id, {_col(names, "Id")} AS patient_id,
               coalesce(s.target, 'U') AS sex,
               date_trunc('month', TRY_CAST(left({_col(names, "BIRTHDATE")}, 10) AS DATE))
                 AS birth_month,
               TRY_CAST(left({died}, 10) AS DATE) AS death_date, NULL AS imd_decile,
               CASE WHEN _id IS NULL THEN 'Id missing'
                    WHEN TRY_CAST(left({_col(names, "BIRTHDATE")}, 10) AS DATE) IS NULL
                      THEN 'BIRTHDATE missing or not a date'
                    WHEN count(*) OVER (PARTITION BY _id) > 1 THEN 'Id appears twice' END
                 AS _reason
        FROM s_patients p LEFT JOIN {run.mappings.sql("sex")} s
          ON s.source_value = p.{_col(names, "GENDER")}"""
    )
    run.account("patients.csv", "patient", "l_patients")
    run.emit("patients", "SELECT * FROM l_patients WHERE _reason IS NULL")
    materialise(run, "patients")


def _encounters(run: IngestRun, names: list[str], orgs: bool) -> None:
    c = {k: _col(names, k) for k in ("Id", "START", "STOP", "PATIENT", "ORGANIZATION",
                                     "ENCOUNTERCLASS")}  # fmt: skip
    stop = c["STOP"] or "NULL"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_encounters AS
        SELECT e._line, e.{c["Id"]} AS _id, p.patient_id, e.{c["ORGANIZATION"]} AS org_key,
               e.{c["ENCOUNTERCLASS"]} AS cls, m.target AS kind,
               TRY_CAST(left(e.{c["START"]}, 10) AS DATE) AS start_date,
               TRY_CAST(left({stop}, 10) AS DATE) AS end_date,
               CASE WHEN p.patient_id IS NULL THEN 'PATIENT not in patients.csv'
                    WHEN TRY_CAST(left(e.{c["START"]}, 10) AS DATE) IS NULL
                      THEN 'START missing or not a date'
                    WHEN m.target IS NULL
                      THEN 'ENCOUNTERCLASS not mapped to an admission or A&E attendance'
                    WHEN m.target = 'primary_care'
                      THEN 'primary-care encounter: no canonical table (used for practice attribution)'
               END AS _reason, CASE WHEN m.target IS NULL THEN e.{c["ENCOUNTERCLASS"]} END AS _detail
        FROM s_encounters e LEFT JOIN out_patients p ON p.patient_id = e.{c["PATIENT"]}
        LEFT JOIN {run.mappings.sql("encounter_class")} m ON m.source_value = e.{c["ENCOUNTERCLASS"]}"""
    )
    run.account("encounters.csv", "encounter", "l_encounters")
    names_sql = (
        'SELECT "Id" AS org_key, NULL AS ods, "NAME" AS name FROM s_organizations'
        if orgs
        else "SELECT NULL AS org_key, NULL AS ods, NULL AS name WHERE false"
    )
    assign_org_codes(run, f"SELECT org_key, NULL AS ods, NULL AS name FROM l_encounters "
                     f"WHERE org_key IS NOT NULL UNION ALL {names_sql}")  # fmt: skip
    ok = "SELECT * FROM l_encounters WHERE _reason IS NULL"
    dept = run.mappings.sql("department_type")
    default = run.mappings.value("department_type", "default") or "1"
    provider = "coalesce(o.org_code, 'UNKNOWN')"
    run.emit("ae_attendances",
             f"SELECT e._id AS attendance_id, e.patient_id, e.start_date AS arrival_date, "
             f"coalesce(d.target, '{default}') AS department_type, {provider} AS provider_code "
             f"FROM ({ok}) e LEFT JOIN {dept} d ON d.source_value = e.cls "
             "LEFT JOIN orgcode o USING (org_key) WHERE e.kind = 'ae'")  # fmt: skip
    candidates = (f"SELECT _id AS _key, patient_id, start_date AS admission_date, "
                  f"NULL AS method FROM ({ok}) WHERE kind = 'admission'")  # fmt: skip
    ae = f"SELECT patient_id, start_date AS arrival_date FROM ({ok}) WHERE kind = 'ae'"
    r69 = run.mappings.value("primary_diagnosis", "default") or "R69"
    run.emit(
        "admissions",
        f"""SELECT e._id AS spell_id, e.patient_id, e.start_date AS admission_date,
                   e.end_date AS discharge_date, am.admission_method,
                   '{r69}' AS primary_diagnosis, {provider} AS provider_code
            FROM ({ok}) e JOIN ({admission_method_rule(run, candidates, ae)}) am ON am._key = e._id
            LEFT JOIN orgcode o USING (org_key) WHERE e.kind = 'admission'""",
    )
    registrations_from_contacts(
        run,
        "SELECT patient_id, org_key, start_date AS day FROM l_encounters "
        "WHERE kind = 'primary_care' AND patient_id IS NOT NULL",
        "the ORGANIZATION of their wellness and ambulatory encounters",
    )


def _events(run: IngestRun, file: str, names: list[str]) -> None:
    dates, value = EVENT_FILES[file]
    missing = [c for c in ("PATIENT", "CODE") if _col(names, c) is None]
    day_cols = [col for d in dates if (col := _col(names, d))]
    if missing or not day_cols:
        need = missing + ([] if day_cols else [" or ".join(dates)])
        raise DataError(f"missing required column{'s' if len(need) > 1 else ''} "
                        f"{', '.join(need)} ({SPEC} {file}).", file=run.source / file,
                        where="line 1 (header)", fix=f"export {file} with its {', '.join(need)} column.")  # fmt: skip
    system = _col(names, "SYSTEM")
    src_system = f"coalesce(NULLIF(t.{system}, ''), f.target)" if system else "f.target"
    day = ", ".join(f"TRY_CAST(left(t.{d}, 10) AS DATE)" for d in day_cols)
    val = f"TRY_CAST(t.{_col(names, value)} AS DOUBLE)" if value and _col(names, value) else "NULL"
    table = "s_" + file[:-4]
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_ev AS
        SELECT t._line, NULL AS _id, p.patient_id, coalesce({day}) AS event_date,
               m.target AS code_system, t.{_col(names, "CODE")} AS code, {val} AS value,
               CASE WHEN p.patient_id IS NULL THEN 'PATIENT not in patients.csv'
                    WHEN coalesce({day}) IS NULL THEN '{" or ".join(dates)} missing or not a date'
                    WHEN t.{_col(names, "CODE")} IS NULL THEN 'CODE missing'
                    WHEN m.target IS NULL THEN 'code system not mapped to a careis code system'
               END AS _reason, coalesce({src_system}, '(none)') AS _detail
        FROM {table} t LEFT JOIN out_patients p ON p.patient_id = t.{_col(names, "PATIENT")}
        LEFT JOIN {run.mappings.sql("synthea_file_system")} f ON f.source_value = '{file}'
        LEFT JOIN {run.mappings.sql("code_system")} m ON m.source_value = {src_system}"""
    )
    run.con.execute("UPDATE l_ev SET _detail = NULL WHERE _reason IS NULL "
                    "OR _reason <> 'code system not mapped to a careis code system'")  # fmt: skip
    run.con.execute(f"CREATE OR REPLACE TABLE l_{table} AS SELECT * FROM l_ev")
    run.account(file, file[:-4], f"l_{table}")
    run.emit("events", f"SELECT * FROM l_{table} WHERE _reason IS NULL")


def ingest(folder: Path, options: IngestOptions | None = None) -> IngestRun:
    """Read a Synthea CSV export folder into canonical tables."""
    run = new_run("synthea", folder, options or IngestOptions())
    if not folder.is_dir():
        raise DataError("not a folder.", file=folder, fix="give the Synthea csv/ folder.")
    headers = _read_all(run, folder)
    _patients(run, headers["patients.csv"])
    _encounters(run, headers["encounters.csv"], "organizations.csv" in headers)
    for file, names in headers.items():
        if file in EVENT_FILES:
            _events(run, file, names)
        elif file not in REQUIRED:
            table = "s_" + file[:-4].replace("-", "_").replace(" ", "_")
            run.con.execute(f"CREATE OR REPLACE VIEW l_unused AS SELECT _line, NULL AS _id, "
                            "'file not used by careis (no canonical table)' AS _reason "
                            f"FROM {table}")  # fmt: skip
            run.account(file, file[:-4], "l_unused")
    if "organizations.csv" in headers:
        run.con.execute("CREATE OR REPLACE VIEW l_org AS SELECT _line, \"Id\" AS _id, NULL AS "
                        "_reason FROM s_organizations")  # fmt: skip
        run.account("organizations.csv", "organization", "l_org")
    add_groupings(run)
    return run
