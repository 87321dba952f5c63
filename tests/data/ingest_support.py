"""Helpers for the `careis ingest` tests: where the shared samples are, and running an ingest."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb

from careis.data.sources import fhir, hes, omop, synthea
from careis.data.sources.ingest import IngestOptions, IngestRun, write

SHARED = Path(__file__).resolve().parents[2] / ".." / ".." / "shared" / "data"
SHARED = SHARED if SHARED.exists() else Path("/work/shared/data")
SAMPLES = {
    "omop": SHARED / "omop" / "synthea27nj",
    "fhir": SHARED / "fhir" / "synthea-bulk-r4",
    "synthea": SHARED / "synthea-sample",
    "hes": SHARED / "hes" / "artificial",
}
HES_APC = SAMPLES["hes"] / "artificial_hes_apc_0102.csv"
HES_AE = SAMPLES["hes"] / "artificial_hes_ae_0708_truncated.csv"
KEY = IngestOptions.model_validate(
    {"pseudonym_key": "test-key-not-secret-but-long-enough-0123456789"}
)


def ingest(fmt: str, source: Path | None = None, options: IngestOptions | None = None,
           **hes_paths: Path) -> IngestRun:  # fmt: skip
    """Run one adapter on `source` (the shared sample by default)."""
    opts = options or IngestOptions()
    if fmt == "hes":
        return hes.ingest(hes_paths.get("apc"), hes_paths.get("ae"), hes_paths.get("gp"), opts)
    adapter = {"omop": omop, "fhir": fhir, "synthea": synthea}[fmt]
    return adapter.ingest(source or SAMPLES[fmt], opts)


def rows(out: Path, table: str, where: str = "true") -> int:
    """Rows of a written canonical table (Parquet) matching `where`."""
    con = duckdb.connect()
    got = con.execute(f"SELECT count(*) FROM '{out / table}.parquet' WHERE {where}").fetchone()
    con.close()
    return int(got[0]) if got else 0


def report_csv(out: Path) -> list[dict[str, str]]:
    with (out / "_ingest" / "report.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def set_aside(out: Path) -> list[dict[str, str]]:
    with (out / "_ingest" / "set_aside.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def counts(run: IngestRun) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(c.file, c.record_type): (c.read, c.mapped, c.set_aside) for c in run.counts}


def write_ndjson(path: Path, resources: list[dict[str, Any] | str]) -> Path:
    """NDJSON from resources (a str is written as the raw line, e.g. broken JSON)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in resources]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], body: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return path


__all__ = ["KEY", "SAMPLES", "write"]
