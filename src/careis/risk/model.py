"""Unplanned-admission risk models: a transparent logistic regression and LightGBM.

Why two: the logistic model's coefficients can be published and checked by a clinician (the
model card lists every one); the gradient-boosted model captures interactions (frailty x
age, care home x dementia) and usually ranks a little better. Both are trained on the same
features (`careis.risk.features`) and judged on the same validation.

Why no pickle: a saved model is a JSON file a person can read and diff, that loads without
executing code, and that says what it needs. It holds the format version, the feature list and
its version, the training data period and population, the metrics, and the parameters: for
logistic, the intercept, coefficients, centring and scaling of each term and the imputation
value; for LightGBM, the booster's own text format (`model_to_string`). `load()` refuses a file
that is not such a model, and `check_schema()` refuses a model whose features are not the
features this careis builds, each with one line naming the file and the difference.

Scoring is vectorised (numpy over Arrow columns, in batches), never a Python loop per patient.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from careis.errors import ConfigError, SchemaMismatchError
from careis.risk.features import FEATURE_NAMES, FEATURE_VERSION, FEATURES, LABELS

MODEL_FORMAT = 1
Kind = Literal["logistic", "lightgbm"]
KINDS: tuple[Kind, ...] = ("logistic", "lightgbm")

#: Knots of the linear age spline used by the logistic model (risk of emergency admission is
#: J-shaped in age: high in infants, lowest in children and young adults, rising steeply after 65).
AGE_KNOTS: tuple[int, ...] = (5, 18, 45, 65, 80)
#: Heavy-tailed counts enter the logistic model as log(1 + x).
LOG_TERMS: frozenset[str] = frozenset(
    {"prior_emergency_admissions", "prior_ae_attendances", "prior_bed_days", "n_medicines"}
)
#: Deliberately small trees and large leaves: on a practice-sized population deeper trees fit
#: the training year's noise (apparent AUROC rises, temporal AUROC falls).
LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 500,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 20240401,
}
#: 80 rounds at rate 0.1 validate as well as 300 at 0.03 on the synthetic data and score ~5x
#: faster (scoring time is proportional to the number of trees).
LGB_ROUNDS = 80
BATCH = 500_000


def feature_matrix(table: pa.Table) -> NDArray[np.float64]:
    """The FEATURE_NAMES columns of `table` as a float64 matrix (nulls become NaN)."""
    # Filled column by column into one row-major matrix (what LightGBM reads without a copy):
    # no list of per-column copies and no `column_stack` of them.
    out = np.empty((table.num_rows, len(FEATURE_NAMES)), dtype=np.float64)
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return out


def _design(
    x: NDArray[np.float64], impute: dict[str, float]
) -> tuple[NDArray[np.float64], list[tuple[str, str]]]:
    """Logistic design matrix and its terms as (term name, feature it belongs to)."""
    cols: list[NDArray[np.float64]] = []
    terms: list[tuple[str, str]] = []
    for j, name in enumerate(FEATURE_NAMES):
        v = x[:, j]
        if name in impute:
            v = np.where(np.isnan(v), impute[name], v)
        if name == "age":
            cols.append(v)
            terms.append(("age", "age"))
            for k in AGE_KNOTS:
                cols.append(np.maximum(v - k, 0.0))
                terms.append((f"age_over_{k}", "age"))
        elif name in LOG_TERMS:
            cols.append(np.log1p(np.maximum(v, 0.0)))
            terms.append((f"log1p_{name}", name))
        else:
            cols.append(v)
            terms.append((name, name))
    return np.column_stack(cols), terms


@dataclass
class RiskModel:
    """A trained model as saved to and loaded from JSON."""

    kind: Kind
    params: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    features: list[dict[str, str]] = field(
        default_factory=lambda: [{"name": n, "kind": k} for n, k in FEATURES]
    )
    feature_version: str = FEATURE_VERSION
    format: int = MODEL_FORMAT
    source: Path | None = None
    _booster: Any = None

    # ------------------------------------------------------------------ identity and files
    def body(self) -> dict[str, Any]:
        return {
            "careis_model_format": self.format,
            "kind": self.kind,
            "feature_version": self.feature_version,
            "features": self.features,
            "training": self.training,
            "metrics": self.metrics,
            "params": self.params,
        }

    @property
    def model_id(self) -> str:
        """A version stamp: the hash of the parameters and features (not of the metrics)."""
        core = {k: v for k, v in self.body().items() if k not in ("metrics",)}
        text = json.dumps(core, sort_keys=True, separators=(",", ":"))
        return f"{self.kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"model_id": self.model_id, **self.body()}
        path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return path

    # ------------------------------------------------------------------ checks
    def check_schema(self, available: Sequence[str] | None = None) -> None:
        """Refuse to score with a model whose features are not the ones careis builds now."""
        where = str(self.source) if self.source else None
        names = [f.get("name", "") for f in self.features]
        if self.feature_version != FEATURE_VERSION or names != list(FEATURE_NAMES):
            missing = [n for n in FEATURE_NAMES if n not in names]
            extra = [n for n in names if n not in FEATURE_NAMES]
            diff = []
            if extra:
                diff.append(f"the model expects {', '.join(extra)} which careis does not build")
            if missing:
                diff.append(f"careis builds {', '.join(missing)} which the model does not know")
            if not diff:
                diff.append(
                    f"feature definitions version {self.feature_version} (model) vs {FEATURE_VERSION} (careis)"
                    if self.feature_version != FEATURE_VERSION
                    else "the features are in a different order"
                )
            raise SchemaMismatchError(
                f"the model's feature schema does not match the data: {'; '.join(diff)}.",
                file=where,
                fix="retrain the model on this data with `careis risk train`.",
            )
        if available is not None:
            absent = [n for n in FEATURE_NAMES if n not in available]
            if absent:
                raise SchemaMismatchError(
                    f"the data lack the model's features {', '.join(absent)}.",
                    file=where,
                    fix="build features with careis.risk.features.build_features.",
                )

    # ------------------------------------------------------------------ scoring
    def booster(self) -> Any:
        if self._booster is None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=self.params["booster"])
        return self._booster

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probability of an emergency admission in the next 12 months, per row of `x`."""
        out = np.empty(x.shape[0], dtype=np.float64)
        for lo in range(0, x.shape[0], BATCH):
            out[lo : lo + BATCH] = self._predict_batch(x[lo : lo + BATCH])
        return out

    def _predict_batch(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.kind == "logistic":
            z = self._logit_terms(x).sum(axis=1) + self.params["intercept"]
            return 1.0 / (1.0 + np.exp(-z))
        return np.asarray(self.booster().predict(x, num_threads=2), dtype=np.float64)

    def _logit_terms(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        d, terms = _design(x, self.params["impute"])
        names = [t for t, _ in terms]
        p = self.params
        coef = np.array([p["coefficients"][n] for n in names])
        mean = np.array([p["means"][n] for n in names])
        scale = np.array([p["scales"][n] for n in names])
        return ((d - mean) / scale) * coef

    def contributions(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-feature contributions to the log-odds (rows x FEATURE_NAMES).

        Logistic: each term's coefficient x its centred, scaled value (age spline terms summed
        into 'age'), i.e. the shift from an average patient. LightGBM: SHAP values
        (`pred_contrib=True`, the booster's exact TreeSHAP), last column (the bias) dropped.
        """
        if self.kind == "logistic":
            _, terms = _design(x[:1], self.params["impute"])
            t = self._logit_terms(x)
            out = np.zeros((x.shape[0], len(FEATURE_NAMES)))
            for k, (_, feat) in enumerate(terms):
                out[:, FEATURE_NAMES.index(feat)] += t[:, k]
            return out
        contrib = np.asarray(self.booster().predict(x, pred_contrib=True, num_threads=2))
        return contrib[:, : len(FEATURE_NAMES)]


def top_factors(contrib: NDArray[np.float64], x: NDArray[np.float64], n: int = 3) -> list[str]:
    """For each row: its `n` largest positive contributions as 'label (value)' text."""
    out: list[str] = []
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :n]
    for i in range(contrib.shape[0]):
        parts = []
        for j in order[i]:
            if contrib[i, j] <= 0:
                break
            name = FEATURE_NAMES[j]
            value = x[i, j]
            shown = (
                f"{value:.2f}"
                if name == "efi_score"
                else ("yes" if _is_binary(name) else ("n/a" if np.isnan(value) else f"{value:g}"))
            )
            parts.append(f"{LABELS[name]} ({shown})")
        out.append("; ".join(parts))
    return out


def _is_binary(name: str) -> bool:
    return dict(FEATURES)[name] == "binary"


# ---------------------------------------------------------------------- training


def train(
    kind: Kind, x: NDArray[np.float64], y: NDArray[np.int64], *, training: dict[str, Any]
) -> RiskModel:
    """Fit one model family on features `x` and outcome `y` (0/1)."""
    if len(np.unique(y)) < 2:
        raise ConfigError(
            "the training data have no patient with (or none without) an emergency admission in the "
            "outcome year, so no model can be fitted.",
            fix="train on more patients or a period with admissions.",
        )
    if kind == "logistic":
        return _train_logistic(x, y, training)
    if kind == "lightgbm":
        return _train_lightgbm(x, y, training)
    raise ConfigError(f"unknown model kind '{kind}'.", fix=f"use one of {', '.join(KINDS)}.")


def _train_logistic(
    x: NDArray[np.float64], y: NDArray[np.int64], training: dict[str, Any]
) -> RiskModel:
    from sklearn.linear_model import LogisticRegression

    impute = {
        FEATURE_NAMES[j]: float(np.nanmedian(x[:, j]))
        for j in range(x.shape[1])
        if np.isnan(x[:, j]).any()
    }
    # imd_decile is the only nullable feature; always record its imputation value
    j_imd = FEATURE_NAMES.index("imd_decile")
    impute.setdefault("imd_decile", float(np.nanmedian(x[:, j_imd])))
    d, terms = _design(x, impute)
    mean = d.mean(axis=0)
    scale = d.std(axis=0)
    scale[scale == 0] = 1.0
    z = (d - mean) / scale
    fit = LogisticRegression(C=1.0, max_iter=2000, tol=1e-6)
    fit.fit(z, y)
    names = [t for t, _ in terms]
    params = {
        "intercept": float(fit.intercept_[0]),
        "coefficients": {n: float(c) for n, c in zip(names, fit.coef_[0], strict=True)},
        "means": {n: float(m) for n, m in zip(names, mean, strict=True)},
        "scales": {n: float(s) for n, s in zip(names, scale, strict=True)},
        "impute": impute,
        "terms": [{"term": t, "feature": f} for t, f in terms],
        "regularisation": "L2 penalty, C=1.0, on standardised terms",
    }
    return RiskModel(kind="logistic", params=params, training=training)


def _train_lightgbm(
    x: NDArray[np.float64], y: NDArray[np.int64], training: dict[str, Any]
) -> RiskModel:
    import lightgbm as lgb

    data = lgb.Dataset(x, label=y, feature_name=list(FEATURE_NAMES), free_raw_data=True)
    params = {**LGB_PARAMS, "num_threads": 2}
    booster = lgb.train(params, data, num_boost_round=LGB_ROUNDS)
    text = booster.model_to_string()
    model = RiskModel(
        kind="lightgbm",
        params={"booster": text, "rounds": LGB_ROUNDS, "settings": dict(LGB_PARAMS)},
        training=training,
    )
    model._booster = booster
    return model


# ---------------------------------------------------------------------- loading


def load(path: str | Path) -> RiskModel:
    """Read a saved model; a file that is not one is a one-line ConfigError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("cannot read the model file.", file=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "not a careis model (a binary file, not JSON text).",
            file=path,
            fix="give the model.json written by `careis risk train`.",
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not a careis model (invalid JSON at line {exc.lineno}).",
            file=path,
            fix="give the model.json written by `careis risk train`.",
        ) from exc
    if not isinstance(data, dict) or "careis_model_format" not in data:
        raise ConfigError(
            "not a careis model (no careis_model_format).",
            file=path,
            fix="give the model.json written by `careis risk train`.",
        )
    if data["careis_model_format"] != MODEL_FORMAT:
        raise SchemaMismatchError(
            f"model format {data['careis_model_format']} is not the format this careis reads ({MODEL_FORMAT}).",
            file=path,
            fix="retrain the model with this version of careis (`careis risk train`).",
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind '{kind}'.", file=path, where="kind")
    needed = (
        ("intercept", "coefficients", "means", "scales", "impute")
        if kind == "logistic"
        else ("booster",)
    )
    params = data.get("params") or {}
    lacking = [k for k in needed if k not in params]
    if lacking:
        raise ConfigError(
            f"the model file lacks {', '.join(lacking)}.",
            file=path,
            where="params",
            fix="retrain the model with `careis risk train`.",
        )
    model = RiskModel(
        kind=kind,
        params=params,
        training=data.get("training", {}),
        metrics=data.get("metrics", {}),
        features=list(data.get("features") or []),
        feature_version=str(data.get("feature_version", "")),
        source=path,
    )
    if data.get("model_id") and data["model_id"] != model.model_id:
        raise ConfigError(
            f"the model file was edited after training (model_id {data['model_id']} does not match its contents).",
            file=path,
            fix="retrain the model rather than editing it.",
        )
    return model
