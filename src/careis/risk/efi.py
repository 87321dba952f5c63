"""The electronic Frailty Index (eFI; Clegg et al., Age and Ageing 2016;45(3):353-360).

Why the eFI: since 2017 the GP contract asks practices to identify moderately and severely
frail patients aged 65+ with it, so commissioners and clinicians already know how to read it.
It is a cumulative-deficit index: 36 deficits, each present or absent, and the score is the
share present (deficits / 36). 35 deficits are code-based (`efi_<deficit>` code lists, which
users can replace with their own); the 36th, polypharmacy, is 5 or more distinct medicines
issued in the 12 months before the index date (the `medicines` code list, dm+d).

Categories use the published cut-offs on the score: fit <= 0.12 < mild <= 0.24 < moderate
<= 0.36 < severe. Because the score is deficits / 36, the boundaries are applied on the whole
deficit count, exactly, with rational arithmetic (0.12 x 36 = 4.32, so 4 deficits are fit and
5 are mild; 8 mild / 9 moderate; 12 moderate / 13 severe); a float comparison such as
`9 / 36 > 0.24` would be right here by luck, not by construction.

A deficit counts when any of its codes is recorded on or before the index date (the eFI looks
at the whole record: a fracture or a stroke stays a deficit). Nothing after the index date is
read. Value-based rules (e.g. anaemia from a haemoglobin result) are not part of the validated
eFI and are not applied (docs/risk.md lists them as possible extensions).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from fractions import Fraction

import ibis
from ibis.expr.types import Table

from careis.codelists import EFI_DEFICIT_LISTS, EFI_TOTAL, CodelistLibrary
from careis.facts.patient import codelist_table
from careis.facts.population import age_on, registered_on

#: The 35 code-based deficits, in the order of the paper's table (careis list names).
CODED_DEFICITS: tuple[str, ...] = EFI_DEFICIT_LISTS
N_DEFICITS = EFI_TOTAL
POLYPHARMACY_MIN = 5
MEDICINES_LIST = "medicines"

#: (category, upper bound of the score, inclusive); the last category has no upper bound.
CUTOFFS: tuple[tuple[str, Fraction], ...] = (
    ("fit", Fraction(12, 100)),
    ("mild", Fraction(24, 100)),
    ("moderate", Fraction(36, 100)),
)
CATEGORIES: tuple[str, ...] = ("fit", "mild", "moderate", "severe")
MIN_AGE = 65


def max_deficits(bound: Fraction) -> int:
    """The largest whole deficit count whose score (count / 36) is at most `bound`."""
    return math.floor(bound * N_DEFICITS)


def category_of(deficits: int) -> str:
    """The eFI category of a deficit count (pure Python; the engine uses the same bounds)."""
    for name, bound in CUTOFFS:
        if deficits <= max_deficits(bound):
            return name
    return "severe"


def category_expr(deficits: ibis.Value) -> ibis.Value:
    """The eFI category of an integer deficit-count column, as an Ibis expression."""
    cases = [(deficits <= max_deficits(bound), name) for name, bound in CUTOFFS]
    return ibis.cases(*cases, else_="severe")


def medicines_table(library: CodelistLibrary) -> Table:
    """dm+d code -> medicine key. Why a key and not the code: dm+d re-identified many VMPs and
    the shipped list carries both identifiers with the same term, so two codes for one medicine
    must count once towards polypharmacy. The key is the term (or the code when it has none)."""
    cl = library.get(MEDICINES_LIST)
    codes = list(cl.codes)
    keys = [(cl.terms.get(c) or c).strip().lower() for c in codes]
    return ibis.memtable(
        {"med_system": [cl.system] * len(codes), "med_code": codes, "medicine": keys},
        schema={"med_system": "string", "med_code": "string", "medicine": "string"},
    )


def deficit_counts(
    events: Table,
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    medicine_days: int = 365,
) -> Table:
    """Per patient with any deficit or medicine: efi_coded (0-35), n_medicines, polypharmacy
    (0/1) and efi_deficits (0-36), from events on or before `index_date` only.

    Patients with no such records are absent; callers left-join and fill with 0.
    """
    day = ibis.literal(index_date)
    past = events.filter(events.event_date <= day)
    cl = codelist_table(library, CODED_DEFICITS)
    coded = (
        past.join(cl, [past.code_system == cl.cl_system, past.code == cl.cl_code])
        .select("patient_id", "codelist")
        .group_by("patient_id")
        .aggregate(efi_coded=lambda t: t.codelist.nunique().cast("int64"))
    )
    since = ibis.literal(index_date - dt.timedelta(days=medicine_days - 1))
    recent = past.filter(past.event_date >= since)
    med = medicines_table(library)
    meds = (
        recent.join(med, [recent.code_system == med.med_system, recent.code == med.med_code])
        .select("patient_id", "medicine")
        .group_by("patient_id")
        .aggregate(n_medicines=lambda t: t.medicine.nunique().cast("int64"))
    )
    ids = coded.select("patient_id").union(meds.select("patient_id"), distinct=True)
    out = ids.left_join(coded, ids.patient_id == coded.patient_id).drop("patient_id_right")
    out = out.left_join(meds, out.patient_id == meds.patient_id).drop("patient_id_right")
    out = out.mutate(
        efi_coded=out.efi_coded.coalesce(0).cast("int64"),
        n_medicines=out.n_medicines.coalesce(0).cast("int64"),
    )
    out = out.mutate(polypharmacy=(out.n_medicines >= POLYPHARMACY_MIN).cast("int64"))
    return out.mutate(efi_deficits=(out.efi_coded + out.polypharmacy).cast("int64"))


def with_efi(base: Table, counts: Table) -> Table:
    """`base` (one row per patient) plus efi_coded, n_medicines, polypharmacy, efi_deficits,
    efi_score and efi_category (0 deficits for patients without records: fit)."""
    out = base.left_join(counts, base.patient_id == counts.patient_id).drop("patient_id_right")
    out = out.mutate(
        efi_coded=out.efi_coded.coalesce(0),
        n_medicines=out.n_medicines.coalesce(0),
        polypharmacy=out.polypharmacy.coalesce(0),
        efi_deficits=out.efi_deficits.coalesce(0),
    )
    return out.mutate(
        efi_score=out.efi_deficits.cast("float64") / float(N_DEFICITS),
        efi_category=category_expr(out.efi_deficits),
    )


def efi(
    tables: Mapping[str, Table],
    index_date: dt.date,
    library: CodelistLibrary,
    *,
    min_age: int = MIN_AGE,
) -> Table:
    """The eFI of every patient registered, alive and aged `min_age`+ on `index_date`.

    Columns: patient_id, practice_code, age, efi_deficits, efi_score, efi_category (the cohort
    table the measures engine accepts), plus n_medicines and polypharmacy.
    """
    patients = tables["patients"]
    base = registered_on(tables["registrations"], patients, index_date)
    demo = patients.select("patient_id", "birth_month")
    base = base.join(demo, "patient_id")
    base = base.mutate(age=age_on(base.birth_month, index_date)).drop("birth_month")
    base = base.filter(base.age >= min_age)
    out = with_efi(base, deficit_counts(tables["events"], index_date, library))
    return out.select(
        "patient_id",
        "practice_code",
        "age",
        "efi_deficits",
        "efi_score",
        "efi_category",
        "n_medicines",
        "polypharmacy",
    )


def distribution(scored: Table) -> Table:
    """Aggregate: patients per practice and eFI category (no patient-level data)."""
    return scored.group_by(["practice_code", "efi_category"]).aggregate(
        patients=lambda t: t.count()
    )
