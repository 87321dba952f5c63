"""Reading a run folder for the web app: statements, ledger, memberships, registers.

Why a reader here and not pandas: pages show a few hundred rows at most, amounts must stay
exact (`Decimal`), and every path built from a URL goes through `RunFolder.path`, which
refuses names that could leave the run folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from careis import layout
from careis.errors import DataError

#: A run name taken from a URL: one folder name, no dots, so never `..` or a hidden file.
RUN_NAME = layout.SAFE_CODE
#: An organisation code taken from a URL (ODS-style, the same rule as practice folders).
ORG_CODE = layout.SAFE_CODE

Row = dict[str, str]


def valid_name(text: str) -> bool:
    """Whether a run name or organisation code from a URL matches the strict pattern."""
    return RUN_NAME.fullmatch(text) is not None


def manifest_hash(root: Path) -> str:
    """SHA-256 of the run's manifest.json: what every decision and approval points to."""
    return hashlib.sha256((root / layout.MANIFEST).read_bytes()).hexdigest()


def discover(runs_dir: Path) -> list[Path]:
    """The run folders under `runs_dir` (or `runs_dir` itself when it is one), by name."""
    if (runs_dir / layout.MANIFEST).is_file():
        return [runs_dir]
    if not runs_dir.is_dir():
        raise DataError("the runs folder does not exist.", file=runs_dir)
    found = [p for p in sorted(runs_dir.iterdir()) if (p / layout.MANIFEST).is_file()]
    return [p for p in found if valid_name(p.name)]


def read_csv(path: Path) -> list[Row]:
    """Every row of a CSV as strings (missing file: no rows)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def total(rows: list[Row], column: str = "amount") -> Decimal:
    """The exact sum of a money column."""
    return sum((Decimal(r[column] or "0") for r in rows), Decimal("0"))


@dataclass(frozen=True)
class Target:
    """A federation target with a practice floor, as the contract states it (percent)."""

    component_id: str
    measure: str
    target_percent: Decimal | None
    floor_percent: Decimal | None


@dataclass
class RunFolder:
    """One run's output folder, read lazily; only the Authorizer hands its data to pages."""

    root: Path
    _cache: dict[str, list[Row]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.root.name

    def path(self, *parts: str) -> Path:
        """A path inside the run folder; refuses a part or a resolved path that leaves it."""
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\\" in part:
                raise DataError(f"{part!r} is not a file name inside the run folder.")
        path = self.root.joinpath(*parts)
        if not layout.RunLayout(self.root).contains(path):
            raise DataError(f"{'/'.join(parts)!r} resolves outside the run folder.")
        return path

    def has_file(self, *parts: str) -> bool:
        """Whether a file exists inside the run folder (a link leading out of it does not)."""
        try:
            return self.path(*parts).is_file()
        except DataError:
            return False

    def _rows(self, *parts: str) -> list[Row]:
        key = "/".join(parts)
        if key not in self._cache:
            self._cache[key] = read_csv(self.path(*parts))
        return self._cache[key]

    @cached_property
    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path(layout.MANIFEST).read_text(encoding="utf-8"))
        return data

    @cached_property
    def contract(self) -> dict[str, Any]:
        resolved: dict[str, Any] = self.manifest.get("config", {}).get("contract_resolved") or {}
        return resolved

    @property
    def commissioner_code(self) -> str:
        return str((self.contract.get("commissioner") or {}).get("code", ""))

    @property
    def commissioner_name(self) -> str:
        return str((self.contract.get("commissioner") or {}).get("name", ""))

    @property
    def scheme_key(self) -> tuple[str, str]:
        """Which scheme a run pays: the commissioner and the contract's id (or its name).

        Why: a re-run of a scheme (a new run folder) is compared with the scheme's approved
        run, never with another scheme's.
        """
        return self.commissioner_code, str(self.contract.get("id") or self.scheme_name)

    @property
    def scheme_name(self) -> str:
        return str(self.contract.get("name") or self.manifest.get("config", {}).get("name", ""))

    def statements(self) -> list[Row]:
        return self._rows("payments", "statements.csv")

    def summary(self) -> list[Row]:
        return self._rows("payments", "summary.csv")

    def ledger(self) -> list[Row]:
        return self._rows("payments", "ledger.csv")

    def memberships(self) -> list[Row]:
        return self._rows("payments", "memberships.csv")

    def practice_statement(self, code: str) -> list[Row]:
        return self._rows("practices", code, "statement.csv")

    def practice_register(self, code: str) -> list[Row]:
        return self._rows("practices", code, "register.csv")

    def practice_file(self, code: str, file: str) -> list[Row]:
        """Any CSV in `practices/<code>/` (the caller checks the name and who asks)."""
        return self._rows("practices", code, file)

    def practices(self) -> list[str]:
        """Every practice with a statement line, sorted (read once: asked on every request)."""
        return self._practices

    @cached_property
    def _practices(self) -> list[str]:
        in_groups = {m["practice_code"] for m in self.memberships()}
        return sorted({r["provider"] for r in self.statements()} & in_groups)

    def groups(self, level: str) -> list[str]:
        """The codes of the groups (federation, pcn) practices belong to, sorted."""
        return sorted({m["group_code"] for m in self.memberships() if m["level"] == level})

    def members(self, group: str) -> list[str]:
        """The practices that belong (or belonged during the run) to a federation or PCN."""
        return sorted({m["practice_code"] for m in self.memberships() if m["group_code"] == group})

    def group_levels(self, group: str) -> set[str]:
        return {m["level"] for m in self.memberships() if m["group_code"] == group}

    def targets(self) -> list[Target]:
        """The contract's performance components with a federation target and practice floor."""
        out = []
        for c in self.contract.get("components") or []:
            if c.get("type") == "performance":
                out.append(
                    Target(
                        str(c.get("id")), str(c.get("measure")),
                        _dec(c.get("target_reduction_percent")),
                        _dec(c.get("practice_floor_reduction_percent")),
                    )
                )  # fmt: skip
        return out

    def results(self) -> list[Row]:
        return self._rows(*layout.RESULTS.split("/"))

    def published(self) -> list[Row]:
        """The published (suppressed, rounded) results: what anyone may see of the run's
        measures (docs/disclosure.md), and all that peer comparisons read."""
        return self._rows(*layout.PUBLISHED.split("/"))

    def monthly(self) -> list[Row]:
        """The measures' monthly numerators and denominators per organisation (aggregates)."""
        return self._rows(*layout.MONTHLY.split("/"))

    def measure_value(self, measure: str, level: str, org: str) -> str:
        """The latest-period value of one measure for one organisation ('' if none)."""
        rows = [
            r
            for r in self.results()
            if r["measure_id"] == measure and r["level"] == level and r["org_code"] == org
        ]
        return rows[-1]["value"] if rows else ""


def _dec(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def org_names() -> dict[str, str]:
    """Practice and PCN names from the reference data shipped with careis (code -> name).

    Why the reference: a run folder holds codes only; a statement a practice is asked to
    accept must carry its name. Unknown (e.g. test) codes fall back to the code.
    """
    from careis.data.reference import practices

    table = practices()
    names = dict(zip(table["practice_code"], table["practice_name"].str.title(), strict=True))
    names.update(zip(table["pcn_code"], table["pcn_name"], strict=True))
    return names
