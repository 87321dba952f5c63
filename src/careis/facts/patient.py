"""Patient facts at an index date: the inputs of risk scores and registers.

Why: a risk score may only use what was known on the day the register is drawn up. Every
fact here is computed from records dated on or before the index date (and admissions that
ended before it), which is what makes the leakage test in the risk layer meaningful.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import ibis
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.facts.population import age_on, registered_on

CONDITIONS: tuple[str, ...] = (
    "diabetes",
    "copd",
    "asthma",
    "heart_failure",
    "chd",
    "af",
    "hypertension",
    "ckd",
    "stroke_tia",
    "dementia",
    "cancer",
    "depression",
)


def codelist_table(library: CodelistLibrary, names: Sequence[str]) -> Table:
    """A small table mapping code_system + code -> code list name, for one join over events."""
    systems: list[str] = []
    codes: list[str] = []
    lists: list[str] = []
    for name in names:
        cl = library.get(name)
        for code in cl.codes:
            systems.append(cl.system)
            codes.append(code)
            lists.append(name)
    return ibis.memtable(
        {"cl_system": systems, "cl_code": codes, "codelist": lists},
        schema={"cl_system": "string", "cl_code": "string", "codelist": "string"},
    )


def flags_from_events(
    events: Table,
    library: CodelistLibrary,
    names: Sequence[str],
    *,
    on_or_before: dt.date,
    since: dt.date | None = None,
) -> Table:
    """One row per patient with a 0/1 column per code list: any matching event in the window."""
    window = events.filter(events.event_date <= ibis.literal(on_or_before))
    if since is not None:
        window = window.filter(window.event_date >= ibis.literal(since))
    cl = codelist_table(library, names)
    hits = window.join(cl, [window.code_system == cl.cl_system, window.code == cl.cl_code]).select(
        "patient_id", "codelist"
    )
    aggs = {name: (hits.codelist == name).any().cast("int64") for name in names}
    return hits.group_by("patient_id").aggregate(**aggs)


def prior_hospital_use(
    tables: Mapping[str, Table], index_date: dt.date, lookback_days: int
) -> tuple[Table, Table]:
    """Hospital use in the `lookback_days` before `index_date`, per patient with any.

    Returns (admissions: patient_id, prior_emergency_admissions, prior_bed_days; A&E:
    patient_id, prior_ae_attendances). Bed-days count only the part of each stay before the
    index date (no peeking past it). One definition for the points score's facts and the
    admission model's features.
    """
    start = ibis.literal(index_date - dt.timedelta(days=lookback_days))
    day = ibis.literal(index_date)
    adm = tables["admissions"]
    prior = adm.filter((adm.admission_date >= start) & (adm.admission_date < day))
    stay_end = ibis.least(prior.discharge_date.coalesce(day), day)
    prior = prior.mutate(bed_days=stay_end.delta(prior.admission_date, unit="day"))
    adm_agg = prior.group_by("patient_id").aggregate(
        prior_emergency_admissions=prior.is_emergency.cast("int64").sum(),
        prior_bed_days=prior.bed_days.sum().cast("int64"),
    )
    ae = tables["ae_attendances"]
    ae_agg = (
        ae.filter((ae.arrival_date >= start) & (ae.arrival_date < day))
        .group_by("patient_id")
        .aggregate(prior_ae_attendances=lambda t: t.count())
    )
    return adm_agg, ae_agg


def patient_facts(
    tables: Mapping[str, Table],
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    conditions: Sequence[str] = CONDITIONS,
    lookback_days: int = 365,
) -> Table:
    """Facts for every patient registered and alive on `index_date`.

    Columns: patient_id, practice_code, sex, age, imd_decile, one 0/1 column per condition,
    n_conditions, care_home, prior_emergency_admissions, prior_ae_attendances, prior_bed_days
    (the last three over the `lookback_days` before the index date).
    """
    patients = tables["patients"]
    base = registered_on(tables["registrations"], patients, index_date)
    demo = patients.select("patient_id", "sex", "birth_month", "imd_decile")
    base = base.join(demo, "patient_id")
    base = base.mutate(age=age_on(base.birth_month, index_date)).drop("birth_month")

    flags = flags_from_events(
        tables["events"], library, [*conditions, "care_home"], on_or_before=index_date
    )
    base = base.left_join(flags, base.patient_id == flags.patient_id).drop("patient_id_right")
    fill = {name: base[name].coalesce(0) for name in [*conditions, "care_home"]}
    base = base.mutate(**fill)
    base = base.mutate(
        n_conditions=sum((base[c] for c in conditions), ibis.literal(0)).cast("int64")
    )

    adm_agg, ae_agg = prior_hospital_use(tables, index_date, lookback_days)
    base = base.left_join(adm_agg, base.patient_id == adm_agg.patient_id).drop("patient_id_right")
    base = base.left_join(ae_agg, base.patient_id == ae_agg.patient_id).drop("patient_id_right")
    return base.mutate(
        prior_emergency_admissions=base.prior_emergency_admissions.coalesce(0),
        prior_bed_days=base.prior_bed_days.coalesce(0),
        prior_ae_attendances=base.prior_ae_attendances.coalesce(0).cast("int64"),
    )
