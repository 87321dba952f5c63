"""A federation's (or PCN's) member download words a not-assessable line as such.

Why: a practice in a PCN but in no federation has a not-assessable line for a federation
target (careis.payments.components.performance); the member download must not call it "not
met", which would tell the federation it missed.
"""

from __future__ import annotations

from decimal import Decimal

from careis.serve.views import member_rows


def test_member_performance_words() -> None:
    lines = [
        {"component_id": "perf", "measure_value": "-20.00", "met": "not_assessable"},
        {"component_id": "fed", "measure_value": "-12.00", "met": "yes"},
        {"component_id": "pcn", "measure_value": "-3.00", "met": "no"},
    ]
    member = {
        "code": "X",
        "name": "X",
        "performance": lines,
        "below_floor": [],
        "total": Decimal(0),
    }
    (row,) = member_rows([member])
    assert row["performance"] == (
        "perf: -20.00% not assessable; fed: -12.00% met; pcn: -3.00% not met"
    )
