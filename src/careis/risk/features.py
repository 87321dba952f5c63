"""Predictors and outcome of the unplanned-admission model, built in the engine.

Why a fixed, named feature list: a saved model is only meaningful on data whose predictors
mean what they meant at training. The list (names, types, and the version of this module's
definitions) is stored with every model, and scoring refuses a model whose list differs.

Leakage rule: every predictor uses records dated on or before the index date (admissions and
A&E arrivals strictly before it, as in `careis.facts.patient`); the outcome uses only
admissions from the index date on. `tests/risk/test_leakage.py` moves every later record and
checks that no predictor changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.facts.patient import CONDITIONS, patient_facts
from careis.risk.efi import deficit_counts, with_efi

#: Bump when the meaning of any feature changes: saved models then refuse to score.
FEATURE_VERSION = "1"

#: (name, kind) of every predictor, in model order. kind: "binary", "count" or "numeric".
FEATURES: tuple[tuple[str, str], ...] = (
    ("age", "numeric"),
    ("female", "binary"),
    ("imd_decile", "numeric"),
    *((c, "binary") for c in CONDITIONS),
    ("n_conditions", "count"),
    ("efi_score", "numeric"),
    ("prior_emergency_admissions", "count"),
    ("prior_ae_attendances", "count"),
    ("prior_bed_days", "count"),
    ("n_medicines", "count"),
    ("polypharmacy", "binary"),
    ("care_home", "binary"),
    ("housebound", "binary"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)

#: Plain-English labels for register explanations.
LABELS: dict[str, str] = {
    "age": "age",
    "female": "sex",
    "imd_decile": "deprivation",
    "diabetes": "diabetes",
    "copd": "COPD",
    "asthma": "asthma",
    "heart_failure": "heart failure",
    "chd": "coronary heart disease",
    "af": "atrial fibrillation",
    "hypertension": "hypertension",
    "ckd": "chronic kidney disease",
    "stroke_tia": "stroke/TIA",
    "dementia": "dementia",
    "cancer": "cancer",
    "depression": "depression",
    "n_conditions": "number of long-term conditions",
    "efi_score": "frailty (eFI)",
    "prior_emergency_admissions": "emergency admissions in last 12 months",
    "prior_ae_attendances": "A&E attendances in last 12 months",
    "prior_bed_days": "bed-days in last 12 months",
    "n_medicines": "number of medicines",
    "polypharmacy": "polypharmacy (5+ medicines)",
    "care_home": "care-home resident",
    "housebound": "housebound",
}

#: Identifying and descriptive columns carried next to the predictors.
ID_COLUMNS: tuple[str, ...] = ("patient_id", "practice_code", "sex")


def housebound_flags(events: Table, library: CodelistLibrary, index_date: dt.date) -> Table:
    """patient_id, housebound (0/1): a housebound code on or before the index date that is not
    followed (on or before it) by a 'no longer housebound' code."""
    hb = flags_dates(events, library, "housebound", index_date, "hb_last")
    res = flags_dates(events, library, "housebound_resolved", index_date, "res_last")
    out = hb.left_join(res, hb.patient_id == res.patient_id).drop("patient_id_right")
    flag = out.res_last.isnull() | (out.hb_last > out.res_last)
    return out.select("patient_id", housebound=flag.cast("int64"))


def flags_dates(
    events: Table, library: CodelistLibrary, name: str, index_date: dt.date, column: str
) -> Table:
    """patient_id and the date of the latest code from list `name` on or before the index date."""
    cl = library.get(name)
    past = events.filter(
        (events.event_date <= ibis.literal(index_date))
        & (events.code_system == cl.system)
        & events.code.isin(list(cl.codes))
    )
    return past.group_by("patient_id").aggregate(**{column: past.event_date.max()})


def build_features(
    tables: Mapping[str, Table],
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    lookback_days: int = 365,
) -> Table:
    """One row per patient registered and alive on `index_date`: ID_COLUMNS + FEATURE_NAMES +
    efi_deficits and efi_category (for registers and the frailty list)."""
    facts = patient_facts(tables, index_date, library, lookback_days=lookback_days)
    events = tables["events"]
    out = with_efi(facts, deficit_counts(events, index_date, library))
    hb = housebound_flags(events, library, index_date)
    out = out.left_join(hb, out.patient_id == hb.patient_id).drop("patient_id_right")
    out = out.mutate(
        housebound=out.housebound.coalesce(0).cast("int64"),
        female=(out.sex == "F").cast("int64"),
        imd_decile=out.imd_decile.cast("float64"),
    )
    cols = [*ID_COLUMNS, *FEATURE_NAMES, "efi_deficits", "efi_category"]
    return out.select(*cols)


def outcome(tables: Mapping[str, Table], index_date: dt.date, *, horizon_days: int = 365) -> Table:
    """patient_id, outcome_admissions (emergency admissions from the index date for
    `horizon_days`), outcome (0/1: any). Only patients with at least one are present."""
    adm = tables["admissions"]
    start = ibis.literal(index_date)
    end = ibis.literal(index_date + dt.timedelta(days=horizon_days))
    window = adm.filter(
        adm.is_emergency & (adm.admission_date >= start) & (adm.admission_date < end)
    )
    return window.group_by("patient_id").aggregate(
        outcome_admissions=lambda t: t.count().cast("int64")
    )


def labelled(
    tables: Mapping[str, Table],
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    lookback_days: int = 365,
    horizon_days: int = 365,
) -> Table:
    """Features at `index_date` plus the outcome over the following `horizon_days`."""
    feats = build_features(tables, index_date, library, lookback_days=lookback_days)
    out_t = outcome(tables, index_date, horizon_days=horizon_days)
    joined = feats.left_join(out_t, feats.patient_id == out_t.patient_id).drop("patient_id_right")
    joined = joined.mutate(outcome_admissions=joined.outcome_admissions.coalesce(0))
    return joined.mutate(outcome=(joined.outcome_admissions > 0).cast("int64"))
