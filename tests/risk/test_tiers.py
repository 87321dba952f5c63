"""Risk tiers per practice: same ranking and rounding-up as the register.

Practice A has 40 adults (risk 40 down to 1) and one child with the highest score; practice B
has 10 adults. Cuts are ceil(p% of adults): A: 2% -> 1, 5% -> 2, 20% -> 8; B: 1, 1, 2.
"""

from __future__ import annotations

from collections import Counter

import ibis

from careis.engine import Engine
from careis.risk.register import register, tiers


def _scored() -> ibis.Table:
    rows = [
        {"patient_id": f"A{i:02d}", "practice_code": "A", "age": 50, "risk_score": float(i),
         "prior_emergency_admissions": 0}
        for i in range(1, 41)
    ] + [
        {"patient_id": "A99", "practice_code": "A", "age": 10, "risk_score": 99.0,
         "prior_emergency_admissions": 3},
    ] + [
        {"patient_id": f"B{i:02d}", "practice_code": "B", "age": 70, "risk_score": float(i),
         "prior_emergency_admissions": 0}
        for i in range(1, 11)
    ]  # fmt: skip
    return ibis.memtable(rows)


def test_tiers_cut_each_practice_by_rank(engine: Engine) -> None:
    got = engine.to_arrow(tiers(_scored(), percent=2.0, min_age=18)).to_pylist()
    by = {r["patient_id"]: r["category"] for r in got}
    assert "A99" not in by  # a child: not an adult, in no tier
    counts = Counter((r["practice_code"], r["category"]) for r in got)
    assert counts == {
        ("A", "very_high"): 1, ("A", "high"): 1, ("A", "moderate"): 6, ("A", "low"): 32,
        ("B", "very_high"): 1, ("B", "moderate"): 1, ("B", "low"): 8,
    }  # fmt: skip
    assert by["A40"] == "very_high" and by["A39"] == "high" and by["A33"] == "moderate"
    assert by["A32"] == "low" and by["B10"] == "very_high" and by["B09"] == "moderate"


def test_very_high_tier_is_exactly_the_register(engine: Engine) -> None:
    for percent in (2.0, 3.5, 10.0):
        scored = _scored()
        reg = engine.to_arrow(register(scored, percent=percent, min_age=18)).to_pylist()
        tier = engine.to_arrow(tiers(scored, percent=percent, min_age=18)).to_pylist()
        assert {r["patient_id"] for r in reg} == {
            r["patient_id"] for r in tier if r["category"] == "very_high"
        }


def test_register_wider_than_a_tier_absorbs_it(engine: Engine) -> None:
    """A 10% register: 'high' (5%) would sit inside it, so it is empty; 'moderate' reaches 20%."""
    got = engine.to_arrow(tiers(_scored(), percent=10.0, min_age=18)).to_pylist()
    counts = Counter((r["practice_code"], r["category"]) for r in got)
    assert counts[("A", "very_high")] == 4 and counts[("A", "high")] == 0
    assert counts[("A", "moderate")] == 4
