"""Which group (PCN, federation, sub-ICB...) a practice belongs to, on a day or during a term.

Why here: payments judge a practice with the group it belonged to on the contract's list-size
date, and pro-rate one that joined part-way through the term; the measures' roll-up and the
report show the same groups. These are small (one row per practice and level), so they come
back to Python as dictionaries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from careis.engine import Engine
from careis.facts.population import OPEN_END
from careis.periods import Period

#: (practice_code, group_type) -> group_code
Membership = dict[tuple[str, str], str]


def membership_on(engine: Engine, tables: dict[str, Any], day: dt.date) -> Membership:
    """Every practice's group at each level on `day`."""
    m = tables["memberships"]
    d = ibis.literal(day)
    valid = m.filter((m.valid_from <= d) & (m.valid_to.coalesce(ibis.literal(OPEN_END)) >= d))
    rows = engine.to_arrow(valid.select("practice_code", "group_type", "group_code")).to_pylist()
    return {(r["practice_code"], r["group_type"]): r["group_code"] for r in rows}


def joined_during(
    engine: Engine, tables: dict[str, Any], term: Period, membership: Membership
) -> tuple[Membership, dict[tuple[str, str], dt.date]]:
    """Practices that joined a group part-way through `term` (none on the list-size date).

    Returns `membership` with each joiner added (judged with the group it joined; the argument
    is not changed) and each joiner's first day, so pots and per-patient performance pay are
    pro-rated by days of membership.
    """
    m = tables["memberships"]
    start, end = ibis.literal(term.start), ibis.literal(term.end)
    rows = engine.to_arrow(
        m.filter((m.valid_from > start) & (m.valid_from <= end))
        .select("practice_code", "group_type", "group_code", "valid_from")
        .order_by(["practice_code", "group_type", "valid_from"])
    ).to_pylist()
    merged = dict(membership)
    joined: dict[tuple[str, str], dt.date] = {}
    for r in rows:
        key = (r["practice_code"], r["group_type"])
        if key not in merged:
            merged[key] = r["group_code"]
            joined[key] = r["valid_from"]
    return merged, joined


def org_names(engine: Engine, tables: dict[str, Any]) -> dict[str, str]:
    """Organisation code -> name, for statements and the report."""
    rows = engine.to_arrow(tables["organisations"].select("org_code", "name")).to_pylist()
    return {r["org_code"]: r["name"] for r in rows}
