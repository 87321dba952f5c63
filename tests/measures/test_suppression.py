"""Primary and secondary small-number suppression of published results."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from careis.measures.results import RESULT_SCHEMA, MeasureInfo
from careis.measures.suppression import (
    SuppressionConfig,
    publish_counts,
    suppress_count,
    suppress_results,
)

CAT = {
    "plans": MeasureInfo("plans", "Plans", "proportion", "%", ""),
    "adm": MeasureInfo(
        "adm", "Admissions", "rate", "per 1,000", "", count_columns=("numerator",), per=1000
    ),
    "chg": MeasureInfo("chg", "Change", "change", "%", "", count_columns=(), of="adm"),
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


def test_values_are_recomputed_from_published_counts() -> None:
    """ehrQL's rule (measures/disclosure_control.py: ratio = rounded numerator / rounded
    denominator): nothing derived may carry more than the published counts do."""
    t = table(
        [
            {"measure_id": "plans", "level": "practice", "org_code": "A", "numerator": 5.0,
             "denominator": 40.0, "value": 12.5, "lower_ci": 5.0, "upper_ci": 26.0},
            {"measure_id": "adm", "level": "practice", "org_code": "A", "numerator": 23.0,
             "denominator": 812.4, "value": 28.31, "lower_ci": 18.0, "upper_ci": 42.0,
             "crude_value": 28.31},
            {"measure_id": "adm", "period": "baseline", "level": "practice", "org_code": "A",
             "numerator": 31.0, "denominator": 790.2, "value": 39.23, "crude_value": 39.23},
            {"measure_id": "chg", "period": "performance vs baseline", "level": "practice",
             "org_code": "A", "numerator": 28.31, "denominator": 39.23, "value": -27.8},
        ]
    )  # fmt: skip
    out = suppress_results(t, CAT, DEFAULT).to_pylist()
    plans, adm, base, chg = out
    assert plans["suppressed"] and plans["suppression"] == "numerator: small count"
    assert plans["numerator"] is None and plans["denominator"] == 40
    assert plans["value"] is None and plans["lower_ci"] is None
    assert not adm["suppressed"] and adm["numerator"] == 25 and adm["denominator"] == 810
    assert adm["value"] == pytest.approx(25 * 1000 / 810)  # not 23 / 812.4
    assert adm["crude_value"] == adm["value"]
    assert base["value"] == pytest.approx(30 * 1000 / 790)
    # the change compares the published rates, so rate x person-years gives nothing back
    assert chg["numerator"] == adm["value"] and chg["denominator"] == base["value"]
    assert chg["value"] == pytest.approx((adm["value"] / base["value"] - 1) * 100)


def test_a_change_of_a_hidden_value_is_hidden() -> None:
    t = table(
        [
            {"measure_id": "adm", "level": "practice", "org_code": "A", "numerator": 4.0,
             "denominator": 812.4, "value": 4.9},
            {"measure_id": "adm", "period": "baseline", "level": "practice", "org_code": "A",
             "numerator": 31.0, "denominator": 790.2, "value": 39.23},
            {"measure_id": "chg", "period": "performance vs baseline", "level": "practice",
             "org_code": "A", "numerator": 4.9, "denominator": 39.23, "value": -87.5},
        ]
    )  # fmt: skip
    chg = suppress_results(t, CAT, DEFAULT).to_pylist()[2]
    assert chg["suppressed"] and chg["value"] is None and chg["numerator"] is None


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
    assert out["A"]["suppression"] == "numerator: small count"
    assert out["B"]["suppression"] == "numerator: secondary" and out["B"]["numerator"] is None
    assert out["C"]["suppression"] == "" and out["C"]["numerator"] == 30
    assert [out[p]["suppression"] for p in "DEF"] == [
        "numerator: small count", "numerator: small count", ""
    ]  # fmt: skip
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
    totals = {"pcn": {"P1": "ABC", "P2": "DE"}, "federation": {"F1": "AC", "F2": "BDE"}}
    t = table(
        [{"measure_id": "plans", "level": "practice", "org_code": p, "numerator": n,
          "denominator": 200.0} for p, n in sizes.items()]
        + [{"measure_id": "plans", "level": level, "org_code": g,
            "numerator": sum(sizes[p] for p in ps), "denominator": 200.0 * len(ps)}
           for level, gs in totals.items() for g, ps in gs.items()]
    )  # fmt: skip
    out = {
        r["org_code"]: r["suppression"]
        for r in suppress_results(t, CAT, DEFAULT, groups).to_pylist()
    }
    assert out["A"] == "numerator: small count"
    by_group: dict[str, list[str]] = {}
    for (practice, _), group in groups.items():
        by_group.setdefault(group, []).append(practice)
    for group, members in by_group.items():
        hidden = [p for p in [group, *members] if out[p]]
        assert len(hidden) != 1, (group, hidden)
    # F1 = A + C and P1 = A + B + C = F1 + B: neither may hold A alone
    assert out["C"] or out["F1"]
    assert out["B"] or out["P1"]


def _tree(values: dict[str, float], pcns: dict[str, str], extra: list[dict[str, object]] = ()):  # type: ignore[assignment]
    """Practice rows, PCN totals and one sub-ICB total of a 'plans' numerator."""
    rows: list[dict[str, object]] = [
        {"measure_id": "plans", "level": "practice", "org_code": p, "numerator": v,
         "denominator": 1000.0} for p, v in values.items()
    ]  # fmt: skip
    for pcn in sorted(set(pcns.values())):
        ps = [p for p in values if pcns[p] == pcn]
        rows.append(
            {
                "measure_id": "plans",
                "level": "pcn",
                "org_code": pcn,
                "numerator": sum(values[p] for p in ps),
                "denominator": 1000.0 * len(ps),
            }
        )
    rows.append(
        {
            "measure_id": "plans",
            "level": "sub_icb",
            "org_code": "S",
            "numerator": sum(values.values()),
            "denominator": 1000.0 * len(values),
        }
    )
    groups = {(p, "pcn"): g for p, g in pcns.items()} | {(p, "sub_icb"): "S" for p in values}
    return table(rows + list(extra)), groups


def test_sub_icb_minus_a_pcn_cannot_give_back_a_practice() -> None:
    """S = P1 + A, where A is alone outside P1 and small: S - P1 = A. A's PCN P2 has only A,
    so its row is A again (hidden by the same rule); the sum S = P1 + A has a lone hidden cell
    unless another is hidden too."""
    t, groups = _tree({"A": 5.0, "B": 40.0, "C": 61.0}, {"A": "P2", "B": "P1", "C": "P1"})
    out = {r["org_code"]: r for r in suppress_results(t, CAT, DEFAULT, groups).to_pylist()}
    assert out["A"]["numerator"] is None and out["P2"]["numerator"] is None
    hidden = [o for o in ("B", "C", "P1", "S") if out[o]["numerator"] is None]
    assert hidden, "S - P1 would give A back"


def test_a_lone_member_is_not_published_through_its_pcn() -> None:
    """A practice hidden to protect a neighbour in the federation must not reappear as the
    total of its one-practice PCN."""
    values = {"A": 3.0, "B": 12.0, "C": 300.0}
    pcns = {"A": "P1", "B": "P2", "C": "P3"}
    t, groups = _tree(values, pcns)
    out = {r["org_code"]: r for r in suppress_results(t, CAT, DEFAULT, groups).to_pylist()}
    assert out["B"]["numerator"] is None  # the smallest visible partner of A in S
    assert out["P2"]["numerator"] is None  # ...and P2 is B


def test_equal_populations_are_hidden_together() -> None:
    """'review' counts care plans reviewed among care plans: its denominator is the care plan
    numerator of 'plans'. Hiding one and showing the other would publish the hidden figure."""
    cat = {**CAT, "review": MeasureInfo("review", "Reviews", "proportion", "%", "")}
    t = table(
        [
            {"measure_id": "plans", "level": "practice", "org_code": "A", "numerator": 40.0,
             "denominator": 400.0},
            {"measure_id": "review", "level": "practice", "org_code": "A", "numerator": 6.0,
             "denominator": 40.0},
        ]
    )  # fmt: skip
    _plans, review = suppress_results(t, cat, DEFAULT).to_pylist()
    assert review["numerator"] is None and review["denominator"] == 40  # rounding hides 6
    t2 = table(
        [
            {"measure_id": "plans", "level": "practice", "org_code": "A", "numerator": 40.0,
             "denominator": 400.0},
            {"measure_id": "plans", "level": "practice", "org_code": "B", "numerator": 3.0,
             "denominator": 50.0},
            {"measure_id": "plans", "level": "pcn", "org_code": "P", "numerator": 43.0,
             "denominator": 450.0},
            {"measure_id": "review", "level": "practice", "org_code": "A", "numerator": 20.0,
             "denominator": 40.0},
        ]
    )  # fmt: skip
    groups = {("A", "pcn"): "P", ("B", "pcn"): "P"}
    out = suppress_results(t2, cat, DEFAULT, groups).to_pylist()
    assert out[0]["numerator"] is None  # A's plans: hidden to protect B in P
    assert out[3]["denominator"] is None  # the same 40 in 'review' goes with it


def test_rounded_cells_that_sums_would_pin_are_hidden() -> None:
    """Four practices each 2 above their rounded value (12, 22, 32, 42 -> 10, 20, 30, 40):
    the PCN total 108 rounds to 110, so 108..112 minus at most 4 x 2 over 100 pins every
    practice at its maximum. The final check must hide enough that nothing is pinned."""
    values = {"A": 12.0, "B": 22.0, "C": 32.0, "D": 42.0}
    t, groups = _tree(values, dict.fromkeys(values, "P1"))
    out = suppress_results(t, CAT, DEFAULT, groups).to_pylist()
    shown = [r["numerator"] for r in out if r["level"] == "practice"]
    assert None in shown or out[4]["numerator"] is None


def test_practice_summary_fields_share_the_rule() -> None:
    counts = {"adults": 812.0, "fit": 40.0, "mild": 30.0, "moderate": 5.0, "severe": 0.0}
    out = publish_counts(counts, [("fit", "mild", "moderate", "severe")], DEFAULT)
    assert out["adults"] == suppress_count(812.0, DEFAULT) == 810
    assert out["moderate"] is None and out["mild"] is None  # lone hidden category protected
    assert out["fit"] == 40 and out["severe"] == 0


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
    assert rows["B"]["value"] is not None and not rows["B"]["suppressed"]
