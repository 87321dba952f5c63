"""Confidence intervals and standardisation for measure values.

Why these methods: they are the ones OHID (formerly PHE) uses for the indicators it publishes
in Fingertips, as coded in its R package PHEindicatormethods and described in the PHE/APHO
technical guide "Confidence intervals", so a commissioner can check a careis figure against
theirs (`tests/conformance/` does, against the package's own test figures):
- proportions: Wilson score interval (well behaved at 0% and 100% and for small n);
- counts and rates: exact Poisson limits (Garwood, via chi-squared) below 10 events, Byar's
  approximation from 10 events (`poisson_limits`), as OHID's `phe_rate`;
- directly standardised rates: Dobson's method with Byar's limits on the total count, and
  *not calculated* below 10 events (OHID's minimum count, `MIN_DSR_EVENTS`): `dsr` still
  returns a figure for the analyst, `dsr_note` says why it must not be published;
- indirectly standardised ratios: observed / expected with exact limits below 10 observed
  events and Byar's from 10, as OHID's `calculate_ISRatio`.
Each comes at 95% and 99.8% (OHID publishes both; funnel plots use them as 2 and 3 sigma).

All work on the small aggregated table (one row per organisation and stratum), never on
patient rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy.stats import chi2, norm

Z95 = 1.959963984540054

# 2013 European Standard Population: 5-year bands 0-4 ... 85-89, then 90+ (per 100,000).
# Source: Eurostat, "Revision of the European Standard Population" (2013), table 3.1; used by
# ONS and OHID for directly standardised rates. Applied to each sex separately.
ESP2013: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip
assert sum(ESP2013) == 100_000


def age_band(age: int) -> int:
    """Index of the ESP 2013 five-year band (0 = 0-4, ..., 18 = 90+)."""
    return min(max(age, 0) // 5, len(ESP2013) - 1)


def band_label(band: int) -> str:
    return "90+" if band == len(ESP2013) - 1 else f"{band * 5}-{band * 5 + 4}"


def wilson(numerator: float, denominator: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion, as fractions (0-1). None without a denominator."""
    if denominator <= 0:
        return None
    p = numerator / denominator
    z2 = z * z
    centre = p + z2 / (2 * denominator)
    spread = z * math.sqrt(p * (1 - p) / denominator + z2 / (4 * denominator * denominator))
    den = 1 + z2 / denominator
    return max(0.0, (centre - spread) / den), min(1.0, (centre + spread) / den)


def poisson_exact(observed: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) limits for a Poisson count."""
    alpha = 1 - confidence
    lower = 0.0 if observed <= 0 else float(chi2.ppf(alpha / 2, 2 * observed) / 2)
    upper = float(chi2.ppf(1 - alpha / 2, 2 * observed + 2) / 2)
    return lower, upper


def poisson_byar(observed: float, z: float = Z95) -> tuple[float, float]:
    """Byar's approximation to the exact Poisson limits (good for counts above ~10)."""
    o = observed
    lower = 0.0 if o <= 0 else max(o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3, 0.0)
    o1 = o + 1
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3
    return lower, upper


BYAR_FROM = 10  # OHID: exact limits below 10 events, Byar's from 10
MIN_DSR_EVENTS = 10  # OHID: no directly standardised rate on fewer than 10 events
CONFIDENCES = (0.95, 0.998)  # the two levels OHID publishes


def poisson_limits(observed: float, confidence: float = 0.95) -> tuple[float, float]:
    """Limits for a Poisson count as OHID computes them: exact below 10 events, Byar's from 10."""
    if observed < BYAR_FROM:
        return poisson_exact(observed, confidence)
    return poisson_byar(observed, z_for(confidence))


def poisson_method(observed: float) -> str:
    """The name of the method `poisson_limits` used for this count."""
    return "exact Poisson" if observed < BYAR_FROM else "Byar"


def dsr_note(observed: float) -> str:
    """Why a DSR on this many events must not be published ('' when it may be)."""
    if observed < MIN_DSR_EVENTS:
        return (
            f"DSR not calculated: fewer than {MIN_DSR_EVENTS} events "
            "(OHID minimum count; the figure is for the analyst only)"
        )
    return ""


def dsr(
    strata: Sequence[tuple[float, float, float]], per: float, confidence: float = 0.95
) -> tuple[float, float, float] | None:
    """Directly standardised rate with Dobson limits (Byar's on the total count, as OHID).

    `strata`: (events, person-years, standard weight) per stratum; weights need not sum to 1.
    Strata without person-years are left out of the weights (the standard population is
    renormalised over the strata the organisation has). Below 10 events the total count's
    limits are exact rather than Byar's (Byar's is poor there); OHID would not publish such a
    DSR at all: see `dsr_note`.
    Returns (rate, lower, upper) per `per` person-years, or None with no person-time at all.
    """
    used = [(o, n, w) for o, n, w in strata if n > 0]
    total_w = sum(w for _, _, w in used)
    if not used or total_w <= 0:
        return None
    rate = sum(w * o / n for o, n, w in used) / total_w
    var = sum((w / total_w) ** 2 * o / (n * n) for o, n, w in used)
    observed = sum(o for o, _, _ in used)
    if observed <= 0:
        lo_o, hi_o = poisson_exact(0.0, confidence)
        # with no events Dobson's scaling is undefined; use the crude-equivalent upper limit
        n_tot = sum(n for _, n, _ in used)
        return 0.0, 0.0, hi_o / n_tot * per
    lo_o, hi_o = poisson_limits(observed, confidence)
    scale = math.sqrt(var / observed)
    return (
        rate * per,
        (rate + scale * (lo_o - observed)) * per,
        (rate + scale * (hi_o - observed)) * per,
    )


def indirect(
    observed: float,
    person_years: Mapping[Any, float],
    reference_rates: Mapping[Any, float],
    confidence: float = 0.95,
) -> tuple[float, float, float, float] | None:
    """Indirectly standardised ratio (x100): (ratio, lower, upper, expected).

    Limits on the observed count as OHID's `calculate_ISRatio`: exact below 10 events, Byar's
    from 10, divided by the expected count.
    """
    expected = sum(py * reference_rates.get(k, 0.0) for k, py in person_years.items())
    if expected <= 0:
        return None
    lo, hi = poisson_limits(observed, confidence)
    return observed / expected * 100, lo / expected * 100, hi / expected * 100, expected


def z_for(coverage: float) -> float:
    """Two-sided normal quantile for a coverage (0.95 -> 1.96, 0.998 -> 3.09)."""
    return float(norm.ppf(1 - (1 - coverage) / 2))
