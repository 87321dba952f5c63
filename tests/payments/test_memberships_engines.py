"""Who a practice is judged with: memberships on the list-size date, plus mid-term joiners.

The only engine query in the payment stage; checked on DuckDB and (marked spark) on PySpark.
"""

from __future__ import annotations

import datetime as dt

import pytest

from builders import D, Dataset
from careis.engine import Engine
from careis.facts.membership import joined_during, membership_on
from careis.periods import financial_year

TERM = financial_year(2024)


def dataset() -> Dataset:
    ds = Dataset()
    ds.member("A", "federation", "F1", D(2019, 7, 1))
    ds.member("B", "federation", "F2", D(2019, 7, 1), D(2024, 9, 30))  # leaves F2 ...
    ds.member("B", "federation", "F1", D(2024, 10, 1))  # ... and joins F1 mid-year
    ds.member("C", "federation", "F1", D(2025, 1, 15))  # new to any federation in January
    ds.member("D", "federation", "F1", D(2025, 4, 1))  # after the term: not a member in it
    return ds


def judged(engine: Engine) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dt.date]]:
    tables = dataset().tables(engine)
    on_list_date = membership_on(engine, tables, TERM.start)
    membership, joined = joined_during(engine, tables, TERM, on_list_date)
    return membership, joined


def expected() -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dt.date]]:
    # B is judged with F2, its federation on the list-size date (the term's first day); C,
    # which had none, with F1 from 15 January (pro-rated); D joins after the term.
    return (
        {("A", "federation"): "F1", ("B", "federation"): "F2", ("C", "federation"): "F1"},
        {("C", "federation"): D(2025, 1, 15)},
    )


def test_memberships_on_duckdb(duck: Engine) -> None:
    assert judged(duck) == expected()


@pytest.mark.spark
def test_memberships_on_spark(spark_engine: Engine) -> None:
    assert judged(spark_engine) == expected()
