"""The model's features (eFI included) are the same on DuckDB and on Spark, and so are the scores.

Small on purpose: Spark plans deep Ibis expressions slowly. The hand-made eFI patients of
`test_efi` plus hospital use before and after the index date cover every feature's code path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from careis.engine import Engine
from careis.risk.features import FEATURE_NAMES, build_features, outcome
from careis.risk.model import feature_matrix, train

from .test_efi import INDEX, LIB, build


def _dataset() -> Any:
    ds = build()
    ds.admission("P1", INDEX.replace(year=2023), los=5)
    ds.admission("P1", INDEX.replace(month=5))  # after the index date: outcome only
    ds.admission("P4", INDEX.replace(month=1), method="11")  # elective: not emergency
    ds.ae("P2", INDEX.replace(month=2))
    ds.ae("P2", INDEX.replace(month=3))
    ds.event("P4", INDEX.replace(year=2020), "160734000")  # care home
    return ds


def _features(engine: Engine) -> pa.Table:
    tables = _dataset().tables(engine)
    t = engine.to_arrow(build_features(tables, INDEX, LIB).order_by("patient_id"))
    o = engine.to_arrow(outcome(tables, INDEX).order_by("patient_id"))
    cols = {n: t.column(n).cast(pa.float64()) if n in FEATURE_NAMES else t.column(n)
            for n in t.column_names}  # fmt: skip
    cols["efi_deficits"] = t.column("efi_deficits").cast(pa.int64())
    out = pa.table(cols)
    return out.append_column(
        "outcome_ids", pa.array([",".join(o.column("patient_id").to_pylist())] * out.num_rows)
    )


@pytest.mark.spark
def test_duckdb_and_spark_build_the_same_features(duck: Engine, spark_engine: Engine) -> None:
    on_duck = _features(duck)
    on_spark = _features(spark_engine)
    assert on_duck.num_rows == 7
    assert on_duck.column_names == on_spark.column_names
    for name in on_duck.column_names:
        assert on_duck.column(name).to_pylist() == on_spark.column(name).to_pylist(), name
    # and therefore the same scores
    x = feature_matrix(on_duck)
    y = np.array([1, 0, 0, 1, 0, 0, 1])
    model = train("logistic", x, y, training={})
    np.testing.assert_array_equal(model.predict(x), model.predict(feature_matrix(on_spark)))


def _record_at(engine: Engine) -> pa.Table:
    from careis.risk.features import record_features_at

    tables = _dataset().tables(engine)
    dates = [INDEX, INDEX.replace(year=INDEX.year - 1)]
    t = engine.to_arrow(record_features_at(tables["events"], LIB, dates).order_by("patient_id"))
    return pa.table({n: t.column(n).cast(pa.int64()) if n != "patient_id" else t.column(n)
                     for n in t.column_names})  # fmt: skip


@pytest.mark.spark
def test_duckdb_and_spark_build_the_same_record_features_at_two_dates(
    duck: Engine, spark_engine: Engine
) -> None:
    on_duck = _record_at(duck)
    assert on_duck.num_rows >= 5
    assert on_duck.equals(_record_at(spark_engine))
