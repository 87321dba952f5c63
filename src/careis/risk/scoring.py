"""Scoring patients with a saved model and drawing up the registers from the scores.

Why the split between engine and numpy: features are built in the engine (DuckDB or Spark),
the only patient-level data that leave it are the numeric feature columns, and the model is
applied to whole columns at once (`RiskModel.predict`, in batches). The per-practice ranking
that draws the register goes back into the engine. Explanations (the few factors that drive a
patient's score) are computed only for patients on a register, which keeps them cheap.

Outputs (the cohort tables the measures engine accepts):
- `risk_cohort`: patient_id, practice_code, risk_score, on_register (0/1);
- `efi_cohort`: patient_id, practice_code, efi_score, efi_category (65+ only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.risk import efi as efi_mod
from careis.risk.features import build_features, record_columns, record_features_at
from careis.risk.model import RiskModel, feature_matrix, top_factors
from careis.risk.register import register as draw_register

FRAIL_CATEGORIES: tuple[str, ...] = ("moderate", "severe")


def score_table(model: RiskModel, features: pa.Table) -> pa.Table:
    """`features` plus `risk_score` (predicted probability, rounded to 6 decimals so that
    written outputs and ranks do not depend on the last bits of floating point)."""
    model.check_schema(features.column_names)
    p = model.predict(feature_matrix(features))
    return features.append_column("risk_score", pa.array(np.round(p, 6), type=pa.float64()))


@dataclass
class Scored:
    """One refresh: everyone's scores (in the engine) and the register drawn from them."""

    index_date: dt.date
    scored: Table
    register: pa.Table


def score_and_register(
    engine: Engine,
    tables: Mapping[str, Table],
    library: CodelistLibrary,
    model: RiskModel,
    index_date: dt.date,
    *,
    percent: float,
    min_age: int,
    lookback_days: int = 365,
    explain: int = 3,
    record: Table | None = None,
    adults_only: bool = False,
) -> Scored:
    """Score every registered patient on `index_date` and draw each practice's register
    (top `percent`% of patients aged `min_age`+), with each register patient's top factors.

    `record`: the GP-record features at this date (`record_columns` of `record_features_at`,
    built once for both dates of one run). `adults_only`: score only patients aged `min_age`+ (enough for the
    register, which ranks only them; `scored` then holds only them too)."""
    model.check_schema()
    built = build_features(tables, index_date, library, lookback_days=lookback_days, record=record)
    if adults_only:
        built = built.filter(built.age >= min_age)
    feats = engine.to_arrow(built.order_by("patient_id"))
    scored_arrow = score_table(model, feats)
    scored = engine.cache(engine.from_arrow(scored_arrow))
    reg = draw_register(scored, percent=percent, min_age=min_age)
    reg_arrow = engine.to_arrow(reg.order_by(["practice_code", "register_rank"]))
    if reg_arrow.num_rows and explain:
        x = feature_matrix(reg_arrow)
        factors = top_factors(model.contributions(x), x, explain)
    else:
        factors = [""] * reg_arrow.num_rows
    reg_arrow = reg_arrow.append_column("top_factors", pa.array(factors, type=pa.string()))
    return Scored(index_date, scored, reg_arrow)


def risk_cohort(scored: Table, register: Table) -> Table:
    """patient_id, practice_code, risk_score, on_register (0/1): for measures as a cohort."""
    on = register.select("patient_id").mutate(_on=ibis.literal(1))
    out = scored.left_join(on, scored.patient_id == on.patient_id).drop("patient_id_right")
    return out.select(
        "patient_id",
        "practice_code",
        "risk_score",
        on_register=out._on.coalesce(0).cast("int64"),
    )


def efi_cohort(scored: Table, min_age: int = efi_mod.MIN_AGE) -> Table:
    """patient_id, practice_code, efi_score, efi_category for patients aged 65+."""
    old = scored.filter(scored.age >= min_age)
    return old.select("patient_id", "practice_code", "efi_score", "efi_category")


def frailty_list(scored: Table, min_age: int = efi_mod.MIN_AGE) -> Table:
    """Patients aged 65+ with moderate or severe frailty (the GMS frailty identification)."""
    old = scored.filter((scored.age >= min_age) & scored.efi_category.isin(FRAIL_CATEGORIES))
    return old.select(
        "practice_code",
        "patient_id",
        "age",
        "sex",
        "efi_deficits",
        "efi_score",
        "efi_category",
        "polypharmacy",
        "care_home",
        "housebound",
    )


def register_changes(
    current: pa.Table, previous: pa.Table, current_population: pa.Table
) -> list[dict[str, str]]:
    """Entries to and exits from the register between the previous refresh and this one.

    An exit says why: the patient is still registered here but no longer in the top N%
    ('below cut-off'), or is no longer registered at the practice on this refresh (moved away
    or died: 'no longer registered').
    """
    cur = _keys(current)
    prev = _keys(previous)
    here = _keys(current_population, only=prev - cur)
    rows = [
        {"practice_code": p, "patient_id": i, "change": "entered", "reason": "new to the top N%"}
        for p, i in sorted(cur - prev)
    ]
    for p, i in sorted(prev - cur):
        reason = "below cut-off" if (p, i) in here else "no longer registered"
        rows.append({"practice_code": p, "patient_id": i, "change": "left", "reason": reason})
    rows.sort(key=lambda r: (r["practice_code"], r["change"], r["patient_id"]))
    return rows


def _keys(table: pa.Table, only: set[tuple[str, str]] | None = None) -> set[tuple[str, str]]:
    """(practice_code, patient_id) pairs of `table`; with `only`, just those among `only`
    (found with a vectorised membership test, so a whole population is not turned into
    Python objects)."""
    t = table.select(["practice_code", "patient_id"])
    if only is not None:
        import pyarrow.compute as pc

        wanted = pa.array(sorted(f"{p}\x1f{i}" for p, i in only), type=pa.string())
        key = pc.binary_join_element_wise(t.column("practice_code"), t.column("patient_id"), "\x1f")
        t = t.filter(pc.is_in(key, value_set=wanted))
    return {(r["practice_code"], r["patient_id"]) for r in t.to_pylist()}


@dataclass
class Refresh:
    """Everything one register refresh produces (patient-level parts stay in Arrow/engine)."""

    index_date: dt.date
    scored: Table  # everyone registered on the index date, with features and risk_score
    register: pa.Table  # register rows with register_rank, register_size, top_factors
    frailty: pa.Table  # 65+ moderate/severe
    sizes: pa.Table  # practice_code, adults, register_size
    efi_distribution: pa.Table  # practice_code, efi_category, patients (65+)
    changes: list[dict[str, str]] | None  # vs the previous refresh, when one was drawn
    previous_index: dt.date | None = None

    @property
    def practices(self) -> list[str]:
        codes = set(self.sizes.column("practice_code").to_pylist())
        codes.update(self.efi_distribution.column("practice_code").to_pylist())
        return sorted(str(c) for c in codes)


def refresh(
    engine: Engine,
    tables: Mapping[str, Table],
    library: CodelistLibrary,
    model: RiskModel,
    index_date: dt.date,
    *,
    percent: float,
    min_age: int,
    lookback_days: int = 365,
    previous_index: dt.date | None = None,
) -> Refresh:
    """Score, draw the registers and the frailty lists on `index_date`; with
    `previous_index`, also draw the register then and list who entered and left."""
    from careis.risk.register import sizes as register_sizes

    # The GP-record features of both refreshes in one pass over the events (the largest
    # table), materialised once: one row per patient, both dates' columns side by side.
    dates = [index_date] if previous_index is None else [index_date, previous_index]
    record = engine.cache(record_features_at(tables["events"], library, dates))
    cur = score_and_register(
        engine, tables, library, model, index_date,
        percent=percent, min_age=min_age, lookback_days=lookback_days,
        record=record_columns(record, 0),
    )  # fmt: skip
    frail = engine.to_arrow(frailty_list(cur.scored).order_by(["practice_code", "patient_id"]))
    size_t = engine.to_arrow(
        register_sizes(cur.scored, percent=percent, min_age=min_age).order_by("practice_code")
    )
    dist = engine.to_arrow(
        efi_mod.distribution(efi_cohort(cur.scored)).order_by(["practice_code", "efi_category"])
    )
    changes = None
    if previous_index is not None:
        prev = score_and_register(
            engine, tables, library, model, previous_index,
            percent=percent, min_age=min_age, lookback_days=lookback_days, explain=0,
            record=record_columns(record, 1), adults_only=True,
        )  # fmt: skip
        # Only whether the previous register's patients are still registered here matters:
        # the engine picks those rows out (a semi-join) instead of exporting everyone.
        before = ibis.memtable(prev.register.select(["patient_id"]))
        kept = cur.scored.semi_join(before, cur.scored.patient_id == before.patient_id)
        population = engine.to_arrow(kept.select("practice_code", "patient_id"))
        changes = register_changes(cur.register, prev.register, population)
    return Refresh(
        index_date, cur.scored, cur.register, frail, size_t, dist, changes, previous_index
    )
