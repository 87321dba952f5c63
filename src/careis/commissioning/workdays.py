"""Working days in England, and the PSR standstill counted on them.

Why the `holidays` package: bank holidays move (Easter) and are added by proclamation (the 2022
State Funeral, the 2023 Coronation); a maintained calendar, used offline, is safer than a
hand-kept list. The regime's "working day" (SI 2023/1348 reg 2(1)) excludes Saturdays, Sundays,
Christmas Day, Good Friday and bank holidays in England; `holidays.UK(subdiv="ENG")` lists
Good Friday and Christmas Day with the bank holidays, and the substitute days.

Why the standstill is counted here, in one place: the superseded draft guidance counted the day
after publication as working day 1, one working day short of what reg 12 says. NHS England's
final guidance (January 2024) and its standstill flowchart: the standstill period begins on the
day after the intention notice is published, and representations may be made until midnight at
the end of the 8th working day after the day the standstill period begins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays

ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.UK(subdiv="ENG", years=year).keys())


def bank_holiday_name(day: dt.date) -> str | None:
    """The English bank holiday on `day`, or None."""
    name = holidays.UK(subdiv="ENG", years=day.year).get(day)
    return str(name) if name else None


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (`start` itself is not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    day = start
    counted = 0
    while counted < days:
        day += ONE_DAY
        if is_working_day(day):
            counted += 1
    return day


def next_working_day(day: dt.date) -> dt.date:
    """The first working day strictly after `day`."""
    return add_working_days(day, 1)


def holidays_between(start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    """English bank holidays in [start, end], for explaining a timeline."""
    out: list[tuple[dt.date, str]] = []
    for year in range(start.year, end.year + 1):
        for day, name in sorted(holidays.UK(subdiv="ENG", years=year).items()):
            if start <= day <= end:
                out.append((day, str(name)))
    return out


@dataclass(frozen=True)
class StandstillDates:
    """The dates of one standstill period (reg 12), all derivable from the publication date."""

    published: dt.date  # the intention-to-award notice
    begins: dt.date  # the day after publication (a calendar day, working or not)
    last_day: dt.date  # representations until midnight at the end of this day
    award_from: dt.date  # the first day after the standstill has ended (if no representations)


def standstill(published: dt.date, working_days: int = 8) -> StandstillDates:
    """Reg 12: begins the day after publication; ends at midnight at the end of the
    `working_days`-th working day after the day it begins. The contract may be entered into
    from the next day (the authority must not enter into it before the period ends)."""
    begins = published + ONE_DAY
    last = add_working_days(begins, working_days)
    return StandstillDates(published, begins, last, last + ONE_DAY)


def after_review(decision_communicated: dt.date, working_days: int = 5) -> tuple[dt.date, dt.date]:
    """Representations were made: the standstill stays open until the authority has reviewed
    its decision and told the provider, then `working_days` more working days pass (NHS England
    standstill flowchart). Returns (the last of those working days, the first day an award may
    be made), counted after the day the further decision was communicated."""
    last = add_working_days(decision_communicated, working_days)
    return last, last + ONE_DAY
