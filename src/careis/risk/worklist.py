"""Each practice's worklist: who on its register or frailty list needs what, in words.

Why a separate file from register.csv: the register is the model's output (ranks, scores,
factor codes); a practice acts on a list that says, for each of its own patients, why they
are on it and what is still to do this year (a care plan not yet agreed, a review not yet
done), sorted by risk. It is built from the files already in the practice's own folder
(register.csv, frailty.csv, measure_flags.csv, register_changes.csv), so it holds nothing the
practice does not already hold, and it never leaves that folder.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from careis.csvio import write_rows

#: The worklist's columns, named in words.
COLUMNS = [
    "Priority",
    "Patient (pseudonym)",
    "Age",
    "Sex",
    "Chance of an emergency admission in the next 12 months",
    "Why on the list",
    "Frailty (eFI)",
    "Still to do this year",
    "New to the register",
]
SEX_WORDS = {"F": "Female", "M": "Male", "U": "Not known"}


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _due(flags: list[dict[str, str]], names: dict[str, str]) -> dict[str, list[str]]:
    """Measures each patient counts towards but has not yet met in the performance period."""
    due: dict[str, list[str]] = defaultdict(list)
    for f in flags:
        counts = (f["denominator"], f["excluded"], f["numerator"]) == ("1", "0", "0")
        if f["period"] == "performance" and counts:
            due[f["patient_id"]].append(names.get(f["measure_id"], f["measure_id"]))
    return due


def _row(priority: int, r: dict[str, str], why: str, due: list[str], new: str) -> dict[str, str]:
    risk = r.get("risk_score", "")
    return {
        "Priority": str(priority),
        "Patient (pseudonym)": r["patient_id"],
        "Age": r.get("age", ""),
        "Sex": SEX_WORDS.get(r.get("sex", ""), r.get("sex", "")),
        "Chance of an emergency admission in the next 12 months": (
            f"{100 * float(risk):.0f}%" if risk else ""
        ),
        "Why on the list": why,
        "Frailty (eFI)": (r.get("efi_category") or "").capitalize(),
        "Still to do this year": "; ".join(sorted(due)) or "Nothing outstanding",
        "New to the register": new,
    }


def build_worklist(folder: Path, measure_names: dict[str, str]) -> list[dict[str, str]]:
    """Register patients by rank, then moderately or severely frail patients not on it."""
    register = _read(folder / "register.csv")
    due = _due(_read(folder / "measure_flags.csv"), measure_names)
    new = {c["patient_id"]: c["reason"] for c in _read(folder / "register_changes.csv")
           if c["change"] == "entered"}  # fmt: skip
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for r in sorted(register, key=lambda r: int(r["register_rank"])):
        why = "On the case-finding register: " + (r.get("top_factors") or "risk score")
        yes = f"Yes: {new[r['patient_id']]}" if r["patient_id"] in new else ""
        rows.append(_row(len(rows) + 1, r, why, due.get(r["patient_id"], []), yes))
        seen.add(r["patient_id"])
    frail = [f for f in _read(folder / "frailty.csv") if f["patient_id"] not in seen]
    for f in sorted(frail, key=lambda f: (-float(f["efi_score"]), f["patient_id"])):
        why = f"{f['efi_category'].capitalize()} frailty (eFI {float(f['efi_score']):.2f})"
        rows.append(_row(len(rows) + 1, f, why, due.get(f["patient_id"], []), ""))
    return rows


def write_worklists(practices_root: Path, measure_names: dict[str, str]) -> list[Path]:
    """worklist.csv in every practice folder that has a register or a frailty list."""
    written = []
    for folder in sorted(p for p in practices_root.iterdir() if p.is_dir()):
        if not ((folder / "register.csv").exists() or (folder / "frailty.csv").exists()):
            continue
        path = folder / "worklist.csv"
        write_rows(build_worklist(folder, measure_names), COLUMNS, path)
        written.append(path)
    return written


def reidentify(worklist: Path, numbers: Path, key: str, out: Path) -> tuple[int, int]:
    """The practice's route back to its patients: its own list of NHS numbers, pseudonymised
    with the run's key, matched to the worklist; writes the worklist with an NHS number column.

    Why here and not in the run: the run never holds a practice's NHS numbers in its outputs;
    the practice (or its data processor, who holds the key) joins them locally, to a file it
    chooses outside the run folder. Returns (rows matched, rows not matched).
    """
    from careis.data.pseudonym import pseudonym
    from careis.errors import DataError

    rows = _read(worklist)
    with numbers.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        column = next(
            (
                c
                for c in reader.fieldnames or []
                if c.strip().lower().replace(" ", "_") == "nhs_number"
            ),
            None,
        )
        if column is None:
            raise DataError(
                f"{numbers}: no 'nhs_number' column; export your list with a column of that name"
            )
        by_pseudonym = {pseudonym(r[column], key): r[column].strip() for r in reader if r[column]}
    matched = 0
    fields = ["NHS number", *COLUMNS]
    out_rows = []
    for r in rows:
        number = by_pseudonym.get(r["Patient (pseudonym)"], "")
        matched += bool(number)
        out_rows.append({"NHS number": number or "not in your list", **r})
    write_rows(out_rows, fields, out)
    return matched, len(rows) - matched
