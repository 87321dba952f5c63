"""SPC point classification against NHSRplotthedots (NHS-R Community, "Making Data Count").

Reference: NHSRplotthedots, github.com/nhs-r-community/NHSRplotthedots, commit 050b07d
(2025-09-29). Its own `ptd_spc()` example (R/ptd_spc.R, @examples) charts trust RJZ's type 1
A&E 4-hour breaches from NHSRdatasets' `ae_attendances` with `improvement_direction =
"decrease"` and the package defaults (`screen_outliers = TRUE`, no rebase, no fixed limits).
The point types below are what the package gives for that chart: the limits from its formula
(`ptd_spc_standard`: mean +/- 2.66 x mean moving range after dropping moving ranges at or above
3.267 x their mean) and the point types from `ptd_calculate_point_type` (outside the limits,
then a 7-point trend judged by its slope, then 2 of 3 close to a limit, then 7 on one side).
They were worked point by point from the series; the package's CI was not run here (no R on
the build machine), so a disagreement would show as a failing test, not a silent pass.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from careis.measures.spc import SpcOptions, spc

AE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "reference"
    / "nhsr"
    / "ae_attendances.csv"
)
AE = AE if AE.exists() else Path("/work/shared/data/reference/nhsr/ae_attendances.csv")

IMP, CON, N = "improvement", "concern", None  # N: common cause
# RJZ type 1 breaches, Apr 2016 - Mar 2019: (month, breaches, NHSRplotthedots special cause
# type, point type for improvement_direction = "decrease")
RJZ = [
    ("2016-04", 3608, "7 Points Below CL", IMP),
    ("2016-05", 3515, "7 Points Below CL", IMP),
    ("2016-06", 3730, "7 Points Below CL", IMP),
    ("2016-07", 3805, "7 Points Below CL", IMP),
    ("2016-08", 2572, "Below LCL", IMP),
    ("2016-09", 4042, "7 Points Below CL", IMP),
    ("2016-10", 4252, "7 Points Below CL", IMP),
    ("2016-11", 4568, "Common Cause", N),
    ("2016-12", 5682, "Common Cause", N),
    ("2017-01", 4887, "Common Cause", N),
    ("2017-02", 3754, "7 Points Below CL", IMP),
    ("2017-03", 4153, "7 Points Below CL", IMP),
    ("2017-04", 3277, "2 in 3 Below CL", IMP),
    ("2017-05", 3364, "2 in 3 Below CL", IMP),
    ("2017-06", 3348, "2 in 3 Below CL", IMP),
    ("2017-07", 2805, "Below LCL", IMP),
    # the nine months Jul 2017 - Mar 2018 rise every month: below the mean but rising
    # breaches are a concern (before issue 13 careis coloured Aug and Sep 2017 improvement)
    ("2017-08", 3048, "7 Point Trend (Increasing)", CON),
    ("2017-09", 3336, "7 Point Trend (Increasing)", CON),
    ("2017-10", 4147, "7 Point Trend (Increasing)", CON),
    ("2017-11", 4449, "7 Point Trend (Increasing)", CON),
    ("2017-12", 4846, "7 Point Trend (Increasing)", CON),
    ("2018-01", 4931, "7 Point Trend (Increasing)", CON),
    ("2018-02", 5103, "7 Point Trend (Increasing)", CON),
    ("2018-03", 6284, "Above UCL", CON),
    ("2018-04", 4530, "7 Points Above CL", CON),
    ("2018-05", 4528, "7 Points Above CL", CON),
    ("2018-06", 3716, "Common Cause", N),
    ("2018-07", 4899, "Common Cause", N),
    ("2018-08", 3990, "Common Cause", N),
    ("2018-09", 4992, "7 Points Above CL", CON),
    ("2018-10", 4709, "7 Points Above CL", CON),
    ("2018-11", 5577, "7 Points Above CL", CON),
    ("2018-12", 6113, "Above UCL", CON),
    ("2019-01", 6685, "Above UCL", CON),
    ("2019-02", 6085, "Above UCL", CON),
    ("2019-03", 5908, "7 Points Above CL", CON),
]
# NHSRplotthedots' names for careis' rules
RULE_OF = {
    "Below LCL": "astronomical",
    "Above UCL": "astronomical",
    "7 Point Trend (Increasing)": "trend",
    "2 in 3 Below CL": "two_of_three",
    "7 Points Below CL": "shift",
    "7 Points Above CL": "shift",
    "Common Cause": None,
}


def _rjz() -> tuple[list[str], list[float]]:
    rows = [
        r
        for r in csv.DictReader(AE.open(encoding="utf-8"))
        if r["org_code"] == "RJZ" and r["type"] == "1"
    ]
    rows.sort(key=lambda r: r["period"])
    return [r["period"][:7] for r in rows], [float(r["breaches"]) for r in rows]


@pytest.mark.skipif(not AE.exists(), reason="shared reference data not present")
def test_rjz_breaches_classified_as_nhsrplotthedots() -> None:
    labels, breaches = _rjz()
    assert [(m, int(b)) for m, b in zip(labels, breaches, strict=True)] == [
        (m, b) for m, b, _, _ in RJZ
    ]
    res = spc(
        breaches,
        labels=labels,
        options=SpcOptions(improvement="decrease", screen_outliers=True),
    )
    p = res.points[0]
    # ptd_spc_standard: mean 4423.28; mean moving range 592.914 (screening drops none: the
    # largest, 1181, is below 3.267 x 592.914 = 1937.05); limits 4423.28 -/+ 2.66 x 592.914
    assert p.mean == pytest.approx(4423.2778, abs=1e-3)
    assert p.lower == pytest.approx(2846.1258, abs=1e-3)
    assert p.upper == pytest.approx(6000.4298, abs=1e-3)
    got = [(q.label, q.rule, q.special) for q in res.points]
    want = [(m, RULE_OF[t], pt) for m, _, t, pt in RJZ]
    assert got == want
    assert res.variation == "concern" and res.variation_high is True


def test_two_close_points_on_opposite_sides_are_common_cause() -> None:
    """NHSRplotthedots tests/testthat/test-ptd_spc_standard.R, "it only reports special cause
    for 2of3 points close to limits when they are on the same side of the mean": 1, -1 x 8
    with the last two set to 5.5 and -5.5 -> both common cause."""
    data = [1.0, -1.0] * 8
    data[14], data[15] = 5.5, -5.5
    res = spc(data, options=SpcOptions(improvement="increase", screen_outliers=True))
    assert [p.special for p in res.points[-2:]] == [None, None]


def test_seven_point_trend_marks_the_run() -> None:
    """NHSRplotthedots test-ptd_calculate_point_type.R: ptd_seven_point_trend(c(2, 1:7, 3))
    flags the 7-point rise 1..7 (points 2-8) and nothing else."""
    res = spc([2.0, *map(float, range(1, 8)), 3.0], options=SpcOptions(rules=("trend",)))
    assert [p.index for p in res.points if p.rules] == list(range(1, 8))


def test_two_of_three_beyond_is_the_other_reading() -> None:
    """NHSRplotthedots counts only points between the two-thirds line and the limit
    (`close_to_limits` excludes `outside_limits`); `two_of_three_beyond=True` counts a point
    beyond the limit as well."""
    flat = [10.5, 9.5] * 6  # limits 10 +/- 2.66, two-thirds line 11.773
    series = [*flat, 13.0, 10.2, 11.9]  # one beyond the limit, one close
    plain = spc(series, options=SpcOptions(rules=("two_of_three",), fix_after=12))
    wider = spc(
        series,
        options=SpcOptions(rules=("two_of_three",), fix_after=12, two_of_three_beyond=True),
    )
    assert [p.index for p in plain.points if p.rules] == []
    assert [p.index for p in wider.points if p.rules] == [12, 14]
