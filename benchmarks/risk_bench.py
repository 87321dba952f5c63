"""Risk benchmarks, run by `benchmarks/run.py` in a fresh process (see its docstring).

- `score`: feature build (in DuckDB) + scoring (vectorised; logistic and LightGBM timed
  separately) + drawing the registers for everyone registered on 2024-04-01 in the benchmark
  data (~1.5 million patients). The models are first trained on a 200,000-patient sample (not
  timed). `total_s` = feature build + LightGBM scoring + registers.
- `train`: training time of each model family on 1 million patients (features at 2023-04-01;
  the feature build is timed separately).

Writes its figures as JSON to the path given as the last argument.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    mode, data, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    from careis.codelists import CodelistLibrary
    from careis.data.load import load_dataset
    from careis.engine import Engine
    from careis.risk.model import train
    from careis.risk.register import register
    from careis.risk.scoring import score_table
    from careis.risk.training import load_labelled

    lib = CodelistLibrary()
    engine = Engine.duckdb()
    t = time.perf_counter()
    tables = load_dataset(engine, data, extract_date=dt.date(2025, 6, 30)).tables
    out: dict[str, float | int | str] = {"load_s": round(time.perf_counter() - t, 1)}
    t = time.perf_counter()
    lab = load_labelled(engine, tables, lib, dt.date(2023, 4, 1))
    out["labelled_features_s"] = round(time.perf_counter() - t, 1)
    out["patients_2023"] = len(lab.y)
    rng = np.random.default_rng(1)
    if mode == "train":
        n = min(1_000_000, len(lab.y))
        idx = np.sort(rng.choice(len(lab.y), n, replace=False))
        out["train_patients"] = n
        for kind in ("logistic", "lightgbm"):
            t = time.perf_counter()
            train(kind, lab.x[idx], lab.y[idx], training={})  # type: ignore[arg-type]
            out[f"train_{kind}_s"] = round(time.perf_counter() - t, 1)
    else:
        idx = np.sort(rng.choice(len(lab.y), min(200_000, len(lab.y)), replace=False))
        models = {
            k: train(k, lab.x[idx], lab.y[idx], training={}) for k in ("logistic", "lightgbm")
        }  # type: ignore[arg-type]
        from careis.risk.features import build_features

        t0 = time.perf_counter()
        feats = engine.to_arrow(
            build_features(tables, dt.date(2024, 4, 1), lib).order_by("patient_id")
        )
        out["patients"] = feats.num_rows
        out["feature_build_s"] = round(time.perf_counter() - t0, 1)
        for kind, model in models.items():
            t1 = time.perf_counter()
            scored = score_table(model, feats)
            t2 = time.perf_counter()
            reg = engine.to_arrow(
                register(engine.from_arrow(scored), percent=2.0, min_age=18).select("patient_id")
            )
            t3 = time.perf_counter()
            out[f"scoring_{kind}_s"] = round(t2 - t1, 1)
            out[f"register_{kind}_s"] = round(t3 - t2, 1)
            out[f"on_register_{kind}"] = reg.num_rows
        out["total_s"] = round(
            out["feature_build_s"] + out["scoring_lightgbm_s"] + out["register_lightgbm_s"],
            1,  # type: ignore[operator]
        )
    engine.close()
    result.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
