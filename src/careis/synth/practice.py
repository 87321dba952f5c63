"""One practice's synthetic patients and all their records, fully vectorised.

Why per practice: each practice draws from its own child random stream (seed, practice
number), so its output does not depend on which other practices are generated with it, how
they are batched or how many processes run. Within a practice every step is a numpy
operation over all its patients (or admissions, or events) at once; the only Python loops
are over the handful of financial years and code lists.

The order of a practice's simulation
1. The list on the first simulated day (real 2016 age/sex mix x scale; the simulation starts
   `params.BURN_IN_YEARS` before the first written year), then in-migrants (as many as are
   expected to leave, with the same age pattern) and births (fertility x women aged 15-44)
   in each year.
2. Patient attributes (`model.attributes`): conditions, frailty, medicines, care homes, and
   each patient's individual risk in each financial year.
3. Leaving the area, moving to another selected practice, and deaths from the life table
   scaled by each patient's risk (normalised, year by year, over those still alive).
4. Care plans: a little every year; in the performance year by engagement (the scheme).
5. Exposure is cut into segments (financial year x practice x before/after the first care
   plan) with a constant rate in each; emergency, elective and maternity admissions and A&E
   attendances are Poisson in each segment, dated by the inverse seasonal CDF. Readmissions
   follow emergency admissions; a spell that would start inside another is moved after it.
6. Deaths within 30 days of an emergency admission; everything after a death is cut.
7. Registrations, coded GP events (diagnoses, eFI deficits, medicine issues, HbA1c, care
   processes), Arrow tables, and the per-practice sums for the truth table.

Simplification: a patient who moves practice is generated with (and written by) the
practice they started at. Care-plan selection ranks a practice's own starting patients; a
patient who moved in is care-planned with the new practice's engagement against the same
risk threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from . import ids
from . import params as P
from .codes import CodeBook
from .config import SynthConfig
from .model import (
    CELLS,
    COND_INDEX,
    NEVER,
    OTHER_DEFICITS,
    YEAR,
    Attributes,
    Calibration,
    age_band,
    attributes,
    band_age_probs,
    count_by_patient,
    deprivation_factor,
    efi_count,
    latent_z,
    linear_predictors,
    normalise,
)
from .orgs import PracticePlan

I64 = np.int64
Arr = NDArray[Any]
TRUTH_SUMS = (
    "person_days",
    "expected_emergency",
    "expected_emergency_no_scheme",
    "emergency",
    "ae",
    "elective",
    "maternity",
    "deaths",
    "care_plans_scheme",
    "care_plans_background",
)


@dataclass(frozen=True)
class Context:
    """Everything shared by all practices of one run (picklable for worker processes)."""

    config: SynthConfig
    plan: PracticePlan
    calib: Calibration
    book: CodeBook
    fy: NDArray[np.int64]  # first day of each financial year, plus the day after the last
    perf_k: int  # performance year, as an index into `fy`
    base_k: int | None
    burn_in: int  # simulated years before the first written one (see generator)
    season_d0: int
    season_em: NDArray[np.float64]  # cumulative seasonal weight from season_d0
    season_ae: NDArray[np.float64]
    mobility: NDArray[np.float64]  # per single age: relative chance of moving away
    id_key: int

    @property
    def start(self) -> int:
        """First simulated day (the start of the burn-in)."""
        return int(self.fy[0])

    @property
    def first_day(self) -> int:
        """First written day: 1 April of the first configured year."""
        return int(self.fy[self.burn_in])

    @property
    def years(self) -> int:
        """Simulated financial years, burn-in included."""
        return len(self.fy) - 1

    @property
    def end(self) -> int:
        """Last generated day (inclusive)."""
        return int(self.fy[-1]) - 1

    @property
    def ref_day(self) -> int:
        """First day of the performance year: frailty and the register are anchored here."""
        return int(self.fy[self.perf_k])


@dataclass
class PracticeOutput:
    tables: dict[str, pa.Table]
    practice_year: dict[str, NDArray[np.float64]]  # (practices, years) sums for the truth
    totals: dict[str, float] = field(default_factory=dict)


@dataclass
class Batch:
    """One practice's patients as parallel arrays (index = local patient number)."""

    p: int
    male: Arr
    birth: Arr
    entry: Arr
    decile: Arr
    decile_null: Arr
    dep: Arr
    z: Arr
    attrs: Attributes
    onset: Arr  # (n, conditions) diagnosis day or NEVER
    leave_day: Arr = field(default_factory=lambda: np.zeros(0, I64))
    move_day: Arr = field(default_factory=lambda: np.zeros(0, I64))
    dest: Arr = field(default_factory=lambda: np.zeros(0, I64))
    death: Arr = field(default_factory=lambda: np.zeros(0, I64))
    last: Arr = field(default_factory=lambda: np.zeros(0, I64))  # last registered day

    @property
    def n(self) -> int:
        return len(self.male)

    def practice_at(self, day: Arr, who: Arr) -> Arr:
        """Global practice index of each patient on `day` (after a move, the new one)."""
        return np.where(day >= self.move_day[who], self.dest[who], self.p)

    def registered(self, day: int) -> Arr:
        return (self.entry <= day) & (day <= self.last)


@dataclass
class YearState:
    """Each patient's state at the middle of each financial year: arrays (n, years)."""

    age: Arr
    age_int: Arr
    has: Arr  # (n, years, conditions)
    lp_em: Arr  # log individual risk (see model.linear_predictors)
    lp_ae: Arr
    lp_death: Arr
    efi_start: list[Arr]  # eFI count on the first day of each year
    lam_em: Arr = field(default_factory=lambda: np.zeros(0))  # per person-year, no scheme
    lam_ae: Arr = field(default_factory=lambda: np.zeros(0))


@dataclass
class Segments:
    """Exposure pieces with a constant rate: patient, year, practice, [a, b), care plan."""

    i: Arr
    k: Arr
    g: Arr
    a: Arr
    b: Arr
    care_planned: Arr

    def take(self, rows: Arr) -> tuple[Arr, Arr, Arr]:
        return self.i[rows], self.k[rows], self.g[rows]


def _choice(rng: np.random.Generator, probs: Arr, n: int) -> Arr:
    """n draws from a categorical distribution (vectorised inverse CDF)."""
    cum = np.cumsum(probs / probs.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _row_choice(rng: np.random.Generator, weights: Arr) -> Arr:
    """One column index per row of a non-negative weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _xy(knots: P.Knots) -> tuple[Arr, Arr]:
    return np.array([k[0] for k in knots], float), np.array([k[1] for k in knots], float)


def sample_days(cum: Arr, d0: int, start: Arr, end: Arr, rng: np.random.Generator) -> Arr:
    """One day in each [start, end) drawn in proportion to the seasonal weight."""
    a = cum[start - d0]
    b = cum[end - d0]
    u = a + rng.random(len(a)) * (b - a)
    idx = np.searchsorted(cum, u, side="right") - 1
    return (d0 + np.clip(idx, start - d0, end - 1 - d0)).astype(I64)


# ====================================================================== the simulation
def simulate(ctx: Context, p: int) -> PracticeOutput:
    """Generate practice `p` (index into ctx.plan) and everything its patients do."""
    rng = np.random.default_rng([ctx.config.seed, 1, int(ctx.plan.number[p])])
    b = _population(ctx, rng, p)
    st = _year_state(ctx, b)
    death_base = _exits(ctx, rng, b, st)
    _rates(ctx, b, st)
    cp = _care_plans(ctx, rng, b, st)
    seg = _segments(ctx, b, cp)
    spells, ae_rows, expected = _hospital(ctx, rng, b, st, seg)
    spells, ae_rows = _deaths_after_admission(
        ctx, rng, b, death_base=death_base, spells=spells, ae_rows=ae_rows
    )
    regs = _registrations(ctx, b)
    ev = _Events(ctx.book)
    _condition_events(ev, rng, b)
    _medicine_events(ev, rng, ctx, b)
    _hba1c_events(ev, rng, ctx, b)
    _care_events(ev, rng, ctx, b, st=st, cp=cp)
    events = ev.columns(b)
    tables = _tables(ctx, b, regs=regs, events=events, spells=spells, ae_rows=ae_rows)
    sums = _truth_sums(
        ctx, b, seg=seg, expected=expected, regs=regs, spells=spells, ae_rows=ae_rows, cp=cp
    )
    totals = _snapshot(ctx, b, events)
    totals["patients"] = float((b.last >= ctx.first_day).sum())
    return PracticeOutput(tables=tables, practice_year=sums, totals=totals)


def _population(ctx: Context, rng: np.random.Generator, p: int) -> Batch:
    """The list on the first day plus in-migrants and births, with deprivation and z."""
    plan, rates = ctx.plan, ctx.config.rates
    S, E, F = ctx.start, ctx.end, ctx.fy
    ages, sexes = [], []
    for (s, band), count in zip(CELLS, plan.cells[p], strict=True):
        if count:
            values, probs = band_age_probs(s, band)
            ages.append(values[_choice(rng, probs, int(count))])
            sexes.append(np.full(int(count), s == 1))
    age0 = np.concatenate(ages)
    male0 = np.concatenate(sexes)
    n0 = len(age0)
    birth0 = (S - (age0 + rng.random(n0)) * YEAR).astype(I64)
    # registered since a past date: ~11 years on average, newborns from a few weeks old
    since = (S - rng.exponential(11.0, n0) * YEAR).astype(I64)
    entry0 = np.minimum(np.maximum(since, birth0 + rng.integers(14, 57, n0)), S)

    leave = rates.leave_rate * ctx.mobility[age0]
    women = int(((~male0) & (age0 >= 15) & (age0 <= 44)).sum())
    male, birth, entry = [male0], [birth0], [entry0]
    for k in range(ctx.years):
        days = int(F[k + 1] - F[k])
        # in-migrants: as many as are expected to leave, with the leavers' ages and sexes
        n_in = int(rng.poisson(leave.sum()))
        src = _choice(rng, leave, n_in)
        arrive = F[k] + 1 + rng.integers(0, days - 1, n_in)  # the first day's list is fixed
        male.append(male0[src])
        birth.append((arrive - (age0[src] + rng.random(n_in)) * YEAR).astype(I64))
        entry.append(arrive.astype(I64))
        # births, registered a few weeks old
        n_born = int(rng.poisson(rates.fertility * women))
        born = (F[k] + rng.integers(0, days, n_born)).astype(I64)
        male.append(rng.random(n_born) < 0.512)
        birth.append(born)
        entry.append(born + rng.integers(14, 57, n_born))
    male_a, birth_a, entry_a = np.concatenate(male), np.concatenate(birth), np.concatenate(entry)
    keep = entry_a <= E
    male_a, birth_a, entry_a = male_a[keep], birth_a[keep], entry_a[keep]
    n = len(male_a)
    decile = np.clip(np.rint(plan.imd_centre[p] + rng.normal(0.0, 1.5, n)), 1, 10).astype(I64)
    decile_null = rng.random(n) < 0.003  # a few unknown postcodes
    dep = (5.5 - decile) / 4.5
    z = latent_z(rng, (S - birth_a) / YEAR)
    attrs = attributes(
        rng,
        male=male_a,
        birth=birth_a.astype(np.int32),
        entry=entry_a.astype(np.int32),
        dep=dep,
        z=z,
        ref_day=ctx.ref_day,
        horizon_day=ctx.end,
    )
    return Batch(
        p=p,
        male=male_a,
        birth=birth_a,
        entry=entry_a,
        decile=decile,
        decile_null=decile_null,
        dep=dep,
        z=z,
        attrs=attrs,
        onset=attrs.onset.astype(I64),
    )


def _year_state(ctx: Context, b: Batch) -> YearState:
    """Each patient's individual risk in each year, from their state at the middle of it."""
    F, K = ctx.fy, ctx.years
    mid = (F[:-1] + (F[1:] - F[:-1]) // 2).astype(I64)
    age = np.clip((mid[None, :] - b.birth[:, None]) / YEAR, 0, P.MAX_AGE)
    has = b.onset[:, None, :] <= mid[None, :, None]
    deficits = np.stack([efi_count(b.attrs, int(m)) for m in mid], axis=1)
    home = b.attrs.care_home_day[:, None].astype(I64) <= mid[None, :]
    lp_em, lp_ae, lp_death = linear_predictors(b.z[:, None], has, deficits, home)
    return YearState(
        age=age,
        age_int=age.astype(I64),
        has=has,
        lp_em=lp_em,
        lp_ae=lp_ae,
        lp_death=lp_death,
        efi_start=[efi_count(b.attrs, int(F[k])) for k in range(K)],
    )


def _exposure(ctx: Context, b: Batch, until: Arr) -> Arr:
    """Days registered in each financial year (n, years), up to `until` (inclusive)."""
    F = ctx.fy
    lo = np.maximum(F[None, :-1], b.entry[:, None])
    hi = np.minimum(F[None, 1:] - 1, np.minimum(until, ctx.end)[:, None])
    return np.maximum(hi - lo + 1, 0).astype(np.float64)


def _rates(ctx: Context, b: Batch, st: YearState) -> None:
    """Emergency admission and A&E rates per person-year, before any scheme effect."""
    calib = ctx.calib
    weight = _exposure(ctx, b, b.last)
    band = age_band(st.age_int)
    trend = (1.0 + ctx.config.rates.trend) ** (np.arange(ctx.years) - ctx.burn_in)[None, :]
    em_dep = deprivation_factor(b.dep, P.EMERGENCY_DEPRIVATION)[:, None]
    ae_dep = deprivation_factor(b.dep, P.AE_DEPRIVATION)[:, None]
    st.lam_em = calib.emergency[st.age_int] * normalise(st.lp_em, band, weight) * em_dep * trend
    st.lam_ae = calib.ae[st.age_int] * normalise(st.lp_ae, band, weight) * ae_dep * trend


def _exits(ctx: Context, rng: np.random.Generator, b: Batch, st: YearState) -> Arr:
    """Leaving the area, moving practice and (life-table) death; returns the death day."""
    S, E, F = ctx.start, ctx.end, ctx.fy
    rates, plan = ctx.config.rates, ctx.plan
    n = b.n
    exposed_from = np.maximum(b.entry, S)
    mob = ctx.mobility[np.clip(((exposed_from - b.birth) / YEAR).astype(I64), 0, P.MAX_AGE)]
    wait = rng.exponential(1.0, n) / np.maximum(rates.leave_rate * mob, 1e-12)
    leave_day = exposed_from + np.ceil(wait * YEAR).astype(I64)
    b.leave_day = np.where(leave_day > E, NEVER, leave_day)
    b.move_day = np.full(n, NEVER, dtype=I64)
    b.dest = np.full(n, b.p, dtype=I64)
    if len(plan) > 1 and rates.move_rate > 0:
        wait = rng.exponential(1.0, n) / (rates.move_rate * mob)
        move = exposed_from + 1 + (wait * YEAR).astype(I64)
        b.move_day = np.where((move < b.leave_day) & (move <= E), move, NEVER)
        movers = np.flatnonzero(b.move_day < NEVER)
        b.dest[movers] = _destinations(plan, b.p, rng, len(movers))
    # deaths year by year: each year's risks are normalised over those still alive
    death = np.full(n, NEVER, dtype=I64)
    sex = b.male.astype(I64)
    dep = deprivation_factor(b.dep, P.MORTALITY_DEPRIVATION)
    for k in range(ctx.years):
        lo = np.maximum(F[k], b.entry)
        hi = np.minimum(np.minimum(F[k + 1] - 1, b.leave_day), death - 1)
        at_risk = np.maximum(hi - lo + 1, 0).astype(np.float64)
        age = st.age_int[:, k : k + 1]
        relative = normalise(st.lp_death[:, k : k + 1], age_band(age), at_risk[:, None])[:, 0]
        q = ctx.calib.mortality[sex, age[:, 0]] * relative * dep * P.MORTALITY_BASE_SHARE
        hazard = -np.log1p(-np.minimum(q, 0.99)) / YEAR
        t = lo + (rng.exponential(1.0, n) / np.maximum(hazard, 1e-12)).astype(I64)
        death = np.where((at_risk > 0) & (t <= hi), t, death)
    b.death = death
    b.last = np.minimum(np.minimum(b.leave_day, death), E)
    return death


def _destinations(plan: PracticePlan, p: int, rng: np.random.Generator, n: int) -> Arr:
    """Other selected practices a mover registers with: same PCN 50%, sub-ICB 35%, any 15%."""
    size = plan.list_size.astype(np.float64)
    pcn = np.array(plan.pcn)
    sub = np.array(plan.sub_icb)
    others = np.arange(len(plan)) != p
    same_pcn = others & (pcn == pcn[p]) if plan.pcn[p] is not None else np.zeros_like(others)
    pools = [same_pcn, others & (sub == sub[p]), others]
    weights = np.zeros(len(plan))
    for share, pool in zip((0.5, 0.35, 0.15), pools, strict=True):
        if pool.any():
            weights += share * pool * size / size[pool].sum()
    return _choice(rng, weights, n)


@dataclass
class CarePlans:
    patient: Arr
    day: Arr
    k: Arr
    scheme: Arr  # made because of the scheme (else background)
    first: Arr  # (n,) first care-plan day per patient, NEVER if none


def _care_plans(ctx: Context, rng: np.random.Generator, b: Batch, st: YearState) -> CarePlans:
    """Background care plans every year; in the performance year, by engagement."""
    iv, F, plan = ctx.config.intervention, ctx.fy, ctx.plan
    n = b.n
    idx = np.arange(n)
    engagement = plan.engagement if iv.enabled else np.zeros(len(plan))
    noise = np.exp(iv.risk_noise_sd * rng.standard_normal(n))  # the practice's risk tool
    parts: list[tuple[Arr, Arr, Arr, Arr]] = []
    for k in range(ctx.years):
        day0, days = int(F[k]), int(F[k + 1] - F[k])
        age = (day0 - b.birth) / YEAR
        on = b.registered(day0)
        cur = b.practice_at(np.full(n, day0), idx)
        risk = st.lam_em[:, k] * noise
        adult = on & (age >= 18)
        ranked = np.sort(risk[adult & (cur == b.p)])  # the practice ranks its own list
        chosen = np.zeros(n, dtype=bool)
        if iv.background_share > 0 and len(ranked):
            chosen = adult & (risk >= np.quantile(ranked, 1.0 - iv.background_share))
        day = day0 + rng.integers(0, days, n)
        scheme = np.zeros(n, dtype=bool)
        if k == ctx.perf_k and iv.enabled and len(ranked):
            e = engagement[cur]
            share = np.clip(e * iv.target_coverage * iv.register_share, 0.0, 1.0)
            by_risk = adult & (share > 0) & (risk >= np.quantile(ranked, 1.0 - share))
            frail = on & (age >= 65) & (st.efi_start[k] >= 9)
            by_frailty = frail & (rng.random(n) < e * iv.frail_coverage)
            scheme = by_risk | by_frailty
            # mostly agreed in April-July, the rest through the year
            offset = np.where(
                rng.random(n) < 0.8, rng.integers(0, 122, n), rng.integers(122, days, n)
            )
            day = np.where(scheme, day0 + offset, day)
            chosen |= scheme
        ok = np.flatnonzero(chosen & (day >= b.entry) & (day <= b.last))
        parts.append((ok, day[ok], np.full(len(ok), k, dtype=I64), scheme[ok]))
    patient, day, k_arr, scheme_arr = (np.concatenate(c) for c in zip(*parts, strict=True))
    first = np.full(n, NEVER, dtype=I64)
    np.minimum.at(first, patient, day)
    return CarePlans(patient.astype(I64), day.astype(I64), k_arr, scheme_arr.astype(bool), first)


def _segments(ctx: Context, b: Batch, cp: CarePlans) -> Segments:
    """Registered exposure per year, cut at the practice move and the first care plan."""
    F, K = ctx.fy, ctx.years
    n = b.n
    lo = np.maximum(F[None, :-1], b.entry[:, None])
    end = np.minimum(F[None, 1:] - 1, b.last[:, None]) + 1  # exclusive
    cuts = np.stack(
        [lo, np.clip(b.move_day[:, None], lo, end), np.clip(cp.first[:, None], lo, end), end],
        axis=2,
    )
    cuts = np.where((lo < end)[:, :, None], np.sort(cuts, axis=2), lo[:, :, None])
    a = cuts[:, :, :3].reshape(-1)
    z = cuts[:, :, 1:].reshape(-1)
    i = np.repeat(np.arange(n), K * 3)
    k = np.tile(np.repeat(np.arange(K), 3), n)
    live = z > a
    a, z, i, k = a[live], z[live], i[live], k[live]
    g = np.where(a >= b.move_day[i], b.dest[i], b.p)
    return Segments(i=i, k=k, g=g, a=a, b=z, care_planned=a >= cp.first[i])


def _hospital(
    ctx: Context, rng: np.random.Generator, b: Batch, st: YearState, seg: Segments
) -> tuple[dict[str, Arr], dict[str, Arr], tuple[Arr, Arr]]:
    """Admissions (emergency, readmissions, elective, maternity) and non-admitted A&E."""
    iv, rates, calib, plan = ctx.config.intervention, ctx.config.rates, ctx.calib, ctx.plan
    d0 = ctx.season_d0
    mass_em = (ctx.season_em[seg.b - d0] - ctx.season_em[seg.a - d0]) / YEAR
    mass_ae = (ctx.season_ae[seg.b - d0] - ctx.season_ae[seg.a - d0]) / YEAR
    span = (seg.b - seg.a) / YEAR
    # the scheme: care-planned patients, and every 65+/LTC patient of an engaged practice
    if iv.enabled:
        old_or_ltc = (st.age >= 65) | st.has.any(axis=2)
        engaged = plan.engagement[seg.g] * (seg.k == ctx.perf_k)
        wide = iv.practice_wide_effect * engaged * old_or_ltc[seg.i, seg.k]
        mult_em = (1.0 - iv.care_plan_effect * seg.care_planned) * (1.0 - wide)
        share = iv.ae_effect_share
        mult_ae = (1.0 - iv.care_plan_effect * share * seg.care_planned) * (1.0 - wide * share)
    else:
        mult_em = mult_ae = np.ones(len(seg.i))
    practice = plan.practice_effect[seg.g]  # what is not explained by the patients
    no_scheme = st.lam_em[seg.i, seg.k] * practice * mass_em
    expected = no_scheme * mult_em
    age = st.age_int[seg.i, seg.k]
    cancer = st.has[seg.i, seg.k, COND_INDEX["cancer"]]
    fertility = P.curve(P.FERTILITY_KNOTS) * (rates.fertility / P.GENERAL_FERTILITY)
    counts = {
        "emergency": rng.poisson(expected),
        "ae": rng.poisson(st.lam_ae[seg.i, seg.k] * practice * mass_ae * mult_ae),
        "elective": rng.poisson(calib.elective[age] * np.where(cancer, 2.5, 1.0) * span),
        "maternity": rng.poisson(np.where(b.male[seg.i], 0.0, fertility[age]) * span),
    }

    def expand(kind: str, cum: Arr | None) -> tuple[Arr, Arr, Arr]:
        rows = np.repeat(np.arange(len(seg.i)), counts[kind])
        if cum is None:
            day = seg.a[rows] + (rng.random(len(rows)) * (seg.b[rows] - seg.a[rows])).astype(I64)
        else:
            day = sample_days(cum, d0, seg.a[rows], seg.b[rows], rng)
        return seg.i[rows], day, seg.g[rows]

    pat, day, g = expand("emergency", ctx.season_em)
    emergency = _emergency_spells(ctx, rng, b, pat=pat, day=day, g=g)
    # readmissions within 30 days of discharge
    n_cond = (b.onset[pat] <= day[:, None]).sum(axis=1)
    p_re = np.minimum(P.READMIT_BASE + P.READMIT_PER_CONDITION * n_cond, P.READMIT_MAX)
    re = np.flatnonzero(rng.random(len(pat)) < p_re)
    re_day = emergency["discharge"][re] + 1 + (29 * rng.beta(1.0, 2.5, len(re))).astype(I64)
    ok = re_day <= b.last[pat[re]]
    re, re_day = re[ok], re_day[ok]
    re_pat = pat[re]
    readmit = _emergency_spells(
        ctx, rng, b, pat=re_pat, day=re_day, g=b.practice_at(re_day, re_pat)
    )
    same = rng.random(len(re)) < 0.5
    readmit["diagnosis"] = np.where(same, emergency["diagnosis"][re], readmit["diagnosis"])
    same = rng.random(len(re)) < 0.85
    readmit["provider"] = np.where(same, emergency["provider"][re], readmit["provider"])
    pat, day, g = expand("elective", None)
    elective = _elective_spells(ctx, rng, b, pat=pat, day=day, g=g)
    pat, day, g = expand("maternity", None)
    maternity = _maternity_spells(ctx, rng, pat=pat, day=day, g=g)
    parts = (emergency, readmit, elective, maternity)
    spells = {key: np.concatenate([part[key] for part in parts]) for key in emergency}
    spells["emergency"] = np.repeat(
        [True, True, False, False], [len(part["patient"]) for part in parts]
    )
    spells = _separate_spells(spells, b.last, rng)

    pat, day, g = expand("ae", ctx.season_ae)
    kinds = np.array(list(P.AE_TYPES))
    ae_rows = {
        "patient": pat,
        "day": day,
        "type": kinds[_choice(rng, np.array(list(P.AE_TYPES.values())), len(pat))],
        "provider": plan.providers[g, _choice(rng, np.array(P.PROVIDER_SHARES), len(pat))],
    }
    return spells, ae_rows, (expected, no_scheme)


def _diagnosis_tables() -> tuple[list[str], Arr, list[tuple[str, ...]]]:
    names = list(P.DIAGNOSIS_CATEGORIES)
    base = np.array([P.DIAGNOSIS_CATEGORIES[c][1] for c in names], dtype=np.float64)
    codes = [P.DIAGNOSIS_CATEGORIES[c][0] for c in names]
    return names, base, codes


def _emergency_spells(
    ctx: Context, rng: np.random.Generator, b: Batch, *, pat: Arr, day: Arr, g: Arr
) -> dict[str, Arr]:
    """Method, diagnosis (following the patient's conditions), stay and provider."""
    n = len(pat)
    age = np.clip((day - b.birth[pat]) / YEAR, 0, P.MAX_AGE)
    methods = np.array(list(P.EMERGENCY_METHODS))
    method = methods[_choice(rng, np.array(list(P.EMERGENCY_METHODS.values())), n)]
    # 2C: a baby born at home as intended, admitted in its first weeks
    method = np.where((age < 0.1) & (rng.random(n) < P.HOME_BIRTH_SHARE), "2C", method)
    names, base, code_sets = _diagnosis_tables()
    xs = np.array(P.DIAGNOSIS_AGES)
    weights = np.stack([np.interp(age, xs, base[j]) for j in range(len(names))], axis=1)
    weights[:, names.index("infant")] *= age < 1
    weights[:, names.index("obstetric")] *= (~b.male[pat]) & (age >= 16) & (age <= 45)
    has = b.onset[pat] <= day[:, None]
    for condition, (category, extra) in P.DIAGNOSIS_CONDITION_WEIGHT.items():
        weights[:, names.index(category)] += extra * has[:, COND_INDEX[condition]]
    category_of = _row_choice(rng, weights)
    diagnosis = np.empty(n, dtype=object)
    for j, codes in enumerate(code_sets):
        rows = np.flatnonzero(category_of == j)
        diagnosis[rows] = np.array(codes)[rng.integers(0, len(codes), len(rows))]
    p_zero = np.interp(age, [20, 90], [P.LOS_ZERO_YOUNG, P.LOS_ZERO_OLD])
    mean = np.interp(age, [20, 90], [P.LOS_MEAN_YOUNG, P.LOS_MEAN_OLD])
    stay = 1 + rng.exponential(1.0, n) * (mean - 1)
    los = np.where(rng.random(n) < p_zero, 0, stay).astype(I64)
    provider = ctx.plan.providers[g, _choice(rng, np.array(P.PROVIDER_SHARES), n)]
    return {
        "patient": pat.astype(I64),
        "admission": day.astype(I64),
        "discharge": (day + los).astype(I64),
        "method": method.astype(object),
        "diagnosis": diagnosis,
        "provider": provider.astype(I64),
    }


def _elective_spells(
    ctx: Context, rng: np.random.Generator, b: Batch, *, pat: Arr, day: Arr, g: Arr
) -> dict[str, Arr]:
    """Waiting-list, booked and planned admissions; three quarters are day cases."""
    n = len(pat)
    age = (day - b.birth[pat]) / YEAR
    methods = np.array(list(P.ELECTIVE_METHODS))
    method = methods[_choice(rng, np.array(list(P.ELECTIVE_METHODS.values())), n)]
    table = P.ELECTIVE_DIAGNOSES
    codes = np.array([t[0] for t in table])
    lo = np.array([t[1] for t in table])
    hi = np.array([t[2] for t in table])
    sex = np.array([t[3] for t in table])
    fits = (age[:, None] >= lo[None, :]) & (age[:, None] <= hi[None, :])
    fits &= (sex[None, :] == "") | ((sex[None, :] == "M") == b.male[pat][:, None])
    cancer = b.onset[pat, COND_INDEX["cancer"]] <= day
    cancer_code = np.isin(codes, ("Z511", "C189", "C509", "C61X"))
    weights = fits * np.where(cancer[:, None], 1.0 + 8.0 * cancer_code, 1.0 - 0.9 * cancer_code)
    weights[weights.sum(axis=1) == 0, list(codes).index("K409")] = 1.0
    diagnosis = codes[_row_choice(rng, weights)].astype(object)
    los = np.where(rng.random(n) < P.ELECTIVE_DAY_CASE, 0, 1 + rng.exponential(2.5, n))
    provider = ctx.plan.providers[g, _choice(rng, np.array(P.PROVIDER_SHARES), n)]
    return {
        "patient": pat.astype(I64),
        "admission": day.astype(I64),
        "discharge": (day + los.astype(I64)).astype(I64),
        "method": method.astype(object),
        "diagnosis": diagnosis,
        "provider": provider.astype(I64),
    }


def _maternity_spells(
    ctx: Context, rng: np.random.Generator, *, pat: Arr, day: Arr, g: Arr
) -> dict[str, Arr]:
    """Deliveries: mostly admitted ante partum (31), some post partum (32)."""
    n = len(pat)
    method = np.where(rng.random(n) < 0.85, "31", "32").astype(object)
    codes = np.array(list(P.MATERNITY_DIAGNOSES))
    weights = np.array(list(P.MATERNITY_DIAGNOSES.values()))
    diagnosis = codes[_choice(rng, weights, n)].astype(object)
    los = np.where(rng.random(n) < 0.15, 0, 1 + rng.poisson(0.8, n)).astype(I64)
    provider = ctx.plan.providers[g, _choice(rng, np.array(P.PROVIDER_SHARES), n)]
    return {
        "patient": pat.astype(I64),
        "admission": day.astype(I64),
        "discharge": (day + los).astype(I64),
        "method": method,
        "diagnosis": diagnosis,
        "provider": provider.astype(I64),
    }


def _prior_discharge(pat: Arr, dis: Arr) -> Arr:
    """For spells sorted by (patient, admission): the latest discharge of the patient's
    earlier spells, or -1 for a patient's first spell."""
    big = np.int64(1) << np.int64(34)
    run = np.maximum.accumulate(pat * big + dis)
    prior = np.full(len(pat), -1, dtype=I64)
    same = pat[1:] == pat[:-1]
    prior[1:] = np.where(same, run[:-1] - pat[1:] * big, -1)
    return prior


def _sort_spells(spells: dict[str, Arr]) -> dict[str, Arr]:
    order = np.lexsort((spells["discharge"], spells["admission"], spells["patient"]))
    return {k: v[order] for k, v in spells.items()}


def _separate_spells(spells: dict[str, Arr], last: Arr, rng: np.random.Generator) -> dict[str, Arr]:
    """Move a spell that starts while an earlier one is open to just after its discharge.

    Why move rather than drop: a patient in a hospital bed is not at risk of another
    admission, so the admission the Poisson draw placed there happens after discharge;
    dropping it would quietly lower the rates of exactly the heaviest users. Spells pushed
    past the patient's last registered day are dropped.
    """
    for _ in range(8):
        spells = _sort_spells(spells)
        prior = _prior_discharge(spells["patient"], spells["discharge"])
        clash = spells["admission"] <= prior
        if not clash.any():
            return spells
        # move only the first clash of a run, so a chain is resolved one spell at a time
        first = clash & ~np.r_[False, clash[:-1]]
        gap = prior + 1 + rng.integers(0, 4, len(prior)) - spells["admission"]
        shift = np.where(first, gap, 0)
        spells["admission"] = spells["admission"] + shift
        spells["discharge"] = spells["discharge"] + shift
        keep = spells["admission"] <= last[spells["patient"]]
        spells = {k: v[keep] for k, v in spells.items()}
    spells = _sort_spells(spells)
    keep = spells["admission"] > _prior_discharge(spells["patient"], spells["discharge"])
    return {k: v[keep] for k, v in spells.items()}


def _deaths_after_admission(
    ctx: Context,
    rng: np.random.Generator,
    b: Batch,
    *,
    death_base: Arr,
    spells: dict[str, Arr],
    ae_rows: dict[str, Arr],
) -> tuple[dict[str, Arr], dict[str, Arr]]:
    """Deaths within 30 days of an emergency admission; then cut everything after death."""
    E = ctx.end
    rows = np.flatnonzero(spells["emergency"])
    pat = spells["patient"][rows]
    adm = spells["admission"][rows]
    p_die = np.interp(_age(adm, b.birth[pat]), *_xy(P.POST_ADMISSION_DEATH_KNOTS))
    p_die = p_die * np.where(b.attrs.care_home_day[pat] <= adm, 1.5, 1.0)
    die_day = adm + rng.integers(0, 30, len(rows))
    dies = (rng.random(len(rows)) < p_die) & (die_day <= b.last[pat])
    after = np.full(b.n, NEVER, dtype=I64)
    np.minimum.at(after, pat[dies], die_day[dies])
    b.death = np.minimum(death_base, after)
    b.last = np.minimum(np.minimum(b.leave_day, b.death), E)
    keep = spells["admission"] <= b.last[spells["patient"]]
    spells = {k: v[keep] for k, v in spells.items()}
    spells["discharge"] = np.minimum(spells["discharge"], b.death[spells["patient"]])
    keep = ae_rows["day"] <= b.last[ae_rows["patient"]]
    ae_rows = {k: v[keep] for k, v in ae_rows.items()}
    # every emergency admission via A&E has a type 1 attendance that day, same provider
    via = spells["method"] == "21"
    ae_rows = {
        "patient": np.concatenate([ae_rows["patient"], spells["patient"][via]]),
        "day": np.concatenate([ae_rows["day"], spells["admission"][via]]),
        "type": np.concatenate([ae_rows["type"], np.full(int(via.sum()), "1")]),
        "provider": np.concatenate([ae_rows["provider"], spells["provider"][via]]),
    }
    return spells, ae_rows


def _age(day: Arr, birth: Arr) -> Arr:
    return np.clip((day - birth) / YEAR, 0, P.MAX_AGE)


def _registrations(ctx: Context, b: Batch) -> dict[str, Arr]:
    """One registration per patient, two for those who moved (end, then start next day)."""
    E = ctx.end
    reg_end = np.minimum(b.leave_day, b.death)
    moved = b.move_day <= b.last
    closed = np.where(reg_end <= E, reg_end, NEVER)
    second = np.flatnonzero(moved)
    return {
        "patient": np.concatenate([np.arange(b.n), second]),
        "g": np.concatenate([np.full(b.n, b.p, dtype=I64), b.dest[second]]),
        "start": np.concatenate([b.entry, b.move_day[second]]),
        "end": np.concatenate([np.where(moved, b.move_day - 1, closed), closed[second]]),
    }


# ====================================================================== GP events
class _Events:
    """Accumulates coded events as integer columns; strings are made once at the end."""

    def __init__(self, book: CodeBook) -> None:
        self.book = book
        self.parts: list[tuple[Arr, Arr, Arr, Arr, Arr]] = []

    def add(self, name: str, patient: Arr, day: Arr, pos: Arr, value: Arr | None = None) -> None:
        """Events of list `name`: `pos` is each code's position within the list."""
        n = len(patient)
        if n == 0:
            return
        lid = self.book.id(name)
        val = np.full(n, np.nan) if value is None else value.astype(np.float64)
        self.parts.append(
            (
                patient.astype(I64),
                day.astype(I64),
                np.full(n, lid, dtype=I64),
                (self.book.offset[lid] + pos).astype(I64),
                val,
            )
        )

    def pick(self, rng: np.random.Generator, name: str, n: int) -> Arr:
        """Uniform positions within a list (a code for each of n events)."""
        return rng.integers(0, self.book.size(name), size=n)

    def columns(self, b: Batch) -> dict[str, Arr]:
        """All events within life and registration, sorted by patient, date and code."""
        if self.parts:
            cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        else:
            cols = [np.zeros(0, dtype=I64)] * 4 + [np.zeros(0)]
        pat, day, lid, code, value = cols
        ok = (day <= b.last[pat]) & (day >= b.birth[pat])
        order = np.lexsort((code[ok], day[ok], pat[ok]))
        return {
            "patient": pat[ok][order],
            "day": day[ok][order],
            "list": lid[ok][order],
            "code": code[ok][order],
            "value": value[ok][order],
        }


def _condition_events(ev: _Events, rng: np.random.Generator, b: Batch) -> None:
    """Diagnosis codes on their dates (history before registration included), the eFI
    deficit codes, housebound and care-home flags."""
    book = ev.book
    chosen: dict[str, tuple[Arr, Arr, Arr]] = {}
    for c, name in enumerate(P.CONDITIONS):
        who = np.flatnonzero(b.onset[:, c] <= b.last)
        pos = ev.pick(rng, name, len(who))
        ev.add(name, who, b.onset[who, c], pos)
        chosen[name] = (who, b.onset[who, c], pos)
    # a condition implies its eFI deficit: an extra code only where the diagnosis code
    # itself is not in the deficit's list
    for deficit, conditions in P.DEFICIT_CONDITIONS.items():
        for name in conditions:
            who, day, pos = chosen[name]
            need = ~book.members(name, deficit)[pos]
            ev.add(deficit, who[need], day[need], ev.pick(rng, deficit, int(need.sum())))
    dp = b.attrs.deficit_patient
    di = b.attrs.deficit_id
    dd = b.attrs.deficit_day.astype(I64)
    # housebound: recorded as the care-process flag while registered (and as the eFI
    # deficit unless the flag's code is itself in the deficit list)
    flag_pos = ev.pick(rng, "housebound", len(dp))
    flag_in_efi = book.members("housebound", "efi_housebound")[flag_pos]
    as_flag = (di == OTHER_DEFICITS.index("efi_housebound")) & (dd >= b.entry[dp])
    ev.add("housebound", dp[as_flag], dd[as_flag], flag_pos[as_flag])
    for j, deficit in enumerate(OTHER_DEFICITS):
        rows = di == j
        if deficit == "efi_housebound":
            rows &= ~(as_flag & flag_in_efi)
        w = np.flatnonzero(rows)
        ev.add(deficit, dp[w], dd[w], ev.pick(rng, deficit, len(w)))
    home = np.flatnonzero(b.attrs.care_home_day.astype(I64) <= b.last)
    day = b.attrs.care_home_day[home].astype(I64)
    ev.add("care_home", home, day, ev.pick(rng, "care_home", len(home)))


def _medicine_events(ev: _Events, rng: np.random.Generator, ctx: Context, b: Batch) -> None:
    """Repeat medicines issued about every six months while registered, from a year before
    the first generated day (so 12-month polypharmacy can be counted from the start)."""
    attrs = b.attrs
    size = ev.book.size("medicines")
    keep = attrs.med_rank < size
    mp, mr, ms = attrs.med_patient[keep], attrs.med_rank[keep], attrs.med_start[keep].astype(I64)
    if len(mp) == 0:
        return
    # distinct medicines per patient: a random permutation of the list, first M taken
    patients = np.unique(mp)
    perm = np.argsort(rng.random((len(patients), size)), axis=1)
    code_pos = perm[np.searchsorted(patients, mp), mr]
    window0 = np.maximum(b.entry[mp], ctx.first_day - 365)
    lo = np.maximum(ms, window0)
    hi = b.last[mp]
    interval = P.MED_ISSUE_INTERVAL_DAYS
    first = lo + np.where(ms >= window0, 0, rng.integers(0, interval, len(mp)))
    n_issue = np.where(first <= hi, (hi - first) // interval + 1, 0)
    rows = np.repeat(np.arange(len(mp)), n_issue)
    k = np.arange(len(rows)) - np.repeat(np.cumsum(n_issue) - n_issue, n_issue)
    jitter = rng.integers(-P.MED_ISSUE_JITTER_DAYS, P.MED_ISSUE_JITTER_DAYS + 1, len(rows))
    jitter[k == 0] = 0
    day = np.clip(first[rows] + k * interval + jitter, lo[rows], hi[rows])
    ev.add("medicines", mp[rows], day, code_pos[rows])


def _hba1c_events(ev: _Events, rng: np.random.Generator, ctx: Context, b: Batch) -> None:
    """HbA1c (mmol/mol) for diagnosed diabetics, 1-2 a year, latest <= 58 in about 60-65%."""
    dm = b.onset[:, COND_INDEX["diabetes"]]
    who = np.flatnonzero(dm <= b.last)
    if len(who) == 0:
        return
    level = np.clip(rng.normal(52.0 + 4.0 * b.z[who], 11.0), 36.0, 120.0)
    code_pos = ev.pick(rng, "hba1c", len(who))
    bounds = [ctx.first_day - 365, *ctx.fy[ctx.burn_in :].tolist()]
    for k in range(len(bounds) - 1):
        lo = np.maximum(np.maximum(b.entry[who], dm[who]), bounds[k])
        hi = np.minimum(b.last[who], bounds[k + 1] - 1)
        span = hi - lo
        ok = span >= 0
        twice = ok & (span > 120) & (rng.random(len(who)) < 0.55)
        for flag in (ok, twice):
            w = np.flatnonzero(flag)
            day = lo[w] + (rng.random(len(w)) * (span[w] + 1)).astype(I64)
            value = np.clip(np.rint(level[w] + rng.normal(0.0, 5.0, len(w))), 25.0, 150.0)
            ev.add("hba1c", who[w], day, code_pos[w], value)


def _care_events(
    ev: _Events, rng: np.random.Generator, ctx: Context, b: Batch, *, st: YearState, cp: CarePlans
) -> None:
    """Care plans and what follows them; medication reviews; confirmed frailty codes."""
    iv, F = ctx.config.intervention, ctx.fy
    n = b.n

    def follow(name: str, share: float | Arr, lo: int, hi: int) -> None:
        sel = rng.random(len(cp.patient)) < share
        day = cp.day[sel] + rng.integers(lo, hi + 1, int(sel.sum()))
        ev.add(name, cp.patient[sel], day, ev.pick(rng, name, int(sel.sum())))

    follow("care_plan", 1.0, 0, 0)
    follow("named_gp", iv.named_gp_share, 0, 21)
    follow("care_plan_review", iv.review_share, 90, 200)
    severe = np.stack(st.efi_start, axis=1)[cp.patient, cp.k] >= 13
    follow("medication_review", severe.astype(np.float64), 0, 60)  # severely frail
    engagement = ctx.plan.engagement if iv.enabled else np.zeros(len(ctx.plan))
    coded = np.zeros(n, dtype=bool)
    for k in range(ctx.years):
        day0, days = int(F[k]), int(F[k + 1] - F[k])
        on = b.registered(day0)
        # routine medication reviews: about half of patients on 4+ repeat medicines a year
        meds = count_by_patient(b.attrs.med_patient, b.attrs.med_start, n, day0)
        pick = np.flatnonzero(on & (meds >= 4) & (rng.random(n) < 0.5))
        day = day0 + rng.integers(0, days, len(pick))
        ev.add("medication_review", pick, day, ev.pick(rng, "medication_review", len(pick)))
        # clinician-confirmed frailty (GMS 2017/18) for some of the eFI moderate/severe 65+;
        # more where the practice engages with the scheme in the performance year
        efi = st.efi_start[k]
        eligible = on & ((day0 - b.birth) / YEAR >= 65) & (efi >= 9) & ~coded
        rate = np.full(n, iv.frailty_coding_share if k == 0 else 0.1)
        if k == ctx.perf_k:
            rate = rate + 0.4 * engagement[b.practice_at(np.full(n, day0), np.arange(n))]
        pick = np.flatnonzero(eligible & (rng.random(n) < rate))
        coded[pick] = True
        day = day0 + rng.integers(0, days, len(pick))
        severe_now = efi[pick] >= 13
        for name, sel in (("frailty_severe", severe_now), ("frailty_moderate", ~severe_now)):
            ev.add(name, pick[sel], day[sel], ev.pick(rng, name, int(sel.sum())))


# ====================================================================== output
def _date_or_null(days: Arr) -> pa.Array:
    missing = days >= NEVER
    return ids.date_array(np.where(missing, 0, days).astype(np.int32), missing)


def _tables(
    ctx: Context,
    b: Batch,
    *,
    regs: dict[str, Arr],
    events: dict[str, Arr],
    spells: dict[str, Arr],
    ae_rows: dict[str, Arr],
) -> dict[str, pa.Table]:
    """The practice's rows of the five streamed canonical tables.

    Only what falls in the written years: patients registered on or after the first day
    (with their whole registration and diagnosis history), and hospital activity from then.
    """
    plan, book, E, first = ctx.plan, ctx.book, ctx.end, ctx.first_day
    number = int(plan.number[b.p])
    pid = ids.scrambled_ids(ids.DOMAIN_PATIENT, number, np.arange(b.n, dtype=I64), ctx.id_key)
    kept = b.last >= first
    who = np.flatnonzero(kept)
    practice_codes = pa.array(plan.codes, pa.string())
    providers = pa.array(plan.provider_codes, pa.string())
    rows = kept[regs["patient"]]
    order = np.lexsort((regs["start"][rows], regs["patient"][rows]))
    reg = {k: v[rows][order] for k, v in regs.items()}
    rows = kept[events["patient"]]
    events = {k: v[rows] for k, v in events.items()}
    n_sp = len(spells["patient"])
    spell_ids = ids.scrambled_ids(ids.DOMAIN_SPELL, number, np.arange(n_sp, dtype=I64), ctx.id_key)
    in_window = np.flatnonzero(spells["admission"] >= first)
    spells = {k: v[in_window] for k, v in spells.items()}
    spell_ids = spell_ids.take(pa.array(in_window))
    rows = ae_rows["day"] >= first
    ae_rows = {k: v[rows] for k, v in ae_rows.items()}
    ae_order = np.lexsort((ae_rows["type"], ae_rows["day"], ae_rows["patient"]))
    ae = {k: v[ae_order] for k, v in ae_rows.items()}
    discharge = np.where(spells["discharge"] > E, NEVER, spells["discharge"])
    death = np.where(b.death <= E, b.death, NEVER)
    return {
        "patients": pa.table(
            {
                "patient_id": pid.take(pa.array(who)),
                "sex": pa.array(np.where(b.male[who], "M", "F"), pa.string()),
                "birth_month": ids.date_array(ids.month_start(b.birth[who].astype(np.int32))),
                "death_date": _date_or_null(death[who]),
                "imd_decile": pa.array(b.decile[who], pa.int64(), mask=b.decile_null[who]),
            }
        ),
        "registrations": pa.table(
            {
                "patient_id": pid.take(pa.array(reg["patient"])),
                "practice_code": practice_codes.take(pa.array(reg["g"])),
                "start_date": ids.date_array(reg["start"].astype(np.int32)),
                "end_date": _date_or_null(reg["end"]),
            }
        ),
        "events": pa.table(
            {
                "patient_id": pid.take(pa.array(events["patient"])),
                "event_date": ids.date_array(events["day"].astype(np.int32)),
                "code_system": book.systems.take(pa.array(events["list"])),
                "code": book.codes.take(pa.array(events["code"])),
                "value": pa.array(events["value"], pa.float64(), from_pandas=True),
            }
        ),
        "admissions": pa.table(
            {
                "spell_id": spell_ids,
                "patient_id": pid.take(pa.array(spells["patient"])),
                "admission_date": ids.date_array(spells["admission"].astype(np.int32)),
                "discharge_date": _date_or_null(discharge),
                "admission_method": pa.array(spells["method"], pa.string()),
                "primary_diagnosis": pa.array(spells["diagnosis"], pa.string()),
                "provider_code": providers.take(pa.array(spells["provider"])),
            }
        ),
        "ae_attendances": pa.table(
            {
                "attendance_id": ids.scrambled_ids(
                    ids.DOMAIN_ATTENDANCE,
                    number,
                    np.arange(len(ae["patient"]), dtype=I64),
                    ctx.id_key,
                ),
                "patient_id": pid.take(pa.array(ae["patient"])),
                "arrival_date": ids.date_array(ae["day"].astype(np.int32)),
                "department_type": pa.array(ae["type"], pa.string()),
                "provider_code": providers.take(pa.array(ae["provider"])),
            }
        ),
    }


def _truth_sums(
    ctx: Context,
    b: Batch,
    *,
    seg: Segments,
    expected: tuple[Arr, Arr],
    regs: dict[str, Arr],
    spells: dict[str, Arr],
    ae_rows: dict[str, Arr],
    cp: CarePlans,
) -> dict[str, NDArray[np.float64]]:
    """Per practice and financial year: person-days, expected and realised counts."""
    F, K, E = ctx.fy, ctx.years, ctx.end
    sums = {name: np.zeros((len(ctx.plan), K)) for name in TRUTH_SUMS}
    stop = np.where(regs["end"] == NEVER, E, regs["end"])
    for k in range(K):
        days = np.minimum(stop, F[k + 1] - 1) - np.maximum(regs["start"], F[k]) + 1
        np.add.at(sums["person_days"][:, k], regs["g"], np.maximum(days, 0))
    np.add.at(sums["expected_emergency"], (seg.g, seg.k), expected[0])
    np.add.at(sums["expected_emergency_no_scheme"], (seg.g, seg.k), expected[1])

    def count(name: str, pat: Arr, day: Arr, rows: Arr | None = None) -> None:
        if rows is not None:
            pat, day = pat[rows], day[rows]
        year = np.searchsorted(F, day, side="right") - 1
        np.add.at(sums[name], (b.practice_at(day, pat), year), 1.0)

    method = spells["method"]
    count("emergency", spells["patient"], spells["admission"], spells["emergency"])
    count("elective", spells["patient"], spells["admission"], np.isin(method, ["11", "12", "13"]))
    count("maternity", spells["patient"], spells["admission"], np.isin(method, ["31", "32"]))
    count("ae", ae_rows["patient"], ae_rows["day"])
    died = np.flatnonzero(b.death <= E)
    count("deaths", died, b.death[died])
    count("care_plans_scheme", cp.patient, cp.day, cp.scheme & (cp.day <= b.last[cp.patient]))
    count("care_plans_background", cp.patient, cp.day, ~cp.scheme & (cp.day <= b.last[cp.patient]))
    return sums


def _snapshot(ctx: Context, b: Batch, events: dict[str, Arr]) -> dict[str, float]:
    """Counts on the first day of the performance year, from the records written."""
    book = ctx.book
    day = ctx.ref_day
    n = b.n
    on = b.registered(day)
    age = (day - b.birth) / YEAR
    old = on & (age >= 65)
    out: dict[str, float] = {
        "registered_ref": float(on.sum()),
        "age65_ref": float(old.sum()),
        "age85_ref": float((on & (age >= 85)).sum()),
    }
    for c, name in enumerate(P.CONDITIONS):
        denominator = on & (age >= P.CONDITION_SPECS[name].min_age)
        out[f"prev_{name}"] = float((denominator & (b.onset[:, c] <= day)).sum())
        out[f"prev_{name}_denominator"] = float(denominator.sum())
    # eFI as a measure would count it: deficit codes on or before the day, a diagnosis code
    # that is itself in the deficit list, and polypharmacy (5+ medicines issued in 12 months)
    pat, when, lid, code, value = (
        events["patient"],
        events["day"],
        events["list"],
        events["code"],
        events["value"],
    )
    past = when <= day
    present = np.zeros((n, len(P.EFI_DEFICITS)), dtype=bool)
    for j, deficit in enumerate(P.EFI_DEFICITS):
        present[pat[past & (lid == book.id(deficit))], j] = True
        for cname in P.DEFICIT_CONDITIONS.get(deficit, ()):
            present[:, j] |= b.onset[:, COND_INDEX[cname]] <= day
    med = past & (lid == book.id("medicines")) & (when > day - 365)
    n_codes = len(book.codes)
    distinct = np.unique(pat[med] * n_codes + code[med]) // n_codes
    n_meds = np.bincount(distinct, minlength=n)
    efi = present.sum(axis=1) + (n_meds >= 5)
    category = np.select([efi <= 4, efi <= 8, efi <= 12], [0, 1, 2], 3)
    for j, label in enumerate(("fit", "mild", "moderate", "severe")):
        out[f"efi_{label}_65"] = float((old & (category == j)).sum())
    out["polypharmacy_65"] = float((old & (n_meds >= 5)).sum())
    out["care_home_65"] = float((old & (b.attrs.care_home_day <= day)).sum())
    out["care_home_85"] = float((on & (age >= 85) & (b.attrs.care_home_day <= day)).sum())
    # latest HbA1c in the 12 months before the day, among registered diabetics
    hb = past & (lid == book.id("hba1c")) & (when > day - 365)
    order = np.lexsort((when[hb], pat[hb]))
    hb_pat, hb_val = pat[hb][order], value[hb][order]
    latest = np.r_[hb_pat[1:] != hb_pat[:-1], True] if len(hb_pat) else np.zeros(0, bool)
    diabetic = on & (b.onset[:, COND_INDEX["diabetes"]] <= day)
    counted = diabetic[hb_pat[latest]]
    out["hba1c_tested"] = float(counted.sum())
    out["hba1c_le58"] = float((hb_val[latest][counted] <= 58).sum())
    return out
