"""Writing the risk layer's outputs: patient-level files per practice, suppressed aggregates.

Why here and not in the pipeline: `careis run` and `careis risk score` write the same files,
and the rule that patient-level data go only into `practices/<code>/` must hold for both.
Aggregates (register sizes, eFI distribution) are written with small-number suppression
(`careis.measures.suppression`, docs/disclosure.md): counts 1-7 become '*', others are rounded
to 5, by the same function as measures/published.csv.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from careis.csvio import write_rows
from careis.layout import PRACTICE_SUMMARY, RunLayout
from careis.measures.suppression import SUPPRESSED, SuppressionConfig, publish_counts
from careis.risk.efi import CATEGORIES

REGISTER_FIELDS: tuple[str, ...] = (
    "register_rank", "patient_id", "age", "sex", "risk_score", "top_factors", "efi_score",
    "efi_category", "prior_emergency_admissions", "prior_ae_attendances", "n_conditions",
    "care_home", "housebound",
)  # fmt: skip
FRAILTY_FIELDS: tuple[str, ...] = (
    "patient_id", "age", "sex", "efi_deficits", "efi_score", "efi_category", "polypharmacy",
    "care_home", "housebound",
)  # fmt: skip
CHANGE_FIELDS: tuple[str, ...] = ("patient_id", "change", "reason")


def _write(path: Path, fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    write_rows(({f: row.get(f) for f in fields} for row in rows), fields, path)


def _by_practice(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row["practice_code"]), []).append(row)
    return out


def write_practice_files(
    out: Path,
    practices: Sequence[str],
    register: pa.Table,
    frailty: pa.Table,
    changes: list[dict[str, str]] | None,
) -> None:
    """register.csv, frailty.csv and (when there was a previous refresh) register_changes.csv
    in each practice's own folder. Every practice gets the files, empty ones included, so an
    empty register is visibly empty rather than missing."""
    reg = _by_practice(register.to_pylist())
    frail = _by_practice(frailty.sort_by([("practice_code", "ascending"),
                                          ("efi_score", "descending"),
                                          ("patient_id", "ascending")]).to_pylist())  # fmt: skip
    chg = _by_practice(changes or [])
    layout = RunLayout(out)
    for code in practices:
        folder = layout.practice_dir(code)
        _write(folder / "register.csv", REGISTER_FIELDS, reg.get(code, []))
        _write(folder / "frailty.csv", FRAILTY_FIELDS, frail.get(code, []))
        if changes is not None:
            _write(folder / "register_changes.csv", CHANGE_FIELDS, chg.get(code, []))


def practice_summary(
    sizes: pa.Table, register: pa.Table, efi_dist: pa.Table
) -> list[dict[str, Any]]:
    """Per practice (exact counts, for the restricted report): adults, register target and
    count, patients 65+ by eFI category."""
    rows: dict[str, dict[str, Any]] = {}
    for r in sizes.to_pylist():
        rows[r["practice_code"]] = {
            "practice_code": r["practice_code"],
            "adults": int(r["adults"]),
            "register_target": int(r["register_size"]),
            "on_register": 0,
            **dict.fromkeys(CATEGORIES, 0),
        }
    for r in register.select(["practice_code"]).to_pylist():
        rows[r["practice_code"]]["on_register"] += 1
    for r in efi_dist.to_pylist():
        entry = rows.setdefault(
            r["practice_code"],
            {"practice_code": r["practice_code"], "adults": 0, "register_target": 0,
             "on_register": 0, **dict.fromkeys(CATEGORIES, 0)},
        )  # fmt: skip
        entry[r["efi_category"]] = int(r["patients"])
    return [rows[k] for k in sorted(rows)]


SUMMARY_FIELDS: tuple[str, ...] = (
    "practice_code", "adults", "register_target", "on_register", *CATEGORIES,
)  # fmt: skip


def write_summary(out: Path, summary: list[dict[str, Any]], config: SuppressionConfig) -> Path:
    """risk/practice_summary.csv: the per-practice counts under the same disclosure rule as
    measures/published.csv (docs/disclosure.md). The eFI categories add up to the practice's
    patients aged 65+, so none is left as the lone hidden one of the four."""
    published = []
    for row in summary:
        counts = {f: float(row[f]) for f in SUMMARY_FIELDS[1:]}
        shown = publish_counts(counts, [CATEGORIES], config)
        pub: dict[str, Any] = {"practice_code": row["practice_code"]}
        for f, v in shown.items():
            pub[f] = SUPPRESSED if v is None else int(v)
        published.append(pub)
    path = RunLayout(out).file(PRACTICE_SUMMARY)
    _write(path, SUMMARY_FIELDS, published)
    return path


POINTS_REGISTER_FIELDS: tuple[str, ...] = (
    "register_rank", "patient_id", "age", "sex", "risk_score", "top_factors",
    "prior_emergency_admissions", "prior_ae_attendances", "n_conditions", "care_home",
)  # fmt: skip


def write_points_registers(out: Path, register: pa.Table) -> None:
    """With `risk.method: points`: each practice's register, with the factors that scored
    most, only in that practice's own folder (practices with nobody on it get no file)."""
    from careis.risk.points import top_factors

    layout = RunLayout(out)
    for code, rows in _by_practice(register.to_pylist()).items():
        for row in rows:
            row["top_factors"] = "; ".join(top_factors(row))
        _write(layout.practice_dir(code) / "register.csv", POINTS_REGISTER_FIELDS, rows)
