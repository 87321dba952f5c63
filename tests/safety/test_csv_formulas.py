"""Text a spreadsheet would run as a formula is written inert; figures are written as figures.

Reference: OWASP, "CSV Injection" - cells beginning with =, +, -, @, tab or carriage return are
interpreted as formulas by Excel and LibreOffice; the advice is to prefix them with a single
quote. careis writes names from input files (organisations, contracts) into statements and
reports that finance officers open in Excel.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careis.csvio import FORMULA_START, cell, write_rows


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("Bolton Central PCN", "Bolton Central PCN"),
        ("P82001", "P82001"),
    ],
)
def test_formulas_are_defused(text: str, written: str) -> None:
    assert cell(text) == written


@pytest.mark.parametrize("figure", ["-12.50", "+3", "-0.005", "-1e3", "-inf"])
def test_numbers_written_as_text_stay_numbers(figure: str) -> None:
    assert cell(figure) == figure


def test_decimals_and_negative_floats_are_not_touched() -> None:
    assert cell(Decimal("-150.25")) == "-150.25"
    assert cell(-0.5) == "-0.5"
    assert cell(-3) == "-3"


@given(st.text(min_size=1, max_size=30))
def test_no_written_text_cell_starts_a_formula(text: str) -> None:
    out = cell(text)
    if out.startswith(FORMULA_START):
        float(out)  # only a number may start with a formula character


def test_a_statement_file_round_trips_the_defused_name(tmp_path: Path) -> None:
    path = write_rows(
        [{"provider": "=1+1", "amount": Decimal("-10.00")}],
        ["provider", "amount"],
        tmp_path / "s.csv",
    )
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"provider": "'=1+1", "amount": "-10.00"}]
