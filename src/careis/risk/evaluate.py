"""Validation metrics of a risk model: discrimination, calibration, and the register's yield.

Why these: AUROC says how well the model ranks, but a commissioner also needs to know whether
a predicted 20% means 20% (calibration slope and intercept, Brier score, the calibration plot)
and, above all, what a register of the top 0.5/1/2/5% would catch: the share of next year's
patients with an emergency admission who are on it (sensitivity), the share of the register
who are admitted (PPV), and the share of next year's emergency admissions they account for.

The AUROC confidence interval is DeLong's (DeLong, DeLong and Clarke-Pearson 1988), computed
with the fast midrank algorithm of Sun and Xu (2014): exact for ties and O(n log n), so it can
run on a million patients without resampling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm, rankdata

TOP_PERCENTS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
CAL_BINS = 10


def auroc_delong(y: NDArray[np.int64], p: NDArray[np.float64]) -> tuple[float, float]:
    """AUROC and its DeLong standard error."""
    pos = p[y == 1]
    neg = p[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    r_all = rankdata(np.concatenate([pos, neg]))
    r_pos = rankdata(pos)
    r_neg = rankdata(neg)
    auc = (r_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (r_all[:m] - r_pos) / n  # structural components of the positives
    v10 = 1.0 - (r_all[m:] - r_neg) / m  # and of the negatives
    s = v01.var(ddof=1) / m + v10.var(ddof=1) / n if m > 1 and n > 1 else float("nan")
    return float(auc), float(math.sqrt(s))


def _logistic_fit(
    x: NDArray[np.float64], y: NDArray[np.float64], offset: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Unpenalised logistic regression by Newton-Raphson (few columns; for recalibration)."""
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        eta = x @ beta + offset
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1 - mu)
        grad = x.T @ (y - mu)
        hess = x.T @ (x * w[:, None])
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(beta)), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def calibration(y: NDArray[np.int64], p: NDArray[np.float64]) -> dict[str, float]:
    """Calibration slope (logit(y) ~ a + b logit(p)) and calibration-in-the-large (the
    intercept with the slope fixed at 1). Perfect: slope 1, intercept 0."""
    q = np.clip(p, 1e-9, 1 - 1e-9)
    lp = np.log(q / (1 - q))
    yf = y.astype(np.float64)
    ones = np.ones((len(lp), 1))
    slope_fit = _logistic_fit(np.column_stack([ones, lp]), yf, np.zeros(len(lp)))
    citl = _logistic_fit(ones, yf, lp)
    return {"slope": float(slope_fit[1]), "intercept": float(citl[0])}


def calibration_table(
    y: NDArray[np.int64], p: NDArray[np.float64], bins: int = CAL_BINS
) -> list[dict[str, float]]:
    """Mean predicted vs observed rate in tenths of predicted risk (for the calibration plot)."""
    order = np.argsort(p, kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, bins)):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "bin": k + 1,
                "patients": len(idx),
                "predicted": float(p[idx].mean()),
                "observed": float(y[idx].mean()),
            }
        )
    return rows


def top_percent(
    y: NDArray[np.int64],
    p: NDArray[np.float64],
    admissions: NDArray[np.int64],
    percents: tuple[float, ...] = TOP_PERCENTS,
) -> list[dict[str, float]]:
    """For a register of the top N% by predicted risk: sensitivity, PPV and the share of
    next-year emergency admissions its patients account for. Ties at the cut are broken by
    row order (callers pass rows sorted by patient_id), so the figures are reproducible."""
    order = np.argsort(-p, kind="stable")
    total_pos = int(y.sum())
    total_adm = int(admissions.sum())
    out = []
    for pct in percents:
        k = max(1, math.ceil(len(p) * pct / 100.0))
        sel = order[:k]
        tp = int(y[sel].sum())
        out.append(
            {
                "percent": pct,
                "flagged": k,
                "admitted": tp,
                "sensitivity": tp / total_pos if total_pos else float("nan"),
                "ppv": tp / k,
                "admissions_captured": float(admissions[sel].sum()) / total_adm
                if total_adm
                else float("nan"),
            }
        )
    return out


def evaluate(
    y: NDArray[np.int64], p: NDArray[np.float64], admissions: NDArray[np.int64]
) -> dict[str, Any]:
    """Every metric of one validation set, as plain JSON-ready numbers."""
    auc, se = auroc_delong(y, p)
    z = float(norm.ppf(0.975))
    return {
        "patients": len(y),
        "admitted": int(y.sum()),
        "admission_rate": float(y.mean()) if len(y) else float("nan"),
        "auroc": auc,
        "auroc_ci": [max(0.0, auc - z * se), min(1.0, auc + z * se)],
        "brier": float(np.mean((p - y) ** 2)),
        "mean_predicted": float(p.mean()) if len(p) else float("nan"),
        "calibration": calibration(y, p),
        "calibration_table": calibration_table(y, p),
        "top": top_percent(y, p, admissions),
    }
