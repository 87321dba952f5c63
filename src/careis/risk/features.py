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
from collections.abc import Mapping, Sequence

import ibis
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.facts.patient import CONDITIONS, prior_hospital_use
from careis.facts.population import age_on, registered_on
from careis.risk.efi import (
    CODED_DEFICITS,
    MEDICINES_LIST,
    N_DEFICITS,
    POLYPHARMACY_MIN,
    category_expr,
)

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


#: The named lists `record_features` reads (in key-id order; medicines follow, one id each).
LIST_KEYS: tuple[str, ...] = (
    *CONDITIONS, "care_home", *CODED_DEFICITS, "housebound", "housebound_resolved",
)  # fmt: skip


def _lookup(library: CodelistLibrary) -> Table:
    """One code -> key_id table for every list the features read: conditions, care home, the
    35 eFI deficits, housebound / no longer housebound (key_id = the list's place in
    LIST_KEYS) and medicines (key_id = len(LIST_KEYS) + the medicine's place among the
    distinct lower-cased terms, so two dm+d ids of one medicine count once).

    Why integer keys: the join and the per-patient aggregates over millions of matched events
    compare and hash integers instead of strings (measured several times faster on DuckDB)."""
    systems: list[str] = []
    codes: list[str] = []
    keys: list[int] = []
    for k, name in enumerate(LIST_KEYS):
        cl = library.get(name)
        systems += [cl.system] * len(cl.codes)
        codes += list(cl.codes)
        keys += [k] * len(cl.codes)
    med = library.get(MEDICINES_LIST)
    terms = [(med.terms.get(c) or c).strip().lower() for c in med.codes]
    ids = {t: len(LIST_KEYS) + i for i, t in enumerate(sorted(set(terms)))}
    systems += [med.system] * len(med.codes)
    codes += list(med.codes)
    keys += [ids[t] for t in terms]
    return ibis.memtable(
        {"cl_system": systems, "cl_code": codes, "key_id": keys},
        schema={"cl_system": "string", "cl_code": "string", "key_id": "int32"},
    )


def coded_events(events: Table, library: CodelistLibrary, until: dt.date) -> Table:
    """patient_id, event_date, key_id: every event on or before `until` whose code is in a
    list the features read (see `_lookup`). Cache it (`Engine.cache`) and pass it to
    `build_features` as `coded` when features are built at several dates of one run: the
    join over the events table is then done once."""
    past = events.filter(events.event_date <= ibis.literal(until))
    cl = _lookup(library)
    joined = past.join(cl, [past.code_system == cl.cl_system, past.code == cl.cl_code])
    return joined.select("patient_id", "event_date", "key_id")


def record_features(
    events: Table,
    library: CodelistLibrary,
    index_date: dt.date,
    *,
    medicine_days: int = 365,
    coded: Table | None = None,
) -> Table:
    """Everything the features take from the GP record, in ONE pass over the events.

    Why one pass: the events table is by far the largest (about 16 rows per patient), and
    reading it once for all code lists instead of once per kind of feature cuts the feature
    build at ICB scale substantially. Per patient with any matching record on or before the
    index date: one 0/1 column per condition and care_home, efi_coded (distinct eFI deficits
    recorded), n_medicines (distinct medicines issued in the `medicine_days` to the index
    date), housebound (coded, and not later coded as no longer housebound). `coded`: the
    events already matched to the lists (`coded_events`, up to this date or later).
    """
    day = ibis.literal(index_date)
    since = ibis.literal(index_date - dt.timedelta(days=medicine_days - 1))
    if coded is None:
        coded = coded_events(events, library, index_date)
    hits = coded.filter(coded.event_date <= day)
    key = {name: k for k, name in enumerate(LIST_KEYS)}
    is_med = hits.key_id >= len(LIST_KEYS)
    # De-duplicate (patient, list) first and aggregate the small result: many conditional
    # aggregates or COUNT DISTINCTs straight over millions of matched events are several
    # times slower on DuckDB.
    lists = hits.filter(~is_med).select("patient_id", "key_id").distinct()
    deficits = [key[d] for d in CODED_DEFICITS]
    flags = lists.group_by("patient_id").aggregate(
        **{
            name: (lists.key_id == key[name]).any().cast("int64")
            for name in [*CONDITIONS, "care_home"]
        },
        efi_coded=lists.key_id.isin(deficits).cast("int64").sum(),
    )
    recent = hits.filter(is_med & (hits.event_date >= since))
    meds = (
        recent.select("patient_id", "key_id")
        .distinct()
        .group_by("patient_id")
        .aggregate(n_medicines=lambda t: t.count())
    )
    hb_id, res_id = key["housebound"], key["housebound_resolved"]
    hbt = hits.filter(hits.key_id.isin([hb_id, res_id]))
    hb = hbt.group_by("patient_id").aggregate(
        hb_last=hbt.event_date.max(where=hbt.key_id == hb_id),
        res_last=hbt.event_date.max(where=hbt.key_id == res_id),
    )
    ids = flags.select("patient_id").union(meds.select("patient_id"), distinct=True)
    out = ids.left_join(flags, ids.patient_id == flags.patient_id).drop("patient_id_right")
    out = out.left_join(meds, out.patient_id == meds.patient_id).drop("patient_id_right")
    out = out.left_join(hb, out.patient_id == hb.patient_id).drop("patient_id_right")
    housebound = out.hb_last.notnull() & (out.res_last.isnull() | (out.hb_last > out.res_last))
    return out.mutate(housebound=housebound.cast("int64")).drop("hb_last", "res_last")


def record_features_at(
    events: Table,
    library: CodelistLibrary,
    index_dates: Sequence[dt.date],
    *,
    medicine_days: int = 365,
) -> Table:
    """`record_features` at several index dates in ONE pass over the events: one row per
    patient with any matching record on or before the latest date, and for the i-th date the
    columns of `record_features` suffixed `_<i>` (`diabetes_0`, `n_medicines_1`...), 0 where
    the patient has nothing by that date. `record_columns(rec, i)` gives the i-th date's
    columns under their own names, equal to `record_features` at that date once missing
    patients count 0 (tests/risk/test_features_at.py checks it).

    Why: a run scores two register refreshes; matching the events to the lists and grouping
    them once, with both dates' aggregates side by side, instead of once per date (or
    materialising the matched events for both) roughly halves that part of the feature build.
    The events are first reduced to one row per patient and list with the first record, the
    last record on or before each date and whether any fell in each date's medicine window;
    the per-patient flags and counts are then conditional aggregates of that small table.
    """
    dates = list(index_dates)
    matched = coded_events(events, library, max(dates))
    key = {name: k for k, name in enumerate(LIST_KEYS)}
    hb_id, res_id = key["housebound"], key["housebound_resolved"]
    # Medicines issued before every date's window count for nothing: leave them out first
    # (most matched events are medicine issues, over years).
    earliest = ibis.literal(min(dates) - dt.timedelta(days=medicine_days - 1))
    matched = matched.filter((matched.key_id < len(LIST_KEYS)) | (matched.event_date >= earliest))
    e = matched.event_date
    per_date: dict[str, ibis.Value] = {}
    for i, d in enumerate(dates):
        day = ibis.literal(d)
        since = ibis.literal(d - dt.timedelta(days=medicine_days - 1))
        per_date[f"last_{i}"] = e.max(where=e <= day)
        per_date[f"recent_{i}"] = ((e >= since) & (e <= day)).any()
    pairs = matched.group_by(["patient_id", "key_id"]).aggregate(first=e.min(), **per_date)
    is_med = pairs.key_id >= len(LIST_KEYS)
    deficits = [key[d] for d in CODED_DEFICITS]
    aggs: dict[str, ibis.Value] = {}
    for i, d in enumerate(dates):
        by = pairs.first <= ibis.literal(d)
        for name in [*CONDITIONS, "care_home"]:
            aggs[f"{name}_{i}"] = ((pairs.key_id == key[name]) & by).any().cast("int64")
        aggs[f"efi_coded_{i}"] = pairs.key_id.count(where=pairs.key_id.isin(deficits) & by)
        aggs[f"n_medicines_{i}"] = pairs.key_id.count(where=is_med & pairs[f"recent_{i}"])
        last = pairs[f"last_{i}"]
        aggs[f"hb_last_{i}"] = last.max(where=pairs.key_id == hb_id)
        aggs[f"res_last_{i}"] = last.max(where=pairs.key_id == res_id)
    out = pairs.group_by("patient_id").aggregate(**aggs)
    housebound = {
        f"housebound_{i}": (
            out[f"hb_last_{i}"].notnull()
            & (out[f"res_last_{i}"].isnull() | (out[f"hb_last_{i}"] > out[f"res_last_{i}"]))
        ).cast("int64")
        for i in range(len(dates))
    }
    drop = [f"{c}_{i}" for i in range(len(dates)) for c in ("hb_last", "res_last")]
    return out.mutate(**housebound).drop(*drop)


#: The columns `record_features` gives (besides patient_id).
RECORD_COLUMNS: tuple[str, ...] = (
    *CONDITIONS, "care_home", "efi_coded", "n_medicines", "housebound",
)  # fmt: skip


def record_columns(rec: Table, i: int) -> Table:
    """patient_id and the i-th date's columns of `record_features_at` under their own names."""
    return rec.select("patient_id", **{c: rec[f"{c}_{i}"] for c in RECORD_COLUMNS})


def hospital_use(tables: Mapping[str, Table], index_date: dt.date, lookback_days: int) -> Table:
    """Per patient with any: prior_emergency_admissions, prior_bed_days (the part of each stay
    before the index date) and prior_ae_attendances in the `lookback_days` before it (the same
    definitions as `careis.facts.patient.patient_facts`, from the same function)."""
    adm_agg, ae_agg = prior_hospital_use(tables, index_date, lookback_days)
    ids = adm_agg.select("patient_id").union(ae_agg.select("patient_id"), distinct=True)
    out = ids.left_join(adm_agg, ids.patient_id == adm_agg.patient_id).drop("patient_id_right")
    return out.left_join(ae_agg, out.patient_id == ae_agg.patient_id).drop("patient_id_right")


def build_features(
    tables: Mapping[str, Table],
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    lookback_days: int = 365,
    coded: Table | None = None,
    record: Table | None = None,
) -> Table:
    """One row per patient registered and alive on `index_date`: ID_COLUMNS + FEATURE_NAMES +
    efi_deficits and efi_category (for registers and the frailty list). `coded`: see
    `coded_events` (the same features, one events join for several dates). `record`: the GP
    record part already built for this date (`record_columns` of `record_features_at`, the
    same features with one pass over the events for several dates)."""
    patients = tables["patients"]
    base = registered_on(tables["registrations"], patients, index_date)
    demo = patients.select("patient_id", "sex", "birth_month", "imd_decile")
    base = base.join(demo, "patient_id")
    base = base.mutate(age=age_on(base.birth_month, index_date)).drop("birth_month")
    rec = (
        record
        if record is not None
        else record_features(tables["events"], library, index_date, coded=coded)
    )
    out = base.left_join(rec, base.patient_id == rec.patient_id).drop("patient_id_right")
    use = hospital_use(tables, index_date, lookback_days)
    out = out.left_join(use, out.patient_id == use.patient_id).drop("patient_id_right")
    zero = ["care_home", *CONDITIONS, "efi_coded", "n_medicines", "housebound",
            "prior_emergency_admissions", "prior_bed_days", "prior_ae_attendances"]  # fmt: skip
    out = out.mutate(**{c: out[c].coalesce(0).cast("int64") for c in zero})
    polypharmacy = (out.n_medicines >= POLYPHARMACY_MIN).cast("int64")
    out = out.mutate(
        n_conditions=sum((out[c] for c in CONDITIONS), ibis.literal(0)).cast("int64"),
        polypharmacy=polypharmacy,
        efi_deficits=(out.efi_coded + polypharmacy).cast("int64"),
        female=(out.sex == "F").cast("int64"),
        imd_decile=out.imd_decile.cast("float64"),
    )
    out = out.mutate(
        efi_score=out.efi_deficits.cast("float64") / float(N_DEFICITS),
        efi_category=category_expr(out.efi_deficits),
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
