"""Working days in England: weekends and English bank holidays do not count.

Why the `holidays` package: bank holidays move (Easter) and are added by proclamation (the 2022
State Funeral, the 2023 Coronation); a maintained calendar, used offline, is safer than a
hand-kept list. The standstill of the Provider Selection Regime counts working days from the
day after the intention-to-award notice is published.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


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
        day += dt.timedelta(days=1)
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
