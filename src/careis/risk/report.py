"""The risk section of the commissioner's report: register sizes, eFI by practice, model metrics.

Why aggregate only: the report goes to the commissioner; the patients on a register are shown
only to their own practice (`practices/<code>/`). The report shows counts per practice (the
report is marked OFFICIAL-SENSITIVE, as for the payment counts) and the model's headline
validation figures, with the model card next to it for the detail.
"""

from __future__ import annotations

from typing import Any

from careis.risk.efi import CATEGORIES
from careis.risk.model import RiskModel

CATEGORY_COLOURS = ("#007F3B", "#FFB81C", "#ED8B00", "#D5281B")


def efi_chart(summary: list[dict[str, Any]], names: dict[str, str]) -> str:
    """Stacked bars: share of each practice's patients aged 65+ in each eFI category."""
    import altair as alt
    import pandas as pd

    from careis.report.charts import to_svg

    rows = []
    for r in summary:
        total = sum(r[c] for c in CATEGORIES)
        if not total:
            continue
        label = (
            f"{names.get(r['practice_code'], r['practice_code']).title()} ({r['practice_code']})"
        )
        for order, c in enumerate(CATEGORIES):
            rows.append({"practice": label, "category": c, "order": order, "share": r[c] / total})
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    chart = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("practice:N", title=None, sort="ascending", axis=alt.Axis(labelLimit=320)),
            x=alt.X("share:Q", title="Patients aged 65+ (%)", axis=alt.Axis(format="%"),
                    stack="normalize"),
            color=alt.Color("category:N", title="eFI category", sort=list(CATEGORIES),
                            scale=alt.Scale(domain=list(CATEGORIES), range=list(CATEGORY_COLOURS)),
                            legend=alt.Legend(orient="bottom")),
            order=alt.Order("order:Q"),
        )
        .properties(width=560, height=max(120, 14 * (len(rows) // len(CATEGORIES))))
    )  # fmt: skip
    return to_svg(chart)


def headline(model: RiskModel) -> dict[str, Any]:
    """The few model figures the report shows (the card has the rest)."""
    sets = []
    for name, label in (
        ("temporal", "later period"),
        ("geographic", "held-out practices"),
        ("apparent", "training data"),
    ):
        m = model.metrics.get(name)
        if not m:
            continue
        top2 = next((t for t in m["top"] if t["percent"] == 2.0), None)
        sets.append(
            {
                "label": label,
                "patients": m["patients"],
                "auroc": m["auroc"],
                "auroc_ci": m["auroc_ci"],
                "slope": m["calibration"]["slope"],
                "brier": m["brier"],
                "top2": top2,
            }
        )
    return {
        "model_id": model.model_id,
        "kind": model.kind,
        "trained": model.training.get("index_date"),
        "sets": sets,
    }
