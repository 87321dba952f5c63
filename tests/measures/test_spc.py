"""SPC rules, each with a series built to trigger it and one built to just miss it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from careis.errors import ConfigError
from careis.measures.spc import SpcOptions, funnel, spc

AE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / ".."
    / "shared"
    / "data"
    / "reference"
    / "nhsr"
    / "ae_attendances.csv"
)
AE = Path("/work/shared/data/reference/nhsr/ae_attendances.csv") if not AE.exists() else AE

# A flat, noisy baseline: mean 10, moving ranges 1 -> limits 10 +/- 2.66
FLAT = [10.5, 9.5] * 6


def only(rule: str) -> SpcOptions:
    return SpcOptions(rules=(rule,))


def flagged(values: list[float], opts: SpcOptions) -> list[int]:
    return [p.index for p in spc(values, options=opts).points if p.rules]


def test_xmr_limits_by_hand() -> None:
    values = [3.0, 5.0, 4.0, 6.0, 5.0]
    res = spc(values)
    mean = 23 / 5
    mr = (2 + 1 + 2 + 1) / 4
    p = res.points[0]
    assert p.mean == pytest.approx(mean)
    assert p.upper == pytest.approx(mean + 2.66 * mr)
    assert p.lower == pytest.approx(mean - 2.66 * mr)
    assert p.near_upper == pytest.approx(mean + 2 / 3 * 2.66 * mr)


def test_moving_range_screening_excludes_outlying_ranges() -> None:
    values = [10.0, 11.0] * 10 + [60.0] + [10.0, 11.0] * 2
    plain = spc(values).points[0]
    screened = spc(values, options=SpcOptions(screen_outliers=True)).points[0]
    mrs = [abs(values[i] - values[i - 1]) for i in range(1, len(values))]
    mean_mr = sum(mrs) / len(mrs)
    kept = [m for m in mrs if m <= 3.267 * mean_mr]
    assert len(kept) == len(mrs) - 2  # the two ranges either side of 60
    assert plain.upper - plain.mean == pytest.approx(2.66 * mean_mr)
    assert screened.upper - screened.mean == pytest.approx(2.66 * sum(kept) / len(kept))


def test_astronomical_point() -> None:
    # limits 10 +/- 2.66 from the flat part (fix_after keeps them there)
    opts = SpcOptions(rules=("astronomical",), fix_after=12)
    assert flagged([*FLAT, 12.7], opts) == [12]
    assert flagged([*FLAT, 12.6], opts) == []


@pytest.mark.parametrize("length", [6, 7])
def test_shift_of_configurable_length(length: int) -> None:
    base = [10.0, 12.0, 8.0, 12.0, 10.0, 8.0]
    run = [10.5] * length
    values = base + run + [8.0, 8.0]
    res = spc(values, options=SpcOptions(rules=("shift",), shift_length=length))
    assert all(p.value > p.mean for p in res.points[6 : 6 + length])
    assert [p.index for p in res.points if p.rules] == list(range(6, 6 + length))
    short = base + [10.5] * (length - 1) + [8.0, 8.0]
    assert flagged(short, SpcOptions(rules=("shift",), shift_length=length)) == []


def test_point_on_the_mean_breaks_a_shift() -> None:
    broken = [7.0, 13.0, 7.0, 13.0, 11.0, 11.0, 11.0, 10.0, 11.0, 11.0, 11.0, 7.0, 7.0]
    res = spc(broken, options=only("shift"))
    assert res.points[7].value == res.points[0].mean == 10.0
    assert not any(p.rules for p in res.points)
    whole = [7.0, 13.0, 7.0, 13.0] + [11.0] * 7 + [6.0, 7.0]
    assert flagged(whole, only("shift")) == list(range(3, 11))  # 13 then seven 11s


@pytest.mark.parametrize("length", [6, 7])
def test_trend(length: int) -> None:
    rising = [float(i) for i in range(length)]
    values = [3.0, 2.0, 3.0, *rising, 2.0]
    res = spc(
        values, options=SpcOptions(rules=("trend",), trend_length=length, improvement="increase")
    )
    hit = [p for p in res.points if p.rules]
    assert [p.index for p in hit] == list(range(3, 3 + length))
    assert {p.special for p in hit} == {
        "improvement"
    }  # rising, higher is better, either side of mean
    short = [3.0, 2.0, 3.0, *rising[:-1], rising[-2], 2.0]  # a tie ends the trend one short
    assert flagged(short, SpcOptions(rules=("trend",), trend_length=length)) == []


def test_falling_trend_is_concern_when_higher_is_better() -> None:
    values = [5.0, 6.0, 5.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 5.0]
    res = spc(values, options=SpcOptions(rules=("trend",), improvement="increase"))
    assert {p.special for p in res.points if p.rules} == {"concern"}


def test_two_of_three_near_the_limit() -> None:
    opts = SpcOptions(rules=("two_of_three",), fix_after=12)
    # limits 10 +/- 2.66; two-thirds line at 10 + 1.7733
    assert flagged([*FLAT, 11.8, 10.1, 11.9], opts) == [12, 14]
    assert flagged([*FLAT, 11.8, 10.1, 11.7], opts) == []  # only one beyond the line
    assert flagged([*FLAT, 11.8, 9.9, 11.9], opts) == []  # middle point on the other side
    assert flagged([*FLAT, 8.2, 9.9, 8.1], opts) == [12, 14]  # and below


def test_rebasing_starts_new_limits_and_new_runs() -> None:
    values = [10.0, 11.0] * 6 + [20.0, 21.0] * 6
    one = spc(values, options=only("shift"))
    assert any(p.rules for p in one.points)
    two = spc(values, options=SpcOptions(rules=("shift",), rebase_at=(12,)))
    assert two.points[0].mean == 10.5 and two.points[12].mean == 20.5
    assert two.points[12].segment == 1
    assert not any(p.rules for p in two.points)


def test_fix_after_keeps_limits_from_the_first_points() -> None:
    values = [10.0, 11.0, 10.0, 11.0, 50.0, 10.0]
    res = spc(values, options=SpcOptions(fix_after=4))
    assert res.points[5].mean == 10.5
    assert res.points[4].rules == ["astronomical"]


def test_assurance_and_variation_icons() -> None:
    good = spc(FLAT, options=SpcOptions(improvement="increase", target=5.0))
    assert good.assurance == "pass" and good.variation == "common"
    bad = spc(FLAT, options=SpcOptions(improvement="increase", target=15.0))
    assert bad.assurance == "fail"
    mixed = spc(FLAT, options=SpcOptions(improvement="decrease", target=10.0))
    assert mixed.assurance == "hit_and_miss"
    down = spc(FLAT, options=SpcOptions(improvement="decrease", target=15.0))
    assert down.assurance == "pass"
    jump = spc([*FLAT, 30.0], options=SpcOptions(improvement="decrease", fix_after=12))
    assert jump.variation == "concern"
    assert spc([*FLAT, 30.0], options=SpcOptions(fix_after=12)).variation == "neither"


def test_p_u_c_charts() -> None:
    num = [10.0, 20.0, 15.0]
    den = [100.0, 200.0, 100.0]
    p = spc(numerators=num, denominators=den, options=SpcOptions(chart="p"))
    pbar = 45 / 400
    assert p.points[0].mean == pytest.approx(pbar)
    assert p.points[0].upper == pytest.approx(pbar + 3 * (pbar * (1 - pbar) / 100) ** 0.5)
    assert p.points[1].upper == pytest.approx(pbar + 3 * (pbar * (1 - pbar) / 200) ** 0.5)
    assert p.points[2].value == 0.15
    u = spc(numerators=num, denominators=den, options=SpcOptions(chart="u"))
    assert u.points[1].upper == pytest.approx(pbar + 3 * (pbar / 200) ** 0.5)
    c = spc(numerators=[4.0, 9.0, 5.0], options=SpcOptions(chart="c"))
    assert c.points[0].mean == 6.0 and c.points[0].lower == 0.0
    assert c.points[0].upper == pytest.approx(6 + 3 * 6**0.5)


def test_trajectory_carried_to_points() -> None:
    res = spc([1.0, 2.0, 3.0], options=SpcOptions(trajectory=(None, 2.0, 2.5)))
    assert [p.trajectory for p in res.points] == [None, 2.0, 2.5]


def test_bad_options_and_series_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="shift_length"):
        SpcOptions(shift_length=5)
    with pytest.raises(ConfigError, match="at least 2 points"):
        spc([1.0])
    with pytest.raises(ConfigError, match="trajectory"):
        spc([1.0, 2.0], options=SpcOptions(trajectory=(1.0,)))


def _trust_series(org: str) -> tuple[list[str], list[float]]:
    rows = []
    with AE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["org_code"] == org and row["type"] == "1":
                rows.append(row)
    rows.sort(key=lambda r: r["period"])
    labels = [r["period"] for r in rows]
    perf = [1 - int(r["breaches"]) / int(r["attendances"]) for r in rows]
    return labels, perf


@pytest.mark.skipif(not AE.exists(), reason="shared reference data not present")
def test_real_ae_four_hour_performance() -> None:
    labels, perf = _trust_series("RRK")
    assert len(perf) == 36  # Apr 2016 - Mar 2019
    res = spc(perf, labels=labels, options=SpcOptions(improvement="increase", target=0.95))
    mean = sum(perf) / len(perf)
    mr = sum(abs(perf[i] - perf[i - 1]) for i in range(1, len(perf))) / (len(perf) - 1)
    assert res.points[0].mean == pytest.approx(mean)
    assert res.points[0].upper == pytest.approx(mean + 2.66 * mr)
    # every point flagged by a rule really meets it: check the shift points independently
    for p in res.points:
        if "astronomical" in p.rules:
            assert p.value > p.upper or p.value < p.lower  # type: ignore[operator]
    # RRK ran well below the 95% standard throughout: the limits never reach the target
    assert res.points[0].upper < 0.95
    assert res.assurance == "fail"


def test_funnel_limits_are_smooth_and_exact() -> None:
    """Rates: the lower limit at an exposure is the count whose exact upper limit is the
    expected count (OHID's definition), solved continuously, so no step at small counts."""
    from scipy.stats import chi2

    theta, pts = funnel(["A", "B", "C"], [10.0, 50.0, 40.0], [1000.0, 4000.0, 5000.0])
    assert theta == pytest.approx(100 / 10000 * 1000)
    lo, hi = pts[0].limits["95"]  # 10 expected events at 1,000 person-years
    e_lo, e_hi = lo / 1000 * 1000, hi / 1000 * 1000
    assert chi2.ppf(0.975, 2 * e_lo + 2) / 2 == pytest.approx(10.0)
    assert chi2.ppf(0.025, 2 * e_hi) / 2 == pytest.approx(10.0)
    assert pts[1].value == 12.5
    assert pts[1].limits["99.8"][1] > pts[1].limits["95"][1]
    _, far = funnel(["A", "B"], [100.0, 10.0], [1000.0, 10000.0])
    assert far[0].outside == "above 99.8%"
    # a small exposure's lower limit is 0 only while even 0 events is within the limits
    _, tiny = funnel(["T"], [1.0], [100.0], per=1000)
    assert tiny[0].limits["95"][0] == 0.0


def test_precedence_trend_beats_shift_and_is_judged_by_slope() -> None:
    # eight points below the mean that rise every month, then a high tail: a shift and a
    # trend at once; the trend (rising) decides, so with "decrease" it is a concern
    values = [20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 20.5]
    res = spc(values, options=SpcOptions(improvement="decrease", rules=("shift", "trend")))
    rising = res.points[6:14]
    assert all("shift" in p.rules and "trend" in p.rules for p in rising)
    assert {(p.rule, p.special) for p in rising} == {("trend", "concern")}


def test_outside_limits_beats_trend() -> None:
    opts = SpcOptions(improvement="increase", fix_after=12)
    res = spc([*FLAT, 7.0, 7.1, 7.2, 7.3, 7.4, 7.5, 7.6], options=opts)
    first = res.points[12]  # below the lower limit, and the start of a rising trend
    assert "astronomical" in first.rules and "trend" in first.rules
    assert first.rule == "astronomical" and first.special == "concern"
    assert res.points[13].rule == "astronomical"


def test_short_baseline_warns() -> None:
    assert spc([1.0, 2.0, 3.0] * 4).warnings == []
    short = spc([1.0, 2.0, 3.0] * 4, options=SpcOptions(fix_after=11))
    assert len(short.warnings) == 1 and "rest on 11 points" in short.warnings[0]


@pytest.mark.parametrize(
    ("chart", "num", "den", "message"),
    [
        ("p", [1.0, 12.0, 3.0], [10.0, 10.0, 10.0], r"point 2 .* above the denominator"),
        ("p", [1.0, -1.0, 3.0], [10.0, 10.0, 10.0], r"point 2 .* negative count"),
        ("c", [1.0, 2.0, -3.0], None, r"point 3 .* negative count"),
        ("u", [1.0, 2.0, 3.0], [10.0, 0.0, 10.0], r"point 2 .* denominator is 0"),
        ("u", [1.0, float("inf"), 3.0], [10.0, 10.0, 10.0], r"point 2 .* not a finite"),
    ],
)
def test_bad_counts_name_the_point(
    chart: str, num: list[float], den: list[float] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        spc(numerators=num, denominators=den, options=SpcOptions(chart=chart))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"point 2 .* not a finite"):
        spc([1.0, float("nan"), 2.0])


def test_laney_u_prime_scales_by_between_period_variation() -> None:
    """Laney (2002): sigma_z = mean moving range of z-scores / 1.128; limits
    u-bar +/- 3 sigma_z sqrt(u-bar / n_i)."""
    num = [3000.0, 3300.0, 2900.0, 3400.0, 3100.0, 2800.0]
    den = [100_000.0] * 6
    u = spc(numerators=num, denominators=den, options=SpcOptions(chart="u"))
    up = spc(numerators=num, denominators=den, options=SpcOptions(chart="u_prime"))
    ubar = sum(num) / sum(den)
    sig = (ubar / 100_000) ** 0.5
    z = [(n / 100_000 - ubar) / sig for n in num]
    mr = sum(abs(z[i] - z[i - 1]) for i in range(1, 6)) / 5
    assert up.sigma_z == pytest.approx(mr / 1.128)
    assert up.points[0].upper == pytest.approx(ubar + 3 * sig * mr / 1.128)
    assert u.sigma_z is None and u.points[0].upper == pytest.approx(ubar + 3 * sig)
    # with equal denominators the u'-chart is the XmR of the rate (3 / 1.128 = 2.66, to 3 dp)
    x = spc([n / d for n, d in zip(num, den, strict=True)])
    assert up.points[0].upper - ubar == pytest.approx(
        x.points[0].upper - x.points[0].mean, rel=1e-3
    )
    assert any(p.rules for p in u.points) and not any(p.rules for p in up.points)


def test_p_prime_chart_clamps_and_checks_proportions() -> None:
    res = spc(
        numerators=[40.0, 55.0, 45.0, 60.0],
        denominators=[100.0, 100.0, 100.0, 100.0],
        options=SpcOptions(chart="p_prime"),
    )
    assert 0.0 <= res.points[0].lower <= res.points[0].mean <= res.points[0].upper <= 1.0  # type: ignore[operator]
    assert res.sigma_z is not None and res.sigma_z > 0
