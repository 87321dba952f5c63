"""Validation metrics against independent computations and hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from careis.risk import evaluate as ev


def test_auroc_matches_sklearn_with_ties_and_delong_se() -> None:
    rng = np.random.default_rng(1)
    p = np.round(rng.random(3000), 2)  # many ties
    y = (rng.random(3000) < p * 0.5).astype(np.int64)
    auc, se = ev.auroc_delong(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    # the DeLong SE agrees with a bootstrap within sampling error
    boots = []
    for _ in range(200):
        idx = rng.integers(0, len(y), len(y))
        boots.append(roc_auc_score(y[idx], p[idx]))
    assert se == pytest.approx(float(np.std(boots)), rel=0.2)


def test_auroc_hand_example() -> None:
    """Positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 1+1+0+1 = 3 of 4."""
    auc, _ = ev.auroc_delong(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]))
    assert auc == 0.75


def test_calibration_of_a_calibrated_and_an_overconfident_model() -> None:
    rng = np.random.default_rng(2)
    logit = rng.normal(-2.5, 1.0, 200_000)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(len(p)) < p).astype(np.int64)
    cal = ev.calibration(y, p)
    assert cal["slope"] == pytest.approx(1.0, abs=0.03)
    assert cal["intercept"] == pytest.approx(0.0, abs=0.03)
    over = 1 / (1 + np.exp(-2 * logit))  # predictions too extreme: slope 0.5
    assert ev.calibration(y, over)["slope"] == pytest.approx(0.5, abs=0.03)


def test_top_percent_hand_example() -> None:
    """200 patients; top 1% = 2 patients (ids 0, 1), top 5% = 10. Patient 0 admitted 3 times,
    patient 1 never; 4 admitted patients, 8 admissions in all."""
    n = 200
    p = np.linspace(1, 0, n)
    y = np.zeros(n, dtype=np.int64)
    adm = np.zeros(n, dtype=np.int64)
    for i, k in ((0, 3), (5, 1), (50, 2), (150, 2)):
        y[i] = 1
        adm[i] = k
    rows = {r["percent"]: r for r in ev.top_percent(y, p, adm, (1.0, 5.0))}
    assert rows[1.0]["flagged"] == 2 and rows[1.0]["admitted"] == 1
    assert rows[1.0]["sensitivity"] == 0.25 and rows[1.0]["ppv"] == 0.5
    assert rows[1.0]["admissions_captured"] == 3 / 8
    assert rows[5.0]["flagged"] == 10 and rows[5.0]["admitted"] == 2
    assert rows[5.0]["admissions_captured"] == 4 / 8


def test_calibration_table_bins() -> None:
    p = np.arange(100) / 100
    y = (p > 0.5).astype(np.int64)
    table = ev.calibration_table(y, p)
    assert [r["patients"] for r in table] == [10] * 10
    assert table[0]["observed"] == 0.0 and table[-1]["observed"] == 1.0
