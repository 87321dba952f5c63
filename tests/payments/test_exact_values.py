"""Issue 13 item 4: money-deciding values are exact, with one rounding rule on every path.

Every figure is worked by hand in the comments. The rule (careis.measures.exact,
docs/payments.md "Exact values"): a change is computed exactly from the integer counts
(events over person-days), results.csv holds it cut towards zero to 6 decimals, and a test
rounds that half up (away from zero) to 2 decimals.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from pay_support import change, contract, lists, results
from test_hand_worked import ALLIANCE_TARGET, FED, POT, amounts, fill

from careis.csvio import cell
from careis.measures import exact
from careis.measures.compile import _change_value
from careis.measures.results import MeasureInfo
from careis.payments.calculate import evaluate
from careis.payments.lines import as_tested

RATE = MeasureInfo("emergency_admissions", "Admissions", "rate", "per 1,000 person-years", "")
DAYS = 36525  # 100 person-years


def rate_row(events: int, days: int = DAYS) -> dict[str, object]:
    """A crude rate row as the measures stage stores it: person-years = days / 365.25."""
    py = days / 365.25
    return {"numerator": float(events), "denominator": py, "value": events * 1000 / py}


def stored_change(perf: int, base: int, perf_days: int = DAYS, base_days: int = DAYS) -> float:
    value = _change_value(rate_row(perf, perf_days), rate_row(base, base_days), RATE, "relative")
    assert value is not None
    return value


def test_400_to_320_over_equal_person_days_is_exactly_20_percent() -> None:
    # (320 / 36525) / (400 / 36525) - 1 = -1/5 exactly: -20%, printed -20, tested -20.00.
    value = stored_change(320, 400)
    assert value == -20.0 and cell(value) == "-20"
    assert as_tested(value) == Decimal("-20.00")


def test_a_half_way_change_rounds_away_from_zero_on_every_path() -> None:
    # 200,000 -> 160,010 over equal days: 160010 / 200000 - 1 = -0.19995 exactly = -19.995%.
    # Binary floats give -19.994999999999997, which rounded to -19.99 and was "not met" while
    # results.csv printed -19.995 (and contracts compare, reading it, paid). Now the stored
    # value is -19.995, the file prints -19.995 and both round half up to -20.00.
    naive = ((160010 * 1000 / 100) / (200000 * 1000 / 100) - 1) * 100
    assert as_tested(Fraction(repr(naive))) == Decimal("-19.99")  # the old, noisy figure
    value = stored_change(160010, 200000)
    assert cell(value) == "-19.995"
    assert as_tested(value) == as_tested(float(cell(value))) == Decimal("-20.00")


def test_a_hair_short_of_half_way_is_not_rounded_up() -> None:
    # 160,011 / 200,000 - 1 = -0.199945 -> -19.9945% -> -19.99 (short of 20.00).
    assert as_tested(stored_change(160011, 200000)) == Decimal("-19.99")
    # 0.00000001 short of the half-way point: cut to 6 decimals (-19.994999), never rounded
    # up to -19.995, so the file and the test agree that it is short.
    short = Fraction(-19995, 1000) + Fraction(1, 10**8)  # -19.99499999
    assert exact.printed(short) == -19.994999
    assert exact.tested(short) == as_tested(exact.printed(short)) == Decimal("-19.99")


def test_unequal_person_days_use_the_integer_days() -> None:
    # 330 events over 37,620 days vs 400 over 36,525: (330 x 36525) / (37620 x 400) - 1
    # = 12053250 / 15048000 - 1 = -0.19901... -> -19.90%.
    value = stored_change(330, 400, perf_days=37620)
    exact_value = (Fraction(330 * 36525, 37620 * 400) - 1) * 100
    assert cell(value) == cell(exact.printed(exact_value))
    assert as_tested(value) == exact.tested(exact_value) == Decimal("-19.90")


@pytest.mark.parametrize(
    ("perf", "target", "paid"),
    [
        ("-20.0", "20", True),  # 400 -> 320: exactly the target, met
        ("-19.995", "20", True),  # half way to -20.00: rounds to it, met
        ("-19.994999", "20", False),  # a hair short: -19.99, not met
    ],
)
def test_the_federation_test_uses_the_rounded_evidence_figure(
    tmp_path: Path, perf: str, target: str, paid: bool
) -> None:
    # The stored change (as results.csv prints it) against a 20.00% federation target; every
    # practice reduces 30%, above its 5% floor, so only the federation test decides.
    res = results(
        lists({"A": 1000, "B": 2000, "C": 3000})
        + change(
            {
                ("federation", "F1"): float(perf),
                ("practice", "A"): -30.0,
                ("practice", "B"): -30.0,
                ("practice", "C"): -30.0,
            }
        )
    )
    text = fill(POT, scaling="all_or_nothing", by="list_size", extra="")
    loaded = contract(
        tmp_path,
        text.replace("target_reduction_percent: 10", f"target_reduction_percent: {target}"),
    )
    run = evaluate(loaded, res, ["A", "B", "C"], FED)
    assert (sum(amounts(run).values()) == Decimal("10000.00")) is paid


@pytest.mark.parametrize(("b_perf", "paid"), [("160010", "1000.00"), ("160011", "0.00")])
def test_pooled_alliance_change_is_exact(tmp_path: Path, b_perf: str, paid: str) -> None:
    # Alliance-wide: A 100,000 -> 80,000 and B 100,000 -> 80,010 (or 80,011) events over equal
    # person-days. Pooled: 160,010 / 200,000 - 1 = -19.995% (met at 20%) or -19.9945% (not).
    # B reduces ~20%, above its 5% floor; the 50:50 pot goes to whoever is eligible.
    b = int(b_perf) - 80000
    res = results(
        [
            *lists({"A": 1000, "B": 1000}),
            ("emergency_admissions@baseline", "practice", "A", 100000, 100.0, 1e6),
            ("emergency_admissions@performance", "practice", "A", 80000, 100.0, 8e5),
            ("emergency_admissions@baseline", "practice", "B", 100000, 100.0, 1e6),
            ("emergency_admissions@performance", "practice", "B", b, 100.0, b * 10.0),
            *change({("practice", "A"): -20.0, ("practice", "B"): -20.0}),
        ]
    )
    run = evaluate(contract(tmp_path, fill(ALLIANCE_TARGET, target="20")), res, ["A", "B"], {})
    assert sum(amounts(run).values()) == Decimal(paid)


def test_the_report_tests_the_change_as_the_statement_does() -> None:
    # The report's federation "met" column used Jinja's round(2) on the float, so the old
    # stored -19.994999999999997 read "no" whatever the statement said. Same rule now.
    from careis.report.scheme import Row

    row = Row(level="federation", code="F1", name="F1", change=stored_change(160010, 200000))
    assert row.change_tested == Decimal("-20.00") == as_tested(row.change)


def test_a_withhold_on_a_proportion_is_tested_from_its_counts(tmp_path: Path) -> None:
    """A withhold's target is met by the exact proportion, not by the stored float.

    Target 54.38%. Practice B has 174 of 320 = 54.375% exactly, half-way, so 54.38 and met;
    but the float the measures stage stores, 174 / 320 * 100, is 54.37499999999999, which
    rounded as stored gives 54.37: "not met" before. A has 175 of 320 = 54.6875% (met), C
    173 of 320 = 54.0625% (not met).
    """
    from pay_support import head

    text = head() + (
        "components:\n"
        "  - {id: engagement, type: engagement, basis: per_registered_patient, rate: '1.00'}\n"
        "  - {id: quality, type: withhold, percent: 10, from_components: [engagement],\n"
        "     measure: care_plan, target_percent: 54.38}\n"
    )
    res = results([
        *lists({"A": 1000, "B": 1000, "C": 1000}),
        ("care_plan", "practice", "A", 175, 320, 175 / 320 * 100),
        ("care_plan", "practice", "B", 174, 320, 174 / 320 * 100),
        ("care_plan", "practice", "C", 173, 320, 173 / 320 * 100),
    ])  # fmt: skip
    assert as_tested(174 / 320 * 100) == Decimal("54.37")  # what the stored float gave
    run = evaluate(contract(tmp_path, text), res, ["A", "B", "C"], {})
    released = {x.provider: x.met for x in run.lines if x.kind == "release"}
    assert released == {"A": "yes", "B": "yes", "C": "no"}
    tests = {x.provider: x.test for x in run.lines if x.kind == "release"}
    assert "54.38% >= 54.38%" in tests["B"]
