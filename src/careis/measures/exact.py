"""Exact values for the figures money depends on: changes from integer counts, one rounding rule.

Why: a reduction of exactly 19.995% computed in binary floating point came out as
-19.99499999..., so the payment (which rounds to two decimals) said "not met" while
`measures/results.csv`, printed to six decimals, said -19.995 and `careis contracts compare`
(which reads that file) paid it. The rule now, everywhere (docs/payments.md, "Exact values"):

1. A change is computed exactly, as a fraction of the integer counts: events over
   person-days (a rate's person-years are person-days / 365.25, so the factor cancels) or
   numerator over denominator (an indicator); a DSR from its stratum counts and the ESP
   2013 weights (careis.measures.compile._exact_dsr). An indirectly standardised ratio's
   change is computed exactly from the two ratios as stored.
2. `results.csv` holds that exact value cut (towards zero) to 6 decimals: `printed`.
3. A test (a target, a floor, a threshold) rounds the printed figure half up (away from zero)
   to 2 decimals: `tested`. Cutting to 6 decimals first never changes the 2-decimal result,
   because every half-way point (x.xx5) is itself a 6-decimal number; so the statement, the
   evidence file, `contracts compare` and `pay --run` (which read the file) all agree.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

__all__ = ["DAYS_PER_YEAR", "change", "counts", "printed", "tested"]

#: Person-years are person-days / 365.25 (careis.measures.compile).
DAYS_PER_YEAR = Fraction(1461, 4)
PRINTED_PLACES = 6
TESTED = Decimal("0.01")


def _fraction(value: object) -> Fraction:
    """A stored float as the decimal it prints as (repr), never its binary expansion."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(str(value))


def counts(numerator: object, denominator: object, unit: str) -> tuple[Fraction, Fraction] | None:
    """The integer counts behind a crude rate or a proportion: (events, person-days) for a
    rate per person-years, (numerator, denominator) otherwise; None when either is missing."""
    if numerator is None or denominator is None:
        return None
    num, den = _fraction(numerator), _fraction(denominator)
    if "person-years" in unit:  # person-days are whole: undo the division by 365.25
        den = Fraction(round(den * DAYS_PER_YEAR))
    return num, den


def change(
    performance: tuple[Fraction, Fraction], baseline: tuple[Fraction, Fraction]
) -> Fraction | None:
    """% change of the ratio num/den from baseline to performance, exactly (None if the
    baseline is zero or a denominator is)."""
    (pn, pd), (bn, bd) = performance, baseline
    if pd == 0 or bd == 0 or bn == 0:
        return None
    return ((pn * bd) / (pd * bn) - 1) * 100


def printed(value: Fraction) -> float:
    """The exact value cut towards zero to 6 decimals: what results.csv holds and prints."""
    scale = 10**PRINTED_PLACES
    return float(Fraction(int(value * scale), scale))


def tested(value: Fraction | float | Decimal | None) -> Decimal | None:
    """The value a test compares: rounded half up (away from zero) to 2 decimals.

    A Fraction is rounded exactly; a stored float is taken as the decimal it prints as.
    """
    if value is None:
        return None
    if isinstance(value, Fraction):
        scaled = abs(value) * 100
        whole = int(scaled + Fraction(1, 2))  # half up, on the magnitude
        out = Decimal(whole) / 100
        return (-out if value < 0 else out).quantize(TESTED)
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(TESTED, rounding=ROUND_HALF_UP)
