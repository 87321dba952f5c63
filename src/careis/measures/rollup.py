"""Rolling practice results up to PCN, federation, sub-ICB and ICB.

Why here and not in each measure: the rule is the same for every measure and it is easy to get
wrong. Numerators and denominators are *summed* up the hierarchy and the value recomputed
(never an average of practice percentages), and each practice's figures go to the group it
belonged to *on the date they relate to* (memberships are effective-dated: a practice that
moved PCN in October counts towards the old PCN for April-September and the new one after).
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table

from careis.facts.population import OPEN_END


def memberships_as_of(memberships: Table, rows: Table, date_col: str) -> Table:
    """Join each practice row to the groups its practice belonged to on `rows[date_col]`.

    Adds `group_type` and `group_code`; a row fans out to one row per group type.
    """
    m = memberships.select(
        m_practice="practice_code",
        group_type="group_type",
        group_code="group_code",
        m_from="valid_from",
        m_to="valid_to",
    )
    day = rows[date_col]
    joined = rows.join(
        m,
        [
            rows.practice_code == m.m_practice,
            day >= m.m_from,
            day <= m.m_to.coalesce(ibis.literal(OPEN_END)),
        ],
    )
    return joined.drop("m_practice", "m_from", "m_to")


def roll_up(practice_rows: Table, memberships: Table, date_col: str, keys: list[str]) -> Table:
    """Sum numerator and denominator of practice rows into every group level.

    `practice_rows` has practice_code, `date_col`, the `keys` (e.g. measure_id, period) and
    numeric numerator/denominator. Returns keys + level, org_code, numerator, denominator for
    the practice level and every group level found in `memberships`.
    """
    practice = practice_rows.group_by([*keys, "practice_code"]).aggregate(
        numerator=practice_rows.numerator.sum(), denominator=practice_rows.denominator.sum()
    )
    practice = practice.mutate(
        level=ibis.literal("practice"), org_code=practice.practice_code
    ).drop("practice_code")
    grouped = memberships_as_of(memberships, practice_rows, date_col)
    groups = grouped.group_by([*keys, "group_type", "group_code"]).aggregate(
        numerator=grouped.numerator.sum(), denominator=grouped.denominator.sum()
    )
    groups = groups.rename(level="group_type", org_code="group_code")
    cols = [*keys, "level", "org_code", "numerator", "denominator"]
    return practice.select(cols).union(groups.select(cols))
