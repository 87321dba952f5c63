"""What every ingest adapter shares: the ledger, the set-aside records and the output.

Why one framework: the promise of `careis ingest` is the same for every format — nothing is
dropped silently, and for every source file and record type, records read = mapped + set
aside, exactly. Each adapter (`omop`, `fhir`, `synthea`, `hes`) is a function
`ingest(folder, options) -> IngestRun` that does its work in DuckDB and, for each source
file and record type, hands the framework one relation with a row per source record:
`_line` (line in the file, or entry number in a Bundle), `_id` (the record's own id),
`_reason` (null when mapped, else why it was set aside) and optionally `_detail` (the value
behind the reason, e.g. an unmapped code). The framework counts them, keeps the set-aside
ones (the ingest quarantine) and writes the canonical tables that `careis validate` and
`careis run` read, plus the ingest report (HTML and CSV).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from careis.data.schema import LOAD_ORDER, PATTERNS, TABLES
from careis.data.sources.mapping import Mappings
from careis.errors import DataError

REPORT_DIR = "_ingest"  # canonical discovery skips names starting with "_"
DUCK_TYPES = {"string": "VARCHAR", "date": "DATE", "int64": "BIGINT", "float64": "DOUBLE",
              "boolean": "BOOLEAN"}  # fmt: skip
# The groupings every ingested practice is put in (a source has no PCN or ICB of its own).
GROUPS = (("pcn", "U99999"), ("federation", "FED99"), ("sub_icb", "99X"), ("icb", "Q99"))


class IngestOptions(BaseModel):
    """Options every adapter takes."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    mapping: list[Path] = Field(default_factory=list, description="Files overriding mappings.")
    pseudonym_key: SecretStr | None = Field(
        default=None, description="Key for pseudonymising NHS numbers (default: env)."
    )


@dataclass
class SourceCount:
    """One line of the reconciliation: a source file and record type."""

    file: str
    record_type: str
    read: int
    mapped: int
    set_aside: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.read == self.mapped + self.set_aside


@dataclass
class IngestRun:
    """The state of one ingest: DuckDB connection, mappings, ledger and canonical parts."""

    fmt: str
    source: Path
    con: duckdb.DuckDBPyConnection
    mappings: Mappings
    counts: list[SourceCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    parts: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.con.execute(
            "CREATE OR REPLACE TABLE set_aside (source_file VARCHAR, record_type VARCHAR, "
            "line BIGINT, record_id VARCHAR, reason VARCHAR, detail VARCHAR)"
        )

    def display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.source))
        except ValueError:
            return path.name

    def account(self, file: str, record_type: str, relation: str) -> SourceCount:
        """Count one relation of source records and keep the set-aside ones."""
        cols = [r[0] for r in self.con.execute(f"DESCRIBE {relation}").fetchall()]
        detail = "CAST(_detail AS VARCHAR)" if "_detail" in cols else "NULL"
        grouped = self.con.execute(
            f"SELECT _reason, count(*) FROM {relation} GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        reasons = {str(r): int(n) for r, n in grouped if r is not None}
        read = sum(int(n) for _, n in grouped)
        mapped = read - sum(reasons.values())
        self.con.execute(
            "INSERT INTO set_aside SELECT ?, ?, _line, CAST(_id AS VARCHAR), _reason, "
            f"{detail} FROM {relation} WHERE _reason IS NOT NULL",
            [file, record_type],
        )
        count = SourceCount(file, record_type, read, mapped, read - mapped, reasons)
        self.counts.append(count)
        return count

    def emit(self, table: str, select_sql: str) -> None:
        """Add rows to a canonical table (a SELECT giving its columns by name)."""
        self.parts.setdefault(table, []).append(select_sql)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def ignore(self, file: str, columns: list[str]) -> None:
        if columns:
            self.ignored_columns[file] = columns


def new_run(fmt: str, source: Path, options: IngestOptions) -> IngestRun:
    """A fresh run on an in-memory DuckDB (spilling to disk when a source is large)."""
    if not source.exists():
        raise DataError("no such input folder or file.", file=source, fix="check the path.")
    con = duckdb.connect()
    return IngestRun(fmt, source, con, Mappings(con, options.mapping))


def require_files(source: Path, found: list[Path], what: str) -> None:
    """DataError for an empty folder (the one-line error the issue asks for)."""
    if not found:
        raise DataError(
            f"the folder holds no {what}.",
            file=source,
            fix=f"give the folder that holds the {what} (the export's own folder).",
        )


def require_columns(path: Path, names: list[str], required: tuple[str, ...], spec: str) -> None:
    """DataError naming every missing required column, and the spec that requires it."""
    have = {n.strip().lower() for n in names}
    missing = [c for c in required if c.lower() not in have]
    if missing:
        raise DataError(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"({spec}).",
            file=path,
            where="line 1 (header)",
            fix=f"export the table with the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}.",
        )


# --------------------------------------------------------------------------- shared rules
def assign_org_codes(run: IngestRun, keys_sql: str) -> None:
    """Table `orgcode(org_key, org_code, name)`: a practice code for every organisation key.

    `keys_sql` gives (org_key, ods, name). The code is the user's mapping `practice_code`
    for the key if given, else the ODS code if it has the ODS practice form (letter + 5
    digits), else a local code Y00001, Y00002 ... in order of the source's key (Y-codes are
    how ODS marks non-standard practices; deterministic for a given input).
    """
    pattern = PATTERNS["ods_practice"]
    run.con.execute(
        f"""CREATE OR REPLACE TABLE orgcode AS
        WITH k AS (SELECT org_key, any_value(ods) AS ods, any_value(name) AS name
                   FROM ({keys_sql}) GROUP BY org_key)
        SELECT k.org_key,
               coalesce(m.target,
                        CASE WHEN regexp_full_match(coalesce(k.ods, ''), '{pattern[1:-1]}')
                             THEN k.ods END,
                        'Y' || lpad(CAST(row_number() OVER (ORDER BY k.org_key) AS VARCHAR),
                                    5, '0')) AS org_code,
               coalesce(k.name, k.org_key) AS name
        FROM k LEFT JOIN {run.mappings.sql("practice_code")} m ON m.source_value = k.org_key"""
    )


def attribute(run: IngestRun, contacts: str, preferred: str | None = None) -> None:
    """Table `attributed(patient_id, org_key)` from `contacts(patient_id, org_key, day)`.

    Rule (docs/data-sources.md; stated in the report): a patient's practice as the source
    states it (`preferred(patient_id, org_key)`, e.g. FHIR Patient.generalPractitioner)
    wins; otherwise the organisation of most of their primary-care contacts, ties going to
    the one seen last, then to the lower key. One organisation per patient.
    """
    given = preferred or "SELECT NULL AS patient_id, NULL AS org_key WHERE false"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE attributed AS
        WITH c AS (SELECT patient_id, org_key, count(*) AS n, max(day) AS last_day
                   FROM ({contacts}) WHERE org_key IS NOT NULL AND day IS NOT NULL
                   GROUP BY 1, 2),
             derived AS (SELECT patient_id, arg_max(org_key, (n, last_day, org_key)) AS org_key
                         FROM c GROUP BY 1),
             given AS (SELECT patient_id, any_value(org_key) AS org_key FROM ({given})
                       WHERE org_key IS NOT NULL GROUP BY 1)
        SELECT patient_id, coalesce(g.org_key, d.org_key) AS org_key,
               g.org_key IS NOT NULL AS stated
        FROM given g FULL JOIN derived d USING (patient_id)"""
    )


def registrations_from_contacts(
    run: IngestRun, contacts: str, what: str, preferred: str | None = None
) -> None:
    """One registration per patient: with the attributed organisation (`attribute`), from
    the patient's first primary-care contact (or birth, if none) until death (open while
    alive), so none overlap. Needs `out_patients` (call `materialise(run, "patients")`)."""
    attribute(run, contacts, preferred)
    run.emit(
        "registrations",
        f"""SELECT a.patient_id, o.org_code AS practice_code,
                   coalesce(f.start_date, p.birth_month) AS start_date, p.death_date AS end_date
            FROM attributed a JOIN orgcode o ON o.org_key = a.org_key
            JOIN out_patients p USING (patient_id)
            LEFT JOIN (SELECT patient_id, min(day) AS start_date FROM ({contacts})
                       GROUP BY 1) f USING (patient_id)""",
    )
    got = run.con.execute(
        "SELECT count(*), count(*) FILTER (stated), (SELECT count(*) FROM out_patients) "
        "FROM attributed JOIN orgcode USING (org_key)"
    ).fetchone()
    n, stated, total = got if got else (0, 0, 0)
    run.note(
        f"Practice registration: {stated} of {total} patients have their practice stated in "
        f"the source; {n - stated} more are attributed from {what} (the organisation of most "
        "of their primary-care contacts; ties: the one seen last). Registered from the first "
        "primary-care contact (birth if none) until death. The "
        f"{total - n} without either get no registration, so careis validate sets their "
        "events aside."
    )


def admission_method_rule(run: IngestRun, candidates: str, ae: str) -> str:
    """SQL giving `admission_method` for `candidates(_key, patient_id, admission_date,
    method)`: the source's own method where it has one; else the `after_ae` mapping when the
    stay starts on the day of, or the day after, an A&E attendance of the same patient in
    `ae(patient_id, arrival_date)`; else the `default` mapping (99, not known)."""
    after = run.mappings.value("admission_method", "after_ae") or "21"
    default = run.mappings.value("admission_method", "default") or "99"
    return f"""SELECT c._key, coalesce(c.method,
                 CASE WHEN EXISTS (SELECT 1 FROM ({ae}) a WHERE a.patient_id = c.patient_id
                      AND a.arrival_date BETWEEN c.admission_date - INTERVAL 1 DAY
                      AND c.admission_date) THEN '{after}' END, '{default}') AS admission_method
               FROM ({candidates}) c"""


def add_groupings(run: IngestRun) -> None:
    """organisations (the registered practices and one PCN, federation, sub-ICB and ICB
    holding them all) and memberships, so that a run can report by practice and group."""
    label = f"careis ingest ({run.fmt}): all practices"
    materialise(run, "registrations")
    run.emit(
        "organisations",
        "SELECT org_code, 'practice' AS org_type, any_value(name) AS name FROM orgcode "
        "WHERE org_code IN (SELECT practice_code FROM out_registrations) GROUP BY org_code",
    )
    for group_type, code in GROUPS:
        run.emit(
            "organisations",
            f"SELECT '{code}' AS org_code, '{group_type}' AS org_type, '{label}' AS name",
        )
        run.emit(
            "memberships",
            f"SELECT DISTINCT practice_code, '{group_type}' AS group_type, '{code}' AS "
            "group_code, DATE '1900-01-01' AS valid_from, CAST(NULL AS DATE) AS valid_to "
            "FROM out_registrations",
        )


# --------------------------------------------------------------------------- output
def canonical_select(table: str, parts: list[str]) -> str:
    """The union of a table's parts, with exactly its columns and types, in order."""
    spec = TABLES[table]
    cols = ", ".join(
        f'CAST("{c.name}" AS {DUCK_TYPES[c.dtype]}) AS "{c.name}"' for c in spec.columns
    )
    if not parts:
        nulls = ", ".join(
            f'CAST(NULL AS {DUCK_TYPES[c.dtype]}) AS "{c.name}"' for c in spec.columns
        )
        return f"SELECT {nulls} LIMIT 0"
    body = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
    order = ", ".join(f'"{c}"' for c in (spec.key or spec.column_names))
    return f"SELECT {cols} FROM ({body}) ORDER BY {order}"


def materialise(run: IngestRun, table: str) -> None:
    """Make `out_<table>` a table now (later parts, e.g. registrations, read it)."""
    run.con.execute(
        f"CREATE OR REPLACE TABLE out_{table} AS {canonical_select(table, run.parts.get(table, []))}"
    )
    run.parts[table] = [f"SELECT * FROM out_{table}"]


def write(run: IngestRun, out: Path) -> dict[str, int]:
    """Write the canonical tables (Parquet), the set-aside records and the ingest report."""
    from careis.data.sources.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    for table in LOAD_ORDER:
        materialise(run, table)
        path = out / f"{table}.parquet"
        run.con.execute(f"COPY out_{table} TO '{path}' (FORMAT parquet)")
        got = run.con.execute(f"SELECT count(*) FROM out_{table}").fetchone()
        rows[table] = int(got[0]) if got else 0
    folder = out / REPORT_DIR
    folder.mkdir(exist_ok=True)
    run.con.execute(
        f"COPY (SELECT * FROM set_aside ORDER BY source_file, record_type, line, record_id) "
        f"TO '{folder / 'set_aside.csv'}' (HEADER, DELIMITER ',')"
    )
    run.con.execute(
        f"COPY (SELECT * FROM mapping ORDER BY mapping, source_value) "
        f"TO '{folder / 'mappings_used.csv'}' (HEADER, DELIMITER ',')"
    )
    write_report(run, folder, rows)
    return rows


def reconciliation_rows(run: IngestRun) -> list[list[str | int]]:
    """The reconciliation in long form (one row per file, record type and reason)."""
    out: list[list[str | int]] = []
    for c in run.counts:
        head: list[str | int] = [c.file, c.record_type, c.read, c.mapped, c.set_aside]
        if not c.reasons:
            out.append([*head, "", 0])
        out.extend([*head, reason, n] for reason, n in c.reasons.items())
    return out


def write_reconciliation_csv(run: IngestRun, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source_file", "record_type", "read", "mapped", "set_aside", "reason",
                         "count"])  # fmt: skip
        writer.writerows(reconciliation_rows(run))
