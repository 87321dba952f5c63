"""The epidemiology the generator draws from: every rate, curve and mix, with its source.

Why one module of constants: a demanding analyst must be able to see, in one place, what the
synthetic population was built to look like and argue with it. Everything here is an
*assumption* chosen to give plausible English general-practice data; none of it is a
published statistic to be quoted back. Where a figure comes from a public source the source
is named; otherwise it is marked [judgement].

Age curves are given as (age, value) knots and interpolated linearly to single years
0..110. Condition curves are *cumulative* ("ever diagnosed by this age"), so onset ages can
be drawn by inverting them; they are scaled at run time so that the crude prevalence over the
English 2016 registered population matches the target (see `careis.synth.model`). Hospital
and mortality curves are age-specific rates; individual risk multipliers only redistribute
them between patients of the same age (they are normalised in every practice and year).

Calibration status (400 random English practices x 0.25, scheme off, trend 0; seed 42):
emergency admissions 99-100 per 1,000 a year, A&E 368, elective 121, deaths 9.4-9.7;
prevalences within 0.2 points of the QOF targets; eFI 65+ fit 48% / mild 36% / moderate 12%
/ severe 3%; polypharmacy 39% of 65+; care home 0.8% of 65+ and 3.9% of 85+; latest HbA1c
<= 58 in 63% of diabetics. Emergency admissions per 1,000 by age: under 1 ~200, 1-4 ~120,
5-14 ~45, 15-44 ~57, 45-64 ~83, 65-74 ~145, 75-84 ~260, 85+ ~500.

Sources
- QOF 2023/24 (NHS Digital, Quality and Outcomes Framework, England): crude register
  prevalences used as targets (hypertension 14.8%, diabetes 7.7% of 17+, asthma 6.5%, CHD 3.0%,
  COPD 1.9%, AF 2.2%, CKD 3-5 4.1% of 18+, heart failure 1.1%, stroke/TIA 1.9%, dementia 0.7%,
  cancer 3.6%, depression 13.2% of 18+). Shapes by age follow Health Survey for England and
  published age-specific QOF/CPRD prevalence patterns [judgement for the knot values].
- Emergency admissions: NHS England/NHS Digital Hospital Episode Statistics, about 100
  emergency admissions per 1,000 registered patients a year (DOMAIN.md section 8), steeply
  rising with age and high in infants; winter peak; ~70% arrive via A&E (method 21).
- A&E: NHS England A&E attendances and emergency admissions statistics, roughly 25-27 million
  attendances a year in England (about 400 per 1,000); type 1 about two thirds; summer peak.
- Mortality: ONS National life tables, England 2020-22 (q_x, rounded) [knots approximate].
- Fertility: ONS Births in England and Wales 2022 (general fertility rate ~52 per 1,000
  women aged 15-44; age-specific rates rounded).
- Registration churn: NHS Digital "Patients Registered at a GP Practice" shows lists turning
  over ~5-7% a year; young adults move most [judgement for the age shape].
- eFI: Clegg et al. 2016, Age and Ageing 45(3):353-360: 36 deficits, categories fit (<=0.12),
  mild (0.12-0.24], moderate (0.24-0.36], severe (>0.36); in 65+ about 50/35/12/3%.
- Care homes: the brief's figures (0.6% of 65+, 4% of 85+) rather than Census 2021 (higher).
- Care-home residents 65+: 0.70 emergency admissions per person-year (Health Foundation 2019,
  DOMAIN.md section 8) motivates the care-home multiplier.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from careis.codelists import EFI_DEFICIT_LISTS
from careis.codelists import EFI_TOTAL as _EFI_TOTAL

MAX_AGE: Final = 110
AGES: Final = np.arange(MAX_AGE + 1, dtype=np.float64)

Knots = tuple[tuple[float, float], ...]


def curve(knots: Knots) -> NDArray[np.float64]:
    """A knot list interpolated to single years of age 0..MAX_AGE."""
    xs = np.array([k[0] for k in knots], dtype=np.float64)
    ys = np.array([k[1] for k in knots], dtype=np.float64)
    return np.interp(AGES, xs, ys)


# --------------------------------------------------------------------------- conditions
CONDITIONS: Final = (
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


class ConditionSpec:
    """Shape, target and correlation structure of one long-term condition."""

    def __init__(
        self,
        name: str,
        knots: Knots,
        target: float,
        *,
        min_age: int = 0,
        male: float = 1.0,
        female: float = 1.0,
        rho: float = 0.45,
        deprivation: float = 0.15,
    ) -> None:
        self.name = name
        self.shape = curve(knots)  # cumulative, relative; scaled to `target` at run time
        self.target = target  # crude prevalence among registered patients aged >= min_age
        self.min_age = min_age
        self.male = male  # sex multipliers of the curve
        self.female = female
        self.rho = rho  # loading on the latent health factor z (liability scale)
        self.deprivation = deprivation  # liability shift per unit of deprivation in [-1, 1]


CONDITION_SPECS: Final[dict[str, ConditionSpec]] = {
    s.name: s
    for s in (
        ConditionSpec(
            "diabetes",
            ((0, 0.0005), (10, 0.002), (17, 0.004), (25, 0.01), (35, 0.025), (45, 0.06),
             (55, 0.11), (65, 0.16), (75, 0.19), (110, 0.19)),
            0.075, male=1.2, female=0.8, rho=0.45, deprivation=0.25,
        ),
        ConditionSpec(
            "copd",
            ((0, 0.0), (35, 0.0), (40, 0.002), (50, 0.01), (60, 0.035), (70, 0.065),
             (80, 0.085), (110, 0.09)),
            0.019, male=1.1, female=0.9, rho=0.5, deprivation=0.4,
        ),
        ConditionSpec(
            "asthma",
            ((0, 0.0), (3, 0.02), (8, 0.06), (15, 0.08), (30, 0.085), (60, 0.09), (110, 0.095)),
            0.065, male=0.95, female=1.05, rho=0.25, deprivation=0.1,
        ),
        ConditionSpec(
            "heart_failure",
            ((0, 0.0), (40, 0.0005), (50, 0.002), (60, 0.007), (70, 0.02), (80, 0.05),
             (90, 0.09), (110, 0.1)),
            0.010, male=1.2, female=0.8, rho=0.55, deprivation=0.2,
        ),
        ConditionSpec(
            "chd",
            ((0, 0.0), (35, 0.001), (45, 0.008), (55, 0.03), (65, 0.07), (75, 0.13),
             (85, 0.19), (110, 0.22)),
            0.030, male=1.45, female=0.6, rho=0.5, deprivation=0.25,
        ),
        ConditionSpec(
            "af",
            ((0, 0.0), (40, 0.001), (50, 0.005), (60, 0.017), (70, 0.05), (80, 0.11),
             (90, 0.17), (110, 0.18)),
            0.022, male=1.25, female=0.8, rho=0.4, deprivation=0.0,
        ),
        ConditionSpec(
            "hypertension",
            ((0, 0.0), (17, 0.001), (25, 0.01), (35, 0.035), (45, 0.09), (55, 0.2),
             (65, 0.36), (75, 0.5), (85, 0.6), (110, 0.62)),
            0.140, male=1.05, female=0.95, rho=0.35, deprivation=0.1,
        ),
        ConditionSpec(
            "ckd",
            ((0, 0.0), (18, 0.0), (30, 0.002), (40, 0.005), (50, 0.015), (60, 0.04),
             (70, 0.1), (80, 0.2), (90, 0.32), (110, 0.35)),
            0.040, min_age=18, male=0.85, female=1.15, rho=0.45, deprivation=0.1,
        ),
        ConditionSpec(
            "stroke_tia",
            ((0, 0.0), (30, 0.001), (45, 0.005), (55, 0.013), (65, 0.03), (75, 0.06),
             (85, 0.1), (110, 0.12)),
            0.019, male=1.1, female=0.9, rho=0.45, deprivation=0.15,
        ),
        ConditionSpec(
            "dementia",
            ((0, 0.0), (55, 0.0005), (65, 0.006), (70, 0.013), (75, 0.03), (80, 0.06),
             (85, 0.11), (90, 0.2), (110, 0.33)),
            0.007, male=0.85, female=1.1, rho=0.4, deprivation=0.1,
        ),
        ConditionSpec(
            "cancer",
            ((0, 0.0), (20, 0.001), (30, 0.004), (40, 0.01), (50, 0.025), (60, 0.05),
             (70, 0.09), (80, 0.13), (90, 0.15), (110, 0.15)),
            0.035, rho=0.2, deprivation=0.05,
        ),
        ConditionSpec(
            "depression",
            ((0, 0.0), (12, 0.0), (16, 0.03), (20, 0.09), (25, 0.13), (35, 0.17), (45, 0.19),
             (60, 0.2), (110, 0.2)),
            0.13, min_age=18, male=0.7, female=1.3, rho=0.3, deprivation=0.25,
        ),
    )
}  # fmt: skip

# --------------------------------------------------------------------------- frailty (eFI)
# The 35 code-list deficits of Clegg 2016 (polypharmacy, the 36th, comes from medicine issues).
EFI_DEFICITS: Final = EFI_DEFICIT_LISTS
EFI_TOTAL: Final = _EFI_TOTAL

# Deficits implied by a diagnosed condition (the deficit is present from the diagnosis date).
DEFICIT_CONDITIONS: Final[dict[str, tuple[str, ...]]] = {
    "efi_atrial_fibrillation": ("af",),
    "efi_cerebrovascular_disease": ("stroke_tia",),
    "efi_chronic_kidney_disease": ("ckd",),
    "efi_diabetes": ("diabetes",),
    "efi_heart_failure": ("heart_failure",),
    "efi_hypertension": ("hypertension",),
    "efi_ischaemic_heart_disease": ("chd",),
    "efi_memory_cognitive_problems": ("dementia",),
    "efi_respiratory_disease": ("copd", "asthma"),
}

# Relative frequency of the other deficits in older people [judgement, ordered as in the
# Clegg 2016 development cohort: arthritis, sensory impairment and dyspnoea commonest;
# parkinsonism, housebound and skin ulcer rarest]. Female multipliers where clearly sex-linked.
DEFICIT_WEIGHTS: Final[dict[str, float]] = {
    "efi_activity_limitation": 6.0,
    "efi_anaemia": 10.0,
    "efi_arthritis": 40.0,
    "efi_dizziness": 14.0,
    "efi_dyspnoea": 18.0,
    "efi_falls": 11.0,
    "efi_foot_problems": 14.0,
    "efi_fragility_fracture": 5.0,
    "efi_hearing_impairment": 24.0,
    "efi_heart_valve_disease": 5.0,
    "efi_housebound": 3.0,
    "efi_hypotension_syncope": 7.0,
    "efi_memory_cognitive_problems": 6.0,
    "efi_mobility_transfer_problems": 6.0,
    "efi_osteoporosis": 10.0,
    "efi_parkinsonism_tremor": 2.0,
    "efi_peptic_ulcer": 9.0,
    "efi_peripheral_vascular_disease": 4.0,
    "efi_requirement_for_care": 4.0,
    "efi_respiratory_disease": 8.0,
    "efi_skin_ulcer": 4.0,
    "efi_sleep_disturbance": 14.0,
    "efi_social_vulnerability": 6.0,
    "efi_thyroid_disease": 10.0,
    "efi_urinary_incontinence": 11.0,
    "efi_urinary_system_disease": 11.0,
    "efi_visual_impairment": 22.0,
    "efi_weight_loss_anorexia": 4.0,
}
DEFICIT_FEMALE: Final[dict[str, float]] = {
    "efi_osteoporosis": 2.5,
    "efi_thyroid_disease": 2.5,
    "efi_urinary_incontinence": 1.6,
    "efi_fragility_fracture": 1.8,
}
# "Other" deficits accrue as a Poisson process in age whose cumulative intensity is
#   exp(a + c*z + d*conditions + e*deprivation) * (exp(b*(age-65)/10) - exp(b*(18-65)/10)),
# so the number present at any age is Poisson with that mean and the years themselves add no
# drift. Calibrated so that the 65+ eFI distribution is about fit 50%, mild 35%, moderate
# 12%, severe 3-4% (Clegg 2016).
DEFICIT_LOG_MEAN: Final = 1.1
DEFICIT_AGE_SLOPE: Final = 0.25  # per 10 years
DEFICIT_Z: Final = 0.2
DEFICIT_PER_CONDITION: Final = 0.08
DEFICIT_DEPRIVATION: Final = 0.12
DEFICIT_MIN_AGE: Final = 18

# Repeat medicines: also a Poisson process in age, cumulative intensity
#   exp(a + b*conditions + c*z) * shape(age),
# with the shape rising steeply from middle age [calibrated: 5+ medicines in ~40% of 65+].
MED_LOG_MEAN: Final = -1.05
MED_PER_CONDITION: Final = 0.3
MED_Z: Final = 0.25
MED_AGE_KNOTS: Final[Knots] = (
    (0, 0.0), (10, 0.08), (18, 0.25), (30, 0.8), (40, 1.0), (50, 1.8), (60, 3.3), (70, 5.9),
    (75, 8.0), (85, 8.6), (110, 9.0),
)  # fmt: skip
MED_ISSUE_INTERVAL_DAYS: Final = 182  # one issue about every six months (1-2 a year)
MED_ISSUE_JITTER_DAYS: Final = 12

# --------------------------------------------------------------------------- care homes
# Probability of having moved into a care home by each age (cumulative), before the
# dementia (x4) and severe-frailty (x2) multipliers.
CARE_HOME_KNOTS: Final[Knots] = ((0, 0.0), (64, 0.0), (65, 0.0003), (75, 0.0009), (85, 0.017),
                                 (95, 0.07), (110, 0.09))  # fmt: skip
CARE_HOME_DEMENTIA: Final = 4.0
CARE_HOME_SEVERE_FRAILTY: Final = 2.0

# --------------------------------------------------------------------------- hospital use
# Emergency admissions per person-year, before the individual risk multiplier (which is
# normalised to mean 1 at each age) [knots approximate HES 2019/20 age-specific rates].
EMERGENCY_KNOTS: Final[Knots] = (
    (0, 0.36), (1, 0.15), (4, 0.075), (10, 0.045), (16, 0.06), (20, 0.07), (30, 0.065),
    (40, 0.07), (50, 0.085), (60, 0.115), (65, 0.14), (70, 0.18), (75, 0.24), (80, 0.33),
    (85, 0.52), (90, 0.72), (110, 0.85),
)  # fmt: skip
# Unexplained practice-to-practice variation in emergency and A&E use (log-normal sd).
PRACTICE_EFFECT_SD: Final = 0.08
# log-risk weights for the individual multiplier.
EMERGENCY_Z: Final = 0.45
EMERGENCY_DEPRIVATION: Final = 0.25
EMERGENCY_CARE_HOME: Final = 0.6
EMERGENCY_PER_DEFICIT: Final = 0.05
EMERGENCY_CONDITION: Final[dict[str, float]] = {
    "diabetes": 0.25,
    "copd": 0.6,
    "asthma": 0.2,
    "heart_failure": 0.7,
    "chd": 0.3,
    "af": 0.3,
    "hypertension": 0.05,
    "ckd": 0.35,
    "stroke_tia": 0.3,
    "dementia": 0.45,
    "cancer": 0.5,
    "depression": 0.2,
}
# Share of emergency admissions by method (HES, 2013/14 onward codes; 28 is legacy and rare).
EMERGENCY_METHODS: Final[dict[str, float]] = {
    "21": 0.70,
    "22": 0.11,
    "23": 0.01,
    "24": 0.06,
    "25": 0.005,
    "2A": 0.03,
    "2B": 0.025,
    "2D": 0.035,
    "28": 0.005,
}
HOME_BIRTH_SHARE: Final = 0.05  # of emergency admissions in the first weeks of life: 2C
SEASON_EMERGENCY: Final = 0.1  # amplitude of the winter peak (mid January)
SEASON_AE: Final = 0.06  # A&E peaks in early summer (mid June)

# Primary emergency admissions per realised emergency admission (readmissions, moved and
# cut spells), measured on a 400-practice England sample with the scheme off.
EMERGENCY_PRIMARY_SHARE: Final = 0.905
ELECTIVE_REALISED_ADJUSTMENT: Final = 0.9

# 30-day emergency readmission probability: base + per condition, capped [judgement; England
# ~14% of emergency admissions are followed by one within 30 days].
READMIT_BASE: Final = 0.075
READMIT_PER_CONDITION: Final = 0.02
READMIT_MAX: Final = 0.3

# Length of stay: share of zero-day stays falls with age; mean of the rest rises with age.
LOS_ZERO_YOUNG: Final = 0.38
LOS_ZERO_OLD: Final = 0.14
LOS_MEAN_YOUNG: Final = 2.5
LOS_MEAN_OLD: Final = 12.0

# Probability of dying within 30 days of an emergency admission, by age.
POST_ADMISSION_DEATH_KNOTS: Final[Knots] = (
    (0, 0.002), (40, 0.003), (60, 0.015), (75, 0.04), (85, 0.08), (95, 0.14), (110, 0.2),
)  # fmt: skip

# Elective admissions (incl. day cases) per person-year by age [HES, approximate].
ELECTIVE_KNOTS: Final[Knots] = (
    (0, 0.03), (15, 0.04), (30, 0.07), (45, 0.12), (55, 0.17), (65, 0.26), (75, 0.3),
    (85, 0.2), (110, 0.12),
)  # fmt: skip
ELECTIVE_METHODS: Final[dict[str, float]] = {"11": 0.45, "12": 0.35, "13": 0.20}
ELECTIVE_DAY_CASE: Final = 0.75

# Deliveries per woman-year by age (ONS 2022 age-specific fertility, rounded).
FERTILITY_KNOTS: Final[Knots] = (
    (0, 0.0), (15, 0.0), (16, 0.005), (18, 0.012), (22, 0.045), (27, 0.075), (32, 0.1),
    (37, 0.06), (42, 0.015), (45, 0.003), (46, 0.0), (110, 0.0),
)  # fmt: skip
# A&E attendances NOT ending in admission, per person-year by age [NHS England A&E statistics,
# approximate shape: high in infants, young adults and the very old].
AE_KNOTS: Final[Knots] = (
    (0, 0.52), (2, 0.42), (5, 0.28), (12, 0.26), (17, 0.39), (25, 0.4), (35, 0.32),
    (45, 0.28), (55, 0.25), (65, 0.24), (75, 0.28), (85, 0.4), (95, 0.5), (110, 0.5),
)  # fmt: skip
AE_Z: Final = 0.3
AE_DEPRIVATION: Final = 0.2
AE_CARE_HOME: Final = 0.4
AE_PER_CONDITION: Final = 0.08
AE_TYPES: Final[dict[str, float]] = {"1": 0.66, "2": 0.02, "3": 0.29, "4": 0.03}

# --------------------------------------------------------------------------- deaths
# Annual probability of death by age, persons [ONS National life tables England 2020-22,
# rounded]; male x1.2, female x0.85.
MORTALITY_KNOTS: Final[Knots] = (
    (0, 0.0035), (1, 0.0002), (10, 0.0001), (20, 0.0004), (30, 0.0007), (40, 0.0013),
    (50, 0.0028), (60, 0.0065), (70, 0.016), (80, 0.045), (90, 0.14), (100, 0.38),
    (110, 0.5),
)  # fmt: skip
MORTALITY_MALE: Final = 1.2
MORTALITY_FEMALE: Final = 0.85
MORTALITY_Z: Final = 0.35
MORTALITY_DEPRIVATION: Final = 0.2
MORTALITY_PER_DEFICIT: Final = 0.07
MORTALITY_CARE_HOME: Final = 0.9
MORTALITY_CONDITION: Final[dict[str, float]] = {
    "heart_failure": 0.8,
    "cancer": 0.9,
    "dementia": 0.9,
    "copd": 0.6,
    "ckd": 0.4,
    "stroke_tia": 0.3,
    "diabetes": 0.2,
    "chd": 0.2,
    "af": 0.2,
}
# Years simulated before the first written one. Deaths take the frailest first, so a freshly
# drawn population loses a little of its hospital use in its first year; simulating one year
# before the written ones keeps the written years free of that start-up drift (outputs
# include that year only as history: registrations, diagnoses and care plans dated before).
BURN_IN_YEARS: Final = 2
# Survivors are healthier: z at age a is shifted by -SURVIVOR_Z x cumulative hazard to a.
SURVIVOR_Z: Final = 0.4
# Share of the life-table hazard applied directly; deaths after admission come on top (the
# individual multipliers, normalised at full frailty, run lower in earlier years).
MORTALITY_BASE_SHARE: Final = 0.68

# --------------------------------------------------------------------------- churn
# Relative chance of leaving a practice (moving away) by age; scaled to the configured rate.
MOBILITY_KNOTS: Final[Knots] = (
    (0, 1.2), (4, 1.0), (10, 0.7), (17, 0.9), (20, 2.6), (25, 2.4), (32, 1.7), (40, 1.0),
    (50, 0.55), (65, 0.35), (80, 0.35), (90, 0.5), (110, 0.5),
)  # fmt: skip
GENERAL_FERTILITY: Final = 0.055  # births per woman aged 15-44 per year

# --------------------------------------------------------------------------- hospital codes
# Primary-diagnosis categories (ICD-10, written as HES/SUS do: 4 characters, no dot, X filler).
# weight_by_age: base weights at ages 0, 5, 20, 45, 70, 90; conditions add weight when present.
DIAGNOSIS_CATEGORIES: Final[dict[str, tuple[tuple[str, ...], tuple[float, ...]]]] = {
    "infant": (("J219", "P599", "R509", "R628", "J069", "A099"), (30, 0, 0, 0, 0, 0)),
    "uri_child": (("J069", "J038", "R509", "H669", "J050"), (12, 10, 1, 0.5, 0.2, 0.1)),
    "gastro": (("A099", "A084", "E86X", "K529"), (8, 6, 3, 3, 3, 3)),
    "injury": (("S060", "S525", "S628", "S828", "T149", "S934", "S018"), (3, 12, 12, 6, 3, 2)),
    "abdominal": (("R104", "R103", "K358", "K802", "K566", "K297", "K859"), (1, 6, 14, 12, 6, 4)),
    "chest_pain": (("R074", "R073", "R072"), (0, 0.5, 6, 10, 6, 3)),
    "mental_health": (("F329", "F411", "T391", "F100", "X619"), (0, 0.5, 6, 4, 1, 0.5)),
    "pneumonia": (("J189", "J181", "J22X", "J440"), (4, 1, 2, 4, 12, 16)),
    "uti": (("N390", "N10X", "N300"), (1, 1, 2, 2, 6, 10)),
    "falls_fracture": (("S720", "S721", "S722", "S324", "S422", "R296"), (0, 0.5, 0.5, 1, 6, 14)),
    "cellulitis": (("L031", "L039", "L089"), (0.5, 1, 2, 3, 3, 3)),
    "syncope_delirium": (("R55X", "R410", "F059", "R54X"), (0, 0.2, 1, 1.5, 4, 8)),
    "sepsis": (("A419", "A415"), (1, 0.2, 0.5, 1, 3, 4)),
    "vte_gi_bleed": (("I269", "I802", "K922", "D649"), (0, 0.1, 1, 2, 3, 3)),
    "other": (("R69X", "R53X", "G409", "E871", "R11X", "K590"), (4, 4, 6, 6, 6, 6)),
    "obstetric": (("O200", "O210", "O039", "O234"), (0, 0, 5, 1, 0, 0)),
    "copd": (("J441", "J440", "J449"), (0, 0, 0, 0, 0, 0)),
    "heart_failure": (("I500", "I501", "I509"), (0, 0, 0, 0, 0, 0)),
    "diabetes": (("E116", "E119", "E101", "E162", "E115"), (0, 0, 0, 0, 0, 0)),
    "af": (("I480", "I481", "I489"), (0, 0, 0, 0, 0, 0)),
    "chd": (("I214", "I210", "I200", "I209", "I251"), (0, 0, 0, 0, 0, 0)),
    "stroke": (("I639", "I619", "G459", "I64X"), (0, 0, 0, 0, 0, 0)),
    "asthma": (("J459", "J46X"), (0, 0, 0, 0, 0, 0)),
    "dementia": (("F03X", "F051", "F009"), (0, 0, 0, 0, 0, 0)),
    "ckd": (("N179", "N185", "E875"), (0, 0, 0, 0, 0, 0)),
    "cancer": (("C349", "C189", "C509", "C61X", "C780", "D709"), (0, 0, 0, 0, 0, 0)),
}
DIAGNOSIS_AGES: Final = (0.0, 5.0, 20.0, 45.0, 70.0, 90.0)
# Extra weight a category gets when the patient has the condition.
DIAGNOSIS_CONDITION_WEIGHT: Final[dict[str, tuple[str, float]]] = {
    "copd": ("copd", 30.0),
    "heart_failure": ("heart_failure", 40.0),
    "diabetes": ("diabetes", 5.0),
    "af": ("af", 8.0),
    "chd": ("chd", 12.0),
    "stroke_tia": ("stroke", 8.0),
    "asthma": ("asthma", 6.0),
    "dementia": ("dementia", 8.0),
    "ckd": ("ckd", 5.0),
    "cancer": ("cancer", 20.0),
    "depression": ("mental_health", 4.0),
}
ELECTIVE_DIAGNOSES: Final[tuple[tuple[str, float, float, str], ...]] = (
    # code, min age, max age, sex ("" = any)
    ("J350", 2, 15, ""),
    ("K029", 2, 15, ""),
    ("H653", 1, 10, ""),
    ("K409", 1, 100, ""),
    ("K802", 25, 100, ""),
    ("K219", 30, 100, ""),
    ("D126", 45, 100, ""),
    ("M171", 50, 100, ""),
    ("M161", 50, 100, ""),
    ("H259", 60, 110, ""),
    ("N40X", 55, 110, "M"),
    ("N811", 40, 90, "F"),
    ("D259", 30, 55, "F"),
    ("G560", 30, 80, ""),
    ("M232", 20, 70, ""),
    ("Z511", 30, 95, ""),
    ("C189", 50, 100, ""),
    ("C509", 35, 100, "F"),
    ("C61X", 55, 100, "M"),
)  # fmt: skip
MATERNITY_DIAGNOSES: Final[dict[str, float]] = {
    "O800": 0.45,
    "O820": 0.12,
    "O821": 0.13,
    "O702": 0.05,
    "O48X": 0.08,
    "O622": 0.05,
    "O342": 0.07,
    "O479": 0.05,
}

# --------------------------------------------------------------------------- providers
# Real acute trusts (ODS codes seen with type 1 A&E activity in NHS England's A&E statistics
# 2016-19), grouped by NHS England region. Each sub-ICB is given one of its region's trusts as
# its main provider; the assignment is synthetic, not the real catchment.
PROVIDERS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "Y56": (
        ("RJ1", "Guy's and St Thomas' NHS Foundation Trust"),
        ("R1H", "Barts Health NHS Trust"),
        ("RAL", "Royal Free London NHS Foundation Trust"),
        ("RYJ", "Imperial College Healthcare NHS Trust"),
        ("RJZ", "King's College Hospital NHS Foundation Trust"),
        ("RJ7", "St George's University Hospitals NHS Foundation Trust"),
    ),
    "Y58": (
        ("RA7", "University Hospitals Bristol and Weston NHS Foundation Trust"),
        ("REF", "Royal Cornwall Hospitals NHS Trust"),
        ("RH8", "Royal Devon University Healthcare NHS Foundation Trust"),
        ("RK9", "University Hospitals Plymouth NHS Trust"),
        ("RTE", "Gloucestershire Hospitals NHS Foundation Trust"),
    ),
    "Y59": (
        ("RTH", "Oxford University Hospitals NHS Foundation Trust"),
        ("RHM", "University Hospital Southampton NHS Foundation Trust"),
        ("RXH", "University Hospitals Sussex NHS Foundation Trust"),
        ("RN5", "Hampshire Hospitals NHS Foundation Trust"),
        ("RPA", "Medway NHS Foundation Trust"),
        ("RVV", "East Kent Hospitals University NHS Foundation Trust"),
    ),
    "Y60": (
        ("RRK", "University Hospitals Birmingham NHS Foundation Trust"),
        ("RWE", "University Hospitals of Leicester NHS Trust"),
        ("RX1", "Nottingham University Hospitals NHS Trust"),
        ("RTG", "University Hospitals of Derby and Burton NHS Foundation Trust"),
        ("RKB", "University Hospitals Coventry and Warwickshire NHS Trust"),
        ("RJE", "University Hospitals of North Midlands NHS Trust"),
    ),
    "Y61": (
        ("RGT", "Cambridge University Hospitals NHS Foundation Trust"),
        ("RM1", "Norfolk and Norwich University Hospitals NHS Foundation Trust"),
        ("RAJ", "Mid and South Essex NHS Foundation Trust"),
        ("RWG", "West Hertfordshire Teaching Hospitals NHS Trust"),
        ("RGN", "North West Anglia NHS Foundation Trust"),
        ("RDE", "East Suffolk and North Essex NHS Foundation Trust"),
    ),
    "Y62": (
        ("RMC", "Bolton NHS Foundation Trust"),
        ("R0A", "Manchester University NHS Foundation Trust"),
        ("RM3", "Northern Care Alliance NHS Foundation Trust"),
        ("RWJ", "Stockport NHS Foundation Trust"),
        ("RXN", "Lancashire Teaching Hospitals NHS Foundation Trust"),
        ("RXL", "Blackpool Teaching Hospitals NHS Foundation Trust"),
        ("REM", "Liverpool University Hospitals NHS Foundation Trust"),
        ("RBL", "Wirral University Teaching Hospital NHS Foundation Trust"),
    ),
    "Y63": (
        ("RTD", "The Newcastle upon Tyne Hospitals NHS Foundation Trust"),
        ("RR8", "Leeds Teaching Hospitals NHS Trust"),
        ("RHQ", "Sheffield Teaching Hospitals NHS Foundation Trust"),
        ("RCB", "York and Scarborough Teaching Hospitals NHS Foundation Trust"),
        ("RWA", "Hull University Teaching Hospitals NHS Trust"),
        ("RXP", "County Durham and Darlington NHS Foundation Trust"),
    ),
}
# Known main trusts for a few sub-ICBs, so the demo area looks right (others are assigned).
MAIN_PROVIDER: Final[dict[str, str]] = {"00T": "RMC"}
PROVIDER_SHARES: Final = (0.8, 0.12, 0.08)  # main, second, third provider of a practice
