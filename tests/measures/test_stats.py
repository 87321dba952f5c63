"""Confidence intervals and standardisation against published / hand-worked values."""

from __future__ import annotations

import math

import pytest

from careis.measures.stats import (
    ESP2013,
    age_band,
    dsr,
    indirect,
    poisson_byar,
    poisson_exact,
    poisson_limits,
    poisson_method,
    wilson,
)


def test_wilson_matches_published_value() -> None:
    # 8 of 10: Wilson 95% interval 49.0% - 94.3% (Newcombe 1998, table I method 3)
    lo, hi = wilson(8, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0  # type: ignore[index]
    assert wilson(1, 0) is None


def test_exact_poisson_limits_match_tables() -> None:
    assert poisson_exact(0) == (0.0, pytest.approx(3.6889, abs=1e-4))
    lo, hi = poisson_exact(10)
    assert (lo, hi) == (pytest.approx(4.7954, abs=1e-4), pytest.approx(18.3904, abs=1e-4))
    blo, bhi = poisson_byar(10)
    assert blo == pytest.approx(lo, rel=0.01) and bhi == pytest.approx(hi, rel=0.01)


def test_directly_standardised_rate_worked_by_hand() -> None:
    """Two strata, worked on paper.

    stratum 1: 10 events / 1,000 person-years, weight 0.6; stratum 2: 30 / 500, weight 0.4.
    DSR = 0.6 x 0.01 + 0.4 x 0.06 = 0.030 -> 30 per 1,000.
    var = 0.36 x 10 / 1000^2 + 0.16 x 30 / 500^2 = 2.28e-5; O = 40, Byar's limits (OHID, from
    10 events): 40 x (1 - 1/360 - 1.96/(3 x sqrt 40))^3 = 28.5733, 41 x (1 - 1/369 + 1.96/(3 x
    sqrt 41))^3 = 54.4701.
    Dobson: 0.030 + sqrt(2.28e-5 / 40) x (28.5733 - 40) = 0.021373 -> 21.373 per 1,000;
            0.030 + sqrt(2.28e-5 / 40) x (54.4701 - 40) = 0.040925 -> 40.925 per 1,000.
    """
    rate, lo, hi = dsr([(10, 1000, 0.6), (30, 500, 0.4)], per=1000)  # type: ignore[misc]
    assert rate == pytest.approx(30.0)
    assert lo == pytest.approx(21.373, abs=0.001)
    assert hi == pytest.approx(40.925, abs=0.001)
    # weights need not sum to one, and empty strata drop out of the standard
    again = dsr([(10, 1000, 6000), (30, 500, 4000), (0, 0, 5000)], per=1000)
    assert again is not None and again[0] == pytest.approx(30.0)


def test_indirect_ratio() -> None:
    # reference rates 0.01 and 0.05; 1000 and 200 person-years -> expected 10 + 10 = 20
    ratio, lo, hi, expected = indirect(30, {"a": 1000, "b": 200}, {"a": 0.01, "b": 0.05})  # type: ignore[misc]
    assert expected == pytest.approx(20.0)
    assert ratio == pytest.approx(150.0)
    olo, ohi = poisson_byar(30)  # 30 events: Byar's, as OHID
    assert lo == pytest.approx(olo / 20 * 100) and hi == pytest.approx(ohi / 20 * 100)
    _, lo9, hi9, _ = indirect(9, {"a": 1000, "b": 200}, {"a": 0.01, "b": 0.05})  # type: ignore[misc]
    elo, ehi = poisson_exact(9)  # below 10 events: exact
    assert lo9 == pytest.approx(elo / 20 * 100) and hi9 == pytest.approx(ehi / 20 * 100)


def test_ohid_switches_from_exact_to_byar_at_ten_events() -> None:
    assert poisson_limits(9.0) == poisson_exact(9.0)
    assert poisson_limits(10.0) == poisson_byar(10.0)
    assert poisson_method(9.0) == "exact Poisson" and poisson_method(10.0) == "Byar"
    # 99.8% limits are wider than 95%
    lo95, hi95 = poisson_limits(50.0)
    lo998, hi998 = poisson_limits(50.0, 0.998)
    assert lo998 < lo95 < 50 < hi95 < hi998


def test_esp_bands() -> None:
    assert sum(ESP2013) == 100_000 and len(ESP2013) == 19
    assert age_band(0) == 0 and age_band(4) == 0 and age_band(5) == 1
    assert age_band(89) == 17 and age_band(90) == 18 and age_band(104) == 18
    assert not math.isnan(ESP2013[18])
