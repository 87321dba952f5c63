"""Training and honest validation of the unplanned-admission models.

Why two splits: a model is used on patients and periods it was not trained on. The temporal
split trains with one index date (outcome in the following year) and validates with a later
index date (its own following year), catching drift; the geographic split holds out whole
practices, catching a model that has learned a practice's coding habits rather than its
patients. Held-out practices are chosen by a seeded hash of their codes, so the choice is
reproducible and does not depend on row order.

Nothing patient-level leaves the engine except the feature matrix (numpy), and the population
is reconciled: every patient in the patients table is either scored or counted under a
reason (no registration at all, not registered on the index date, died before it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.types import Table
from numpy.typing import NDArray

from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.errors import DataError
from careis.facts.population import OPEN_END
from careis.risk import evaluate as ev
from careis.risk.features import labelled
from careis.risk.model import KINDS, Kind, RiskModel, feature_matrix, train

HORIZON_DAYS = 365


def year_before(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def holdout_practices(practices: Sequence[str], share: float, seed: int) -> list[str]:
    """A reproducible `share` of practices (at least one when there are two or more)."""
    if share <= 0 or len(practices) < 2:
        return []
    k = min(len(practices) - 1, max(1, math.ceil(len(practices) * share)))
    ranked = sorted(practices, key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    return sorted(ranked[:k])


def coverage(engine: Engine, tables: Mapping[str, Table], index_date: dt.date) -> dict[str, int]:
    """Where every patient in the patients table went on `index_date` (counts reconcile:
    patients = registered + died_before + no_registration + not_registered_on_date)."""
    p = tables["patients"]
    r = tables["registrations"]
    d = ibis.literal(index_date)
    end = r.end_date.coalesce(ibis.literal(OPEN_END))
    on_day = r.filter((r.start_date <= d) & (end >= d)).select("patient_id").distinct()
    any_reg = r.select("patient_id").distinct().mutate(has_reg=ibis.literal(1))
    on_day = on_day.mutate(on_day=ibis.literal(1))
    t = p.select("patient_id", "death_date")
    t = t.left_join(any_reg, t.patient_id == any_reg.patient_id).drop("patient_id_right")
    t = t.left_join(on_day, t.patient_id == on_day.patient_id).drop("patient_id_right")
    died = t.death_date.notnull() & (t.death_date < d)
    reason = ibis.cases(
        (died, "died_before"),
        (t.has_reg.isnull(), "no_registration"),
        (t.on_day.isnull(), "not_registered_on_date"),
        else_="registered",
    )
    rows = engine.to_arrow(
        t.mutate(reason=reason).group_by("reason").aggregate(n=lambda x: x.count())
    ).to_pylist()
    out = {"patients": 0, "registered": 0, "died_before": 0, "no_registration": 0,
           "not_registered_on_date": 0}  # fmt: skip
    for row in rows:
        out[str(row["reason"])] = int(row["n"])
        out["patients"] += int(row["n"])
    return out


def data_end(engine: Engine, tables: Mapping[str, Table]) -> dt.date | None:
    """The last admission date in the data (the outcome can only be seen up to here)."""
    value = (
        engine.to_arrow(tables["admissions"].aggregate(last=lambda t: t.admission_date.max()))
        .column("last")[0]
        .as_py()
    )
    return value


def outcome_covered(last: dt.date | None, index_date: dt.date, horizon_days: int) -> bool:
    """True when the data run (within a month) to the end of the outcome year."""
    if last is None:
        return False
    return index_date + dt.timedelta(days=horizon_days - 1) <= last + dt.timedelta(days=31)


def require_outcome(
    last: dt.date | None, index_date: dt.date, horizon_days: int, what: str
) -> None:
    if not outcome_covered(last, index_date, horizon_days):
        end = index_date + dt.timedelta(days=horizon_days - 1)
        if last is None:
            raise DataError(
                f"the {what} index date {index_date} needs admissions up to {end} to see its "
                "outcome, but no admissions were accepted (the table is empty or every row was "
                "quarantined).",
                fix="supply the admissions table, or use risk.method: points, which needs no "
                "outcome year.",
            )
        raise DataError(
            f"the {what} index date {index_date} needs admissions up to {end} to see its outcome, "
            f"but the last admission in the data is {last}.",
            fix="choose an earlier index date or supply later data.",
        )


@dataclass
class Labelled:
    """Features and outcome at one index date, in patient_id order."""

    index_date: dt.date
    table: pa.Table
    x: NDArray[np.float64]
    y: NDArray[np.int64]
    admissions: NDArray[np.int64]
    practices: NDArray[np.str_]

    def subset(self, mask: NDArray[np.bool_]) -> Labelled:
        return Labelled(
            self.index_date,
            self.table.filter(pa.array(mask)),
            self.x[mask],
            self.y[mask],
            self.admissions[mask],
            self.practices[mask],
        )


def load_labelled(
    engine: Engine,
    tables: Mapping[str, Table],
    library: CodelistLibrary,
    index_date: dt.date,
    *,
    lookback_days: int = 365,
    horizon_days: int = HORIZON_DAYS,
) -> Labelled:
    expr = labelled(
        tables, index_date, library, lookback_days=lookback_days, horizon_days=horizon_days
    )
    table = engine.to_arrow(expr.order_by("patient_id"))
    return Labelled(
        index_date,
        table,
        feature_matrix(table),
        table.column("outcome").to_numpy(zero_copy_only=False).astype(np.int64),
        table.column("outcome_admissions").to_numpy(zero_copy_only=False).astype(np.int64),
        np.asarray(table.column("practice_code").to_pylist(), dtype=str),
    )


@dataclass
class TrainResult:
    models: dict[str, RiskModel]
    holdout: list[str]
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def train_and_validate(
    engine: Engine,
    tables: Mapping[str, Table],
    library: CodelistLibrary,
    *,
    train_index: dt.date,
    validate_index: dt.date | None,
    holdout_share: float = 0.2,
    seed: int = 42,
    kinds: Sequence[Kind] = KINDS,
    lookback_days: int = 365,
    data_label: str = "",
) -> TrainResult:
    """Train each model family at `train_index` on the non-held-out practices; validate
    temporally (at `validate_index`, same practices), geographically (held-out practices at
    `train_index`), and report apparent (training) performance for comparison."""
    last = data_end(engine, tables)
    require_outcome(last, train_index, HORIZON_DAYS, "training")
    notes: list[str] = []
    if validate_index is not None and not outcome_covered(last, validate_index, HORIZON_DAYS):
        notes.append(
            f"temporal validation at {validate_index} not possible: the data end {last}, before "
            "its outcome year does."
        )
        validate_index = None
    train_all = load_labelled(engine, tables, library, train_index, lookback_days=lookback_days)
    practices = sorted(set(train_all.practices.tolist()))
    held = holdout_practices(practices, holdout_share, seed)
    in_held = np.isin(train_all.practices, held)
    train_set = train_all.subset(~in_held)
    geo_set = train_all.subset(in_held) if held else None
    if not held:
        notes.append("geographic validation not possible: fewer than two practices.")
    later = None
    cover = {str(train_index): coverage(engine, tables, train_index)}
    if validate_index is not None:
        later_all = load_labelled(
            engine, tables, library, validate_index, lookback_days=lookback_days
        )
        later = later_all.subset(~np.isin(later_all.practices, held))
        cover[str(validate_index)] = coverage(engine, tables, validate_index)
    training = {
        "data": data_label,
        "index_date": str(train_index),
        "outcome": f"any emergency admission from {train_index} for {HORIZON_DAYS} days",
        "lookback_days": lookback_days,
        "patients": len(train_set.y),
        "admitted": int(train_set.y.sum()),
        "practices": [p for p in practices if p not in held],
        "held_out_practices": held,
        "validate_index_date": str(validate_index) if validate_index else None,
        "seed": seed,
        "population": "patients registered and alive on the index date, all ages",
    }
    models: dict[str, RiskModel] = {}
    for kind in kinds:
        model = train(kind, train_set.x, train_set.y, training=dict(training))
        metrics: dict[str, Any] = {
            "apparent": ev.evaluate(train_set.y, model.predict(train_set.x), train_set.admissions)
        }
        if later is not None:
            metrics["temporal"] = ev.evaluate(later.y, model.predict(later.x), later.admissions)
        if geo_set is not None:
            metrics["geographic"] = ev.evaluate(
                geo_set.y, model.predict(geo_set.x), geo_set.admissions
            )
        metrics["coverage"] = cover
        metrics["notes"] = notes
        model.metrics = metrics
        models[kind] = model
    return TrainResult(models=models, holdout=held, coverage=cover, notes=notes)
