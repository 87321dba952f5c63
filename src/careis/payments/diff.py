"""A difference report between two payment runs: which inputs changed and which money moved.

Why: re-running a scheme with the same inputs gives byte-identical outputs, so any change in a
statement must be explained by a change in an input (a late data correction, an edited
contract). The report names the changed inputs (by SHA-256 in each run's manifest) beside every
statement line and ledger movement whose amount differs, so finance can see why a practice's
payment moved before it pays the difference.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from careis.errors import CareisError
from careis.manifest import input_key

DIFF_FIELDS = ["table", "key", "run_a", "run_b", "difference"]


@dataclass(frozen=True)
class Difference:
    table: str  # input / statement / provider_total / ledger
    key: str
    run_a: str
    run_b: str
    difference: str

    def as_row(self) -> dict[str, str]:
        return {
            "table": self.table,
            "key": self.key,
            "run_a": self.run_a,
            "run_b": self.run_b,
            "difference": self.difference,
        }


def _read(run: Path, name: str) -> list[dict[str, str]]:
    path = run / "payments" / name
    if not path.is_file():
        raise CareisError(
            f"{path} not found: this is not the output folder of a payment run.",
            fix="give two folders written by `careis pay` or `careis run`.",
        )
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CareisError(
            f"cannot read the file ({exc.__class__.__name__}).",
            file=path,
            fix="give the output folder of a complete run, as careis wrote it.",
        ) from None
    for line, row in enumerate(rows, start=2):
        _amount(row.get("amount"), path, line)
    return rows


def _amount(text: str | None, path: Path, line: int) -> Decimal:
    """The row's amount, exactly; anything else names the file and line (an edited file)."""
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise CareisError(
            f"amount {text!r} is not a number.",
            file=path,
            where=f"line {line}",
            fix="the file has been edited or damaged; re-run careis to write it again.",
        )
    return value


def _read_optional(run: Path, name: str) -> list[dict[str, str]]:
    """A file that runs from before the ledger existed do not have: read as empty."""
    return _read(run, name) if (run / "payments" / name).is_file() else []


def _inputs(run: Path) -> dict[str, str]:
    path = run / "manifest.json"
    if not path.is_file():
        raise CareisError(f"{path} not found.", fix="give the output folder of a complete run.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        return {input_key(i): str(i["sha256"]) for i in manifest.get("inputs", [])}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CareisError(
            f"the manifest cannot be read ({exc.__class__.__name__}): it is damaged or not "
            "careis's.",
            file=path,
            fix="give the output folder of a complete run; re-run careis to write it again.",
        ) from None


def _sums(rows: list[dict[str, str]], key_fields: list[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for row in rows:
        key = " | ".join(row.get(f, "") or "" for f in key_fields)  # older runs lack some columns
        out[key] = out.get(key, Decimal("0.00")) + Decimal(row["amount"])
    return out


def _compare(table: str, a: dict[str, Decimal], b: dict[str, Decimal]) -> list[Difference]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va != vb:
            delta = (vb or Decimal(0)) - (va or Decimal(0))
            out.append(
                Difference(
                    table,
                    key,
                    "" if va is None else f"{va:.2f}",
                    "" if vb is None else f"{vb:.2f}",
                    f"{delta:+.2f}",
                )
            )
    return out


def diff_runs(run_a: Path, run_b: Path) -> list[Difference]:
    """Every difference between two runs (empty when they pay the same)."""
    out: list[Difference] = []
    ia, ib = _inputs(run_a), _inputs(run_b)
    for path in sorted(set(ia) | set(ib)):
        if ia.get(path) != ib.get(path):
            change = (
                "added" if path not in ia else "removed" if path not in ib else "content changed"
            )
            out.append(
                Difference(
                    "input", path, (ia.get(path) or "")[:12], (ib.get(path) or "")[:12], change
                )
            )
    sa, sb = _read(run_a, "statements.csv"), _read(run_b, "statements.csv")
    out += _compare("provider_total", _sums(sa, ["provider"]), _sums(sb, ["provider"]))
    keys = ["provider", "component_id", "kind", "description"]
    out += _compare("statement", _sums(sa, keys), _sums(sb, keys))
    la, lb = _read_optional(run_a, "ledger.csv"), _read_optional(run_b, "ledger.csv")
    lkeys = ["date", "payer", "payee", "component_id", "movement"]
    out += _compare("ledger", _sums(la, lkeys), _sums(lb, lkeys))
    return out


def write_diff(diffs: list[Difference], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=DIFF_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(d.as_row() for d in diffs)
