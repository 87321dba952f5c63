"""The scheme's core measures, computed in the engine for every practice and rolled up.

These are the measures the foundation scheme pays on:

| id | kind | numerator / denominator |
| --- | --- | --- |
| list_size | count | patients registered and alive on the index date |
| adults | count | of whom aged 18+ (the register's denominator) |
| register | proportion | patients on the case-finding register / adults (%) |
| care_plan | proportion | register patients with a care plan recorded in the performance period / register (%) |
| emergency_admissions | rate | emergency admissions in the period / registered person-years (per 1,000) |
| emergency_admissions_change | change | performance-period rate against baseline-period rate (relative %, negative = fewer) |

Admissions are attributed to the practice the patient was registered with on the admission
date; person-years come from registration days, so patients who join or leave mid-year count
for the time they were registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.facts.patient import codelist_table
from careis.facts.population import (
    age_on,
    attribute_to_practice,
    in_period,
    month_start_of,
    person_days_by_month,
    registered_on,
)
from careis.measures.results import IBIS_RESULT_SCHEMA, MeasureInfo
from careis.measures.rollup import roll_up
from careis.periods import Period

DAYS_PER_YEAR = 365.25

CATALOGUE: dict[str, MeasureInfo] = {
    m.id: m
    for m in (
        MeasureInfo(
            "list_size",
            "Registered patients",
            "count",
            "patients",
            "Registered and alive on the index date.",
        ),
        MeasureInfo(
            "adults", "Registered adults (18+)", "count", "patients", "Aged 18+ on the index date."
        ),
        MeasureInfo(
            "register",
            "Case-finding register",
            "proportion",
            "% of adults",
            "Patients on the top-risk register as a % of registered adults.",
            higher_is_better=None,
        ),
        MeasureInfo(
            "care_plan",
            "Register patients with a care plan",
            "proportion",
            "% of register",
            "Register patients with a personalised care plan agreed in the performance period.",
            higher_is_better=True,
        ),
        MeasureInfo(
            "emergency_admissions",
            "Emergency admissions",
            "rate",
            "per 1,000 person-years",
            "Emergency (non-elective) admissions per 1,000 registered person-years.",
            higher_is_better=False,
            count_columns=("numerator",),
        ),
        MeasureInfo(
            "emergency_admissions_change",
            "Change in emergency admissions",
            "change",
            "% change",
            "Performance-period rate against the baseline rate; negative means fewer admissions.",
            higher_is_better=False,
            count_columns=(),
        ),
    )
}


def _period_literals(key: str, period: Period) -> dict[str, ibis.Value]:
    return {
        "period": ibis.literal(key),
        "period_start": ibis.literal(period.start),
        "period_end": ibis.literal(period.end),
    }


def _finish(rows: Table, measure_unit: Mapping[str, str], kind: Mapping[str, str]) -> Table:
    """Compute `value` from numerator/denominator by each measure's kind; attach units."""
    unit = ibis.cases(*[(rows.measure_id == m, u) for m, u in measure_unit.items()], else_="")
    k = ibis.cases(*[(rows.measure_id == m, v) for m, v in kind.items()], else_="count")
    den = rows.denominator
    value = ibis.cases(
        (k == "count", rows.numerator),
        ((k == "proportion") & (den > 0), rows.numerator * 100.0 / den),
        ((k == "rate") & (den > 0), rows.numerator * 1000.0 / den),
        else_=ibis.null("float64"),
    )
    return rows.mutate(value=value.cast("float64"), unit=unit)


def compute(
    tables: Mapping[str, Table],
    *,
    periods: Mapping[str, Period],
    index_date: dt.date,
    register: Table,
    library: CodelistLibrary,
    min_age: int = 18,
) -> Table:
    """All spine measures at every level, as one Ibis table in the results schema.

    `periods` must hold 'baseline' and 'performance'. `register` has patient_id and
    practice_code (the register drawn up on `index_date`).
    """
    performance = periods["performance"]
    regs, patients, memberships = tables["registrations"], tables["patients"], tables["memberships"]

    # ---- point-in-time measures on the index date
    pop = registered_on(regs, patients, index_date)
    pop = pop.join(patients.select("patient_id", "birth_month"), "patient_id")
    pop = pop.mutate(adult=(age_on(pop.birth_month, index_date) >= min_age).cast("int64"))
    counts = pop.group_by("practice_code").aggregate(list_size=pop.count(), adults=pop.adult.sum())

    reg = register.select("patient_id", "practice_code")
    events = tables["events"]
    cl = codelist_table(library, ["care_plan"])
    plans = events.filter(in_period(events.event_date, performance))
    plans = (
        plans.join(cl, [plans.code_system == cl.cl_system, plans.code == cl.cl_code])
        .select("patient_id")
        .distinct()
    )
    reg_flags = reg.left_join(plans.mutate(has_plan=ibis.literal(1)), "patient_id").select(
        "practice_code", has_plan=lambda t: t.has_plan.coalesce(0)
    )
    reg_counts = reg_flags.group_by("practice_code").aggregate(
        register_n=lambda t: t.count(), care_plan_n=lambda t: t.has_plan.sum()
    )
    point = counts.left_join(reg_counts, "practice_code").select(
        "practice_code",
        "list_size",
        "adults",
        register_n=lambda t: t.register_n.coalesce(0),
        care_plan_n=lambda t: t.care_plan_n.coalesce(0),
    )

    def point_rows(measure: str, num: str, den: str | None) -> Table:
        return point.select(
            "practice_code",
            measure_id=ibis.literal(measure),
            as_of=ibis.literal(index_date),
            numerator=point[num].cast("float64"),
            denominator=(point[den].cast("float64") if den else ibis.null("float64")),
            **_period_literals("performance", performance),
        )

    point_all = (
        point_rows("list_size", "list_size", None)
        .union(point_rows("adults", "adults", None))
        .union(point_rows("register", "register_n", "adults"))
        .union(point_rows("care_plan", "care_plan_n", "register_n"))
    )
    keys = ["measure_id", "period", "period_start", "period_end"]
    point_rolled = roll_up(point_all, memberships, "as_of", keys)

    # ---- rates: monthly tallies so membership moves are honoured month by month
    pdays = person_days_by_month(regs, patients, dict(periods))
    adm = tables["admissions"]
    lo = min(p.start for p in periods.values())
    hi = max(p.end for p in periods.values())
    adm = adm.filter(
        adm.is_emergency
        & (adm.admission_date >= ibis.literal(lo))
        & (adm.admission_date <= ibis.literal(hi))
    )
    adm = attribute_to_practice(adm.select("patient_id", "admission_date"), "admission_date", regs)
    adm = adm.mutate(month_start=month_start_of(adm.admission_date))
    adm_month = adm.group_by(["practice_code", "month_start"]).aggregate(
        admissions=lambda t: t.count()
    )
    monthly = pdays.left_join(adm_month, ["practice_code", "month_start"]).select(
        "period",
        "practice_code",
        "month_start",
        "person_days",
        admissions=lambda t: t.admissions.coalesce(0),
    )
    bounds = ibis.memtable(
        {
            "period": list(periods),
            "period_start": [p.start for p in periods.values()],
            "period_end": [p.end for p in periods.values()],
        },
        schema={"period": "string", "period_start": "date", "period_end": "date"},
    )
    monthly = monthly.join(bounds, "period")
    rate_rows = monthly.select(
        "practice_code",
        "period",
        "period_start",
        "period_end",
        measure_id=ibis.literal("emergency_admissions"),
        as_of=monthly.month_start,
        numerator=monthly.admissions.cast("float64"),
        # Whole person-days are summed up the hierarchy (sums of integers are exact, so the
        # result does not depend on the order the engine adds them in) and turned into
        # person-years once, after the roll-up.
        denominator=monthly.person_days.cast("float64"),
    )
    rate_rolled = roll_up(rate_rows, memberships, "as_of", keys)
    # float literal: Spark would make days / 365.25 a DECIMAL and round it
    rate_rolled = rate_rolled.mutate(
        denominator=rate_rolled.denominator / ibis.literal(DAYS_PER_YEAR, type="float64")
    )

    finished = _finish(
        point_rolled.union(rate_rolled),
        {m.id: m.unit for m in CATALOGUE.values()},
        {m.id: m.kind for m in CATALOGUE.values()},
    )

    # ---- change: performance rate against baseline rate, at every level
    rates = finished.filter(finished.measure_id == "emergency_admissions")
    base = rates.filter(rates.period == "baseline").select(
        "level", "org_code", base_value="value", base_start="period_start"
    )
    perf = rates.filter(rates.period == "performance").select(
        "level", "org_code", "period_end", perf_value="value"
    )
    change = perf.join(base, ["level", "org_code"])
    change = change.select(
        measure_id=ibis.literal("emergency_admissions_change"),
        period=ibis.literal("performance vs baseline"),
        period_start=change.base_start,
        period_end=change.period_end,
        level=change.level,
        org_code=change.org_code,
        numerator=change.perf_value,
        denominator=change.base_value,
        value=ibis.cases(
            (change.base_value > 0, (change.perf_value / change.base_value - 1.0) * 100.0),
            else_=ibis.null("float64"),
        ),
        unit=ibis.literal(CATALOGUE["emergency_admissions_change"].unit),
    )
    cols = list(IBIS_RESULT_SCHEMA)
    return finished.select(cols).union(change.select(cols))
