"""Who is registered where, and for how long: the denominators of every measure.

Why a layer of its own: measures, risk and payments all need the same answers ("registered at
practice X on 1 April", "person-days at X in May", "which practice held the patient on the
day of the admission") and they must agree to the patient. Every function here is an Ibis
expression over the canonical tables, so it runs unchanged on DuckDB and Spark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
from ibis.expr.types import Table

from careis.periods import Period

OPEN_END = dt.date(9999, 12, 31)


def _end(col: ibis.Value) -> ibis.Value:
    return col.coalesce(ibis.literal(OPEN_END))


def registered_on(registrations: Table, patients: Table, day: dt.date) -> Table:
    """Patients registered (and alive) on `day`: patient_id, practice_code."""
    d = ibis.literal(day)
    reg = registrations.filter(
        (registrations.start_date <= d) & (_end(registrations.end_date) >= d)
    )
    alive = patients.filter(_end(patients.death_date) >= d).select("patient_id")
    return reg.join(alive, "patient_id").select("patient_id", "practice_code")


def age_on(birth_month: ibis.Value, day: dt.date) -> ibis.Value:
    """Whole years of age on `day`, taking the birthday as the first of the birth month.

    Only the birth month is kept (the day is identifying); this errs by at most one month.
    """
    months = (day.year - birth_month.year()) * 12 + (day.month - birth_month.month())
    return (months // 12).cast("int64")


def months_of(period: Period) -> list[Period]:
    """The calendar months (clipped to the period) that make up `period`."""
    out: list[Period] = []
    cur = period.start
    while cur <= period.end:
        nxt = dt.date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
        out.append(Period(start=cur, end=min(nxt - dt.timedelta(days=1), period.end)))
        cur = nxt
    return out


def attribute_to_practice(events: Table, date_col: str, registrations: Table) -> Table:
    """Add `practice_code`: the practice the patient was registered with on the event's date.

    Events on a day the patient was registered nowhere (hospital activity between
    registrations, for instance) get no practice and are dropped from practice measures; the
    caller can count them separately.
    """
    reg = registrations.select(
        r_patient="patient_id",
        practice_code="practice_code",
        r_start="start_date",
        r_end="end_date",
    )
    day = events[date_col]
    joined = events.join(
        reg,
        [events.patient_id == reg.r_patient, day >= reg.r_start, day <= _end(reg.r_end)],
    )
    return joined.drop("r_patient", "r_start", "r_end")


def in_period(col: ibis.Value, period: Period) -> ibis.Value:
    return (col >= ibis.literal(period.start)) & (col <= ibis.literal(period.end))


def month_start_of(col: ibis.Value) -> ibis.Value:
    """First day of the month of a date column (a date on every backend).

    Not `truncate("M")`: on DuckDB that returns a timestamp although Ibis types it as a date.
    """
    return ibis.date(col.year(), col.month(), 1)


@dataclass(frozen=True)
class DataSpan:
    """The dates the data cover: a period outside them would give empty or partial figures."""

    first_registration: dt.date | None  # None: no registrations at all
    last_admission: dt.date | None
    last_event: dt.date | None

    @property
    def last_activity(self) -> dt.date | None:
        known = [d for d in (self.last_admission, self.last_event) if d is not None]
        return max(known, default=None)


def as_date(value: Any) -> dt.date | None:
    """A date from what an engine returns for a MIN/MAX (date, timestamp, NaT or None)."""
    if value is None or value != value:  # None or NaN/NaT  # noqa: PLR0124
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return value.date() if hasattr(value, "date") else None


def data_span(tables: Mapping[str, Table]) -> DataSpan:
    """First registration start, last admission and last coded event in the tables."""
    regs, adm, ev = tables["registrations"], tables["admissions"], tables["events"]
    return DataSpan(
        as_date(regs.start_date.min().execute()),
        as_date(adm.admission_date.max().execute()),
        as_date(ev.event_date.max().execute()),
    )
