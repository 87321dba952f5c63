"""A transparent first risk score for unplanned (emergency) admission.

Why points: before a model is trained on local data, commissioners and GPs need a score they
can check by hand. The points mirror the strongest predictors in published models (PARR, the
Combined Predictive Model): age, multimorbidity, prior emergency admissions, A&E use and
care-home residence. It ranks patients; it does not claim to be a calibrated probability.

| factor | points |
| --- | --- |
| age 50-64 / 65-74 / 75-84 / 85+ | 1 / 2 / 3 / 4 |
| each long-term condition (capped at 5) | 1 |
| each emergency admission in the last 12 months (capped at 3) | 2 |
| A&E attendances in the last 12 months: 2+ | 1 |
| care-home resident | 2 |
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table

POINTS_TABLE = (
    ("age 50-64", 1),
    ("age 65-74", 2),
    ("age 75-84", 3),
    ("age 85+", 4),
    ("each long-term condition (max 5)", 1),
    ("each emergency admission in the last 12 months (max 3)", 2),
    ("2+ A&E attendances in the last 12 months", 1),
    ("care-home resident", 2),
)


def score(facts: Table) -> Table:
    """Add `risk_score` (integer points) and the parts that make it up (`pts_*`)."""
    age_pts = (
        ibis.cases(
            (facts.age >= 85, 4),
            (facts.age >= 75, 3),
            (facts.age >= 65, 2),
            (facts.age >= 50, 1),
            else_=0,
        )
    ).cast("int64")
    cond_pts = ibis.least(facts.n_conditions, 5).cast("int64")
    adm_pts = (ibis.least(facts.prior_emergency_admissions, 3) * 2).cast("int64")
    ae_pts = (facts.prior_ae_attendances >= 2).cast("int64")
    home_pts = (facts.care_home * 2).cast("int64")
    out = facts.mutate(
        pts_age=age_pts,
        pts_conditions=cond_pts,
        pts_admissions=adm_pts,
        pts_ae=ae_pts,
        pts_care_home=home_pts,
    )
    return out.mutate(
        risk_score=(
            out.pts_age + out.pts_conditions + out.pts_admissions + out.pts_ae + out.pts_care_home
        ).cast("float64")
    )


def top_factors(row: dict[str, object], n: int = 3) -> list[str]:
    """The largest contributions to one patient's score, for the practice's register view."""
    parts = {
        "age": row.get("pts_age", 0),
        "long-term conditions": row.get("pts_conditions", 0),
        "recent emergency admissions": row.get("pts_admissions", 0),
        "A&E attendances": row.get("pts_ae", 0),
        "care-home resident": row.get("pts_care_home", 0),
    }
    ranked = sorted(((int(v or 0), k) for k, v in parts.items() if v), reverse=True)  # type: ignore[call-overload]
    return [f"{k} (+{v})" for v, k in ranked[:n]]
