"""Small hand-made canonical datasets for tests, built straight into engine tables.

Why: tests of measures, risk and payments must know the right answer by hand, so they build
tiny datasets whose every row is visible here, and bypass file loading (tested separately).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from careis.data import schema
from careis.engine import Engine

D = dt.date
REGISTERED_SINCE = D(2010, 1, 1)

ARROW = {
    "string": pa.string(),
    "date": pa.date32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_table(name: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    spec = schema.spec(name)
    cols = (*spec.columns, *spec.derived)
    data = {c.name: [r.get(c.name) for r in rows] for c in cols}
    if name == "admissions":
        data["is_emergency"] = [
            r["admission_method"] in schema.EMERGENCY_ADMISSION_METHODS for r in rows
        ]
    fields = [pa.field(c.name, ARROW[c.dtype]) for c in cols]
    return pa.table(data, schema=pa.schema(fields))


@dataclass
class Dataset:
    """Rows per canonical table; `tables(engine)` loads them as validated tables."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {n: [] for n in schema.TABLES}
    )

    def add(self, table: str, **row: Any) -> None:
        self.rows[table].append(row)

    def tables(self, engine: Engine) -> dict[str, Any]:
        return {
            name: engine.from_arrow(arrow_table(name, rows)) for name, rows in self.rows.items()
        }

    # -------- helpers for common shapes
    def org(self, code: str, org_type: str, name: str | None = None) -> None:
        self.add("organisations", org_code=code, org_type=org_type, name=name or code)

    def member(
        self, practice: str, group_type: str, group: str, start: dt.date, end: dt.date | None = None
    ) -> None:
        self.add(
            "memberships",
            practice_code=practice,
            group_type=group_type,
            group_code=group,
            valid_from=start,
            valid_to=end,
        )

    def patient(
        self,
        pid: str,
        practice: str,
        *,
        born: dt.date,
        sex: str = "F",
        start: dt.date = REGISTERED_SINCE,
        end: dt.date | None = None,
        died: dt.date | None = None,
        imd: int | None = 5,
    ) -> None:
        self.add(
            "patients",
            patient_id=pid,
            sex=sex,
            birth_month=born.replace(day=1),
            death_date=died,
            imd_decile=imd,
        )
        self.add(
            "registrations", patient_id=pid, practice_code=practice, start_date=start, end_date=end
        )

    def event(
        self, pid: str, day: dt.date, code: str, system: str = "snomed", value: float | None = None
    ) -> None:
        self.add(
            "events", patient_id=pid, event_date=day, code_system=system, code=code, value=value
        )

    def admission(
        self, pid: str, day: dt.date, *, method: str = "21", los: int = 2, dx: str = "J44.1"
    ) -> None:
        n = len(self.rows["admissions"]) + 1
        self.add(
            "admissions",
            spell_id=f"S{n:05d}",
            patient_id=pid,
            admission_date=day,
            discharge_date=day + dt.timedelta(days=los),
            admission_method=method,
            primary_diagnosis=dx,
            provider_code="RMC",
        )

    def ae(self, pid: str, day: dt.date, dept: str = "1") -> None:
        n = len(self.rows["ae_attendances"]) + 1
        self.add(
            "ae_attendances",
            attendance_id=f"A{n:05d}",
            patient_id=pid,
            arrival_date=day,
            department_type=dept,
            provider_code="RMC",
        )
