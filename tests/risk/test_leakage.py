"""Leakage: no predictor may use anything recorded after the index date.

The test rewrites the future and checks that no feature moves: every event, admission and A&E
attendance after the index date is dropped, then replaced by a flood of fake ones (every eFI
deficit, condition and medicine code, emergency admissions, A&E visits) dated after it, and
deaths after the index date are moved to the day after. The outcome, which must see the
future, is checked to change, so the test can fail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from careis.codelists import CodelistLibrary
from careis.facts.patient import CONDITIONS
from careis.risk.efi import CODED_DEFICITS
from careis.risk.features import build_features, outcome

from .conftest import VALIDATE_INDEX

LIB = CodelistLibrary()


def _rewrite_future(tables: dict[str, Any], index: dt.date) -> dict[str, Any]:
    day = ibis.literal(index)
    after = ibis.literal(index + dt.timedelta(days=1))
    ev = tables["events"]
    kept = ev.filter(ev.event_date <= day)
    codes = [(LIB.get(n).system, LIB.get(n).codes[0]) for n in (*CODED_DEFICITS, *CONDITIONS)]
    codes += [("dmd", c) for c in LIB.get("medicines").codes[:20]]
    fake_codes = ibis.memtable(
        {"code_system": [s for s, _ in codes], "code": [c for _, c in codes]}
    )
    people = tables["patients"].select("patient_id")
    fake = people.cross_join(fake_codes).mutate(event_date=after, value=ibis.null().cast("float64"))
    events = kept.union(fake.select(*kept.columns))
    adm = tables["admissions"]
    kept_adm = adm.filter(adm.admission_date < day)
    fake_adm = adm.filter(adm.admission_date < day).mutate(
        spell_id=adm.spell_id + "-future",
        admission_date=after,
        discharge_date=after,
        is_emergency=ibis.literal(True),
    )
    ae = tables["ae_attendances"]
    kept_ae = ae.filter(ae.arrival_date < day)
    fake_ae = kept_ae.mutate(attendance_id=kept_ae.attendance_id + "-future", arrival_date=after)
    pat = tables["patients"]
    patients = pat.mutate(death_date=ibis.ifelse(pat.death_date > day, after, pat.death_date))
    return {
        **tables,
        "events": events,
        "admissions": kept_adm.union(fake_adm.select(*kept_adm.columns)),
        "ae_attendances": kept_ae.union(fake_ae.select(*kept_ae.columns)),
        "patients": patients,
    }


def test_no_predictor_sees_the_future(risk_engine: Any) -> None:
    engine, tables = risk_engine
    future = _rewrite_future(tables, VALIDATE_INDEX)
    before = engine.to_arrow(build_features(tables, VALIDATE_INDEX, LIB).order_by("patient_id"))
    after = engine.to_arrow(build_features(future, VALIDATE_INDEX, LIB).order_by("patient_id"))
    assert before.num_rows > 1000
    assert before.column_names == after.column_names
    for name in before.column_names:
        assert before.column(name).equals(after.column(name)), name


def test_the_outcome_does_see_the_future(risk_engine: Any) -> None:
    engine, tables = risk_engine
    future = _rewrite_future(tables, VALIDATE_INDEX)
    real = engine.to_arrow(outcome(tables, VALIDATE_INDEX)).num_rows
    faked = engine.to_arrow(outcome(future, VALIDATE_INDEX)).num_rows
    assert real > 0 and faked != real
