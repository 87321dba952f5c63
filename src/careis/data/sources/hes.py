"""HES/SUS-layout extracts (APC episodes, A&E attendances) and a GP-side CSV extract.

Why this layout: it is what a commissioner's analyst receives (HES APC and A&E from NHS
England's DARS, the same columns from SUS), plus a GP extract that links on the same
pseudonymised patient id. Columns are found by header name (case-insensitive); every column
careis does not read is listed in the report. Field by field (docs/data-sources.md):
- APC (one row per episode): episodes of one patient with the same ADMIDATE and PROCODE3
  form one spell, ordered by EPIORDER (then EPISTART, EPIKEY). The spell takes the first
  episode's EPIKEY (spell_id), ADMIMETH (as text: '2A' is a code, not a number) and
  DIAG_4_01 (ICD-10, HES padding removed: 'R69X' -> 'R69', '-' dropped), and the last
  episode's DISDATE. The sentinel dates 1800-01-01 (null) and 1801-01-01 (invalid) are
  never dates: an episode whose ADMIDATE is one is set aside with that reason; a sentinel
  DISDATE is an unknown discharge. DISMETH 4 (died) gives the patient's death date.
- A&E (HES A&E or ECDS-like, one row per attendance): AEKEY, ARRIVALDATE, AEDEPTTYPE
  (mapping `department_type`: 01-04 -> 1-4; 99 or blank -> the `default`, 1), PROCODE3.
- GP folder (optional): patients.csv (patient_id, sex, birth_date [, death_date]),
  registrations.csv (patient_id, practice_code, start_date [, end_date]) and events.csv
  (patient_id, event_date, code_system, code [, value]); patient_id is the PSEUDO_HESID.
- Patients in HES but not in the GP extract: sex from SEX (mapping `sex`), birth month from
  MYDOB (MMYYYY), else approximated from ARRIVALAGE; registered with their GPPRAC (the
  most frequent valid one) from their first hospital record until death.
"""

from __future__ import annotations

from pathlib import Path

from careis.data.schema import ADMISSION_METHODS, CODE_SYSTEMS, PATTERNS
from careis.data.sources import _io
from careis.data.sources.ingest import (
    IngestOptions,
    IngestRun,
    add_groupings,
    assign_org_codes,
    materialise,
    new_run,
    registrations_from_contacts,
    require_columns,
)
from careis.errors import DataError

SPEC = "HES/SUS layout"
SENTINELS = {"1800-01-01": "null", "1801-01-01": "invalid"}
APC_REQUIRED = ("PSEUDO_HESID", "EPIKEY", "ADMIDATE", "ADMIMETH", "EPIORDER", "PROCODE3")
APC_READS = (*APC_REQUIRED, "EPISTART", "DISDATE", "DISMETH", "DIAG_4_01", "SEX", "MYDOB",
             "GPPRAC")  # fmt: skip
AE_REQUIRED = ("PSEUDO_HESID", "AEKEY", "ARRIVALDATE")
AE_READS = (*AE_REQUIRED, "AEDEPTTYPE", "PROCODE3", "SEX", "ARRIVALAGE", "GPPRAC")
GP_FILES = {  # file: (required columns, optional columns)
    "patients.csv": (("patient_id", "sex", "birth_date"), ("death_date",)),
    "registrations.csv": (("patient_id", "practice_code", "start_date"), ("end_date",)),
    "events.csv": (("patient_id", "event_date", "code_system", "code"), ("value",)),
}
_ODS = PATTERNS["ods_practice"][1:-1]


def hes_date(expr: str) -> str:
    """SQL: a HES date (ISO, or DD/MM/YYYY) as DATE; the sentinels and junk are NULL."""
    text = f"left(trim({expr}), 10)"
    sentinels = ", ".join(f"'{s}'" for s in SENTINELS)
    return (f"CASE WHEN {text} IN ({sentinels}) THEN NULL ELSE coalesce(TRY_CAST({text} AS DATE), "
            f"CAST(TRY_STRPTIME({text}, '%d/%m/%Y') AS DATE)) END")  # fmt: skip


def _sentinel_reason(expr: str, column: str) -> str:
    """SQL CASE branches naming a sentinel date in `column`."""
    return " ".join(
        f"WHEN left(trim({expr}), 10) = '{s}' THEN '{column} is {s}, the HES sentinel for "
        f"{meaning} (not a date)'"
        for s, meaning in SENTINELS.items()
    )


def _read(run: IngestRun, path: Path, table: str, required: tuple[str, ...],
          reads: tuple[str, ...]) -> list[str]:  # fmt: skip
    """Stream `path` into `table` with lower-case column names; check and list columns."""
    names = _io.read_csv(run.con, path, f"src_{table}")
    require_columns(path, names, required, f"{SPEC} {table}")
    wanted = {r.lower() for r in reads}
    run.ignore(run.display(path), [n for n in names if n.strip().lower() not in wanted])
    have = {n.strip().lower(): n for n in names}
    cols = [f'"{have[w]}" AS {w}' if w in have else f"NULL::VARCHAR AS {w}" for w in sorted(wanted)]
    run.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {', '.join(cols)}, _line "
                    f"FROM src_{table}")  # fmt: skip
    return names


def _apc(run: IngestRun) -> None:
    methods = ", ".join(f"'{m}'" for m in ADMISSION_METHODS)
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_apc AS
        SELECT _line, epikey AS _id, trim(pseudo_hesid) AS patient_id,
               {hes_date("admidate")} AS admission_date, {hes_date("disdate")} AS disdate,
               {hes_date("epistart")} AS epistart, TRY_CAST(epiorder AS INT) AS epiorder,
               upper(trim(admimeth)) AS method, trim(procode3) AS provider, trim(dismeth) AS dismeth,
               regexp_replace(upper(coalesce(diag_4_01, '')), '[^A-Z0-9]', '', 'g') AS diag,
               sex, mydob, trim(gpprac) AS gpprac, NULL::DOUBLE AS age,
               CASE WHEN trim(coalesce(pseudo_hesid, '')) = '' THEN 'PSEUDO_HESID missing'
                    {_sentinel_reason("admidate", "ADMIDATE")}
                    WHEN {hes_date("admidate")} IS NULL THEN 'ADMIDATE missing or not a date'
                    WHEN upper(trim(coalesce(admimeth, ''))) NOT IN ({methods})
                      THEN 'ADMIMETH is not an NHS Data Dictionary admission method'
                    WHEN trim(coalesce(procode3, '')) = '' THEN 'PROCODE3 missing'
                    WHEN count(*) OVER (PARTITION BY epikey) > 1 THEN 'EPIKEY appears twice'
               END AS _reason,
               CASE WHEN upper(trim(coalesce(admimeth, ''))) NOT IN ({methods})
                    THEN coalesce(admimeth, '(blank)') END AS _detail
        FROM apc"""
    )
    run.con.execute("UPDATE l_apc SET _detail = NULL WHERE _reason IS NULL OR _reason NOT LIKE "
                    "'ADMIMETH%'")  # fmt: skip


def _ae(run: IngestRun) -> None:
    dept = run.mappings.sql("department_type")
    default = run.mappings.value("department_type", "default") or "1"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_ae AS
        SELECT _line, aekey AS _id, trim(pseudo_hesid) AS patient_id,
               {hes_date("arrivaldate")} AS arrival_date,
               coalesce(d.target, '{default}') AS department_type, d.target IS NULL AS dept_default,
               coalesce(NULLIF(trim(procode3), ''), 'UNKNOWN') AS provider, sex,
               NULL::VARCHAR AS mydob, trim(gpprac) AS gpprac, TRY_CAST(arrivalage AS DOUBLE) AS age,
               CASE WHEN trim(coalesce(pseudo_hesid, '')) = '' THEN 'PSEUDO_HESID missing'
                    {_sentinel_reason("arrivaldate", "ARRIVALDATE")}
                    WHEN {hes_date("arrivaldate")} IS NULL THEN 'ARRIVALDATE missing or not a date'
                    WHEN count(*) OVER (PARTITION BY aekey) > 1 THEN 'AEKEY appears twice'
               END AS _reason
        FROM ae LEFT JOIN {dept} d ON d.source_value = trim(ae.aedepttype)"""
    )
    n = run.con.execute("SELECT count(*) FILTER (dept_default) FROM l_ae").fetchone()
    if n and n[0]:
        run.note(f"A&E: {n[0]} attendances have no AEDEPTTYPE careis maps (99, blank or "
                 f"other): department type {default} (major A&E) assumed (mapping "
                 "department_type, default).")  # fmt: skip


def _gp(run: IngestRun, folder: Path) -> None:
    """Read the GP extract (its absent files become empty tables)."""
    if not folder.is_dir():
        raise DataError("no such GP extract folder.", file=folder,
                        fix="give --gp the folder holding patients.csv, registrations.csv, "
                        "events.csv.")  # fmt: skip
    found = {p.name.lower(): p for p in folder.iterdir() if p.name.lower() in GP_FILES}
    if not found:
        raise DataError("the GP extract folder holds none of patients.csv, registrations.csv, "
                        "events.csv.", file=folder,
                        fix="name the files as docs/data-sources.md (HES/SUS, GP extract) says.")  # fmt: skip
    for name, (required, optional) in GP_FILES.items():
        table = "gp_" + name[:-4]
        if name in found:
            _read(run, found[name], table, required, (*required, *optional))
        else:
            cols = ", ".join(f"NULL::VARCHAR AS {c}" for c in (*required, *optional))
            run.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {cols}, NULL::BIGINT "
                            "AS _line WHERE false")  # fmt: skip


def _patients(run: IngestRun, gp: dict[str, Path]) -> None:
    """Patients: the GP extract's, plus those only in HES (from their hospital records)."""
    sex = run.mappings.sql("sex")
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_gp_patients AS
        SELECT _line, patient_id AS _id, trim(patient_id) AS patient_id,
               coalesce(s.target, upper(left(trim(g.sex), 1)), 'U') AS sex,
               date_trunc('month', coalesce(TRY_CAST(left(birth_date, 10) AS DATE),
                                            TRY_CAST(left(birth_date, 7) || '-01' AS DATE)))
                 AS birth_month,
               TRY_CAST(left(death_date, 10) AS DATE) AS death_date,
               CASE WHEN trim(coalesce(patient_id, '')) = '' THEN 'patient_id missing'
                    WHEN TRY_CAST(left(birth_date, 7) || '-01' AS DATE) IS NULL
                      THEN 'birth_date missing or not a date (YYYY-MM-DD or YYYY-MM)'
                    WHEN count(*) OVER (PARTITION BY patient_id) > 1
                      THEN 'patient_id appears twice' END AS _reason
        FROM gp_patients g LEFT JOIN {sex} s ON s.source_value = trim(g.sex)"""
    )
    run.con.execute("UPDATE l_gp_patients SET sex = 'U' WHERE sex NOT IN ('F', 'M', 'U')")
    if "patients.csv" in gp:
        run.account(run.display(gp["patients.csv"]), "patient", "l_gp_patients")
    hes = """SELECT patient_id, sex, mydob, age, arrival_date AS day, NULL AS died
               FROM l_ae WHERE _reason IS NULL
             UNION ALL SELECT patient_id, sex, mydob, age, admission_date, CASE WHEN dismeth = '4'
               THEN disdate END FROM l_apc WHERE _reason IS NULL"""
    run.con.execute(
        f"""CREATE OR REPLACE TABLE hes_patients AS
        SELECT h.patient_id, coalesce(any_value(s.target), 'U') AS sex,
               coalesce(max(TRY_CAST(right(mydob, 4) || '-' || left(mydob, 2) || '-01' AS DATE)),
                        date_trunc('month', max(day - to_years(CAST(floor(age) AS INT))))) AS birth_month,
               max(died) AS death_date
        FROM ({hes}) h LEFT JOIN {sex} s ON s.source_value = trim(h.sex)
        WHERE h.patient_id NOT IN (SELECT patient_id FROM l_gp_patients WHERE _reason IS NULL)
        GROUP BY h.patient_id"""
    )
    run.emit("patients", "SELECT patient_id, sex, birth_month, death_date, NULL AS imd_decile "
             "FROM l_gp_patients WHERE _reason IS NULL")  # fmt: skip
    run.emit("patients", "SELECT patient_id, sex, birth_month, death_date, NULL AS imd_decile "
             "FROM hes_patients WHERE birth_month IS NOT NULL")  # fmt: skip
    materialise(run, "patients")
    for table in ("l_apc", "l_ae"):
        run.con.execute(
            f"UPDATE {table} SET _reason = 'no birth month for the patient (no MYDOB, "
            "ARRIVALAGE or GP extract record)' WHERE _reason IS NULL AND patient_id NOT IN "
            "(SELECT patient_id FROM out_patients)"
        )
    n = run.con.execute("SELECT count(*), count(*) FILTER (death_date IS NOT NULL) "
                        "FROM hes_patients").fetchone()  # fmt: skip
    if n and n[0]:
        run.note(f"Patients only in HES (not in a GP extract): {n[0]}, sex from SEX, birth "
                 "month from MYDOB (else approximated from ARRIVALAGE); "
                 f"{n[1]} with a death date (DISMETH 4, the episode's DISDATE).")  # fmt: skip


def _spells(run: IngestRun) -> None:
    """Mapped APC episodes -> spells (admissions)."""
    r69 = run.mappings.value("primary_diagnosis", "default") or "R69"
    icd = PATTERNS["icd10"][1:-1]
    run.con.execute(
        """CREATE OR REPLACE TABLE spells AS
        WITH e AS (SELECT *, CASE WHEN length(diag) = 4 AND diag LIKE '%X' THEN left(diag, 3)
                                  ELSE diag END AS icd
                   FROM l_apc WHERE _reason IS NULL)
        SELECT arg_min(_id, (epiorder, epistart, _id)) AS spell_id, patient_id, admission_date,
               arg_max(disdate, (epiorder, epistart, _id)) AS discharge_date,
               arg_min(method, (epiorder, epistart, _id)) AS admission_method,
               arg_min(icd, (epiorder, epistart, _id)) AS icd, provider AS provider_code,
               count(*) AS episodes
        FROM e GROUP BY patient_id, admission_date, provider"""
    )
    run.emit(
        "admissions",
        f"""SELECT spell_id, patient_id, admission_date, discharge_date, admission_method,
                   CASE WHEN regexp_full_match(icd, '{icd}') THEN icd ELSE '{r69}' END
                     AS primary_diagnosis, provider_code FROM spells""",
    )
    got = run.con.execute(
        f"SELECT count(*), coalesce(sum(episodes), 0), count(*) FILTER (NOT "
        f"regexp_full_match(icd, '{icd}')) FROM spells"
    ).fetchone()
    if got:
        run.note(f"APC: {got[1]} episodes form {got[0]} spells (same PSEUDO_HESID, ADMIDATE "
                 "and PROCODE3; ADMIMETH and DIAG_4_01 of the first episode by EPIORDER, "
                 f"DISDATE of the last); {got[2]} spells without a valid ICD-10 DIAG_4_01 "
                 f"get {r69} (mapping primary_diagnosis, default).")  # fmt: skip


def _registrations(run: IngestRun, gp: dict[str, Path]) -> None:
    contacts = f"""SELECT patient_id, gpprac AS org_key, day FROM (
            SELECT patient_id, gpprac, admission_date AS day FROM l_apc WHERE _reason IS NULL
            UNION ALL SELECT patient_id, gpprac, arrival_date FROM l_ae WHERE _reason IS NULL)
        WHERE regexp_full_match(coalesce(gpprac, ''), '{_ODS}')
          AND patient_id IN (SELECT patient_id FROM hes_patients)"""
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_gp_registrations AS
        SELECT r._line, NULL AS _id, trim(r.patient_id) AS patient_id,
               upper(trim(r.practice_code)) AS practice_code,
               TRY_CAST(left(r.start_date, 10) AS DATE) AS start_date,
               TRY_CAST(left(r.end_date, 10) AS DATE) AS end_date,
               CASE WHEN p.patient_id IS NULL THEN 'patient_id not in patients.csv'
                    WHEN NOT regexp_full_match(upper(trim(coalesce(r.practice_code, ''))), '{_ODS}')
                      THEN 'practice_code is not an ODS practice code (letter and 5 digits)'
                    WHEN TRY_CAST(left(r.start_date, 10) AS DATE) IS NULL
                      THEN 'start_date missing or not a date' END AS _reason
        FROM gp_registrations r
        LEFT JOIN (SELECT patient_id FROM l_gp_patients WHERE _reason IS NULL) p
          ON p.patient_id = trim(r.patient_id)"""
    )
    if "registrations.csv" in gp:
        run.account(run.display(gp["registrations.csv"]), "registration", "l_gp_registrations")
    assign_org_codes(run, f"""SELECT org_key, org_key AS ods, NULL AS name FROM ({contacts})
        UNION ALL SELECT practice_code, practice_code, NULL FROM l_gp_registrations
        WHERE _reason IS NULL""")  # fmt: skip
    run.emit("registrations", "SELECT patient_id, practice_code, start_date, end_date "
             "FROM l_gp_registrations WHERE _reason IS NULL")  # fmt: skip
    registrations_from_contacts(run, contacts, "the GPPRAC of their HES records (patients "
                                "not in a GP extract)")  # fmt: skip


def _gp_events(run: IngestRun, gp: dict[str, Path]) -> None:
    known = ", ".join(f"'{c}'" for c in CODE_SYSTEMS)
    run.con.execute(
        f"""CREATE OR REPLACE TABLE l_gp_events AS
        SELECT e._line, NULL AS _id, p.patient_id, TRY_CAST(left(e.event_date, 10) AS DATE)
                 AS event_date,
               coalesce(m.target, CASE WHEN lower(trim(e.code_system)) IN ({known})
                                       THEN lower(trim(e.code_system)) END) AS code_system,
               trim(e.code) AS code, TRY_CAST(e.value AS DOUBLE) AS value,
               CASE WHEN p.patient_id IS NULL THEN 'patient_id not a patient in this load'
                    WHEN TRY_CAST(left(e.event_date, 10) AS DATE) IS NULL
                      THEN 'event_date missing or not a date'
                    WHEN trim(coalesce(e.code, '')) = '' THEN 'code missing'
                    WHEN m.target IS NULL AND lower(trim(e.code_system)) NOT IN ({known})
                      THEN 'code system not mapped to a careis code system' END AS _reason,
               e.code_system AS _detail
        FROM gp_events e LEFT JOIN out_patients p ON p.patient_id = trim(e.patient_id)
        LEFT JOIN {run.mappings.sql("code_system")} m ON m.source_value = trim(e.code_system)"""
    )
    run.con.execute("UPDATE l_gp_events SET _detail = NULL WHERE _reason IS NULL OR _reason NOT "
                    "LIKE 'code system%'")  # fmt: skip
    if "events.csv" in gp:
        run.account(run.display(gp["events.csv"]), "event", "l_gp_events")
    run.emit("events", "SELECT * FROM l_gp_events WHERE _reason IS NULL")


def _empty(run: IngestRun, table: str, reads: tuple[str, ...]) -> None:
    cols = ", ".join(f"NULL::VARCHAR AS {c.lower()}" for c in reads)
    run.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {cols}, NULL::BIGINT AS _line "
                    "WHERE false")  # fmt: skip


def ingest(
    apc: Path | None = None,
    ae: Path | None = None,
    gp: Path | None = None,
    options: IngestOptions | None = None,
) -> IngestRun:
    """Read HES/SUS-layout APC and A&E extracts and a GP extract into canonical tables."""
    given = [p for p in (apc, ae, gp) if p is not None]
    if not given:
        raise DataError("no input given.", fix="give at least one of --apc FILE, --ae FILE, "
                        "--gp FOLDER.")  # fmt: skip
    for path in given:
        if not path.exists():
            raise DataError("no such file or folder.", file=path, fix="check the path.")
    run = new_run("hes", given[0].parent, options or IngestOptions())
    _read(run, apc, "apc", APC_REQUIRED, APC_READS) if apc else _empty(run, "apc", APC_READS)
    _read(run, ae, "ae", AE_REQUIRED, AE_READS) if ae else _empty(run, "ae", AE_READS)
    if gp:
        _gp(run, gp)
    else:
        for name, (required, optional) in GP_FILES.items():
            _empty(run, "gp_" + name[:-4], (*required, *optional))
    gp_files = {p.name.lower(): p for p in gp.iterdir()} if gp else {}
    _apc(run)
    _ae(run)
    _patients(run, gp_files)
    _registrations(run, gp_files)
    _spells(run)
    run.emit("ae_attendances", "SELECT _id AS attendance_id, patient_id, arrival_date, "
             "department_type, provider AS provider_code FROM l_ae WHERE _reason IS NULL")  # fmt: skip
    if apc:
        run.account(run.display(apc), "episode", "l_apc")
    if ae:
        run.account(run.display(ae), "attendance", "l_ae")
    _gp_events(run, gp_files)
    add_groupings(run)
    return run
