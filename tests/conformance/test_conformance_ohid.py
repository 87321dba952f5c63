"""Confidence intervals, standardisation and funnel limits against OHID's published figures.

Reference: PHEindicatormethods, OHID's (formerly PHE's) R package for the Fingertips
indicators, github.com/ukhsa-collaboration/PHEindicatormethods. Its test workbooks hold the
input data and the expected figures the package is checked against; the numbers below are
copied from them (sheet and row named at each test). The methods are those of the PHE/APHO
technical guide "Confidence intervals" (Byar's method for counts from 10, exact below;
Wilson for proportions; Dobson for DSRs; no DSR below 10 events).
"""

from __future__ import annotations

import pytest

from careis.measures.spc import funnel, funnel_limits
from careis.measures.stats import (
    ESP2013,
    MIN_DSR_EVENTS,
    dsr,
    dsr_note,
    indirect,
    poisson_byar,
    poisson_limits,
    wilson,
    z_for,
)

# testdata_DSR_ISR.xlsx, sheet testdata_multiarea, area "testdata_big": count and population
# by ESP 2013 band (0-4 ... 90+); sheet testdata_multiarea_isr adds the reference counts and
# populations.
BIG_COUNT = (127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82, 91)
BIG_POP = (636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207)  # fmt: skip
REF_COUNT = (10303, 2824, 0, 3615, 3641, 3490, 3789, 3213, 3031, 2771, 3089, 3490, 3595, 4745, 5514, 7125, 5694, 6210, 5757)  # fmt: skip
REF_POP = (50520, 57173, 60213, 54659, 44345, 50128, 62163, 67423, 62899, 55463, 60479, 49974, 44140, 40888, 37239, 30819, 18136, 15325, 13918)  # fmt: skip
# area "testdata_tiny": 9 events in all
TINY_COUNT = (0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 2, 3)


def test_dsr_dobson_with_byar_limits() -> None:
    """testresults_DSR, testdata_big, per 10,000: 1043.0248 (95% 971.7709-1117.8941;
    99.8% 932.3288-1162.0596), Dobson."""
    strata = [(o, n, float(w)) for o, n, w in zip(BIG_COUNT, BIG_POP, ESP2013, strict=True)]
    rate, lo, hi = dsr(strata, per=10_000)  # type: ignore[misc]
    assert (rate, lo, hi) == (
        pytest.approx(1043.0247991469423, rel=1e-9),
        pytest.approx(971.77090679856803, rel=1e-9),
        pytest.approx(1117.894091547925, rel=1e-9),
    )
    _, lo998, hi998 = dsr(strata, per=10_000, confidence=0.998)  # type: ignore[misc]
    assert lo998 == pytest.approx(932.32878802199036, rel=1e-9)
    assert hi998 == pytest.approx(1162.0595999522059, rel=1e-9)
    assert dsr_note(sum(BIG_COUNT)) == ""


def test_no_dsr_below_ten_events() -> None:
    """testresults_DSR, testdata_tiny (9 events): "dsr NA for total count < 10"."""
    assert sum(TINY_COUNT) == 9 and MIN_DSR_EVENTS == 10
    assert "not calculated" in dsr_note(9)
    assert dsr_note(10) == ""


def test_indirectly_standardised_ratio() -> None:
    """testresults_ISR, "indirectly standardised ratio x 100": testdata_big 895 observed,
    835.8836 expected -> 107.0723 (95% 100.1715-114.3233; 99.8% 96.3516-118.6007), Byars;
    testdata_tiny 9 observed, same expected -> 95% 0.4923-2.0439, Exact."""
    pys = dict(enumerate(BIG_POP))
    ref = {i: c / p for i, (c, p) in enumerate(zip(REF_COUNT, REF_POP, strict=True))}
    ratio, lo, hi, expected = indirect(895, pys, ref)  # type: ignore[misc]
    assert expected == pytest.approx(835.88356123117433, rel=1e-12)
    assert ratio == pytest.approx(107.07232939020275, rel=1e-12)
    assert lo == pytest.approx(100.17147712553987, rel=1e-9)
    assert hi == pytest.approx(114.32332872498949, rel=1e-9)
    _, lo998, hi998, _ = indirect(895, pys, ref, confidence=0.998)  # type: ignore[misc]
    assert lo998 == pytest.approx(96.351556196144372, rel=1e-9)
    assert hi998 == pytest.approx(118.60070415876287, rel=1e-9)
    _, tlo, thi, _ = indirect(9, pys, ref)  # type: ignore[misc]
    assert tlo == pytest.approx(0.49233808250957761, rel=1e-9)
    assert thi == pytest.approx(2.043921455549973, rel=1e-9)


@pytest.mark.parametrize(
    ("x", "confidence", "lower", "upper"),
    [
        # testdata_Byars_Wilson.xlsx, sheet testdata_B_W, method Byars
        (65, 0.95, 50.163187710459454, 82.849138545939837),
        (1045, 0.95, 982.59320180733255, 1110.3312129856499),
        (65, 0.998, 42.880261471480203, 94.000290844318016),
        (1045, 0.998, 947.94070356103737, 1148.8061609880331),
        (10, 0.998, 2.916318374695686, 24.193724927880535),
    ],
)
def test_byar_limits(x: int, confidence: float, lower: float, upper: float) -> None:
    assert poisson_byar(x, z_for(confidence)) == (
        pytest.approx(lower, rel=1e-9),
        pytest.approx(upper, rel=1e-9),
    )
    assert poisson_limits(x, confidence) == poisson_byar(x, z_for(confidence))  # from 10: Byar


@pytest.mark.parametrize(
    ("x", "n", "confidence", "lower", "upper"),
    [
        # same sheet, method Wilson
        (65, 100, 0.95, 0.55254443296887967, 0.73635751756902468),
        (1045, 5000, 0.95, 0.19795549880013297, 0.22049130373189027),
        (65, 100, 0.998, 0.49549465740704313, 0.77835406140896968),
        (1045, 5000, 0.998, 0.19179381799015244, 0.22731562902525818),
    ],
)
def test_wilson_limits(x: int, n: int, confidence: float, lower: float, upper: float) -> None:
    assert wilson(x, n, z_for(confidence)) == (
        pytest.approx(lower, rel=1e-9),
        pytest.approx(upper, rel=1e-9),
    )


@pytest.mark.parametrize(
    ("population", "l95", "u95", "l998", "u998"),
    [
        # testdata_funnel_prop_outputs.csv (baseline 80.642448%): Population, Lower2s0025limit,
        # Upper2s0025limit, Lower3s0001limit, Upper3s0001limit
        (1, 3.204264, 100, 0, 100),
        (3, 35.933491, 100, 10.150815, 100),
        (539, 77.306949, 83.977947, 75.38344, 85.901456),
        (110000, 80.408963, 80.875933, 80.274317, 81.010578),
    ],
)
def test_proportion_funnel_is_smooth_wilson(
    population: int, l95: float, u95: float, l998: float, u998: float
) -> None:
    lims = funnel_limits(0.80642448, population, kind="proportion")
    assert [x * 100 for x in lims["95"]] == [pytest.approx(l95, abs=2e-6), pytest.approx(u95)]
    assert [x * 100 for x in lims["99.8"]] == [
        pytest.approx(l998, abs=2e-6),
        pytest.approx(u998, abs=2e-6),
    ]


# testdata_funnel_rate_outputs.csv (DSR per 100,000, baseline 116.1720835, 3 years of data):
# Events 1, 89 and 1360. Each limit sits at its own 1-year population.
RATE_FUNNEL = [
    (1598.675694, 20.85059119, 7.264481402, 4588.535848, 2649.348525, 12.58170943, 0.287087625, 116108.569),
    (31425.26072, 94.40388398, 20508.17444, 144.6577644, 35058.69305, 84.62000173, 17981.56205, 164.9838128),
    (411529.9259, 110.158048, 369759.5622, 122.6021934, 424043.2424, 106.9073359, 358342.3275, 126.5084525),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pop_l95", "l95", "pop_u95", "u95", "pop_l998", "l998", "pop_u998", "u998"),
    RATE_FUNNEL,
)
def test_rate_funnel_is_smooth_exact_poisson(
    pop_l95: float,
    l95: float,
    pop_u95: float,
    u95: float,
    pop_l998: float,
    l998: float,
    pop_u998: float,
    u998: float,
) -> None:
    centre = 116.1720835 / 100_000
    # OHID bisects on a transformed scale to a step of 1e-7, so its figures carry up to ~1e-5
    # relative error where the expected count is tiny (1 event, 99.8%: 0.001 expected);
    # careis solves the same equation to 1e-12
    for pop, band, side, want in (
        (pop_l95, "95", 0, l95),
        (pop_u95, "95", 1, u95),
        (pop_l998, "99.8", 0, l998),
        (pop_u998, "99.8", 1, u998),
    ):
        got = funnel_limits(centre, pop * 3)[band][side] * 100_000
        assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize(
    ("expected", "band", "side", "isr"),
    [
        # testdata_funnel_ratio_outputs.csv, Observed_events 67: lower_2s_exp_events 85.0876134
        # -> lower_2s_isr 78.74236604; upper_2s 51.92408873 -> 129.0345226; lower_3s
        # 96.35358134 -> 69.53555755; upper_3s 44.52205864 -> 150.4872013
        (85.0876134, "95", 0, 78.74236604),
        (51.92408873, "95", 1, 129.0345226),
        (96.35358134, "99.8", 0, 69.53555755),
        (44.52205864, "99.8", 1, 150.4872013),
        # Observed_events 1: lower_2s_exp_events 5.571644585 -> lower_2s_isr 17.94802207
        (5.571644585, "95", 0, 17.94802207),
    ],
)
def test_ratio_funnel_is_centred_on_one(expected: float, band: str, side: int, isr: float) -> None:
    centre, pts = funnel(["X"], [expected], [expected], kind="ratio", per=100)
    assert centre == 100.0 and pts[0].value == pytest.approx(100.0)
    assert pts[0].limits[band][side] == pytest.approx(isr, rel=2e-6)
