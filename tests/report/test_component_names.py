"""Components by name, not by id, wherever a person reads them (issue 18: "component headers
are raw ids").

The demo's contract (examples/contracts/enhanced_service.yaml) names its three components; the
report's tables and chart, every statement, the workbook and the service specification show
those names. Where a contract gives none, its id in words (tests/contracts covers the rule).
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from careis.contracts.schema import load_contract

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).parents[2] / "examples" / "contracts" / "enhanced_service.yaml"
IDS = ("engagement", "care_plans", "admissions_reduction")


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    named = load_contract(CONTRACT).contract.component_names()
    assert named == {
        "engagement": "Engagement payment",
        "care_plans": "Personalised care plans",
        "admissions_reduction": "Fewer emergency admissions",
    }
    return named


def _cells(html: str, tag: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", c).split())
        for c in re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", html, re.S)
    ]


def test_report_tables_and_chart_name_the_components(demo_run: Path, names: dict[str, str]) -> None:
    html = (demo_run / "report.html").read_text("utf-8")
    practices = html[html.index('<table class="data practices">') :]
    headers = _cells(practices[: practices.index("</thead>")], "th")
    assert [h for h in headers if h in names.values()] == list(names.values()), headers
    # every statement line's Component column (the Type column elsewhere may say "engagement":
    # that is the kind of component, not its id)
    lines = html[html.index("<th>Provider</th><th>Component</th><th>Line</th>") :]
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", lines[: lines.index("</table>")])
    assert rows and set(rows) <= set(names.values()), set(rows)
    for raw in IDS:  # the old practice-table header: the id with spaces for underscores
        assert f'<th class="n">{raw.replace("_", " ")}</th>' not in html, raw
    components = html[html.index('id="components"') :]
    first = _cells(components[: components.index("</table>")], "td")
    assert "Personalised care plans care_plans" in first  # the name, its id beside it
    # the payments chart's key and tooltips
    assert "Component' for fill color with 3 values: Engagement payment, Fewer emergency" in html


def test_statements_and_workbook_name_the_components(demo_run: Path, names: dict[str, str]) -> None:
    statement = sorted((demo_run / "practices").glob("*/statement.html"))[0].read_text("utf-8")
    shown = re.findall(r"<td><strong>([^<]+)</strong>", statement)
    assert shown and set(shown) <= set(names.values()), shown
    book = openpyxl.load_workbook(demo_run / "results.xlsx", read_only=True)
    header = next(book["Providers"].iter_rows(max_row=1, values_only=True))
    assert [h for h in header if h in names.values()] == list(names.values()), header
    assert not set(IDS) & set(header)
    lines = book["Statements"].iter_rows(max_row=2, values_only=True)
    row = dict(zip(next(lines), next(lines), strict=True))
    assert row["Component name"] == names[str(row["Component"])]
