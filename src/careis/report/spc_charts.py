"""SPC charts and funnel plots in the NHS "Making Data Count" style, as inline SVG.

Why a module of its own: the colours and marks follow the NHS convention users already read
(grey = common cause, blue = special cause improvement, orange = special cause concern,
purple = special cause with no direction; process limits dashed grey; target red dashed;
a planned trajectory dotted), and they are used both by the report and by `careis spc`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from careis.measures.spc import FunnelPoint, SpcResult
from careis.report.charts import NHS_BLUE, NHS_GREY, NHS_RED, to_svg

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
    result: SpcResult, *, title: str = "", y_title: str = "value", percent: bool = False
) -> str:
    """An SPC chart of `result` (points, mean, process limits, target, trajectory)."""
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
    chart = alt.layer(*layers, data=df).properties(
        width=680,
        height=240,
        title=alt.TitleParams(text=title, subtitle=subtitle, anchor="start"),
    )
    return to_svg(chart)


def funnel_chart(
    centre: float,
    points: list[FunnelPoint],
    *,
    title: str = "",
    x_title: str = "person-years",
    y_title: str = "rate per 1,000",
    per: float = 1000.0,
    kind: str = "rate",
) -> str:
    """Funnel plot: each organisation against the pooled value with 95% and 99.8% limits."""
    from careis.measures.spc import funnel

    shown = [p for p in points if p.exposure > 0]
    if not shown:
        return ""
    lo = min(p.exposure for p in shown)
    hi = max(p.exposure for p in shown)
    # smooth limit curves: evaluate the same limits on a grid of exposures
    grid = [lo * 0.8 + (hi * 1.1 - lo * 0.8) * i / 60 for i in range(61)]
    scale = per if kind == "rate" else 100.0
    theta = centre / scale
    _, curve = funnel(
        [f"g{i}" for i in range(len(grid))],
        [theta * e for e in grid],
        grid,
        kind="rate" if kind == "rate" else "proportion",
        per=per,
    )
    lim_rows = []
    for e, c in zip(grid, curve, strict=True):
        for band, (a, b) in c.limits.items():
            lim_rows.append({"exposure": e, "band": f"{band}% limits", "lower": a, "upper": b})
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
    bands = alt.Scale(domain=["95% limits", "99.8% limits"], range=[NHS_GREY, "#231F20"])
    layers: list[Any] = []
    for edge in ("lower", "upper"):
        layers.append(
            alt.Chart(ldf)
            .mark_line(strokeDash=[5, 4])
            .encode(
                x=xs,
                y=alt.Y(f"{edge}:Q", title=y_title),
                color=alt.Color("band:N", scale=bands, title="Limits"),
            )
        )
    layers.append(
        alt.Chart(pd.DataFrame({"c": [centre]})).mark_rule(color=NHS_BLUE).encode(y="c:Q")
    )
    layers.append(
        alt.Chart(pdf)
        .mark_circle(size=50, opacity=0.9)
        .encode(
            x=xs,
            y="value:Q",
            shape=alt.Shape("where:N", title="Practice"),
            tooltip=[
                "org",
                alt.Tooltip("value:Q", format=".1f"),
                alt.Tooltip("exposure:Q", format=",.0f"),
            ],
        )
    )
    chart = (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(width=560, height=280, title=alt.TitleParams(text=title, anchor="start"))
    )
    return to_svg(chart)
