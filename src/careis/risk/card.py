"""The model card: what a model was trained on, what it uses, how well it did, and its limits.

Why a card with every model: a GP asked to act on a register, or a finance officer paying for
it, must be able to see which data and period the model learned from, who it covers, every
predictor (and, for the logistic model, every coefficient), how it was validated, and what it
cannot do. The card is written as JSON (for machines and diffs) and HTML (for people); both are
aggregate and contain no patient-level data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from careis.risk.features import FEATURES, LABELS
from careis.risk.model import AGE_KNOTS, RiskModel

SYNTHETIC_WARNING = (
    "These metrics were measured on synthetic data. They show that the training, validation and "
    "scoring pipeline is right; they say nothing about how the model would perform on real "
    "patients. Published real-world models of this kind (PARR, the Combined Predictive Model, "
    "QAdmissions) reach AUROC of about 0.75-0.80."
)
GENERATOR_NOTE = (
    "On careis synthetic data, a patient's emergency-admission rate is driven by a latent health "
    "factor that is never recorded (it only shows through conditions, frailty deficits, medicines "
    "and past hospital use), by long-term conditions, eFI deficits, care-home residence, age and "
    "deprivation, and admissions are then drawn at random. A model that sees only the recorded "
    "traces can therefore rank patients only moderately well: AUROC around 0.70 is what the "
    "generator allows; a figure far above 0.80 would point to leakage of the outcome into the "
    "predictors."
)
LIMITS = (
    "Predicts any emergency admission in the next 12 months; it does not predict which "
    "admissions are avoidable, nor the benefit of case management.",
    "Patients registered and alive on the index date only; newly registered patients have "
    "little recorded history and tend to be under-scored.",
    "Code lists are starter lists (see docs/codelists.md); thin lists (several eFI deficits, "
    "cancer) under-count conditions, and a practice that codes less looks healthier.",
    "Deprivation is the decile of the patient's area; missing deciles are imputed with the "
    "training median (logistic) or handled natively (LightGBM).",
    "Scores are probabilities calibrated to the training period; if admission rates change "
    "(e.g. because an intervention works), predicted risks drift, although the ranking that "
    "draws the register usually holds. Check the temporal calibration below.",
    "Patients who die in the outcome year count as admitted only if they were admitted first.",
)
SET_TEXT = {
    "apparent": "Training data (optimistic; for comparison only)",
    "temporal": "Temporal validation: a later index date, the training practices",
    "geographic": "Geographic validation: held-out practices, the training index date",
}


def card_data(model: RiskModel, *, synthetic: bool = True) -> dict[str, Any]:
    """The card's content as JSON-ready data."""
    predictors = [{"name": name, "kind": kind, "label": LABELS[name]} for name, kind in FEATURES]
    params: dict[str, Any]
    if model.kind == "logistic":
        p = model.params
        params = {
            "intercept": p["intercept"],
            "terms": [
                {
                    "term": t["term"],
                    "feature": t["feature"],
                    "coefficient_per_sd": p["coefficients"][t["term"]],
                    "mean": p["means"][t["term"]],
                    "sd": p["scales"][t["term"]],
                    "coefficient_per_unit": p["coefficients"][t["term"]] / p["scales"][t["term"]],
                }
                for t in p["terms"]
            ],
            "impute": p["impute"],
            "age_knots": list(AGE_KNOTS),
            "regularisation": p.get("regularisation", ""),
        }
    else:
        booster = model.booster()
        gain = booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        params = {
            "rounds": model.params.get("rounds"),
            "settings": model.params.get("settings", {}),
            "importance": sorted(
                (
                    {"feature": name, "label": LABELS[name], "gain_share": float(g) / total}
                    for (name, _), g in zip(FEATURES, gain, strict=True)
                ),
                key=lambda r: -r["gain_share"],
            ),
        }
    metrics = {k: v for k, v in model.metrics.items() if k in SET_TEXT}
    return {
        "model_id": model.model_id,
        "kind": model.kind,
        "title": (
            "Unplanned-admission risk: logistic regression"
            if model.kind == "logistic"
            else "Unplanned-admission risk: gradient-boosted trees (LightGBM)"
        ),
        "training": model.training,
        "predictors": predictors,
        "feature_version": model.feature_version,
        "parameters": params,
        "metrics": metrics,
        "coverage": model.metrics.get("coverage", {}),
        "notes": model.metrics.get("notes", []),
        "synthetic": synthetic,
        "warning": SYNTHETIC_WARNING if synthetic else "",
        "generator_note": GENERATOR_NOTE if synthetic else "",
        "limits": list(LIMITS),
    }


def calibration_svg(metrics: dict[str, Any]) -> str:
    """Observed vs predicted admission rate by tenth of predicted risk, per validation set."""
    import altair as alt
    import pandas as pd

    from careis.report.charts import NHS_BLUE, NHS_GREY, PALETTE, to_svg

    rows = [
        {"set": name, "predicted": r["predicted"], "observed": r["observed"]}
        for name, m in metrics.items()
        for r in m["calibration_table"]
    ]
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    top = float(max(df.predicted.max(), df.observed.max())) * 1.05
    diag = pd.DataFrame({"predicted": [0.0, top], "observed": [0.0, top]})
    line = (
        alt.Chart(diag)
        .mark_line(color=NHS_GREY, strokeDash=[4, 4])
        .encode(x="predicted:Q", y="observed:Q")
    )
    pts = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("predicted:Q", title="Mean predicted risk", axis=alt.Axis(format="%")),
            y=alt.Y("observed:Q", title="Observed admission rate", axis=alt.Axis(format="%")),
            color=alt.Color(
                "set:N",
                title="Data",
                scale=alt.Scale(range=[NHS_BLUE, *PALETTE[1:]]),
                legend=alt.Legend(orient="bottom"),
            ),
        )
    )
    return to_svg((line + pts).properties(width=360, height=300))


def write_card(model: RiskModel, folder: Path, *, synthetic: bool = True) -> tuple[Path, Path]:
    """Write model_card.json and model_card.html into `folder`."""
    from careis.report.html import render

    folder.mkdir(parents=True, exist_ok=True)
    data = card_data(model, synthetic=synthetic)
    json_path = folder / "model_card.json"
    json_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    html = render(
        "model_card.html.j2",
        {"card": data, "set_text": SET_TEXT, "calibration_svg": calibration_svg(data["metrics"])},
    )
    html_path = folder / "model_card.html"
    html_path.write_text(html, encoding="utf-8")
    return json_path, html_path
