"""Primary and secondary small-number suppression of published results."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from careis.config import SuppressionConfig
from careis.measures.results import RESULT_SCHEMA, MeasureInfo
from careis.measures.suppression import suppress_count, suppress_results

CAT = {
    "plans": MeasureInfo("plans", "Plans", "proportion", "%", ""),
    "adm": MeasureInfo("adm", "Admissions", "rate", "per 1,000", "", count_columns=("numerator",)),
    "chg": MeasureInfo("chg", "Change", "change", "%", "", count_columns=()),
}
DEFAULT = SuppressionConfig()


def table(rows: list[dict[str, object]]) -> pa.Table:
    full = []
    for r in rows:
        base = dict.fromkeys(RESULT_SCHEMA.names)
        base.update(
            period="performance",
            period_start=dt.date(2024, 4, 1),
            period_end=dt.date(2025, 3, 31),
            unit="",
        )
        base.update(r)
        full.append(base)
    return pa.Table.from_pylist(full, schema=RESULT_SCHEMA)


def test_counts_rounded_and_small_counts_hidden() -> None:
    assert suppress_count(0, DEFAULT) == 0
    assert suppress_count(1, DEFAULT) is None and suppress_count(7, DEFAULT) is None
    assert suppress_count(8, DEFAULT) == 10 and suppress_count(12, DEFAULT) == 10
    assert suppress_count(12.5, DEFAULT) == 15  # half up


def test_values_from_suppressed_counts_are_hidden() -> None:
    t = table(
        [
            {"measure_id": "plans", "level": "practice", "org_code": "A", "numerator": 5.0,
             "denominator": 40.0, "value": 12.5, "lower_ci": 5.0, "upper_ci": 26.0},
            {"measure_id": "adm", "level": "practice", "org_code": "A", "numerator": 23.0,
             "denominator": 812.4, "value": 28.3, "lower_ci": 18.0, "upper_ci": 42.0},
            {"measure_id": "chg", "level": "practice", "org_code": "A", "numerator": 3.0,
             "denominator": 4.0, "value": -25.0},
        ]
    )  # fmt: skip
    rows = {r["measure_id"]: r for r in suppress_results(t, CAT, DEFAULT).to_pylist()}
    plans = rows["plans"]
    assert plans["suppressed"] and plans["suppression"] == "small count"
    assert plans["numerator"] is None and plans["value"] is None and plans["lower_ci"] is None
    adm = rows["adm"]
    assert not adm["suppressed"] and adm["numerator"] == 25 and adm["denominator"] == 812.4
    assert rows["chg"]["value"] == -25.0  # a change of rates carries no counts


def test_secondary_suppression_protects_the_lone_cell() -> None:
    """PCN P1 = A, B, C. Only A is small, so P1's total minus B and C would reveal it: B (the
    next smallest) is suppressed too. In PCN P2 two practices are already small: nothing more."""
    practices = {"A": 3.0, "B": 20.0, "C": 30.0, "D": 2.0, "E": 5.0, "F": 50.0}
    groups = {(p, "pcn"): ("P1" if p in "ABC" else "P2") for p in practices}
    t = table(
        [
            {"measure_id": "plans", "level": "practice", "org_code": p, "numerator": n,
             "denominator": 100.0, "value": n}
            for p, n in practices.items()
        ]
        + [{"measure_id": "plans", "level": "pcn", "org_code": "P1", "numerator": 53.0,
            "denominator": 300.0, "value": 17.7}]
    )  # fmt: skip
    out = {r["org_code"]: r for r in suppress_results(t, CAT, DEFAULT, groups).to_pylist()}
    assert out["A"]["suppression"] == "small count"
    assert out["B"]["suppression"] == "secondary" and out["B"]["numerator"] is None
    assert out["C"]["suppression"] == "" and out["C"]["numerator"] == 30
    assert [out[p]["suppression"] for p in "DEF"] == ["small count", "small count", ""]
    assert out["P1"]["numerator"] == 55  # the group itself is rounded, not hidden


def test_no_group_is_left_with_a_lone_suppressed_practice() -> None:
    """Overlapping PCNs and federations: whatever order cells are picked in, no group may end
    with exactly one hidden practice (its total would give that practice back)."""
    groups = {
        ("A", "pcn"): "P1", ("B", "pcn"): "P1", ("C", "pcn"): "P1", ("D", "pcn"): "P2",
        ("E", "pcn"): "P2", ("A", "federation"): "F1", ("C", "federation"): "F1",
        ("B", "federation"): "F2", ("D", "federation"): "F2", ("E", "federation"): "F2",
    }  # fmt: skip
    sizes = {"A": 4.0, "B": 10.0, "C": 40.0, "D": 60.0, "E": 25.0}
    t = table(
        [{"measure_id": "plans", "level": "practice", "org_code": p, "numerator": n, "denominator": 200.0}
         for p, n in sizes.items()]
    )  # fmt: skip
    out = {
        r["org_code"]: r["suppression"]
        for r in suppress_results(t, CAT, DEFAULT, groups).to_pylist()
    }
    assert out["A"] == "small count"
    by_group: dict[str, list[str]] = {}
    for (practice, _), group in groups.items():
        by_group.setdefault(group, []).append(practice)
    for group, members in by_group.items():
        hidden = [p for p in members if out[p]]
        assert len(hidden) != 1, (group, hidden)
    # F1 = A, C: C must go with A; then P1 = A, B, C has two hidden and needs nothing more
    assert out["C"] == "secondary"
    assert sum(1 for v in out.values() if v == "secondary") == 1


def test_dsr_below_ten_events_is_published_as_not_calculated() -> None:
    """OHID publishes no DSR on fewer than 10 events (PHEindicatormethods `phe_dsr`: "dsr NA for
    total count < 10"); 8 or 9 events are above the 1-7 suppression range, so this rule, not
    small-number suppression, hides them."""
    from careis.measures.stats import dsr_note

    t = table(
        [
            {"measure_id": "adm", "level": "practice", "org_code": "A", "numerator": 9.0,
             "denominator": 812.4, "value": 11.2, "lower_ci": 5.0, "upper_ci": 21.0,
             "lower_ci_998": 3.0, "upper_ci_998": 27.0, "ci_method": "Dobson (exact Poisson)",
             "note": dsr_note(9.0)},
            {"measure_id": "adm", "level": "practice", "org_code": "B", "numerator": 10.0,
             "denominator": 812.4, "value": 12.3, "lower_ci": 5.9, "upper_ci": 22.6,
             "ci_method": "Dobson (Byar)"},
        ]
    )  # fmt: skip
    rows = {r["org_code"]: r for r in suppress_results(t, CAT, DEFAULT).to_pylist()}
    a = rows["A"]
    assert a["value"] is None and a["lower_ci"] is None and a["upper_ci_998"] is None
    assert a["suppressed"] and "fewer than 10 events" in a["suppression"]
    assert a["numerator"] == 10  # the count itself is not disclosive: rounded as usual
    assert rows["B"]["value"] == 12.3 and not rows["B"]["suppressed"]
