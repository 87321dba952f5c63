"""Periods and financial years."""

from __future__ import annotations

import datetime as dt

import pytest

from careis.periods import Period, financial_year, financial_year_of, parse_financial_year


def test_financial_year_bounds_and_label() -> None:
    fy = financial_year(2024)
    assert (fy.start, fy.end, fy.name) == (dt.date(2024, 4, 1), dt.date(2025, 3, 31), "2024/25")
    assert financial_year(2023).days == 366  # includes 29 February 2024
    assert financial_year_of(dt.date(2025, 3, 31)) == fy
    assert financial_year_of(dt.date(2025, 4, 1)).name == "2025/26"


@pytest.mark.parametrize("text", ["2024/25", "2024-25", "2024", " 2024/2025 "])
def test_parse_financial_year(text: str) -> None:
    assert parse_financial_year(text).start == dt.date(2024, 4, 1)


@pytest.mark.parametrize("text", ["2024/26", "24/25", "next year"])
def test_parse_financial_year_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="financial year"):
        parse_financial_year(text)


def test_period_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="before its start"):
        Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 1, 1))


def test_overlap_and_shift() -> None:
    a = financial_year(2023)
    assert not a.overlaps(financial_year(2024))
    assert a.overlaps(Period(start=dt.date(2024, 3, 31), end=dt.date(2024, 4, 30)))
    leap = Period(start=dt.date(2024, 2, 29), end=dt.date(2024, 3, 1)).shift_years(1)
    assert leap.start == dt.date(2025, 2, 28)
