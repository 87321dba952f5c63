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


def register(scored: Table, *, percent: float, min_age: int) -> Table:
    """Rows of `scored` (needs practice_code, patient_id, age, risk_score,
    prior_emergency_admissions) that are on the register, with `register_rank` (1 = highest)
    and `register_size` (the practice's target size)."""
    adults = scored.filter(scored.age >= min_age)
    target = sizes(scored, percent=percent, min_age=min_age)
    window = ibis.window(
        group_by=adults.practice_code,
        order_by=[
            ibis.desc(adults.risk_score),
            ibis.desc(adults.prior_emergency_admissions),
            ibis.desc(adults.age),
            adults.patient_id,
        ],
    )
    ranked = adults.mutate(register_rank=(ibis.row_number().over(window) + 1).cast("int64"))
    ranked = ranked.join(target, "practice_code")
    return ranked.filter(ranked.register_rank <= ranked.register_size)
