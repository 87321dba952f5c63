"""Helpers shared by the generator tests (fixture code lists, reading tables)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from careis.codelists.sctid import verhoeff_digit
from careis.synth.codes import REQUIRED_LISTS

TABLES = (
    "organisations",
    "memberships",
    "patients",
    "registrations",
    "events",
    "admissions",
    "ae_attendances",
)


def _fake_codes(index: int, count: int) -> list[str]:
    """Distinct SNOMED-shaped codes (with a valid check digit) for list number `index`."""
    payloads = [f"{9_000_000 + index * 1000 + j}" for j in range(count)]
    return [p + verhoeff_digit(p) for p in payloads]


def write_codelists(folder: Path) -> dict[str, list[str]]:
    """One small code,term CSV per list the generator needs; returns name -> codes."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[str]] = {}
    for i, name in enumerate(REQUIRED_LISTS):
        count = 40 if name == "medicines" else 3
        codes = _fake_codes(i, count)
        if name == "efi_diabetes":  # one diagnosis code that is also an eFI code
            codes = [out["diabetes"][0], *codes[1:]]
        if name == "efi_housebound":
            codes = [*codes[:2], _fake_codes(REQUIRED_LISTS.index("housebound"), 1)[0]]
        lines = ["code,term", *[f"{c},{name} term {j}" for j, c in enumerate(codes)]]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[name] = codes
    return out


def read(folder: Path, table: str) -> pa.Table:
    return pq.read_table(folder / f"{table}.parquet")
