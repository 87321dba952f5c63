"""The conflicts of interest register (SI 2023/1348 reg 21) as an input file, validated.

Why a register of its own, referenced by id from each decision: the regime requires authorities
to identify and manage conflicts of those involved in a decision, and the notices (Schedule 3
items 8-9, Schedule 14 items 7-8) must state the declared conflicts and how each was managed.
One register, many decisions: a declaration is made once and each decision names the entries
that touched it. An entry with no management recorded is an error, not a blank in a notice.

Format: YAML with a top-level `conflicts:` list, or CSV with the same column names.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careis.errors import ConfigError
from careis.yamlio import format_loc, load_yaml


class InterestKind(StrEnum):
    """The kinds of interest NHS England's conflicts guidance names."""

    FINANCIAL = "financial"
    NON_FINANCIAL_PROFESSIONAL = "non_financial_professional"
    NON_FINANCIAL_PERSONAL = "non_financial_personal"
    INDIRECT = "indirect"


class Conflict(BaseModel):
    """One declared conflict or potential conflict of interest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="The register's reference, cited by decisions.")
    person: str = Field(min_length=1, description="Name or job title of the person declaring.")
    role: str = Field(min_length=1, description="Their part in the decision (panel member, ...).")
    interest: str = Field(min_length=1, description="What the interest is.")
    kind: InterestKind
    declared: dt.date = Field(description="When it was declared.")
    management: str = Field(
        min_length=1, description="How it was managed (excluded from scoring, left the room...)."
    )


@dataclass(frozen=True)
class ConflictsRegister:
    entries: tuple[Conflict, ...]
    source: str

    def by_id(self) -> dict[str, Conflict]:
        return {c.id: c for c in self.entries}


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for each entry; `where` names the row or line for error messages."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except FileNotFoundError:
            raise ConfigError("file not found.", file=path) from None
        return [
            (f"row {i + 2}", {k: v for k, v in r.items() if v != ""}) for i, r in enumerate(rows)
        ]
    data, lines = load_yaml(path)
    items = data.get("conflicts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(
            "the conflicts register needs a top-level 'conflicts:' list.",
            file=path,
            fix="write 'conflicts:' followed by one '- id: ...' entry per declaration.",
        )
    return [(f"line {lines.get(('conflicts', i), '?')}", item) for i, item in enumerate(items)]


def load_conflicts(path: str | Path) -> ConflictsRegister:
    """Read and check the register: every entry complete, ids unique. The first bad entry is
    reported in one line naming the file, the row or line, the field and the fix."""
    path = Path(path)
    seen: set[str] = set()
    entries: list[Conflict] = []
    for where, row in _rows(path):
        try:
            entry = Conflict.model_validate(row)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = format_loc(err["loc"]) or "entry"
            raise ConfigError(
                f"{field}: {err['msg']}.",
                file=path,
                where=where,
                fix="every entry needs id, person, role, interest, kind (financial, "
                "non_financial_professional, non_financial_personal, indirect), declared "
                "(YYYY-MM-DD) and how it was managed (management).",
            ) from None
        if entry.id in seen:
            raise ConfigError(f"duplicate id '{entry.id}'.", file=path, where=where,
                              fix="give each declaration its own id.")  # fmt: skip
        seen.add(entry.id)
        entries.append(entry)
    return ConflictsRegister(tuple(entries), str(path))
