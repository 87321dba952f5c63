"""Charts for the commissioning report: contract timeline, cumulative cash, tornado.

Why Altair -> SVG (as the main report): one self-contained HTML file that opens offline.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from careis.commissioning.business_case import BusinessCase
from careis.commissioning.mapping import Mapping
from careis.report.charts import NHS_BLUE, NHS_GREY, NHS_RED, PALETTE, to_svg


def timeline(mapping: Mapping) -> str:
    """Gantt-style: from the decision to when each contract action can take effect.

    Actions that need the provider's agreement can take effect as soon as it agrees, so their
    bar (lighter) runs to the start of the model: the window in which agreement must be reached.
    """
    model = mapping.model
    rows = []
    for r in mapping.rows:
        if r.effective is None:
            continue
        agreed = r.how == "by agreement"
        end = mapping.earliest_start if agreed else max(r.effective, model.decision_date)
        rows.append({
            "contract": f"{r.contract_id} ({r.contract_type})",
            "action": r.action.value.replace("_", " "),
            "start": model.decision_date.isoformat(),
            "end": end.isoformat(),
            "how": r.how + (" (needs consent)" if r.consent_needed else ""),
            "kind": "agreement needed by go-live" if agreed else "notice / expiry",
        })  # fmt: skip
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    bars = (
        alt.Chart(df)
        .mark_bar(height=14)
        .encode(
            y=alt.Y("contract:N", title=None, sort=None),
            x=alt.X("start:T", title="Date", axis=alt.Axis(format="%b %Y")),
            x2="end:T",
            color=alt.Color("action:N", title="Action", scale=alt.Scale(range=PALETTE),
                            legend=alt.Legend(orient="bottom")),
            opacity=alt.Opacity("kind:N", title=None,
                                scale=alt.Scale(domain=["notice / expiry", "agreement needed by go-live"],
                                                range=[1.0, 0.4]),
                                legend=alt.Legend(orient="bottom")),
            tooltip=["contract", "action", "how", "end"],
        )
    )  # fmt: skip
    same = model.intended_start == mapping.earliest_start
    marks = pd.DataFrame(
        [{"date": model.intended_start.isoformat(),
          "what": "intended = earliest realistic start" if same else "intended start"}]
        + ([] if same else [{"date": mapping.earliest_start.isoformat(),
                             "what": "earliest realistic start"}])
    )  # fmt: skip
    rules = (
        alt.Chart(marks)
        .mark_rule(strokeDash=[6, 4], strokeWidth=2)
        .encode(x="date:T", color=alt.value(NHS_RED), tooltip=["what", "date"])
    )
    labels = (
        alt.Chart(marks)
        .mark_text(align="right", dx=-4, dy=-6, color=NHS_RED)
        .encode(x="date:T", y=alt.value(0), text="what:N")
    )
    chart = (bars + rules + labels).properties(width=640, height=max(120, 26 * len(df)))
    return to_svg(chart)


def cumulative_cash(bc: BusinessCase) -> str:
    """Cumulative net position by month; payback is the month from which it stays at or above
    zero to the end of the horizon (not the first month it touches zero)."""
    df = pd.DataFrame([{"month": m.index, "cumulative": float(m.cumulative)} for m in bc.months])
    line = (
        alt.Chart(df)
        .mark_line(point=True, color=NHS_BLUE)
        .encode(
            x=alt.X("month:Q", title="Month of the scheme"),
            y=alt.Y("cumulative:Q", title="Cumulative net saving (£)", axis=alt.Axis(format=",.0f")),
            tooltip=["month", alt.Tooltip("cumulative:Q", format=",.0f")],
        )
    )  # fmt: skip
    zero = alt.Chart(pd.DataFrame([{"y": 0}])).mark_rule(color=NHS_GREY).encode(y="y:Q")
    layers = [zero, line]
    if bc.payback_month is not None:
        pb = pd.DataFrame(
            [{"month": bc.payback_month, "what": f"payback: month {bc.payback_month}"}]
        )
        layers.append(alt.Chart(pb).mark_rule(color=NHS_RED, strokeDash=[6, 4]).encode(x="month:Q"))
        layers.append(alt.Chart(pb).mark_text(align="left", dx=4, y=8, color=NHS_RED)
                      .encode(x="month:Q", text="what:N"))  # fmt: skip
    return to_svg(alt.layer(*layers).properties(width=640, height=260))


def tornado(bc: BusinessCase) -> str:
    """Net over the horizon at each factor's low and high value, widest swing first."""
    base = float(bc.total_net)
    rows = []
    for b in bc.tornado:
        rows.append(
            {
                "factor": b.factor,
                "side": "low value",
                "label": b.low_label,
                "from": base,
                "to": b.net_low,
            }
        )
        rows.append({"factor": b.factor, "side": "high value", "label": b.high_label,
                     "from": base, "to": b.net_high})  # fmt: skip
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    df["align"] = ["left" if t >= base else "right" for t in df["to"]]
    order = [b.factor for b in bc.tornado]
    y = alt.Y("factor:N", sort=order, title=None)
    bars = (
        alt.Chart(df)
        .mark_bar(height=16)
        .encode(
            y=y,
            x=alt.X("from:Q", title=f"Net over {bc.spec.years} years (£)", axis=alt.Axis(format=",.0f")),
            x2="to:Q",
            color=alt.Color("side:N", title=None,
                            scale=alt.Scale(domain=["low value", "high value"], range=[NHS_GREY, NHS_BLUE]),
                            legend=alt.Legend(orient="bottom")),
            tooltip=["factor", "side", "label", alt.Tooltip("to:Q", format=",.0f")],
        )
    )  # fmt: skip
    right = alt.Chart(df[df["align"] == "left"]).mark_text(align="left", dx=3).encode(
        y=y, x="to:Q", text="label:N")  # fmt: skip
    left = alt.Chart(df[df["align"] == "right"]).mark_text(align="right", dx=-3).encode(
        y=y, x="to:Q", text="label:N")  # fmt: skip
    rule = alt.Chart(pd.DataFrame([{"x": base}])).mark_rule(color="#212B32").encode(x="x:Q")
    chart = (bars + right + left + rule).properties(width=640, height=max(80, 40 * len(order)))
    return to_svg(chart)
