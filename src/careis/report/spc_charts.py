"""SPC charts and funnel plots in the NHS "Making Data Count" style, as inline SVG.

Why a module of its own: the colours and marks follow the NHS convention users already read
(grey = common cause, blue = special cause improvement, orange = special cause concern,
purple = special cause with no direction; process limits dashed grey; target red dashed;
a planned trajectory dotted), and they are used both by the report and by `careis spc`.
The variation and assurance icons follow the Making Data Count guide's meaning (NHS England,
"Making data count: getting started", the icon key): grey = common cause; orange = special
cause of concern, blue = of improvement, purple = special cause where no direction is set,
each marked H or L for a high or low special cause; assurance P (blue, the target will be
consistently passed), F (orange, consistently failed) and ? (grey, hit and miss).
"""

from __future__ import annotations

import csv
import textwrap
from html import escape
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from careis.measures.spc import FunnelPoint, SpcResult, funnel_limits
from careis.report.charts import NHS_BLUE, NHS_GREY, NHS_RED, to_svg

SPC_WIDTH = 680
#: Characters of 12 px Arial subtitle text that fit the SPC plot's width (about 6.4 px each).
SUBTITLE_CHARS = 100
MDC_ORANGE = "#ED8B00"
MDC_PURPLE = "#490092"
MDC_COLOURS = {
    "common cause": NHS_GREY,
    "improvement": NHS_BLUE,
    "concern": MDC_ORANGE,
    "neither": MDC_PURPLE,
}
VARIATION_TEXT = {
    "common": "Common cause variation",
    "improvement": "Special cause variation: improvement",
    "concern": "Special cause variation: concern",
    "neither": "Special cause variation (no improvement direction set)",
}
ASSURANCE_TEXT = {
    "pass": "The target will consistently be met",
    "fail": "The target will consistently be missed",
    "hit_and_miss": "The target will be hit and missed at random",
}


def spc_chart(
    result: SpcResult,
    *,
    title: str = "",
    y_title: str = "value",
    percent: bool = False,
    note: str = "",
) -> str:
    """An SPC chart of `result` (points, mean, process limits, target, trajectory).

    `note` is a line under the title (the report says there why it chose the chart)."""
    rows: list[dict[str, Any]] = []
    for p in result.points:
        rows.append(
            {
                "order": p.index,
                "label": p.label,
                "value": p.value,
                "mean": p.mean,
                "lower": p.lower,
                "upper": p.upper,
                "segment": p.segment,
                "status": p.special or "common cause",
                "rules": ", ".join(p.rules) or "none",
                "trajectory": p.trajectory,
            }
        )
    df = pd.DataFrame(rows)
    fmt = ".1%" if percent else ".3g"
    x = alt.X("label:O", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=-60))
    # The data sit once on the layer chart (layers inherit them): with the data on every layer
    # Altair serialised and hashed the frame once per layer, most of a chart's build time.
    base = alt.Chart()
    y_scale = alt.Scale(zero=False)
    line = base.mark_line(color=NHS_GREY, strokeWidth=1.5).encode(
        x=x, y=alt.Y("value:Q", title=y_title, scale=y_scale, axis=alt.Axis(format=fmt))
    )
    dots = base.mark_circle(size=45, opacity=1).encode(
        x=x,
        y="value:Q",
        color=alt.Color(
            "status:N",
            title="Variation",
            scale=alt.Scale(domain=list(MDC_COLOURS), range=list(MDC_COLOURS.values())),
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=["label", alt.Tooltip("value:Q", format=fmt), "rules", "status"],
    )
    layers: list[Any] = [line]
    for col, dash in (("mean", []), ("lower", [5, 4]), ("upper", [5, 4])):
        layers.append(
            base.mark_line(color="#231F20" if col == "mean" else NHS_GREY, strokeDash=dash)
            .encode(x=x, y=f"{col}:Q", detail="segment:N")
            .transform_filter(f"datum.{col} != null")
        )
    if result.target is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"target": [result.target]}))
            .mark_rule(color=NHS_RED, strokeDash=[8, 4], strokeWidth=1.5)
            .encode(y="target:Q")
        )
    if df["trajectory"].notna().any():
        layers.append(
            base.mark_line(color=NHS_RED, strokeDash=[2, 3])
            .encode(x=x, y="trajectory:Q")
            .transform_filter("datum.trajectory != null")
        )
    layers.append(dots)
    subtitle = [VARIATION_TEXT[result.variation]]
    if result.assurance:
        subtitle.append(ASSURANCE_TEXT[result.assurance])
    if note:
        subtitle.append(note)
    # Wrapped to the plot's width: one long subtitle line made the SVG ~1,300 px wide for a
    # 680 px plot, so a phone (or an A4 page) shrank the whole chart to half the size it needed.
    subtitle = [part for line in subtitle for part in textwrap.wrap(line, SUBTITLE_CHARS)]
    chart = alt.layer(*layers, data=df).properties(
        width=SPC_WIDTH,
        height=240,
        title=alt.TitleParams(text=title, subtitle=subtitle, anchor="start"),
    )
    return to_svg(chart)


#: How a practice sits against the funnel's limits: shape as well as colour (never colour alone).
WHERE_SHAPES = {"within 95%": "circle", "outside 95%": "square", "outside 99.8%": "triangle-up"}
WHERE_COLOURS = ["#425563", "#AE2573", NHS_RED]


def funnel_chart(
    centre: float,
    points: list[FunnelPoint],
    *,
    title: str = "",
    x_title: str = "person-years",
    y_title: str = "rate per 1,000",
    per: float = 1000.0,
    kind: str = "rate",
    highlight: str = "",
) -> str:
    """Funnel plot: each organisation against the pooled value with 95% and 99.8% limits.

    `highlight`: an organisation ringed and labelled by its code (`careis serve`'s peer
    comparison shows the page's practice among its peers); without it, the report's chart."""
    shown = [p for p in points if p.exposure > 0]
    if not shown:
        return ""
    lo = min(p.exposure for p in shown)
    hi = max(p.exposure for p in shown)
    # smooth limit curves: the same limits on a grid of exposures
    grid = [lo * 0.8 + (hi * 1.1 - lo * 0.8) * i / 60 for i in range(61)]
    scale = 100.0 if kind == "proportion" else per
    theta = centre / scale
    lim_rows = []
    for e in grid:
        for band, (a, b) in funnel_limits(theta, e, kind=kind).items():  # type: ignore[arg-type]
            lim_rows.append(
                {"exposure": e, "band": f"{band}% limits", "lower": a * scale, "upper": b * scale}
            )
    ldf = pd.DataFrame(lim_rows)
    pdf = pd.DataFrame(
        [
            {
                "org": p.org,
                "exposure": p.exposure,
                "value": p.value,
                "where": "outside 99.8%"
                if "99.8" in p.outside
                else ("outside 95%" if p.outside else "within 95%"),
            }
            for p in shown
        ]
    )
    xs = alt.X("exposure:Q", title=x_title, scale=alt.Scale(zero=False))
    # One legend for the whole plot: the limit lines and the practices share one colour scale
    # (the two limit edges are two layers; with independent colour scales each drew its own
    # "Limits" legend, and circles cannot take a shape encoding, so "where" had none).
    # Mark colours have >= 3:1 contrast on white (the MDC orange, 2.4:1, is not used here).
    keys = ["pooled value", "95% limits", "99.8% limits", *WHERE_SHAPES]
    bands = alt.Scale(domain=keys, range=[NHS_BLUE, NHS_GREY, "#231F20", *WHERE_COLOURS])
    shapes = alt.Scale(domain=keys, range=["stroke"] * 3 + list(WHERE_SHAPES.values()))
    legend = alt.Legend(title="Key", orient="right", symbolStrokeWidth=2, symbolSize=80)
    layers: list[Any] = []
    for edge in ("lower", "upper"):
        layers.append(
            alt.Chart(ldf)
            .mark_line(strokeDash=[5, 4])
            .encode(
                x=xs,
                # not from zero: the funnel, not the white space below it, fills the plot
                y=alt.Y(f"{edge}:Q", title=y_title, scale=alt.Scale(zero=False, padding=8)),
                color=alt.Color("band:N", scale=bands, legend=legend),
            )
        )
    layers.append(
        alt.Chart(pd.DataFrame({"c": [centre], "what": ["pooled value"]}))
        .mark_rule()
        .encode(y="c:Q", color=alt.Color("what:N", scale=bands, legend=legend))
    )
    layers.append(
        alt.Chart(pdf)
        .mark_point(size=60, opacity=0.9, filled=True)
        .encode(
            x=xs,
            y="value:Q",
            color=alt.Color("where:N", scale=bands, legend=legend),
            shape=alt.Shape("where:N", scale=shapes, legend=legend),
            tooltip=[
                alt.Tooltip("org:N", title="Practice"),
                alt.Tooltip("value:Q", format=".1f"),
                alt.Tooltip("exposure:Q", format=",.0f"),
                alt.Tooltip("where:N", title="Against the limits"),
            ],
        )
    )
    layers += _highlight_layers(pdf[pdf["org"] == highlight], xs) if highlight else []
    chart = alt.layer(*layers).properties(
        width=560, height=280, title=alt.TitleParams(text=title, anchor="start")
    )
    return to_svg(chart)


def _highlight_layers(point: pd.DataFrame, xs: alt.X) -> list[Any]:
    """A black ring round one organisation's point and its code beside it (not colour alone)."""
    if point.empty:
        return []
    ring = alt.Chart(point).mark_point(size=260, shape="circle", filled=False, strokeWidth=2.5,
                                       color="#231F20")  # fmt: skip
    label = alt.Chart(point).mark_text(align="left", dx=12, dy=-10, fontSize=12,
                                       fontWeight="bold", color="#231F20")  # fmt: skip
    return [ring.encode(x=xs, y="value:Q"), label.encode(x=xs, y="value:Q", text="org:N")]


# --------------------------------------------------------------------------- icons and tables
ICON_COLOURS = {
    "common": NHS_GREY,
    "improvement": NHS_BLUE,
    "concern": MDC_ORANGE,
    "neither": MDC_PURPLE,
    "pass": NHS_BLUE,
    "fail": MDC_ORANGE,
    "hit_and_miss": NHS_GREY,
}
ASSURANCE_LETTER = {"pass": "P", "fail": "F", "hit_and_miss": "?"}


def _icon(colour: str, letter: str, text: str) -> str:
    """A small round icon (inline SVG) with a letter and the meaning as its accessible name."""
    return (
        f'<svg class="mdc-icon" width="28" height="28" viewBox="0 0 28 28" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(text)}</title>'
        f'<circle cx="14" cy="14" r="12" fill="white" stroke="{colour}" stroke-width="3"/>'
        f'<text x="14" y="19" text-anchor="middle" font-size="13" font-weight="bold" '
        f'font-family="Arial, sans-serif" fill="{colour}">{escape(letter)}</text></svg>'
    )


def variation_icon(result: SpcResult) -> str:
    """Making Data Count variation icon of the latest point: colour and H/L (or none)."""
    v = result.variation
    high = result.variation_high
    letter = "" if v == "common" else ("H" if high else "L")
    text = VARIATION_TEXT[v] + ("" if v == "common" else (" (high)" if high else " (low)"))
    if v == "common":
        letter = "~"
    return _icon(ICON_COLOURS[v], letter, text)


def assurance_icon(result: SpcResult) -> str:
    """Making Data Count assurance icon, or '' without a target (nothing to assure)."""
    a = result.assurance
    if a is None:
        return ""
    return _icon(ICON_COLOURS[a], ASSURANCE_LETTER[a], ASSURANCE_TEXT[a])


POINT_TABLE_HEADER = ("point", "value", "mean", "lower", "upper", "rules", "special cause")


def point_table(result: SpcResult) -> list[tuple[str, ...]]:
    """The header and one row a point, as `careis spc` prints them.

    The special cause names the rule that decides it when a point meets several.
    """
    out: list[tuple[str, ...]] = [POINT_TABLE_HEADER]
    for p in result.points:
        special: str = p.special or ""
        if special and len(p.rules) > 1:
            special = f"{special} ({p.rule})"
        out.append(
            (
                p.label,
                f"{p.value:.4g}",
                f"{p.mean:.4g}",
                "" if p.lower is None else f"{p.lower:.4g}",
                "" if p.upper is None else f"{p.upper:.4g}",
                ", ".join(p.rules),
                special,
            )
        )
    return out


def write_spc_output(result: SpcResult, out: Path, *, title: str, y_title: str) -> None:
    """`careis spc --out`: the chart as SVG (.svg), else the points as CSV."""
    if out.suffix.lower() == ".svg":
        out.write_text(spc_chart(result, title=title, y_title=y_title), encoding="utf-8")
        return
    rows = result.rows()
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
