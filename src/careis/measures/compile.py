"""Compile measure definitions to Ibis and evaluate a whole set together.

Why the shape it has: the expensive tables are the events (tens of millions of rows) and the
hospital spells, so each is read once per run however many measures there are:
- one join of the events to the union of every code list the measures use gives a small
  "hits" table (patient, code list, date, value) that every indicator condition reads;
- one pass over admissions (attributed to the practice of registration on the day, with
  length of stay, days since the previous discharge and one flag per ICD-10 list) and one
  over A&E attendances feed every rate;
- person-days are tallied once per practice, month, sex and single year of age.
Everything that follows is grouping small tables. Results leave the engine as practice rows
(per month and age-sex stratum for rates) rolled up through effective-dated memberships;
values, confidence limits and standardisation are computed from those sums in Python, where
exact stratum arithmetic is simple to read and check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.facts.patient import codelist_table
from careis.facts.population import (
    OPEN_END,
    attribute_to_practice,
    data_span,
    month_start_of,
    months_of,
)
from careis.measures import exact, stats
from careis.measures.definitions import (
    CodeCondition,
    CohortCondition,
    MeasureSet,
    Population,
    period_keys,
    unit_of,
)
from careis.measures.results import RESULT_SCHEMA, MeasureInfo
from careis.measures.rollup import roll_up
from careis.periods import Period

DAYS_PER_YEAR = 365.25
#: Row key (not a results.csv column) for a DSR held exactly, for changes of it.
EXACT = "_exact_value"
KEYS = ["measure_id", "period", "period_start", "period_end"]


@dataclass
class Evaluated:
    """The outputs of one evaluation of a measure set."""

    results: pa.Table  # RESULT_SCHEMA, every level
    catalogue: dict[str, MeasureInfo]
    monthly: (
        pa.Table
    )  # measure_id, period, level, org_code, month_start, numerator, denominator, value
    patient_flags: (
        pa.Table
    )  # practice_code, measure_id, period, patient_id, denominator, excluded, numerator


# --------------------------------------------------------------------------- catalogue
def catalogue_of(measures: MeasureSet) -> dict[str, MeasureInfo]:
    out: dict[str, MeasureInfo] = {}
    for m in measures.measures:
        kind = {"indicator": "proportion"}.get(m.kind, m.kind)
        count_cols: tuple[str, ...] = ("numerator", "denominator")
        if m.kind == "rate":
            count_cols = ("numerator",)
        elif m.kind == "change":
            count_cols = ()
        elif m.kind == "count":
            count_cols = ("numerator",)
        out[m.id] = MeasureInfo(
            m.id,
            m.name,
            kind,
            unit_of(m),
            m.description.strip(),
            higher_is_better=m.higher_is_better,
            count_columns=count_cols,
            lower_threshold=m.thresholds.lower if getattr(m, "thresholds", None) else None,
            upper_threshold=m.thresholds.upper if getattr(m, "thresholds", None) else None,
            per=float(m.per) if m.kind == "rate" else None,
            standardised=m.kind == "rate" and m.standardise != "none",
            of=m.of if m.kind == "change" else None,
            compare=m.compare if m.kind == "change" else "relative",
        )
    return out


# --------------------------------------------------------------------------- periods
def resolve_periods(measures: MeasureSet, run_periods: Mapping[str, Period]) -> dict[str, Period]:
    """Every period key any measure uses, with its dates (run periods or explicit)."""
    out: dict[str, Period] = {}
    for m in measures.measures:
        for p in m.periods:
            if isinstance(p, str):
                if p not in run_periods:
                    raise measures.error(
                        m.id, f"measure '{m.id}' uses period '{p}', which the run does not define."
                    )
                period = run_periods[p]
                key = p
            else:
                period = Period(start=p.start, end=p.end)
                key = p.name
                if key in run_periods and run_periods[key] != period:
                    raise measures.error(
                        m.id,
                        f"measure '{m.id}' redefines the run's period '{key}' with other dates.",
                    )
            if key in out and out[key] != period:
                raise measures.error(m.id, f"period '{key}' is given two different date ranges.")
            out[key] = period
    return out


def check_periods_in_data(
    measures: MeasureSet, periods: Mapping[str, Period], tables: Mapping[str, Table]
) -> None:
    """Refuse a measure period that the data do not cover (results would be silently partial)."""
    span = data_span(tables)
    lo, last = span.first_registration, span.last_activity
    for m in measures.measures:
        for key in period_keys(m):
            p = periods.get(key)
            if p is None:
                continue
            if lo is not None and p.start < lo:
                raise measures.error(
                    m.id,
                    f"measure '{m.id}': period '{key}' starts {p.start}, before the data begin ({lo}).",
                    fix="choose a later period or supply earlier data.",
                )
            if last is not None and p.end > last + dt.timedelta(days=31):
                raise measures.error(
                    m.id,
                    f"measure '{m.id}': period '{key}' ends {p.end}, after the data end ({last}).",
                    fix="choose an earlier period or supply later data.",
                )


# --------------------------------------------------------------------------- populations
def _age_on(birth_month: ibis.Value, day: ibis.Value | dt.date) -> ibis.Value:
    d = ibis.literal(day) if isinstance(day, dt.date) else day
    months = (d.year() - birth_month.year()) * 12 + (d.month() - birth_month.month())
    return (months // 12).cast("int64")


def _population(
    pop: Population,
    day: dt.date,
    tables: Mapping[str, Table],
    cohorts: Mapping[str, Table],
) -> Table:
    """patient_id, practice_code of patients registered and alive on `day`, narrowed by `pop`."""
    regs, patients = tables["registrations"], tables["patients"]
    d = ibis.literal(day)
    reg = regs.filter(
        (regs.start_date <= d) & (regs.end_date.coalesce(ibis.literal(OPEN_END)) >= d)
    )
    alive = patients.filter(patients.death_date.coalesce(ibis.literal(OPEN_END)) >= d).select(
        "patient_id", "sex", "birth_month"
    )
    t = reg.select("patient_id", "practice_code").join(alive, "patient_id")
    if pop.age is not None:
        age = _age_on(t.birth_month, day)
        if pop.age.min is not None:
            t = t.filter(age >= pop.age.min)
        if pop.age.max is not None:
            t = t.filter(age <= pop.age.max)
    if pop.sex is not None:
        t = t.filter(t.sex.isin(pop.sex))
    t = t.select("patient_id", "practice_code")
    if pop.cohort is not None:
        c = cohorts[pop.cohort]
        if pop.cohort_values is not None:
            c = c.filter(c.category.isin(pop.cohort_values))
        c = c.select(c_patient="patient_id").distinct()
        t = t.join(c, t.patient_id == c.c_patient).select("patient_id", "practice_code")
    return t


def _window(cond: CodeCondition, day: dt.date, period: Period) -> tuple[dt.date | None, dt.date]:
    if cond.in_period:
        return period.start, period.end
    if cond.within_days is not None:
        return day - dt.timedelta(days=cond.within_days - 1), day
    return None, day


def _condition(cond: CodeCondition, hits: Table, day: dt.date, period: Period) -> Table:
    """patient_id of patients meeting `cond` (distinct)."""
    lo, hi = _window(cond, day, period)
    h = hits.filter((hits.codelist == cond.codes) & (hits.event_date <= ibis.literal(hi)))
    if lo is not None:
        h = h.filter(h.event_date >= ibis.literal(lo))
    if cond.last_value is not None:
        valued = h.filter(h.value.notnull())
        last = valued.group_by("patient_id").aggregate(last_date=valued.event_date.max())
        on_last = valued.join(
            last, (valued.patient_id == last.patient_id) & (valued.event_date == last.last_date)
        ).select(patient_id=valued.patient_id, value=valued.value)
        # two readings on the latest day: the highest counts (deterministic, and conservative
        # for "at most" targets such as HbA1c <= 58)
        latest = on_last.group_by("patient_id").aggregate(v=on_last.value.max())
        ops = {
            "<": latest.v < cond.last_value.value,
            "<=": latest.v <= cond.last_value.value,
            ">": latest.v > cond.last_value.value,
            ">=": latest.v >= cond.last_value.value,
            "==": latest.v == cond.last_value.value,
            "!=": latest.v != cond.last_value.value,
        }
        ok = latest.filter(ops[cond.last_value.op]).select("patient_id")
        if cond.min_count > 1:
            counts = h.group_by("patient_id").aggregate(n=h.count())
            counts = counts.filter(counts.n >= cond.min_count).select(n_patient="patient_id")
            ok = ok.join(counts, ok.patient_id == counts.n_patient).select("patient_id")
        return ok
    if cond.min_count > 1:
        counts = h.group_by("patient_id").aggregate(n=h.count())
        return counts.filter(counts.n >= cond.min_count).select("patient_id")
    return h.select("patient_id").distinct()


def _flag(t: Table, members: Table, name: str) -> Table:
    m = members.select(f_patient="patient_id").distinct().mutate(**{name: ibis.literal(1)})
    joined = t.left_join(m, t.patient_id == m.f_patient).drop("f_patient")
    return joined.mutate(**{name: joined[name].coalesce(0)})


# --------------------------------------------------------------------------- the runner
def evaluate(
    engine: Engine,
    tables: Mapping[str, Table],
    measures: MeasureSet,
    *,
    periods: Mapping[str, Period],
    index_date: dt.date,
    library: CodelistLibrary,
    cohorts: Mapping[str, Table] | None = None,
    check_data: bool = True,
) -> Evaluated:
    """Evaluate every measure of `measures` at every level.

    `periods`: the run's named periods ('baseline', 'performance'); measures may add explicit
    ones. `cohorts`: named patient sets from earlier stages (patient_id, optional category).
    """
    cohorts = dict(cohorts or {})
    measures.check(codelist_names=library.names(), cohorts=cohorts)
    all_periods = resolve_periods(measures, periods)
    if check_data:
        check_periods_in_data(measures, all_periods, tables)
    memberships = tables["memberships"]
    catalogue = catalogue_of(measures)

    patient_rows, point_rows = _patient_measures(
        engine, tables, measures, all_periods, index_date, library, cohorts
    )
    point = _to_rows(engine, point_rows, memberships)
    rate_res, monthly = _rates(engine, tables, measures, all_periods, library, memberships)

    rows: list[dict[str, Any]] = []
    for r in point:
        m = measures.by_id[r["measure_id"]]
        num, den, excl = r["numerator"], r["denominator"], r.get("exclusions")
        row = {**r, "value": None, "lower_ci": None, "upper_ci": None, "crude_value": None}
        if m.kind == "count":
            row["value"] = num
            row["denominator"] = None
            row["exclusions"] = None
        else:
            eligible = den - (excl or 0.0)
            row["denominator"] = eligible
            if eligible > 0:
                row["value"] = num * 100.0 / eligible
                row.update(_wilson_columns(num, eligible))
        row["unit"] = catalogue[m.id].unit
        rows.append(row)
    rows.extend(rate_res)
    for r in rate_res:
        r["unit"] = catalogue[r["measure_id"]].unit
    rows.extend(_changes(measures, rows, all_periods, catalogue))

    table = pa.Table.from_pylist(
        [{k: r.get(k) for k in RESULT_SCHEMA.names} for r in rows], schema=RESULT_SCHEMA
    )
    table = table.sort_by([(c, "ascending") for c in ("measure_id", "period", "level", "org_code")])
    return Evaluated(table, catalogue, monthly, patient_rows)


def _patient_measures(
    engine: Engine,
    tables: Mapping[str, Table],
    measures: MeasureSet,
    periods: Mapping[str, Period],
    index_date: dt.date,
    library: CodelistLibrary,
    cohorts: Mapping[str, Table],
) -> tuple[pa.Table, Table | None]:
    """Counts and indicators: patient flags (indicators) and practice rows (all)."""
    todo = [m for m in measures.measures if m.kind in ("count", "indicator")]
    snomed_lists = [n for n in measures.codelists() if library.get(n).system != "icd10"]
    hits = _code_hits(engine, tables, library, snomed_lists, periods, index_date)
    practice_parts: list[Table] = []
    flag_parts: list[Table] = []
    pops: dict[tuple[str, dt.date], Table] = {}
    for m in todo:
        for key in period_keys(m):
            period = periods[key]
            day = {"start": period.start, "end": period.end, "index": index_date}[
                m.population.as_of
            ]
            pop_key = (m.population.model_dump_json(), day)
            if pop_key not in pops:
                t = _population(m.population, day, tables, cohorts)
                for i, cond in enumerate(m.population.has):
                    assert hits is not None
                    t = _flag(t, _condition(cond, hits, day, period), f"_has{i}")
                    t = t.filter(t[f"_has{i}"] == 1).select("patient_id", "practice_code")
                pops[pop_key] = t
            t = pops[pop_key]
            if m.kind == "indicator":
                flag_parts.append(_indicator_rows(m, t, key, period, day, hits, cohorts))
                continue
            agg = t.group_by("practice_code").aggregate(
                numerator=t.count().cast("float64"),
                denominator=t.count().cast("float64"),
                exclusions=ibis.literal(0.0),
            )
            practice_parts.append(
                agg.mutate(
                    measure_id=ibis.literal(m.id),
                    period=ibis.literal(key),
                    period_start=ibis.literal(period.start),
                    period_end=ibis.literal(period.end),
                    as_of=ibis.literal(day),
                )
            )
    flags_schema = pa.schema(
        [
            ("practice_code", pa.string()),
            ("measure_id", pa.string()),
            ("period", pa.string()),
            ("patient_id", pa.string()),
            ("denominator", pa.int64()),
            ("excluded", pa.int64()),
            ("numerator", pa.int64()),
        ]
    )
    flags = flags_schema.empty_table()
    if flag_parts:
        # every indicator's patient rows, materialised once: the practice counts and the
        # practices' own flag files both read this table
        patient_rows = flag_parts[0]
        for part in flag_parts[1:]:
            patient_rows = patient_rows.union(part)
        patient_rows = engine.cache(patient_rows)
        wanted = [m.id for m in todo if m.kind == "indicator" and m.patient_flags]
        if wanted:
            chosen = patient_rows.filter(patient_rows.measure_id.isin(wanted))
            flags = engine.to_arrow(chosen.select(*flags_schema.names)).cast(flags_schema)
            flags = flags.sort_by(
                [
                    ("practice_code", "ascending"),
                    ("measure_id", "ascending"),
                    ("period", "ascending"),
                    ("patient_id", "ascending"),
                ]
            )
        grouped = patient_rows.group_by(["practice_code", *KEYS, "as_of"]).aggregate(
            numerator=patient_rows.numerator.sum().cast("float64"),
            denominator=patient_rows.denominator.sum().cast("float64"),
            exclusions=patient_rows.excluded.sum().cast("float64"),
        )
        practice_parts.append(grouped)
    if not practice_parts:
        return flags, None
    cols = ["practice_code", *KEYS, "as_of", "numerator", "denominator", "exclusions"]
    union = practice_parts[0].select(cols)
    for part in practice_parts[1:]:
        union = union.union(part.select(cols))
    return flags, engine.cache(union)


def _code_hits(
    engine: Engine,
    tables: Mapping[str, Table],
    library: CodelistLibrary,
    snomed_lists: list[str],
    periods: Mapping[str, Period],
    index_date: dt.date,
) -> Table | None:
    """One pass over the events: every code list any measure uses, joined at once."""
    if not snomed_lists:
        return None
    hi = max(p.end for p in periods.values())
    hi = max(hi, index_date)
    ev = tables["events"]
    ev = ev.filter(ev.event_date <= ibis.literal(hi))
    cl = codelist_table(library, snomed_lists)
    return engine.cache(
        ev.join(cl, [ev.code_system == cl.cl_system, ev.code == cl.cl_code]).select(
            "patient_id", "codelist", "event_date", "value"
        )
    )


def _indicator_rows(
    m: Any,
    t: Table,
    key: str,
    period: Period,
    day: dt.date,
    hits: Table | None,
    cohorts: Mapping[str, Table],
) -> Table:
    """An indicator's patient rows: in the numerator when every numerator condition holds,
    excluded (QOF-style exception) only when not in the numerator."""
    names: list[str] = []
    for i, cond in enumerate(m.numerator):
        name = f"_num{i}"
        if isinstance(cond, CohortCondition):
            members = cohorts[cond.cohort].select("patient_id")
        else:
            assert hits is not None
            members = _condition(cond, hits, day, period)
        t = _flag(t, members, name)
        names.append(name)
    num = ibis.literal(1)
    for name in names:
        num = num * t[name]
    t = t.mutate(numerator=num.cast("int64"))
    ex = ibis.literal(0)
    ex_names = []
    for i, cond in enumerate(m.exclusions):
        assert hits is not None
        name = f"_exc{i}"
        t = _flag(t, _condition(cond, hits, day, period), name)
        ex_names.append(name)
    for name in ex_names:
        ex = ibis.greatest(ex, t[name])
    # QOF: an exception only removes a patient who did not achieve the indicator
    t = t.mutate(excluded=ibis.cases((t.numerator == 1, 0), else_=ex).cast("int64"))
    return t.select(
        "practice_code",
        "patient_id",
        measure_id=ibis.literal(m.id),
        period=ibis.literal(key),
        period_start=ibis.literal(period.start),
        period_end=ibis.literal(period.end),
        as_of=ibis.literal(day),
        denominator=ibis.literal(1).cast("int64"),
        excluded=t.excluded.cast("int64"),
        numerator=t.numerator.cast("int64"),
    )


def _to_rows(
    engine: Engine, practice_rows: Table | None, memberships: Table
) -> list[dict[str, Any]]:
    """Roll practice rows (numerator, denominator, exclusions) up every level; Python rows."""
    if practice_rows is None:
        return []
    # roll_up sums numerator and denominator; exclusions travel as a second pass
    main = roll_up(practice_rows, memberships, "as_of", KEYS)
    excl = roll_up(
        practice_rows.select(
            *KEYS,
            "practice_code",
            "as_of",
            numerator=practice_rows.exclusions,
            denominator=practice_rows.exclusions,
        ),
        memberships,
        "as_of",
        KEYS,
    ).select(*KEYS, "level", "org_code", exclusions="numerator")
    joined = main.join(excl, [*KEYS, "level", "org_code"])
    out = engine.to_arrow(
        joined.select(*KEYS, "level", "org_code", "numerator", "denominator", "exclusions")
    )
    return out.to_pylist()


# --------------------------------------------------------------------------- rates
def _icd_flag(diag: ibis.Value, codes: list[str]) -> ibis.Value:
    """Primary diagnosis (J44.1 / J441) in an ICD-10 list of 3- or 4-character codes."""
    clean = diag.re_replace(r"[^A-Za-z0-9]", "").upper()
    three = sorted({c.replace(".", "").upper() for c in codes if len(c.replace(".", "")) == 3})
    four = sorted({c.replace(".", "").upper()[:4] for c in codes if len(c.replace(".", "")) >= 4})
    cond = ibis.literal(False)
    if three:
        cond = cond | clean.substr(0, 3).isin(three)
    if four:
        cond = cond | clean.substr(0, 4).isin(four)
    return cond


_MONTHLY_SCHEMA = pa.schema(
    [
        ("measure_id", pa.string()),
        ("period", pa.string()),
        ("level", pa.string()),
        ("org_code", pa.string()),
        ("month_start", pa.date32()),
        ("numerator", pa.float64()),
        ("denominator", pa.float64()),
    ]
)


def _rates(
    engine: Engine,
    tables: Mapping[str, Table],
    measures: MeasureSet,
    periods: Mapping[str, Period],
    library: CodelistLibrary,
    memberships: Table,
) -> tuple[list[dict[str, Any]], pa.Table]:
    """Every rate measure: results rows, and the monthly numerators and denominators."""
    rates = [m for m in measures.measures if m.kind == "rate"]
    if not rates:
        return [], _MONTHLY_SCHEMA.empty_table()
    used = {k: periods[k] for m in rates for k in period_keys(m)}
    lo = min(p.start for p in used.values())
    hi = max(p.end for p in used.values())

    # person-days per practice, month, sex and age (one pass over registrations)
    pdays = engine.cache(_person_days(tables, used))

    # one pass over each event source
    sources: dict[str, Table] = {}
    if any(m.events.source == "admissions" for m in rates):
        sources["admissions"] = engine.cache(_admission_events(tables, rates, library, lo, hi))
    if any(m.events.source == "ae_attendances" for m in rates):
        sources["ae_attendances"] = engine.cache(_ae_events(tables, lo, hi))

    groups = _rate_groups(rates)
    group_ids = {sig: f"_rates{i}" for i, sig in enumerate(groups)}
    parts: list[Table] = []
    for sig, members in groups.items():
        ev = _filter_events(sources[members[0].events.source], members[0].events)
        parts += _group_counts(ev, pdays, members, periods, group_ids[sig])
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part)
    union = engine.cache(union)
    strata = engine.to_arrow(roll_up(union, memberships, "month_start", [*KEYS, "sex", "band"]))
    monthly_groups = engine.to_arrow(
        roll_up(union, memberships, "month_start", ["measure_id", "period", "month_start"])
    )
    members_of = {group_ids[sig]: ms for sig, ms in groups.items()}
    rows, monthly = _fan_out(strata, monthly_groups, members_of)
    return _rate_values(measures, rows), monthly


def _patients_on_events(events: Table, tables: Mapping[str, Table], date_col: str) -> Table:
    """Events attributed to the practice of registration on the day, with sex and age."""
    patients = tables["patients"].select("patient_id", "sex", "birth_month")
    ev = attribute_to_practice(events, date_col, tables["registrations"])
    ev = ev.join(patients, "patient_id")
    ev = ev.mutate(
        event_date=ev[date_col],
        month_start=month_start_of(ev[date_col]),
        age=_age_on(ev.birth_month, month_start_of(ev[date_col])),
    )
    return ev.drop("birth_month", date_col)


def _admission_events(
    tables: Mapping[str, Table],
    rates: list[Any],
    library: CodelistLibrary,
    lo: dt.date,
    hi: dt.date,
) -> Table:
    """Admissions from `lo` to `hi` with length of stay, days since the previous discharge
    and a flag per diagnosis code list the rates use."""
    adm = tables["admissions"]
    # days since the patient's previous discharge, over all of their spells (a
    # readmission in April may follow a discharge in March, before the period)
    w = ibis.window(group_by=adm.patient_id, order_by=[adm.admission_date, adm.spell_id])
    adm = adm.mutate(prev_discharge=adm.discharge_date.lag().over(w))
    adm = adm.filter(
        (adm.admission_date >= ibis.literal(lo)) & (adm.admission_date <= ibis.literal(hi))
    )
    los = adm.discharge_date.delta(adm.admission_date, unit="day")
    cols: dict[str, Any] = {
        "los": ibis.greatest(los.coalesce(0), ibis.literal(0)).cast("int64"),
        "since_discharge": adm.admission_date.delta(adm.prev_discharge, unit="day").cast("int64"),
    }
    for name in sorted({m.events.diagnosis for m in rates if m.events.diagnosis}):
        cols[f"dx_{name}"] = _icd_flag(adm.primary_diagnosis, list(library.get(name).codes))
    adm = adm.mutate(**cols)
    adm = adm.select(
        "patient_id",
        "admission_date",
        "is_emergency",
        "los",
        "since_discharge",
        *[c for c in cols if c.startswith("dx_")],
    )
    return _patients_on_events(adm, tables, "admission_date")


def _ae_events(tables: Mapping[str, Table], lo: dt.date, hi: dt.date) -> Table:
    """A&E attendances from `lo` to `hi` with their department type."""
    ae = tables["ae_attendances"]
    ae = ae.filter((ae.arrival_date >= ibis.literal(lo)) & (ae.arrival_date <= ibis.literal(hi)))
    ae = ae.select("patient_id", "arrival_date", "department_type")
    return _patients_on_events(ae, tables, "arrival_date")


def _rate_groups(rates: list[Any]) -> dict[str, list[Any]]:
    """Rates that count the same events over the same people (e.g. a crude and a standardised
    version) share one computation, keyed by what they count."""
    groups: dict[str, list[Any]] = {}
    for m in rates:
        sig = json.dumps(
            [
                m.events.model_dump(mode="json"),
                m.count,
                m.age.model_dump(mode="json") if m.age else None,
            ],
            sort_keys=True,
        )
        groups.setdefault(sig, []).append(m)
    return groups


def _filter_events(ev: Table, f: Any) -> Table:
    """The events a rate counts: its emergency, diagnosis, stay, readmission and department
    filters."""
    if f.emergency is not None:
        ev = ev.filter(ev.is_emergency == f.emergency)
    if f.diagnosis:
        ev = ev.filter(ev[f"dx_{f.diagnosis}"])
    if f.min_length_of_stay is not None:
        ev = ev.filter(ev.los >= f.min_length_of_stay)
    if f.max_length_of_stay is not None:
        ev = ev.filter(ev.los <= f.max_length_of_stay)
    if f.readmission_within_days is not None:
        ev = ev.filter(
            ev.since_discharge.notnull()
            & (ev.since_discharge >= 0)
            & (ev.since_discharge <= f.readmission_within_days)
        )
    if f.department_types is not None:
        ev = ev.filter(ev.department_type.isin(f.department_types))
    return ev


def _group_counts(
    ev: Table,
    pdays: Table,
    members: list[Any],
    periods: Mapping[str, Period],
    group_id: str,
) -> list[Table]:
    """Events and person-days per practice and month (and sex x age band, only when a measure
    of the group is standardised) for each period the group's measures ask for."""
    m = members[0]
    stratified = any(x.standardise != "none" for x in members)
    pd_m = pdays
    if m.age is not None:
        if m.age.min is not None:
            ev = ev.filter(ev.age >= m.age.min)
            pd_m = pd_m.filter(pd_m.age >= m.age.min)
        if m.age.max is not None:
            ev = ev.filter(ev.age <= m.age.max)
            pd_m = pd_m.filter(pd_m.age <= m.age.max)
    amount = ev.los if m.count == "bed_days" else ibis.literal(1)
    if stratified:
        ev = ev.mutate(amount=amount.cast("int64"), band=_band(ev.age))
        pd_m = pd_m.mutate(band=_band(pd_m.age))
    else:
        ev = ev.mutate(
            amount=amount.cast("int64"), sex=ibis.literal("*"), band=ibis.literal(-1, "int64")
        )
        pd_m = pd_m.mutate(sex=ibis.literal("*"), band=ibis.literal(-1, "int64"))
    return [
        _period_counts(ev, pd_m, key, periods[key], group_id)
        for key in sorted({k for x in members for k in period_keys(x)})
    ]


def _period_counts(ev: Table, pd_m: Table, key: str, p: Period, group_id: str) -> Table:
    """One period's events over person-days, per practice, month, sex and band."""
    e = ev.filter((ev.event_date >= ibis.literal(p.start)) & (ev.event_date <= ibis.literal(p.end)))
    e = e.group_by(["practice_code", "month_start", "sex", "band"]).aggregate(events=e.amount.sum())
    d = pd_m.filter(pd_m.period == key)
    d = d.group_by(["practice_code", "month_start", "sex", "band"]).aggregate(
        person_days=d.person_days.sum()
    )
    j = d.left_join(e, ["practice_code", "month_start", "sex", "band"]).select(
        "practice_code",
        "month_start",
        "sex",
        "band",
        "person_days",
        events=lambda t: t.events.coalesce(0),
    )
    return j.select(
        "practice_code",
        "sex",
        "band",
        measure_id=ibis.literal(group_id),
        period=ibis.literal(key),
        period_start=ibis.literal(p.start),
        period_end=ibis.literal(p.end),
        month_start=j.month_start,
        # whole numbers summed up the hierarchy: exact, order-independent
        numerator=j.events.cast("float64"),
        denominator=j.person_days.cast("float64"),
    )


def _fan_out(
    strata: pa.Table, monthly_groups: pa.Table, members_of: dict[str, list[Any]]
) -> tuple[list[dict[str, Any]], pa.Table]:
    """Each group's rows fanned out to its measures (and only the periods each one asks for)."""
    rows: list[dict[str, Any]] = []
    for r in strata.to_pylist():
        for m in members_of[r["measure_id"]]:
            if r["period"] in period_keys(m):
                rows.append({**r, "measure_id": m.id})
    pieces = []
    for gid, ms in members_of.items():
        for m in ms:
            mask = pc.and_(
                pc.equal(monthly_groups.column("measure_id"), gid),
                pc.is_in(monthly_groups.column("period"), pa.array(period_keys(m))),
            )
            piece = monthly_groups.filter(mask)
            piece = piece.set_column(
                piece.schema.get_field_index("measure_id"),
                "measure_id",
                pa.array([m.id] * piece.num_rows, pa.string()),
            )
            pieces.append(piece.select(_MONTHLY_SCHEMA.names).cast(_MONTHLY_SCHEMA))
    monthly = pa.concat_tables(pieces) if pieces else _MONTHLY_SCHEMA.empty_table()
    monthly = monthly.sort_by(
        [(c, "ascending") for c in ("measure_id", "period", "level", "org_code", "month_start")]
    )
    return rows, monthly


def _band(age: ibis.Value) -> ibis.Value:
    return ibis.least(ibis.greatest(age, 0) // 5, ibis.literal(len(stats.ESP2013) - 1)).cast(
        "int64"
    )


def _person_days(tables: Mapping[str, Table], periods: Mapping[str, Period]) -> Table:
    """Registered person-days per period, practice, month, sex and age at the month's start."""
    months = []
    for key, period in periods.items():
        for mth in months_of(period):
            months.append((key, mth.start, mth.end))
    mt = ibis.memtable(
        {
            "period": [m[0] for m in months],
            "month_start": [m[1] for m in months],
            "month_end": [m[2] for m in months],
        },
        schema={"period": "string", "month_start": "date", "month_end": "date"},
    )
    regs, patients = tables["registrations"], tables["patients"]
    life = patients.select("patient_id", "death_date", "sex", "birth_month")
    reg = regs.join(life, "patient_id").select(
        "patient_id",
        "practice_code",
        "start_date",
        "sex",
        "birth_month",
        last=ibis.least(
            regs.end_date.coalesce(ibis.literal(OPEN_END)),
            life.death_date.coalesce(ibis.literal(OPEN_END)),
        ),
    )
    lo = min(p.start for p in periods.values())
    hi = max(p.end for p in periods.values())
    reg = reg.filter((reg.start_date <= ibis.literal(hi)) & (reg.last >= ibis.literal(lo)))
    # Clip each registration to the span of the periods and count identical ones: most
    # patients are registered throughout, so this collapses them to one row per practice,
    # sex and birth month before the join to the months (several times fewer rows).
    reg = reg.mutate(
        first=ibis.greatest(reg.start_date, ibis.literal(lo)),
        last=ibis.least(reg.last, ibis.literal(hi)),
    )
    reg = reg.group_by(["practice_code", "sex", "birth_month", "first", "last"]).aggregate(
        n=reg.count()
    )
    j = reg.cross_join(mt).filter(lambda t: (t.first <= t.month_end) & (t.last >= t.month_start))
    days = (
        ibis.least(j.last, j.month_end).delta(ibis.greatest(j.first, j.month_start), unit="day") + 1
    )
    j = j.mutate(days=days * j.n, age=_age_on(j.birth_month, j.month_start))
    return j.group_by(["period", "practice_code", "month_start", "sex", "age"]).aggregate(
        person_days=j.days.sum().cast("int64")
    )


def _rate_values(measures: MeasureSet, strata: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Crude / standardised values and confidence limits from stratum sums."""
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in strata:
        grouped[
            (
                r["measure_id"],
                r["period"],
                r["period_start"],
                r["period_end"],
                r["level"],
                r["org_code"],
            )
        ].append(r)
    # reference rates for indirect standardisation: every practice in the run, per stratum
    reference: dict[tuple[str, str], dict[tuple[str, int], float]] = defaultdict(dict)
    ref_sums: dict[tuple[str, str], dict[tuple[str, int], list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0])
    )
    for r in strata:
        if r["level"] == "practice":
            s = ref_sums[(r["measure_id"], r["period"])][(r["sex"], r["band"])]
            s[0] += r["numerator"]
            s[1] += r["denominator"]
    for k, per_stratum in ref_sums.items():
        for stratum, (o, days) in per_stratum.items():
            reference[k][stratum] = (o / (days / DAYS_PER_YEAR)) if days > 0 else 0.0
    out: list[dict[str, Any]] = []
    for (mid, period, pstart, pend, level, org), rows in sorted(
        grouped.items(), key=lambda kv: tuple(str(x) for x in kv[0])
    ):
        m = measures.by_id[mid]
        observed = sum(r["numerator"] for r in rows)
        days = sum(r["denominator"] for r in rows)
        py = days / DAYS_PER_YEAR
        row: dict[str, Any] = {
            "measure_id": mid,
            "period": period,
            "period_start": pstart,
            "period_end": pend,
            "level": level,
            "org_code": org,
            "numerator": observed,
            "denominator": py,
            "exclusions": None,
            "value": None,
            "lower_ci": None,
            "upper_ci": None,
            "crude_value": None,
        }
        if py > 0:
            row.update(_crude_columns(observed, py, m.per))
            if m.standardise == "direct":
                row.update(_direct_columns(rows, m.per))
            elif m.standardise == "indirect":
                row.update(_indirect_columns(observed, rows, reference[(mid, period)]))
        out.append(row)
    return out


def _wilson_columns(num: float, den: float) -> dict[str, Any]:
    """An indicator's 95% and 99.8% Wilson limits (%), as OHID's `phe_proportion`."""
    out: dict[str, Any] = {"ci_method": "Wilson"}
    for conf, lo_col, hi_col in _CI_COLUMNS:
        ci = stats.wilson(num, den, stats.z_for(conf))
        if ci:
            out[lo_col], out[hi_col] = ci[0] * 100, ci[1] * 100
    return out


_CI_COLUMNS = ((0.95, "lower_ci", "upper_ci"), (0.998, "lower_ci_998", "upper_ci_998"))


def _crude_columns(observed: float, py: float, per: float) -> dict[str, Any]:
    """A crude rate and its limits: exact below 10 events, Byar's from 10 (OHID `phe_rate`)."""
    crude = observed * per / py
    out: dict[str, Any] = {
        "crude_value": crude,
        "value": crude,
        "ci_method": stats.poisson_method(observed),
    }
    for conf, lo_col, hi_col in _CI_COLUMNS:
        lo_o, hi_o = stats.poisson_limits(observed, conf)
        out[lo_col], out[hi_col] = lo_o * per / py, hi_o * per / py
    return out


def _direct_columns(rows: list[dict[str, Any]], per: float) -> dict[str, Any]:
    """DSR (ESP 2013) with Dobson limits; the note says when OHID would not publish it."""
    by: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    counts: dict[tuple[str, int], list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for r in rows:
        if r["sex"] in ("F", "M"):
            by[(r["sex"], r["band"])][0] += r["numerator"]
            by[(r["sex"], r["band"])][1] += r["denominator"] / DAYS_PER_YEAR
            counts[(r["sex"], r["band"])][0] += _count(r["numerator"])
            counts[(r["sex"], r["band"])][1] += _count(r["denominator"])
    strata = [(o, n, float(stats.ESP2013[band])) for (_sex, band), (o, n) in sorted(by.items())]
    events = sum(o for o, _, _ in strata)
    out: dict[str, Any] = {}
    for conf, lo_col, hi_col in _CI_COLUMNS:
        res = stats.dsr(strata, per=per, confidence=conf)
        if res is None:
            return {}
        out["value"], out[lo_col], out[hi_col] = res
    limits = "Byar" if events >= stats.BYAR_FROM else "exact Poisson"
    out["ci_method"] = f"Dobson ({limits})"
    out[EXACT] = _exact_dsr(counts, per)
    out["note"] = stats.dsr_note(events) or None
    return out


def _exact_dsr(by: Mapping[tuple[str, int], list[Fraction]], per: float) -> Fraction | None:
    """The DSR as an exact fraction of its integer counts (events, person-days, ESP 2013
    weights), as `stats.dsr` weights them; used only for a change of a DSR, so a reduction
    of exactly a target is exactly that target (careis.measures.exact), not a float's
    neighbour. Not written to results.csv (RESULT_SCHEMA has no column for it)."""
    used = [(o, d, band) for (_sex, band), (o, d) in by.items() if d > 0]
    total_w = sum(stats.ESP2013[band] for _, _, band in used)
    if not used or total_w <= 0:
        return None
    days_per_year = exact.DAYS_PER_YEAR
    rate = sum(
        (Fraction(stats.ESP2013[band]) * o * days_per_year / d for o, d, band in used),
        Fraction(0),
    )
    return rate / total_w * _count(per)


def _count(value: float) -> Fraction:
    """An integer count held as a float (engine sums), exactly; any other float as it prints."""
    return Fraction(int(value)) if float(value).is_integer() else Fraction(repr(float(value)))


def _indirect_columns(
    observed: float, rows: list[dict[str, Any]], reference: dict[tuple[str, int], float]
) -> dict[str, Any]:
    """Indirectly standardised ratio (x100): exact limits below 10 events, Byar's from 10."""
    pys = {(r["sex"], r["band"]): r["denominator"] / DAYS_PER_YEAR for r in rows}
    out: dict[str, Any] = {}
    for conf, lo_col, hi_col in _CI_COLUMNS:
        res = stats.indirect(observed, pys, reference, confidence=conf)
        if res is None:
            return {}
        out["value"], out[lo_col], out[hi_col] = res[0], res[1], res[2]
    out["ci_method"] = stats.poisson_method(observed)
    return out


# --------------------------------------------------------------------------- changes
def _change_value(
    perf: dict[str, Any], base: dict[str, Any], of: MeasureInfo, compare: str
) -> float | None:
    """A change, exactly (careis.measures.exact): a relative change of a crude rate or a
    proportion from its integer counts, of a DSR from its exact value (EXACT); otherwise from
    the two values as stored."""
    pv, bv = perf["value"], base["value"]
    if pv is None or bv is None:
        return None
    pe, be = perf.get(EXACT), base.get(EXACT)
    if pe is not None and be is not None:
        # a DSR: from its counts, exactly (careis.measures.exact)
        exact_value = (
            pe - be if compare == "absolute" else exact.change((pe, Fraction(1)), (be, Fraction(1)))
        )
        return None if exact_value is None else exact.printed(exact_value)
    if compare == "absolute":
        return exact.printed(Fraction(repr(float(pv))) - Fraction(repr(float(bv))))
    if bv <= 0:
        return None
    p_counts = exact.counts(perf["numerator"], perf["denominator"], of.unit)
    b_counts = exact.counts(base["numerator"], base["denominator"], of.unit)
    if of.standardised or of.kind not in ("rate", "proportion") or not (p_counts and b_counts):
        p_counts, b_counts = (
            (Fraction(repr(float(pv))), Fraction(1)),
            (
                Fraction(repr(float(bv))),
                Fraction(1),
            ),
        )
    value = exact.change(p_counts, b_counts)
    return None if value is None else exact.printed(value)


def _changes(
    measures: MeasureSet,
    rows: list[dict[str, Any]],
    periods: Mapping[str, Period],
    catalogue: Mapping[str, MeasureInfo],
) -> list[dict[str, Any]]:
    index = {(r["measure_id"], r["period"], r["level"], r["org_code"]): r for r in rows}
    out: list[dict[str, Any]] = []
    for m in measures.measures:
        if m.kind != "change":
            continue
        orgs = sorted(
            {
                (r["level"], r["org_code"])
                for r in rows
                if r["measure_id"] == m.of and r["period"] == m.performance
            }
        )
        for level, org in orgs:
            perf = index.get((m.of, m.performance, level, org))
            base = index.get((m.of, m.baseline, level, org))
            if perf is None or base is None:
                continue
            pv, bv = perf["value"], base["value"]
            value = _change_value(perf, base, catalogue[m.of], m.compare)
            out.append(
                {
                    "measure_id": m.id,
                    "period": f"{m.performance} vs {m.baseline}",
                    "period_start": periods[m.baseline].start,
                    "period_end": periods[m.performance].end,
                    "level": level,
                    "org_code": org,
                    "numerator": pv,
                    "denominator": bv,
                    "exclusions": None,
                    "value": value,
                    "lower_ci": None,
                    "upper_ci": None,
                    "crude_value": None,
                    "unit": catalogue[m.id].unit,
                }
            )
    return out
