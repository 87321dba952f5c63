"""Training, validation, saving and loading the admission models; refusing the wrong model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from careis.codelists import CodelistLibrary
from careis.errors import ConfigError, SchemaMismatchError
from careis.risk import model as M
from careis.risk.card import card_data, write_card
from careis.risk.features import FEATURE_NAMES
from careis.risk.training import (
    TrainResult,
    coverage,
    holdout_practices,
    load_labelled,
    year_before,
)

from .conftest import PRACTICES, TRAIN_INDEX, VALIDATE_INDEX


def test_both_families_trained_and_validated_both_ways(trained: TrainResult) -> None:
    assert set(trained.models) == {"logistic", "lightgbm"}
    assert trained.holdout == holdout_practices(PRACTICES, 0.2, 5)
    assert len(trained.holdout) == 2  # ceil(6 x 0.2)
    for model in trained.models.values():
        assert set(model.metrics) >= {"apparent", "temporal", "geographic"}
        train_practices = set(model.training["practices"])
        assert not train_practices & set(trained.holdout)
        for name in ("temporal", "geographic"):
            m = model.metrics[name]
            lo, hi = m["auroc_ci"]
            assert lo < m["auroc"] < hi
            # The generator's admissions depend on a latent factor careis cannot see: a model
            # far above what it allows would mean leakage, one near 0.5 a broken pipeline.
            assert 0.6 < m["auroc"] < 0.85, (model.kind, name, m["auroc"])
            assert 0.5 < m["calibration"]["slope"] < 1.5
            tops = [t["percent"] for t in m["top"]]
            assert tops == [0.5, 1.0, 2.0, 5.0]
            sens = [t["sensitivity"] for t in m["top"]]
            assert sens == sorted(sens)  # a larger register catches at least as many


def test_holdout_is_reproducible_and_order_free() -> None:
    a = holdout_practices(PRACTICES, 0.34, 7)
    b = holdout_practices(list(reversed(PRACTICES)), 0.34, 7)
    assert a == b and len(a) == 3
    assert holdout_practices(["X"], 0.5, 1) == []


def test_year_before_handles_leap_day() -> None:
    import datetime as dt

    assert year_before(dt.date(2024, 2, 29)) == dt.date(2023, 2, 28)
    assert year_before(TRAIN_INDEX) == dt.date(2022, 4, 1)


def test_save_load_round_trip_predicts_identically(
    trained: TrainResult, risk_engine: Any, tmp_path: Path
) -> None:
    engine, tables = risk_engine
    lab = load_labelled(engine, tables, CodelistLibrary(), VALIDATE_INDEX)
    for kind, model in trained.models.items():
        path = model.save(tmp_path / kind / "model.json")
        again = M.load(path)
        assert again.model_id == model.model_id
        np.testing.assert_array_equal(again.predict(lab.x), model.predict(lab.x))
        # saving twice gives the same bytes (versioned, diffable files)
        assert again.save(tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_contributions_explain_the_score(trained: TrainResult, risk_engine: Any) -> None:
    """Logistic: contributions are the log-odds minus the average patient's. LightGBM: SHAP
    values plus the bias equal the raw score (TreeSHAP's local accuracy)."""
    engine, tables = risk_engine
    lab = load_labelled(engine, tables, CodelistLibrary(), VALIDATE_INDEX)
    x = lab.x[:500]
    logit = trained.models["logistic"]
    p = logit.predict(x)
    c = logit.contributions(x)
    np.testing.assert_allclose(
        c.sum(axis=1) + logit.params["intercept"], np.log(p / (1 - p)), rtol=1e-9, atol=1e-9
    )
    lgb = trained.models["lightgbm"]
    full = lgb.booster().predict(x, pred_contrib=True)
    raw = lgb.booster().predict(x, raw_score=True)
    np.testing.assert_allclose(full.sum(axis=1), raw, rtol=1e-6, atol=1e-6)
    assert lgb.contributions(x).shape == (500, len(FEATURE_NAMES))
    factors = M.top_factors(c, x, 3)
    assert len(factors) == 500 and all(f.count(";") <= 2 for f in factors)


def test_model_from_another_schema_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    path = trained.models["logistic"].save(tmp_path / "model.json")
    body = json.loads(path.read_text())
    body["features"] = [f for f in body["features"] if f["name"] != "housebound"] + [
        {"name": "smoker", "kind": "binary"}
    ]
    body.pop("model_id")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(body))
    model = M.load(other)
    with pytest.raises(SchemaMismatchError) as info:
        model.check_schema()
    msg = str(info.value)
    assert "\n" not in msg and str(other) in msg
    assert "smoker" in msg and "housebound" in msg and "careis risk train" in msg


def test_feature_version_change_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    body = json.loads(trained.models["lightgbm"].save(tmp_path / "m.json").read_text())
    body["feature_version"] = "0"
    body.pop("model_id")
    (tmp_path / "v0.json").write_text(json.dumps(body))
    with pytest.raises(SchemaMismatchError, match="version 0"):
        M.load(tmp_path / "v0.json").check_schema()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"hello": 1}', "not a careis model"),
        ('{"careis_model_format": 99}', "format 99"),
        ('{"careis_model_format": 1, "kind": "forest"}', "unknown model kind 'forest'"),
        ('{"careis_model_format": 1, "kind": "logistic", "params": {}}', "lacks intercept"),
    ],
)
def test_not_a_model_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises((ConfigError, SchemaMismatchError), match=match):
        M.load(path)


def test_edited_model_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    path = trained.models["logistic"].save(tmp_path / "model.json")
    body = json.loads(path.read_text())
    body["params"]["intercept"] += 1.0
    path.write_text(json.dumps(body))
    with pytest.raises(ConfigError, match="edited after training"):
        M.load(path)


def test_model_card(trained: TrainResult, tmp_path: Path) -> None:
    logit = card_data(trained.models["logistic"])
    terms = {t["term"] for t in logit["parameters"]["terms"]}
    assert {"age", "age_over_65", "efi_score", "log1p_prior_emergency_admissions"} <= terms
    assert "synthetic" in logit["warning"] and logit["limits"]
    boosted = card_data(trained.models["lightgbm"])
    shares = [r["gain_share"] for r in boosted["parameters"]["importance"]]
    assert sum(shares) == pytest.approx(1.0)
    j, h = write_card(trained.models["lightgbm"], tmp_path)
    html = h.read_text()
    assert "AUROC" in html and "<svg" in html and "Known limits" in html
    assert json.loads(j.read_text())["model_id"] == trained.models["lightgbm"].model_id


def test_coverage_reconciles(risk_engine: Any) -> None:
    engine, tables = risk_engine
    c = coverage(engine, tables, VALIDATE_INDEX)
    parts = c["registered"] + c["died_before"] + c["no_registration"] + c["not_registered_on_date"]
    assert parts == c["patients"] > 0
    lab = load_labelled(engine, tables, CodelistLibrary(), VALIDATE_INDEX)
    assert len(lab.y) == c["registered"]
