"""Charts for the report: Vega-Lite specs (Altair) rendered to inline SVG, offline.

Why SVG inline: the report is one HTML file a commissioner can email or archive; it must open
with no network and print cleanly. vl-convert renders Vega-Lite without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from html import escape
from typing import Any

import altair as alt
import pandas as pd

from careis.report import svg_render

NHS_BLUE = "#005EB8"
NHS_DARK_BLUE = "#003087"
NHS_GREEN = "#007F3B"
NHS_RED = "#D5281B"
NHS_GREY = "#768692"
NHS_WARM_YELLOW = "#FFB81C"
_LEGEND = alt.Legend(labelLimit=320, orient="bottom", direction="vertical")
#: NHS identity colours with at least 3:1 contrast on white (WCAG 1.4.11 for graphics): blue
#: 5.9, green 5.1, purple 14.7, pink 5.6, dark grey 7.6, red 4.9, dark blue 12.6, dark red 9.1.
#: (Warm yellow 1.9:1 and aqua green 2.9:1 are not used for marks.)
PALETTE = [NHS_BLUE, NHS_GREEN, "#330072", "#AE2573", "#425563", NHS_RED, NHS_DARK_BLUE, "#8A1538"]
FONT = "Arial, Liberation Sans, DejaVu Sans, sans-serif"
_MARK = re.compile(r'<(path|circle|rect|line|symbol)\b([^>]*role="graphics-symbol"[^>]*?)(/>|>)')
_LABEL = re.compile(r'aria-label="([^"]*)"')


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render an Altair chart to an SVG string (no XML prolog, ready to inline)."""
    # validate=False: the charts are built through Altair's typed API and tests render every
    # one; schema validation of each spec cost ~0.2 s a chart (most of the report stage at
    # ICB scale, where there are dozens of SPC charts).
    readable = (
        chart.configure(font=FONT)
        .configure_axis(
            labelFontSize=12, titleFontSize=13, labelColor="#212B32", titleColor="#212B32"
        )
        .configure_legend(labelFontSize=12, titleFontSize=13)
        .configure_header(labelFontSize=13, titleFontSize=13)
        .configure_title(fontSize=14)
    )
    # Altair refuses a chart of more than 5,000 rows (a guard for browser charts); ours are
    # aggregates rendered offline, and England's 6,410 practices in one scatter crashed the
    # report with a traceback (issue 17)
    with alt.data_transformers.enable("default", max_rows=None):
        spec: dict[str, Any] = readable.to_dict(validate=False)
    pending = _PENDING.get()
    if pending is not None:  # inside deferred_svgs: drawn later, with the others
        pending.append(spec)
        return f"@@careis-chart-{len(pending) - 1}@@"
    return with_tooltips(svg_render.render(spec))


_PENDING: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "careis_pending_charts", default=None
)
_TOKEN = re.compile(r"@@careis-chart-(\d+)@@")


@contextmanager
def deferred_svgs() -> Iterator[Callable[[str], str]]:
    """Within it, `to_svg` returns a placeholder and keeps the chart's spec; `fill(text)`
    draws every chart kept (all at once, across the machine's cores: `svg_render.render_all`)
    and puts each SVG where its placeholder is in `text`.

    Why: a report with dozens of charts then draws them in parallel instead of one by one,
    and the page is the same bytes (tests/report/test_deferred_charts.py).
    """
    pending: list[dict[str, Any]] = []
    reset = _PENDING.set(pending)
    drawn: list[str] = []

    def fill(text: str) -> str:
        if len(drawn) < len(pending):
            drawn.extend(with_tooltips(s) for s in svg_render.render_all(pending[len(drawn) :]))
        return _TOKEN.sub(lambda m: drawn[int(m.group(1))], text)

    try:
        yield fill
    finally:
        _PENDING.reset(reset)


def with_tooltips(svg: str) -> str:
    """Give every mark a <title> from its aria-label, so a browser shows it on hover.

    Why: a static SVG has no Vega tooltip handler; Vega already writes each mark's tooltip
    fields into aria-label (for screen readers), and an SVG <title> child is what browsers
    show as a tooltip.
    """

    def titled(m: re.Match[str]) -> str:
        tag, attrs, end = m.group(1), m.group(2), m.group(3)
        label = _LABEL.search(attrs)
        if label is None:
            return m.group(0)
        title = f"<title>{label.group(1)}</title>"
        return f"<{tag}{attrs}>{title}</{tag}>" if end == "/>" else f"<{tag}{attrs}>{title}"

    return _MARK.sub(titled, svg)


#: The most practices the change chart draws one bar each for (an ICB has ~200-400).
MAX_BARS = 500


def change_by_practice(
    rows: list[dict[str, Any]], target: float | None, floor: float | None
) -> str:
    """Bar chart of each practice's % change in emergency admissions, grouped by federation.

    Reference lines show the aggregate target and the practice floor (as negative changes).
    Not drawn for more than MAX_BARS practices (one bar each would be a chart thousands of
    pixels high; the practices table has every practice's change).
    """
    df = pd.DataFrame(rows)
    if df.empty or len(df) > MAX_BARS:
        return ""
    df = df.dropna(subset=["change"])
    if df.empty:
        return ""
    base = alt.Chart(df)
    order = alt.EncodingSortField("change", order="ascending")
    bars = base.mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("change:Q", title="Change in emergency admissions per 1,000 (%)"),
        color=alt.Color("federation:N", title="Federation", scale=alt.Scale(range=PALETTE), legend=_LEGEND),
        tooltip=[alt.Tooltip("label:N", title="Practice"), alt.Tooltip("federation:N", title="Federation"),
                 alt.Tooltip("change:Q", title="Change (%)", format="+.1f")],
    )  # fmt: skip
    layers: list[alt.Chart] = [bars]
    rules = []
    if target is not None:
        rules.append({"x": -target, "what": f"federation target (-{target:g}%)"})
    if floor is not None:
        rules.append({"x": -floor, "what": f"practice floor (-{floor:g}%)"})
    if rules:
        layers.append(
            alt.Chart(pd.DataFrame(rules))
            .mark_rule(strokeDash=[6, 4], strokeWidth=2)
            .encode(
                x="x:Q",
                color=alt.Color(
                    "what:N", title="Threshold", scale=alt.Scale(range=[NHS_RED, NHS_DARK_BLUE])
                ),
            )
        )
    height = max(120, 16 * len(df))
    chart = (
        alt.layer(*layers).resolve_scale(color="independent").properties(width=520, height=height)
    )
    return to_svg(chart)


def concordance_vs_change(rows: list[dict[str, Any]]) -> str:
    """Scatter: % of register with a care plan against % change in admissions, per practice."""
    if not rows:  # e.g. a contract that pays only its holder: no practice rows
        return ""
    df = pd.DataFrame(rows).dropna(subset=["change", "care_plan_pct"])
    if df.empty:
        return ""
    chart = (
        alt.Chart(df)
        .mark_circle(opacity=0.8)
        .encode(
            x=alt.X("care_plan_pct:Q", title="Register patients with a care plan (%)"),
            y=alt.Y("change:Q", title="Change in emergency admissions (%)"),
            size=alt.Size("list_size:Q", title="List size", legend=None),
            color=alt.Color("federation:N", title="Federation", scale=alt.Scale(range=PALETTE)),
            tooltip=[
                "label",
                alt.Tooltip("care_plan_pct:Q", format=".1f"),
                alt.Tooltip("change:Q", format=".1f"),
            ],
        )
        .properties(width=380, height=260)
    )
    return to_svg(chart)


def payments_by_federation(rows: list[dict[str, Any]]) -> str:
    """Stacked bars: payment by component type for each federation (£)."""
    df = pd.DataFrame(rows)
    if df.empty:
        return ""
    chart = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("federation:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=160)),
            y=alt.Y("amount:Q", title="Payment (£)"),
            color=alt.Color("component:N", title="Component", scale=alt.Scale(range=PALETTE)),
            tooltip=["federation", "component", alt.Tooltip("amount:Q", format=",.2f")],
        )
        .properties(width=320, height=260)
    )
    return to_svg(chart)


#: One panel of the contract comparison, in px: every panel has the same plot size and the same
#: y-axis width, so their plot areas line up in the grid and one fits a 390 px phone unscaled.
PANEL_WIDTH = 250
PANEL_HEIGHT = 170
PANEL_AXIS = 52
#: Margins round the plot (px): the y axis and its title, a top label's overhang, room for the
#: longest legend labels; the bottom margin grows with the legend (one row a party).
PANEL_LEFT, PANEL_TOP, PANEL_RIGHT = 72, 10, 34


def surplus_by_scenario(rows: list[dict[str, Any]], names: Mapping[str, str] | None = None) -> str:
    """Each party's surplus/deficit against the admissions scenario: one small panel a contract.

    Why panels as separate SVGs in a CSS grid, not one faceted chart: a facet is one wide SVG
    that a phone shrinks to unreadable text, and with independent y scales each panel's axis
    labels had their own width, so the panels did not line up. Here every panel has the same
    size, the same x scale (the scenarios), the same y-axis width and the same colour for a
    party; the grid wraps them to the screen (three or four a row on a desktop, one on a
    phone). The y scale stays each contract's own (a £100k risk would be flat on a £3m axis);
    a rule marks zero in every panel. `names` turns party codes into names in the legends.
    """
    df = pd.DataFrame(rows)
    if df.empty:
        return ""
    names = names or {}
    df = df.assign(
        scenario=df["scenario_admissions_percent"].astype(float),
        surplus=df["surplus_vs_expected"].astype(float),
        who=[_party_label(str(p), names) for p in df["party"]],
    )
    parties = sorted(df["who"].unique())
    colour = alt.Scale(domain=parties, range=PALETTE)
    scenarios = sorted(df["scenario"].unique())
    x = alt.X(
        "scenario:Q",
        title="Admissions vs observed (%)",
        scale=alt.Scale(domain=[scenarios[0], scenarios[-1]], nice=False),
        axis=alt.Axis(values=scenarios, labelExpr="(datum.value > 0 ? '+' : '') + datum.label"),
    )
    y_axis = alt.Axis(
        title="Surplus (+) / deficit (−)",
        labelExpr="(datum.value < 0 ? '−£' : '£') + format(abs(datum.value), '~s')",
        minExtent=PANEL_AXIS,
        maxExtent=PANEL_AXIS,
        tickCount=5,
    )
    panels = []
    for contract, part in df.groupby("contract", sort=False):
        model = str(part["model"].iloc[0]).replace("_", " ")
        if not part["surplus"].any():
            model += ": no party's net moves with outcomes"
        legend = alt.Legend(  # under the x axis from the panel's left edge: room for long names
            orient="none", legendX=8 - PANEL_LEFT, legendY=PANEL_HEIGHT + 48, direction="vertical",
            labelLimit=PANEL_LEFT + PANEL_WIDTH + PANEL_RIGHT - 40,
            values=sorted(part["who"].unique()),
        )  # fmt: skip
        lines = (
            alt.Chart(part)
            .mark_line(point=True, strokeWidth=2)
            .encode(
                x=x,
                y=alt.Y("surplus:Q", axis=y_axis, scale=alt.Scale(padding=6)),
                color=alt.Color("who:N", title="Party", scale=colour, legend=legend),
                tooltip=[alt.Tooltip("who:N", title="Party"),
                         alt.Tooltip("scenario:Q", title="Admissions vs observed (%)", format="+~g"),
                         alt.Tooltip("surplus:Q", title="Surplus vs expected (£)", format=",.2f")],
            )
        )  # fmt: skip
        zero = alt.Chart(pd.DataFrame({"z": [0.0]})).mark_rule(color="#425563").encode(y="z:Q")
        # Fixed margins (autosize none), not Vega's fitted ones: a point or a label at the
        # edge of one panel would otherwise move its plot area a few px against the others.
        bottom = 78 + 17 * len(legend["values"])
        chart = alt.layer(zero, lines).properties(
            width=PANEL_WIDTH,
            height=PANEL_HEIGHT,
            autosize=alt.AutoSizeParams(type="none"),
            padding={"left": PANEL_LEFT, "top": PANEL_TOP, "right": PANEL_RIGHT, "bottom": bottom},
        )
        # The panel's title in HTML, not in the SVG: Vega places a title above whatever sticks
        # out of the plot (a top axis label), which moved some panels' plots down a pixel or two.
        panels.append(
            f'<div class="careis-panel"><p class="careis-panel-title"><strong>{escape(str(contract))}'
            f"</strong><br>{escape(model)}</p>{to_svg(chart)}</div>"
        )
    return '<div class="careis-panels">' + "".join(panels) + "</div>"


def _party_label(code: str, names: Mapping[str, str]) -> str:
    if code == "practices":
        return "Practices (together)"
    name = names.get(code, "")
    return f"{name} ({code})" if name and name != code else code
