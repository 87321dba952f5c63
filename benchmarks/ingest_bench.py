"""Ingest throughput per format (records/s): `python benchmarks/ingest_bench.py OUT.json [COPIES]`.

Why replicate the shared samples: they are real exports of each format (real layouts, real
quirks), just tiny. Each is copied COPIES times (default 40) with every patient, encounter and
record id suffixed by the copy number (FHIR: every UUID in the text, so references stay
consistent), giving a larger input with the same shape. The ingest (adapter + writing the
canonical tables and report) is timed, and checked: read = mapped + set aside for every file, and
COPIES times the sample's patients come out.
Not done here yet: writing careis's synthetic ICB out as FHIR/OMOP and checking the round trip.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / ".." / "shared" / "data"
SHARED = SHARED if SHARED.exists() else Path("/work/shared/data")
WORK = ROOT / "out" / "bench-ingest"
UUID = "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
# Synthea CSV: file -> columns holding ids to suffix.
SYNTHEA = {
    "patients.csv": ("Id",),
    "encounters.csv": ("Id", "PATIENT"),
    "organizations.csv": (),
    "conditions.csv": ("PATIENT", "ENCOUNTER"),
    "observations.csv": ("PATIENT", "ENCOUNTER"),
    "medications.csv": ("PATIENT", "ENCOUNTER"),
    "procedures.csv": ("PATIENT", "ENCOUNTER"),
}
OMOP_IDS = {  # table -> id columns to offset (person_id everywhere)
    "PERSON": ("person_id",),
    "OBSERVATION_PERIOD": ("observation_period_id", "person_id"),
    "DEATH": ("person_id",),
    "VISIT_OCCURRENCE": ("visit_occurrence_id", "person_id"),
    "CONDITION_OCCURRENCE": ("condition_occurrence_id", "person_id", "visit_occurrence_id"),
    "PROCEDURE_OCCURRENCE": ("procedure_occurrence_id", "person_id"),
    "DRUG_EXPOSURE": ("drug_exposure_id", "person_id"),
    "MEASUREMENT": ("measurement_id", "person_id"),
    "OBSERVATION": ("observation_id", "person_id"),
    "CONCEPT": (),
    "CARE_SITE": (),
    "CDM_SOURCE": (),
}
PATIENTS = {"synthea": 27, "omop": 28, "fhir": 13, "hes": 1663}  # each sample once, ingested
HES = {"apc.csv": ("PSEUDO_HESID", "EPIKEY"), "ae.csv": ("PSEUDO_HESID", "AEKEY")}
HES_FILES = {
    "apc.csv": "artificial_hes_apc_0102.csv",
    "ae.csv": "artificial_hes_ae_0708_truncated.csv",
}


def _copy_csv(con: duckdb.DuckDBPyConnection, src: Path, dst: Path, ids: tuple[str, ...],
              copies: int, offset: bool = False) -> None:  # fmt: skip
    """`dst` = `src` repeated `copies` times (once when it has no ids), ids made unique."""
    cols = [
        r[0]
        for r in con.execute(
            f"DESCRIBE SELECT * FROM read_csv('{src}', all_varchar=true)"
        ).fetchall()
    ]
    n = copies if ids else 1

    def expr(c: str) -> str:
        if c not in ids:
            return f'"{c}"'
        if offset:  # OMOP ids are integers
            return f'CAST(CAST("{c}" AS BIGINT) + k * 100000000 AS VARCHAR) AS "{c}"'
        return f'CASE WHEN "{c}" IS NULL THEN NULL ELSE "{c}" || \'-\' || k END AS "{c}"'

    select = ", ".join(expr(c) for c in cols)
    con.execute(
        f"COPY (SELECT {select} FROM read_csv('{src}', all_varchar=true), range({n}) r(k)) "
        f"TO '{dst}' (HEADER, DELIMITER ',')"
    )


def make_inputs(copies: int) -> dict[str, Path]:
    if WORK.exists():
        shutil.rmtree(WORK)
    con = duckdb.connect()
    folders = {f: WORK / "in" / f for f in ("synthea", "omop", "fhir", "hes")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for name, ids in SYNTHEA.items():
        _copy_csv(con, SHARED / "synthea-sample" / name, folders["synthea"] / name, ids, copies)
    for table, ids in OMOP_IDS.items():
        src = SHARED / "omop" / "synthea27nj" / f"{table}.csv"
        _copy_csv(con, src, folders["omop"] / f"{table}.csv", ids, copies, offset=True)
    for name, ids in HES.items():
        src = SHARED / "hes" / "artificial" / HES_FILES[name]
        _copy_csv(con, src, folders["hes"] / name, ids, copies)
    pattern = re.compile(UUID)
    for src in sorted((SHARED / "fhir" / "synthea-bulk-r4").glob("*.ndjson")):
        text = src.read_text(encoding="utf-8")
        with (folders["fhir"] / src.name).open("w", encoding="utf-8") as handle:
            for k in range(copies):
                handle.write(pattern.sub(lambda m, k=k: f"{m.group(1)}-{k}", text))
                if not text.endswith("\n"):
                    handle.write("\n")
    return folders


def _ingest(fmt: str, folder: Path) -> Any:
    from careis.data.sources import fhir, hes, omop, synthea
    from careis.data.sources.ingest import IngestOptions

    if fmt == "hes":
        return hes.ingest(folder / "apc.csv", folder / "ae.csv", None, IngestOptions())
    return {"synthea": synthea, "omop": omop, "fhir": fhir}[fmt].ingest(folder, IngestOptions())


def bench(copies: int) -> dict[str, Any]:
    from careis.data.sources.ingest import write

    folders = make_inputs(copies)
    out: dict[str, Any] = {"copies": copies, "formats": {}}
    for fmt, folder in folders.items():
        start = time.perf_counter()
        run = _ingest(fmt, folder)
        rows = write(run, WORK / "out" / fmt)
        wall = time.perf_counter() - start
        read = sum(c.read for c in run.counts)
        assert all(c.reconciles for c in run.counts), fmt
        assert rows["patients"] == copies * PATIENTS[fmt], (fmt, rows["patients"])
        out["formats"][fmt] = {
            "records_read": read,
            "mapped": sum(c.mapped for c in run.counts),
            "set_aside": sum(c.set_aside for c in run.counts),
            "patients": rows["patients"],
            "wall_s": round(wall, 2),
            "records_per_s": round(read / wall),
        }
    return out


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else WORK / "ingest.json"
    copies = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    result = bench(copies)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
