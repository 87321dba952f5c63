"""Periods: explicit, inclusive date ranges, and NHS financial years (1 April - 31 March).

Why: every measure and payment says which period it reads. Keeping periods as plain
inclusive date pairs (the way contracts and QOF business rules state them) avoids off-by-one
arguments between finance and analysts.
"""

from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from careis.errors import CareisError


class Period(BaseModel):
    """An inclusive date range [start, end]."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date
    end: dt.date
    label: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before its start {self.start}")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def name(self) -> str:
        return self.label or f"{self.start.isoformat()} to {self.end.isoformat()}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def shift_years(self, years: int) -> Period:
        return Period(
            start=_add_years(self.start, years),
            end=_add_years(self.end, years),
            label=None,
        )


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a non-leap year
        return day.replace(year=day.year + years, day=28)


def financial_year(start_year: int) -> Period:
    """The NHS financial year starting 1 April `start_year`, labelled e.g. '2024/25'."""
    return Period(
        start=dt.date(start_year, 4, 1),
        end=dt.date(start_year + 1, 3, 31),
        label=f"{start_year}/{(start_year + 1) % 100:02d}",
    )


def financial_year_of(day: dt.date) -> Period:
    """The financial year that contains `day`."""
    return financial_year(day.year if day.month >= 4 else day.year - 1)


def parse_financial_year(text: str) -> Period:
    """Parse '2024/25' or '2024-25' or '2024' (the start year) into a financial year."""
    cleaned = text.strip().replace("-", "/")
    head = cleaned.split("/")[0]
    if not head.isdigit() or len(head) != 4:
        raise ValueError(f"'{text}' is not a financial year; write it as 2024/25")
    year = int(head)
    if "/" in cleaned:
        tail = cleaned.split("/")[1]
        if not tail.isdigit() or int(tail) % 100 != (year + 1) % 100:
            raise ValueError(
                f"'{text}' is not a financial year; write it as {year}/{(year + 1) % 100:02d}"
            )
    return financial_year(year)


def parse_date_option(text: str, name: str) -> dt.date:
    """A command-line date (`name` is the option, e.g. --index-date): one clear line if bad."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CareisError(
            f"{name}: '{text}' is not a date.", fix="write it as YYYY-MM-DD."
        ) from None
