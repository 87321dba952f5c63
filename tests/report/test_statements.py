"""Statements as documents (issue 18 item 4), checked from the files a practice would open.

For every provider paid in the demo: statement.html and statement.pdf exist beside
statement.csv, name the provider, give the same total to the penny as the CSV, say when the
money is paid and carry the run reference that manifest.json records; the index lists them
all and its total is the sum of the statements.
"""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from careis.money import format_gbp

pytestmark = pytest.mark.slow


def _statements(run: Path) -> dict[Path, Decimal]:
    """Each statement.csv under the run, with its total from the CSV's own amounts."""
    out = {}
    for path in sorted(run.rglob("statement.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            out[path.parent] = sum(
                (Decimal(r["amount"]) for r in csv.DictReader(handle)), Decimal(0)
            )
    return out


def test_every_statement_has_a_named_page_and_pdf_with_the_csv_total(demo_run: Path) -> None:
    statements = _statements(demo_run)
    assert len(statements) >= 40
    digest = json.loads((demo_run / "manifest.json").read_text("utf-8"))["inputs_sha256"]
    for folder, total in statements.items():
        code = folder.name
        html = (folder / "statement.html").read_text("utf-8")
        name = re.search(r'<p class="lede"><strong>(.*?)</strong>', html)
        assert name and name.group(1).strip() and name.group(1) != code, code
        assert f"<dd><strong>{format_gbp(total)}</strong></dd>" in html, code
        assert "When it is paid" in html and digest in html
        pdf = PdfReader(folder / "statement.pdf")
        text = " ".join(page.extract_text() for page in pdf.pages)
        assert code in text and format_gbp(total) in text, code
        assert "/CreationDate" not in (pdf.metadata or {}), "a date would change the bytes"


def test_payment_dates_on_a_statement_sum_to_its_total(demo_run: Path) -> None:
    for folder, total in _statements(demo_run).items():
        html = (folder / "statement.html").read_text("utf-8")
        when = html[html.index('id="when"') : html.index('id="queries"')]
        amounts = re.findall(r'<td class="n">(-?£[\d,]+\.\d\d)</td></tr>', when)
        if total == 0:
            continue
        *dated, shown_total = amounts
        parsed = [Decimal(a.replace("£", "").replace(",", "")) for a in dated]
        assert sum(parsed, Decimal(0)) == total, folder.name
        assert shown_total == format_gbp(total)


def test_the_index_lists_every_statement_and_their_total(demo_run: Path) -> None:
    statements = _statements(demo_run)
    index = (demo_run / "payments" / "statements.html").read_text("utf-8")
    for folder in statements:
        href = Path("..", *folder.relative_to(demo_run).parts, "statement.html").as_posix()
        assert f'href="{href}"' in index
    assert format_gbp(sum(statements.values())) in index
