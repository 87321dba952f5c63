"""statement.csv and ledger.csv read back into the objects they were written from.

Why: the web app shows a finished run's statement from its files with the report's own
template, so `from_row` must be the exact inverse of `as_row` (money to the penny, the paid
date, the line's kind), and a row that is not a line must be refused, not misread.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careis.payments.ledger import LedgerEntry
from careis.payments.lines import LineKind, Met, Paid, StatementLine

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_money = st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False)
_days = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))


@st.composite
def _lines(draw: st.DrawFn) -> StatementLine:
    paid: Paid = draw(st.sampled_from(get_args(Paid)))
    kind: LineKind = draw(st.sampled_from(get_args(LineKind)))
    met: Met = draw(st.sampled_from(get_args(Met)))
    return StatementLine(
        provider=draw(_text), component_id=draw(_text), component_type=draw(_text),
        description=draw(_text), measure_id=draw(_text), measure_level=draw(_text),
        measure_org=draw(_text), measure_value=draw(_text), test=draw(_text), met=met,
        quantity=draw(st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)),
        rate=draw(_money), amount=draw(_money), evidence=draw(_text), kind=kind, paid=paid,
        paid_on=draw(_days) if paid == "on_day" else None,
    )  # fmt: skip


@given(_lines())
def test_a_statement_line_reads_back_as_written(line: StatementLine) -> None:
    assert StatementLine.from_row(line.as_row()) == line


@given(st.integers(1, 10**6), _days, _text, _text, _money, _text, _text, _text)
def test_a_ledger_entry_reads_back_as_written(
    seq: int, day: dt.date, payer: str, payee: str, amount: Decimal, comp: str, mv: str, memo: str
) -> None:
    entry = LedgerEntry(seq, day, payer, payee, amount, comp, mv, memo)
    assert LedgerEntry.from_row(entry.as_row()) == entry


def _row(**changes: str) -> dict[str, str]:
    line = StatementLine(
        provider="P1", component_id="c", component_type="engagement", description="d",
        quantity=Decimal(10), rate=Decimal("0.75"), amount=Decimal("7.50"), evidence="e",
    )  # fmt: skip
    return {**line.as_row(), **changes}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "£7.50", "is not a number"),
        ("met", "maybe", "is not one of"),
        ("kind", "bonus", "is not one of"),
        ("paid", "next week", "Invalid isoformat"),
    ],
)
def test_a_row_that_is_not_a_line_is_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StatementLine.from_row(_row(**{field: value}))
