"""The case-finding register: the top N% of each practice's adults by risk.

Why per practice and "top N%": the Avoiding Unplanned Admissions enhanced service required
each practice to hold at least 2% of its adults on a case-management register. A single
ICB-wide cut would fill the register from the practices with the oldest lists and leave
others with almost none. Register size is rounded *up* (at least 2%), and ties at the cut are
broken by more recent emergency admissions, then age, then pseudonym, so the register is
deterministic.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table


def sizes(scored: Table, *, percent: float, min_age: int) -> Table:
    """practice_code, adults, register_size (ceil(percent% of adults)) per practice."""
    adults = scored.filter(scored.age >= min_age)
    counts = adults.group_by("practice_code").aggregate(adults=lambda t: t.count())
    return counts.mutate(register_size=(counts.adults * percent / 100.0).ceil().cast("int64"))


def _ranked(scored: Table, *, min_age: int) -> Table:
    """Adults of `scored` with `register_rank` within their practice (1 = highest risk)."""
    adults = scored.filter(scored.age >= min_age)
    window = ibis.window(
        group_by=adults.practice_code,
        order_by=[
            ibis.desc(adults.risk_score),
            ibis.desc(adults.prior_emergency_admissions),
            ibis.desc(adults.age),
            adults.patient_id,
        ],
    )
    return adults.mutate(register_rank=(ibis.row_number().over(window) + 1).cast("int64"))


def register(scored: Table, *, percent: float, min_age: int) -> Table:
    """Rows of `scored` (needs practice_code, patient_id, age, risk_score,
    prior_emergency_admissions) that are on the register, with `register_rank` (1 = highest)
    and `register_size` (the practice's target size)."""
    target = sizes(scored, percent=percent, min_age=min_age)
    ranked = _ranked(scored, min_age=min_age).join(target, "practice_code")
    return ranked.filter(ranked.register_rank <= ranked.register_size)


#: Risk tiers handed to the measures as the cohort 'risk_tier': (category, top % of adults).
#: 'very_high' is the register itself (its percent replaces the 2 here).
TIERS: tuple[tuple[str, float], ...] = (("very_high", 2.0), ("high", 5.0), ("moderate", 20.0))


def tiers(scored: Table, *, percent: float, min_age: int) -> Table:
    """patient_id, practice_code, category: every adult's risk tier within their practice.

    Same ranking and rounding-up as the register, so 'very_high' is exactly the register;
    'high' reaches the top 5% of the practice's adults, 'moderate' the top 20%, the rest are
    'low'. Why tiers per practice: measures such as "A&E use of the top 5%" then compare like
    with like across practices, as the register does.
    """
    ranked = _ranked(scored, min_age=min_age)
    n = ranked.patient_id.count().over(ibis.window(group_by=ranked.practice_code))
    cuts = [(name, max(percent, p) if name != "very_high" else percent) for name, p in TIERS]
    category = ibis.cases(
        *[(ranked.register_rank <= (n * p / 100.0).ceil(), name) for name, p in cuts],
        else_="low",
    )
    return ranked.select("patient_id", "practice_code", category=category)
