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
from careis.facts.population import OPEN_END, registered_on
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


#: a group a contract states: (group code, level, member practices, member -> first day)
StatedGroup = tuple[str, str, list[str], dict[str, dt.date]]

#: first day of a stated group's membership where the contract names no joining date: the
#: practice was a member throughout (baseline and performance), as the contract means it
ALWAYS = dt.date(1900, 1, 1)


def with_contract_groups(memberships: Any, groups: list[StatedGroup]) -> Any:
    """The memberships table with a contract's own groups replacing the data's at their levels.

    Why a table: the measures roll up through memberships by date (`careis.measures.rollup`),
    so a contract's groups put here are rolled up, judged, paid and shown by the same
    effective-dated rules as the data's: a practice that joined on 1 October counts towards
    its group from that day. A level the contract states groups for is the contract's alone.
    """
    if not groups:
        return memberships
    levels = sorted({level for _, level, _, _ in groups})
    rows = [
        {
            "practice_code": p,
            "group_type": level,
            "group_code": code,
            "valid_from": joined.get(p, ALWAYS),
            "valid_to": None,
        }
        for code, level, practices, joined in groups
        for p in practices
    ]
    schema = ibis.schema(
        {
            "practice_code": "string",
            "group_type": "string",
            "group_code": "string",
            "valid_from": "date",
            "valid_to": "date",
        }
    )
    stated = ibis.memtable(rows, schema=schema)
    kept = memberships.filter(~memberships.group_type.isin(levels))
    cols = list(schema.names)
    kept = kept.select(**{c: kept[c].cast(schema[c]) for c in cols})
    return kept.union(stated.select(cols))


def list_sizes_on(engine: Engine, tables: dict[str, Any], day: dt.date) -> dict[str, int]:
    """Registered (and alive) patients per practice on `day`: the contract's list-size date,
    which every "per registered patient" payment uses."""
    t = registered_on(tables["registrations"], tables["patients"], day)
    rows = engine.to_arrow(t.group_by("practice_code").aggregate(n=t.count())).to_pylist()
    return {r["practice_code"]: int(r["n"]) for r in rows}
