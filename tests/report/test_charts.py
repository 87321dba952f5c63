"""The report's charts as SVG: one legend on the funnel plot, comparison panels that line up,
SPC charts no wider than their plot.

Read from the SVG that vl-convert writes (what the report inlines), not from the Vega-Lite
spec: a legend drawn twice or a plot area that starts at another x is only visible there.
"""

from __future__ import annotations

import re

from careis.measures.spc import SpcOptions, funnel, spc
from careis.report.charts import PANEL_HEIGHT, PANEL_WIDTH, surplus_by_scenario
from careis.report.spc_charts import SPC_WIDTH, funnel_chart, spc_chart

_LEGEND = re.compile(r"aria-label=\"Symbol legend titled '([^']*)' for ([^\"]*?) with")
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_SIZE = re.compile(r'<svg\b[^>]*\bwidth="([\d.]+)" height="([\d.]+)" viewBox="0 0 [\d.]+ [\d.]+"')
#: The plot area of a Vega SVG: the root group's offset, then its background rectangle.
_PLOT = re.compile(
    r'transform="translate\(([\d.]+),([\d.]+)\)"><g class="mark-group role-frame root".*?'
    r'<path class="background" aria-hidden="true" d="M0.5,0.5h([\d.]+)v([\d.]+)h',
    re.S,
)


def test_funnel_plot_has_one_legend_for_lines_and_practices() -> None:
    theta, points = funnel(["A", "B", "C", "D"], [10, 50, 40, 90], [1000, 4000, 5000, 5000])
    svg = funnel_chart(theta, points, title="Emergency admissions")
    legends = _LEGEND.findall(svg)
    assert len(legends) == 1, legends
    title, channels = legends[0]
    assert title == "Key"
    # the one key says which line is which limit and which practice is where, by shape too
    assert "shape" in channels and "color" in channels, channels
    for key in ("pooled value", "95% limits", "99.8% limits", "within 95%", "outside 99.8%"):
        assert key in svg
    # the practice outside 99.8% (D) is drawn as a triangle, not only in another colour
    triangle = re.search(
        r'aria-label="[^"]*Practice: D;[^"]*"[^>]*d="M[-\d.,]+(L[-\d.,]+){2}Z"', svg
    )
    assert triangle, "practice D (outside 99.8%) is not drawn as a triangle"


def _scenario_rows() -> list[dict[str, str]]:
    """Three contracts whose risks differ by two orders of magnitude (so their y axes would
    have labels of different widths), one of them with no risk at all."""
    rows = []
    for contract, model, scale in (("BIG", "aco_virtual", 3e6), ("SMALL", "prime_provider", 1e4),
                                   ("NONE", "alliance", 0.0)):  # fmt: skip
        for s in (-10, -5, 0, 5, 10):
            for party, sign in (("00T", 1), ("BOLFED", -1), ("practices", -1)):
                rows.append({
                    "contract": contract, "model": model, "scenario_admissions_percent": str(s),
                    "party": party, "net": "0", "surplus_vs_expected": f"{sign * scale * s / 10:.2f}",
                })  # fmt: skip
    return rows


def test_comparison_panels_line_up_and_fit_a_phone() -> None:
    html = surplus_by_scenario(_scenario_rows(), {"BOLFED": "Bolton GP Federation"})
    panels = _SVG.findall(html)
    assert len(panels) == 3, "one panel (its own SVG, wrapped by the page grid) per contract"
    plots = [_PLOT.search(svg) for svg in panels]
    assert all(plots), "no plot area found"
    offsets = {m.group(1, 2) for m in plots if m}
    sizes = {(float(m.group(3)), float(m.group(4))) for m in plots if m}
    assert len(offsets) == 1, f"plot areas start at different places: {offsets}"
    assert sizes == {(PANEL_WIDTH, PANEL_HEIGHT)}, sizes
    for svg in panels:
        size = _SIZE.search(svg)
        assert size, "an SVG without a viewBox does not scale"
        # a phone's 390 px less the page's margins: drawn at (near) full size, 12 px text stays
        assert float(size.group(1)) <= 370, size.group(1)
    # a party keeps its name and its colour in every panel
    assert html.count("Bolton GP Federation (BOLFED)") >= 3
    party = r'aria-label="[^"]*Party: Bolton GP Federation \(BOLFED\)[^"]*"[^>]*(?:stroke|fill)="(#\w+)"'
    colours = set(re.findall(party, html))
    assert len(colours) == 1, colours
    assert "no party&#x27;s net moves with outcomes" in html
    assert re.findall(r'class="careis-panel-title"><strong>(\w+)</strong>', html) == [
        "BIG", "SMALL", "NONE"]  # fmt: skip


def test_spc_chart_is_no_wider_than_its_plot_and_scales() -> None:
    """The report's SPC charts carry a long note under the title; unwrapped it made the SVG
    about twice the plot's width, so on a phone or A4 the chart shrank to half size."""
    values = [100.0 + (i % 5) for i in range(24)]
    result = spc(values, labels=[f"M{i}" for i in range(24)], options=SpcOptions(fix_after=12))
    note = "XmR chart of the monthly rate (Making Data Count default); " * 4
    svg = spc_chart(result, title="Emergency admissions, a sub-ICB", note=note)
    size = _SIZE.search(svg)
    assert size, "no viewBox: the SVG would not scale with max-width: 100%"
    # the plot (680) plus the y axis and its title, the x labels' overhang and some padding
    assert float(size.group(1)) <= SPC_WIDTH + 120, size.group(1)
    assert "Making Data Count default" in svg  # the note is still there, wrapped


def test_a_national_run_has_charts_not_a_crash() -> None:
    """England's 6,410 practices: the scatter of every practice draws (Altair's 5,000-row
    guard for browser charts does not apply to careis's offline SVGs), and the one-bar-a-
    practice change chart is left out above MAX_BARS (its table has every practice)."""
    from careis.report.charts import MAX_BARS, change_by_practice, concordance_vs_change

    rows = [
        {"label": f"P{i:05d}", "federation": f"F{i % 40}", "change": (i % 41) - 20.0,
         "care_plan_pct": 40.0 + i % 50, "list_size": 1000 + i}
        for i in range(6410)
    ]  # fmt: skip
    assert concordance_vs_change(rows).startswith("<svg")
    assert change_by_practice(rows, 10.0, 5.0) == ""
    assert change_by_practice(rows[:MAX_BARS], 10.0, 5.0).startswith("<svg")
