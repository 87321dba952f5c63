"""The patient model: demography, conditions, frailty, medicines, care homes, risk multipliers.

How the pieces hang together
- Every patient has a latent health factor z (normal, its mean falling at old ages as the
  frail die first: `survivor_shift`) and a deprivation score dep = (5.5 - IMD decile) / 4.5
  in [-1, 1]. Conditions, deficits and medicines follow z relative to the patient's age.
- Each condition has a cumulative age curve F(age) ("ever diagnosed by this age"). A patient's
  liability L = rho*z + sqrt(1 - rho^2)*e + delta*dep is turned into u = 1 - Phi(L) and the
  onset age is the age at which F first exceeds u. Marginally (dep = 0) the prevalence at each
  age is exactly F; z correlates conditions with each other and with hospital use; deprivation
  raises prevalence modestly. Onset dates therefore fall before, during or after the generated
  years: prevalent history and incidence come from one mechanism.
- eFI deficits: those implied by a condition (AF, stroke, CKD, diabetes, heart failure,
  hypertension, IHD, dementia -> memory, COPD/asthma -> respiratory) date from the diagnosis;
  the others accrue as a Poisson process in age (steeper for higher z, deprivation and more
  conditions), their identities drawn by weighted sampling without replacement. Repeat
  medicines accrue the same way; polypharmacy (5+ medicines issued in 12 months) is the 36th
  deficit. Care-home entry is drawn from a cumulative age curve raised by dementia and
  severe frailty. Because all of these are dated by age, not by calendar, the simulated years
  add no drift of their own.
- Risk multipliers for emergency admission, A&E and death are exp(linear predictor) divided by
  their mean among the patients at risk of the same age band in the same practice and year
  (`normalise`). So the age-specific rates in `params` hold in every year, while z,
  conditions, frailty and care-home residence redistribute risk between patients; an area's
  deprivation then raises its rates (`deprivation_factor`).

Scale factors (condition curves, headline rates) are computed once, from the English 2016
registered population by age and sex (all shipped practices, ONS single-year shape within
bands), so that crude rates over England match the targets; a real area's rates then differ
with its own age mix and deprivation, as they should.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from . import params as P
from .refdata import population_table, practices_table

YEAR = 365.25
NEVER = np.int32(2**31 - 1)
BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-4", 0, 4),
    ("5-14", 5, 14),
    ("15-24", 15, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65-74", 65, 74),
    ("75+", 75, 104),
)
# Cells of a practice's list: (sex, band) in this order; sex 0 = female, 1 = male.
CELLS: tuple[tuple[int, int], ...] = tuple((s, b) for b in range(len(BANDS)) for s in (1, 0))
CELL_COLUMNS: tuple[str, ...] = tuple(
    f"{'m' if s else 'f'}_{BANDS[b][0]}" for s, b in CELLS
)  # fmt: skip
N_COND = len(P.CONDITIONS)
COND_INDEX = {name: i for i, name in enumerate(P.CONDITIONS)}
OTHER_DEFICITS: tuple[str, ...] = tuple(P.DEFICIT_WEIGHTS)
LINKED_DEFICITS: tuple[str, ...] = tuple(P.DEFICIT_CONDITIONS)


# --------------------------------------------------------------------------- demography
@cache
def single_year_weights() -> NDArray[np.float64]:
    """Within-band single-year age shape, (2 sexes, 111 ages), from ONS mid-2023 England.

    The ONS '90+' group is spread over 90-104 with a geometric fall of 25% a year, so the 75+
    band tapers to about 100.
    """
    pop = population_table()
    out = np.zeros((2, P.MAX_AGE + 1))
    for s, label in ((0, "females"), (1, "males")):
        rows = pop[pop["sex"] == label]
        for age_text, count in zip(rows["age"], rows["count"], strict=True):
            text = str(age_text)
            if text.endswith("+"):
                base = int(text[:-1])
                tail = 0.75 ** np.arange(0, 105 - base)
                out[s, base:105] += float(count) * tail / tail.sum()
            else:
                out[s, int(text)] += float(count)
    return out


def band_age_probs(sex: int, band: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Ages of one band and their probabilities for one sex."""
    _, lo, hi = BANDS[band]
    ages = np.arange(lo, hi + 1)
    w = single_year_weights()[sex, lo : hi + 1]
    return ages, w / w.sum()


@cache
def england_weights() -> NDArray[np.float64]:
    """Registered population of England 2016 by (sex, single age): the calibration mix."""
    table = practices_table()
    out = np.zeros((2, P.MAX_AGE + 1))
    for (s, b), column in zip(CELLS, CELL_COLUMNS, strict=True):
        total = float(np.nansum(table[column].to_numpy(dtype=np.float64)))
        ages, probs = band_age_probs(s, b)
        out[s, ages] += total * probs
    return out


# --------------------------------------------------------------------------- latent health
@cache
def survivor_shift() -> NDArray[np.float64]:
    """Mean of the latent factor z among survivors, by single age.

    Why: deaths remove high-z patients first, so in a real population the survivors at old
    ages are healthier than a fresh N(0, 1) draw. Starting every age at N(0, 1) would make
    the first generated year a burn-in in which the frailest die off and admissions drift
    down. Shifting z by -SURVIVOR_Z x (cumulative life-table hazard to that age) starts the
    population close to that steady state.
    """
    hazard = -np.log1p(-P.curve(P.MORTALITY_KNOTS).clip(max=0.95))
    cumulative = np.concatenate([[0.0], np.cumsum(hazard)[:-1]])
    return np.maximum(-P.SURVIVOR_Z * cumulative, -1.5)


def latent_z(rng: np.random.Generator, age_years: NDArray[np.float64]) -> NDArray[np.float64]:
    """Latent health factor for patients of the given ages (see `survivor_shift`)."""
    shift = survivor_shift()[np.clip(age_years, 0, P.MAX_AGE).astype(np.int64)]
    return shift + rng.standard_normal(len(age_years))


# --------------------------------------------------------------------------- conditions
@cache
def condition_curves() -> NDArray[np.float64]:
    """Cumulative diagnosis curves (N_COND, 2 sexes, 111 ages), scaled to the QOF targets."""
    w = england_weights()
    curves = np.zeros((N_COND, 2, P.MAX_AGE + 1))
    for i, name in enumerate(P.CONDITIONS):
        spec = P.CONDITION_SPECS[name]
        shaped = np.stack([spec.shape * spec.female, spec.shape * spec.male])
        denominator = w[:, spec.min_age :].sum()
        scale = spec.target * denominator / (w * shaped).sum()
        cur = np.minimum(shaped * scale, 0.97)
        # strictly increasing so the inverse is well defined
        curves[i] = np.maximum.accumulate(cur, axis=1) + 1e-9 * P.AGES
    return curves


def condition_onsets(
    rng: np.random.Generator,
    male: NDArray[np.bool_],
    birth: NDArray[np.int32],
    dep: NDArray[np.float64],
    z: NDArray[np.float64],
) -> NDArray[np.int32]:
    """Diagnosis day of each condition (n, N_COND); NEVER when not within a lifetime."""
    n = len(z)
    curves = condition_curves()
    onset = np.full((n, N_COND), NEVER, dtype=np.int32)
    eps = rng.standard_normal((n, N_COND))
    for i, name in enumerate(P.CONDITIONS):
        spec = P.CONDITION_SPECS[name]
        liability = spec.rho * z + np.sqrt(1 - spec.rho**2) * eps[:, i] + spec.deprivation * dep
        u = ndtr(-liability)  # 1 - Phi(L)
        age = np.full(n, np.inf)
        for sex in (0, 1):
            sel = male == bool(sex)
            cur = curves[i, sex]
            hit = sel & (u < cur[-1])
            age[hit] = np.interp(u[hit], cur, P.AGES)
        ok = np.isfinite(age)
        onset[ok, i] = (birth[ok] + age[ok] * YEAR).astype(np.int32)
    return onset


# --------------------------------------------------------------------------- attributes
@dataclass
class Attributes:
    """Everything about a batch of patients that does not depend on the practice's actions."""

    onset: NDArray[np.int32]  # (n, N_COND) diagnosis day or NEVER
    deficit_patient: NDArray[np.int64]  # sampled ("other") deficits, one row each
    deficit_id: NDArray[np.int64]  # index into OTHER_DEFICITS
    deficit_day: NDArray[np.int32]
    med_patient: NDArray[np.int64]  # repeat medicines, one row each
    med_rank: NDArray[np.int64]  # 0.. within the patient (the code is chosen later)
    med_start: NDArray[np.int32]
    care_home_day: NDArray[np.int32]  # (n,) day moved into a care home, or NEVER


def linked_count(onset: NDArray[np.int32], day: int) -> NDArray[np.int64]:
    """Number of condition-implied eFI deficits present on `day` (per patient)."""
    has = onset <= day
    total = np.zeros(len(onset), dtype=np.int64)
    for conditions in P.DEFICIT_CONDITIONS.values():
        any_of = np.zeros(len(onset), dtype=bool)
        for c in conditions:
            any_of |= has[:, COND_INDEX[c]]
        total += any_of
    return total


def count_by_patient(
    patient: NDArray[np.int64], day: NDArray[np.int32], n: int, at: int
) -> NDArray[np.int64]:
    """How many rows (deficits, medicines) each patient has dated on or before `at`."""
    return np.bincount(patient[day <= at], minlength=n).astype(np.int64)


def efi_count(attrs: Attributes, at: int) -> NDArray[np.int64]:
    """eFI deficit count (0-36) on `at`: linked + sampled + polypharmacy (5+ medicines)."""
    n = len(attrs.onset)
    meds = count_by_patient(attrs.med_patient, attrs.med_start, n, at)
    return (
        linked_count(attrs.onset, at)
        + count_by_patient(attrs.deficit_patient, attrs.deficit_day, n, at)
        + (meds >= 5)
    )


def attributes(
    rng: np.random.Generator,
    *,
    male: NDArray[np.bool_],
    birth: NDArray[np.int32],
    entry: NDArray[np.int32],
    dep: NDArray[np.float64],
    z: NDArray[np.float64],
    ref_day: int,
    horizon_day: int,
) -> Attributes:
    """Conditions, frailty deficits, medicines and care-home residence for a batch.

    Each is dated by an age-driven process, not by the calendar, so a population's frailty,
    medicines and care-home residence at any date depend only on its ages: the simulated
    years have no drift of their own. `ref_day` is the day covariates that steer the
    processes (number of conditions, dementia, frailty) are read; `horizon_day` is the last
    day anything is dated.
    """
    n = len(z)
    age_ref = (ref_day - birth) / YEAR
    age_end = np.clip((horizon_day - birth) / YEAR, 0.0, P.MAX_AGE)
    # health relative to people of the same age: the age curves describe survivors, so a
    # patient's conditions, deficits and medicines follow z relative to their age group
    relative = z - survivor_shift()[np.clip(age_ref, 0, P.MAX_AGE).astype(np.int64)]
    onset = condition_onsets(rng, male, birth, dep, relative)
    n_cond = (onset <= ref_day).sum(axis=1)

    # ---- other eFI deficits: a Poisson process in age, steeper in the old
    scale = np.exp(
        P.DEFICIT_LOG_MEAN
        + P.DEFICIT_Z * relative
        + P.DEFICIT_PER_CONDITION * n_cond
        + P.DEFICIT_DEPRIVATION * dep
    )
    shape = deficit_shape()
    k = rng.poisson(scale * np.interp(age_end, P.AGES, shape))
    weights = np.array([P.DEFICIT_WEIGHTS[d] for d in OTHER_DEFICITS])
    female_mult = np.array([P.DEFICIT_FEMALE.get(d, 1.0) for d in OTHER_DEFICITS])
    rows = np.flatnonzero(k > 0)
    w = np.tile(np.log(weights), (len(rows), 1))
    w[~male[rows]] += np.log(female_mult)
    # a deficit already implied by a condition is not drawn again
    has_ref = onset[rows] <= ref_day
    memory = OTHER_DEFICITS.index("efi_memory_cognitive_problems")
    resp = OTHER_DEFICITS.index("efi_respiratory_disease")
    w[has_ref[:, COND_INDEX["dementia"]], memory] = -np.inf
    w[has_ref[:, COND_INDEX["copd"]] | has_ref[:, COND_INDEX["asthma"]], resp] = -np.inf
    available = np.isfinite(w).sum(axis=1)
    take = np.minimum(k[rows], available)
    keys = w + rng.gumbel(size=w.shape)
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = np.arange(len(OTHER_DEFICITS))[None, :] < take[:, None]
    deficit_patient = np.repeat(rows, take).astype(np.int64)
    deficit_id = order[chosen].astype(np.int64)
    deficit_age = _process_ages(rng, shape, age_end[deficit_patient])
    deficit_day = (birth[deficit_patient] + deficit_age * YEAR).astype(np.int32)

    # ---- repeat medicines: also accrue with age (none are stopped)
    scale = np.exp(P.MED_LOG_MEAN + P.MED_PER_CONDITION * n_cond + P.MED_Z * relative)
    shape = medicine_shape()
    n_meds = rng.poisson(scale * np.interp(age_end, P.AGES, shape))
    med_patient = np.repeat(np.arange(n), n_meds).astype(np.int64)
    starts = np.cumsum(n_meds) - n_meds
    med_rank = (np.arange(len(med_patient)) - np.repeat(starts, n_meds)).astype(np.int64)
    med_age = _process_ages(rng, shape, age_end[med_patient])
    med_start = (birth[med_patient] + med_age * YEAR).astype(np.int32)

    partial = Attributes(
        onset,
        deficit_patient,
        deficit_id,
        deficit_day,
        med_patient,
        med_rank,
        med_start,
        np.full(n, NEVER, dtype=np.int32),
    )
    # ---- care homes: "in a care home by age a" rises with age, dementia and frailty
    dementia = onset[:, COND_INDEX["dementia"]] <= ref_day
    severe = efi_count(partial, ref_day) >= 13
    mult = np.where(dementia, P.CARE_HOME_DEMENTIA, 1.0)
    mult *= np.where(severe, P.CARE_HOME_SEVERE_FRAILTY, 1.0)
    cumulative = care_home_shape()
    u = rng.random(n) / mult
    reach = u < np.interp(age_end, P.AGES, cumulative)
    home_age = np.interp(u, cumulative, P.AGES)
    home_day = np.maximum((birth + home_age * YEAR).astype(np.int64), entry)
    partial.care_home_day = np.where(reach, home_day, NEVER).astype(np.int32)
    return partial


def _strictly_increasing(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum.accumulate(values) + 1e-9 * P.AGES


@cache
def deficit_shape() -> NDArray[np.float64]:
    """Cumulative intensity of "other" eFI deficits by age (x the patient's scale)."""
    slope = P.DEFICIT_AGE_SLOPE / 10.0
    start = np.exp(slope * (P.DEFICIT_MIN_AGE - 65.0))
    shape = np.where(P.AGES >= P.DEFICIT_MIN_AGE, np.exp(slope * (P.AGES - 65.0)) - start, 0.0)
    return _strictly_increasing(shape)


@cache
def medicine_shape() -> NDArray[np.float64]:
    """Cumulative intensity of repeat medicines by age (x the patient's scale)."""
    return _strictly_increasing(P.curve(P.MED_AGE_KNOTS))


@cache
def care_home_shape() -> NDArray[np.float64]:
    return _strictly_increasing(P.curve(P.CARE_HOME_KNOTS))


def _process_ages(
    rng: np.random.Generator, shape: NDArray[np.float64], age_end: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Ages of points of a Poisson process with cumulative intensity `shape`, given that
    they fall before `age_end` (each independently, by the inverse CDF)."""
    u = rng.random(len(age_end)) * np.interp(age_end, P.AGES, shape)
    return np.interp(u, shape, P.AGES)


# --------------------------------------------------------------------------- risk
def linear_predictors(
    z: NDArray[np.float64],
    has: NDArray[np.bool_],
    deficits: NDArray[np.int64],
    care_home: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """log-multipliers (emergency, A&E, death) of individual risk, before normalisation.

    Deprivation is applied separately (`deprivation_factor`) so that it can raise an area's
    rates while everything else only redistributes risk between patients of the same age.
    """
    em_cond = np.array([P.EMERGENCY_CONDITION[c] for c in P.CONDITIONS])
    death_cond = np.array([P.MORTALITY_CONDITION.get(c, 0.0) for c in P.CONDITIONS])
    n_cond = has.sum(axis=-1)
    em = (
        P.EMERGENCY_Z * z
        + has @ em_cond
        + P.EMERGENCY_PER_DEFICIT * deficits
        + P.EMERGENCY_CARE_HOME * care_home
    )
    ae = P.AE_Z * z + P.AE_PER_CONDITION * n_cond + P.AE_CARE_HOME * care_home
    death = (
        P.MORTALITY_Z * z
        + has @ death_cond
        + P.MORTALITY_PER_DEFICIT * deficits
        + P.MORTALITY_CARE_HOME * care_home
    )
    return em, ae, death


def deprivation_factor(dep: NDArray[np.float64], weight: float) -> NDArray[np.float64]:
    """exp(weight x dep) relative to its mean over England (IMD deciles equally common)."""
    deciles = np.arange(1, 11)
    mean = float(np.exp(weight * (5.5 - deciles) / 4.5).mean())
    return np.exp(weight * dep) / mean


def age_band(age: NDArray[np.int64]) -> NDArray[np.int64]:
    """5-year bands 0-4 ... 90-94, 95+ (20 bands): where risk multipliers are normalised."""
    return np.minimum(age // 5, N_BANDS - 1)


N_BANDS = 20


def normalise(
    log_risk: NDArray[np.float64], band: NDArray[np.int64], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """exp(log_risk) divided by its weighted mean in each age band and year (column).

    Why normalise within the practice and year rather than once: deaths remove the frailest,
    so the survivors at each age get healthier as years pass. Normalising over the patients
    actually at risk keeps each age's rates on the calibrated curve in every year, so the
    simulation has no drift of its own: changes between years come from the configured trend
    and the scheme only. Between-patient differences (and so risk ranking, registers and the
    concentration of admissions) are untouched.
    """
    risk = np.exp(log_risk)
    years = risk.shape[1]
    cell = band * years + np.arange(years)[None, :]
    total = np.bincount(cell.ravel(), weights=(risk * weight).ravel(), minlength=N_BANDS * years)
    mass = np.bincount(cell.ravel(), weights=weight.ravel(), minlength=N_BANDS * years)
    mean = np.where(mass > 0, total / np.maximum(mass, 1e-12), 1.0)
    return risk / np.where(mean[cell] > 0, mean[cell], 1.0)


@dataclass(frozen=True)
class Calibration:
    """Age curves scaled to the configured headline rates (shared by every practice)."""

    emergency: NDArray[np.float64]  # (111,) primary emergency admissions per person-year
    ae: NDArray[np.float64]  # (111,) non-admitted A&E per person-year
    elective: NDArray[np.float64]
    mortality: NDArray[np.float64]  # (2, 111) annual death probability (life table)


def calibration(
    emergency_per_1000: float,
    ae_per_1000: float,
    elective_per_1000: float,
    mortality_scale: float,
) -> Calibration:
    """Scale the age curves to the configured headline rates over England's age/sex mix."""
    w = england_weights().sum(axis=0)
    share = w / w.sum()

    def scaled(knots: P.Knots, target: float) -> NDArray[np.float64]:
        shape = P.curve(knots)
        return shape * (target / float((shape * share).sum()))

    mortality = np.stack(
        [
            P.curve(P.MORTALITY_KNOTS) * P.MORTALITY_FEMALE,
            P.curve(P.MORTALITY_KNOTS) * P.MORTALITY_MALE,
        ]
    )
    return Calibration(
        emergency=scaled(
            P.EMERGENCY_KNOTS, emergency_per_1000 / 1000.0 * P.EMERGENCY_PRIMARY_SHARE
        ),
        ae=scaled(P.AE_KNOTS, ae_per_1000 / 1000.0),
        elective=scaled(
            P.ELECTIVE_KNOTS, elective_per_1000 / 1000.0 * P.ELECTIVE_REALISED_ADJUSTMENT
        ),
        mortality=np.minimum(mortality * mortality_scale, 0.95),
    )
