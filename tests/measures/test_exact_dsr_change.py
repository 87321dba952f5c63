"""A change of a directly standardised rate is computed exactly from its integer counts
(careis.measures.exact, rule 1), as a change of a crude rate is.

Hand-worked: two ESP 2013 bands with person-time, 25-29 (weight 6,000) over 19,324
person-days and 55-59 (weight 6,500) over 4,855 person-days, the same in both years.
Baseline 20 and 20 emergency admissions; performance 16 and 16: every stratum's rate falls
by exactly a fifth, so the DSR (a weighted sum of the stratum rates) falls by exactly 20%.
From the two DSRs as floats (771.0904016094137 and 963.863002011767 per 1,000) the change
comes out as -19.999999 after the 6-decimal cut; from the counts it is -20 exactly.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from careis.measures import stats
from careis.measures.compile import EXACT, _change_value, _direct_columns
from careis.measures.results import MeasureInfo

DAYS = {5: 19324, 11: 4855}
PER = 1000.0
INFO = MeasureInfo(
    id="emerg_dsr", name="DSR", kind="rate", unit="per 1,000", description="", standardised=True
)


def strata(events: dict[int, int]) -> list[dict[str, Any]]:
    return [
        {"sex": "F", "band": band, "numerator": float(n), "denominator": float(DAYS[band])}
        for band, n in events.items()
    ]


def dsr_row(events: dict[int, int]) -> dict[str, Any]:
    """A result row as careis.measures.compile builds it: totals, then the DSR columns."""
    total = {"numerator": sum(events.values()), "denominator": sum(DAYS.values()) * 4 / 1461}
    return {**total, **_direct_columns(strata(events), PER)}


def test_the_exact_dsr_is_the_published_dsr() -> None:
    row = dsr_row({5: 20, 11: 20})
    expected = (
        (
            Fraction(6000) * 20 / Fraction(19324 * 4, 1461)
            + Fraction(6500) * 20 / Fraction(4855 * 4, 1461)
        )
        / 12500
        * 1000
    )
    assert row[EXACT] == expected
    assert row["value"] == pytest.approx(float(expected), rel=1e-15)


@pytest.mark.parametrize(("compare", "expected"), [("relative", -20.0), ("absolute", None)])
def test_a_fifth_fewer_admissions_in_every_band_is_exactly_20_percent(
    compare: str, expected: float | None
) -> None:
    perf, base = dsr_row({5: 16, 11: 16}), dsr_row({5: 20, 11: 20})
    value = _change_value(perf, base, INFO, compare)
    if expected is None:  # absolute: exactly a fifth of the baseline DSR, cut to 6 places
        cut = Fraction(int(-base[EXACT] / 5 * 10**6), 10**6)
        assert value == float(cut)
    else:
        assert value == expected


def test_without_the_counts_the_floats_miss_by_a_millionth() -> None:
    """What the change was before: from the stored floats. This is why the counts are used."""
    perf, base = dsr_row({5: 16, 11: 16}), dsr_row({5: 20, 11: 20})
    for row in (perf, base):
        del row[EXACT]
    assert _change_value(perf, base, INFO, "relative") == pytest.approx(-19.999999, abs=1e-9)


def test_stats_dsr_weights_match() -> None:
    """The exact figure weights the strata as `stats.dsr` does (renormalised over the bands
    with person-time), so the two never describe different rates."""
    used = [(20.0, DAYS[b] * 4 / 1461, float(stats.ESP2013[b])) for b in DAYS]
    rate = stats.dsr(used, per=PER)
    assert rate is not None
    assert dsr_row({5: 20, 11: 20})["value"] == pytest.approx(rate[0], rel=1e-15)
