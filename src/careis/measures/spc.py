"""Statistical process control the NHS way ("Making Data Count"), and funnel plots.

Why our own and not a package: the NHS rules are specific (limits at mean +/- 2.66 x mean
moving range; runs of 7; 2 of 3 beyond two-thirds of the limit distance; icons for variation
and assurance) and the Python packages that exist use other rules. This module is plain
Python over short series (a few dozen monthly points), so it runs after the engine has
aggregated the data and is easy to check by hand. The reference it follows, rule by rule, is
NHSRplotthedots (NHS-R Community's implementation of NHS England's "Making Data Count"
guidance); `tests/conformance/` checks it against that package on real A&E data.

Charts:
- XmR (individuals): centre = mean; limits = mean +/- 2.66 x mean moving range, optionally
  after screening moving ranges above 3.267 x their mean (then recomputing the mean MR). This
  is Making Data Count's default chart for any series, a rate included.
- p (proportions), u (rates per unit of exposure), c (counts): centre from the pooled data,
  3-sigma limits from the binomial / Poisson variance, per point when the denominators vary.
- p' and u' (Laney): the p/u limits scaled by sigma_z, the observed month-to-month variation
  of the points' z-scores (mean moving range of z / 1.128). With large denominators p/u
  limits are far narrower than real between-period variation and flag every point; Laney's
  chart keeps the per-point width of p/u but takes its size from the data, as XmR does.

Special-cause rules (each can be switched off; run and trend lengths are configurable 6, 7 or
8 as the NHS Excel tool allows; NHSRplotthedots uses 7):
- `astronomical`: a point beyond a process limit;
- `trend`: `trend_length` points each higher (or each lower) than the one before (a tie
  breaks it);
- `shift`: a run of `shift_length` points on one side of the mean (a point on the mean
  breaks it);
- `two_of_three`: 2 of 3 consecutive points beyond two-thirds of the limit distance, all three
  on the same side of the mean. Whether a point *beyond the limit* counts as one of the two is
  `two_of_three_beyond`: False (the default) counts only points between the two-thirds line
  and the limit, as NHSRplotthedots does (`close_to_limits` excludes points outside the
  limits); True also counts points beyond the limit (a reading of the Making Data Count guide's
  "two out of three points close to the limits": a point beyond is closer still), which is
  what careis did before issue 13.
Rules are evaluated within each segment (rebasing starts a fresh segment).

A point that meets several rules is judged by one (`SpcPoint.rule`), in NHSRplotthedots'
precedence: outside the limits, then trend, then two-of-three, then shift (the order of its
`ptd_special_cause_type`). A trend is judged by its slope (a rising trend is high even where
its points are below the mean); every other rule by the side of the mean the point is on, so
the order between two-of-three and shift names the rule but never changes a point's colour
(issue 13 wrote "shift > two-of-three"; the package tests two-of-three first, and careis
follows the package so that the rule it names is the package's too).

Improvement direction turns a special cause into "improvement" or "concern"; with no
direction it is "neither". Assurance compares a target with the latest segment's limits:
"pass" when every point can be expected to meet it, "fail" when none can, else
"hit_and_miss".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from careis.errors import ConfigError

XMR_LIMIT = 2.66
MR_SCREEN = 3.267
D2 = 1.128  # E[moving range] / sigma for n = 2 (so 3 / D2 = 2.66)
SHORT_BASELINE = 12  # NHSRplotthedots and Making Data Count: fewer points give trial limits

Direction = Literal["increase", "decrease", "neutral"]
ChartType = Literal["xmr", "p", "u", "c", "p_prime", "u_prime"]
Special = Literal["improvement", "concern", "neither"]
RULES: tuple[str, ...] = ("astronomical", "shift", "trend", "two_of_three")
# which rule decides a point that meets several (NHSRplotthedots' order)
PRECEDENCE: tuple[str, ...] = ("astronomical", "trend", "two_of_three", "shift")
CHART_NAMES = {
    "xmr": "XmR",
    "p": "p-chart",
    "u": "u-chart",
    "c": "c-chart",
    "p_prime": "Laney p′-chart",
    "u_prime": "Laney u′-chart",
}
RULE_TEXT = {
    "astronomical": "a point outside the process limits",
    "trend": "a run of points each rising or each falling",
    "shift": "a run of points on one side of the mean",
    "two_of_three": "two of three points close to a process limit",
}


@dataclass(frozen=True)
class SpcOptions:
    chart: ChartType = "xmr"
    improvement: Direction = "neutral"
    shift_length: int = 7
    trend_length: int = 7
    rules: tuple[str, ...] = RULES
    screen_outliers: bool = False
    rebase_at: tuple[int, ...] = ()
    fix_after: int | None = None
    target: float | None = None
    trajectory: tuple[float | None, ...] | None = None
    two_of_three_beyond: bool = False  # False: NHSRplotthedots; True: beyond-limit points count

    def __post_init__(self) -> None:
        for name, n in (("shift_length", self.shift_length), ("trend_length", self.trend_length)):
            if n not in (6, 7, 8):
                raise ConfigError(f"SPC {name} must be 6, 7 or 8 (got {n}).")
        if self.fix_after is not None and self.fix_after < 2:
            raise ConfigError("SPC fix_after needs at least 2 points to compute limits.")
        unknown = set(self.rules) - set(RULES)
        if unknown:
            raise ConfigError(f"unknown SPC rule(s): {', '.join(sorted(unknown))}.")
        if self.chart not in CHART_NAMES:
            raise ConfigError(f"unknown SPC chart '{self.chart}'; use {', '.join(CHART_NAMES)}.")


@dataclass
class SpcPoint:
    index: int
    label: str
    value: float
    mean: float
    lower: float | None
    upper: float | None
    near_lower: float | None  # mean - 2/3 of the limit distance (the 2-of-3 line)
    near_upper: float | None
    segment: int
    rules: list[str] = field(default_factory=list)
    special: Special | None = None
    trajectory: float | None = None
    trend: int = 0  # +1 / -1 when the point is part of a rising / falling trend
    rule: str | None = None  # the rule that decides the point's colour (see PRECEDENCE)
    high: bool | None = None  # the special cause is high (above, or rising) / low


@dataclass
class SpcResult:
    chart: ChartType
    points: list[SpcPoint]
    improvement: Direction
    target: float | None
    variation: Literal["common", "improvement", "concern", "neither"]
    assurance: Literal["pass", "fail", "hit_and_miss"] | None
    warnings: list[str] = field(default_factory=list)
    sigma_z: float | None = None  # Laney charts: the between-period scaling of the limits

    @property
    def variation_high(self) -> bool | None:
        """For the variation icon: the latest special cause is high (True) or low (False)."""
        return self.points[-1].high

    def rows(self) -> list[dict[str, object]]:
        """Flat rows for a CSV or a chart."""
        return [
            {
                "index": p.index,
                "label": p.label,
                "value": p.value,
                "mean": p.mean,
                "lower": p.lower,
                "upper": p.upper,
                "segment": p.segment,
                "rules": ";".join(p.rules),
                "special": p.special or "",
                "target": self.target,
                "trajectory": p.trajectory,
            }
            for p in self.points
        ]


def _segments(n: int, rebase_at: Sequence[int]) -> list[tuple[int, int]]:
    cuts = sorted({i for i in rebase_at if 0 < i < n})
    bounds = [0, *cuts, n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _mean_moving_range(values: Sequence[float], screen: bool) -> float:
    mrs = [abs(values[i] - values[i - 1]) for i in range(1, len(values))]
    if not mrs:
        return 0.0
    mean_mr = sum(mrs) / len(mrs)
    if screen:
        kept = [m for m in mrs if m <= MR_SCREEN * mean_mr]
        if kept:
            mean_mr = sum(kept) / len(kept)
    return mean_mr


@dataclass(frozen=True)
class _Series:
    """The checked inputs of one chart: plotted values and, for p/u/c, counts."""

    values: list[float]
    num: list[float] | None
    den: list[float] | None


def _limits(
    chart: ChartType, s: _Series, base: range, seg: range, screen: bool
) -> tuple[list[tuple[float, float]], float | None]:
    """(centre, half-width) for each point of `seg` from the points in `base`; Laney's sigma_z."""
    if chart == "xmr":
        centre = sum(s.values[i] for i in base) / len(base)
        width = XMR_LIMIT * _mean_moving_range([s.values[i] for i in base], screen)
        return [(centre, width)] * len(seg), None
    assert s.num is not None and s.den is not None
    total_num = sum(s.num[i] for i in base)
    if chart == "c":
        centre = total_num / len(base)
        return [(centre, 3 * math.sqrt(centre))] * len(seg), None
    centre = total_num / sum(s.den[i] for i in base)
    var = centre * (1 - centre) if chart in ("p", "p_prime") else centre
    sigma = [math.sqrt(var / s.den[i]) for i in range(len(s.den))]
    sigma_z = None
    if chart in ("p_prime", "u_prime"):
        z = [(s.values[i] - centre) / sigma[i] if sigma[i] > 0 else 0.0 for i in base]
        sigma_z = _mean_moving_range(z, screen) / D2
    scale = 1.0 if sigma_z is None else sigma_z
    return [(centre, 3 * sigma[i] * scale) for i in seg], sigma_z


def _check_counts(chart: ChartType, num: list[float], den: list[float], labels: list[str]) -> None:
    """One clear error per bad point: a chart of counts cannot take these."""
    for i, (n, d) in enumerate(zip(num, den, strict=True)):
        where = f"SPC point {i + 1} ({labels[i]})"
        if not (math.isfinite(n) and math.isfinite(d)):
            raise ConfigError(f"{where}: the count or denominator is not a finite number.")
        if n < 0:
            raise ConfigError(f"{where}: a negative count ({n:g}); counts start at 0.")
        if chart == "c":
            continue
        if d <= 0:
            raise ConfigError(f"{where}: the denominator is {d:g}; a {chart}-chart needs it > 0.")
        if chart in ("p", "p_prime") and n > d:
            raise ConfigError(
                f"{where}: the numerator ({n:g}) is above the denominator ({d:g}); "
                "a proportion cannot exceed 1."
            )


def _series(
    chart: ChartType,
    values: Sequence[float] | None,
    numerators: Sequence[float] | None,
    denominators: Sequence[float] | None,
    labels: list[str] | None,
) -> _Series:
    if chart == "xmr":
        if values is None:
            raise ConfigError("an XmR chart needs values.")
        vals = [float(v) for v in values]
        names = labels or [str(i + 1) for i in range(len(vals))]
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                where = f"SPC point {i + 1} ({names[i] if i < len(names) else i + 1})"
                raise ConfigError(f"{where}: the value {v} is missing or not a finite number.")
        return _Series(vals, None, None)
    if numerators is None or (chart != "c" and denominators is None):
        extra = "" if chart == "c" else " and denominators"
        raise ConfigError(f"a {CHART_NAMES[chart]} needs numerators{extra}.")
    num = [float(v) for v in numerators]
    den = [float(v) for v in denominators] if denominators is not None else [1.0] * len(num)
    if len(den) != len(num):
        raise ConfigError("numerators and denominators differ in length.")
    names = labels or [str(i + 1) for i in range(len(num))]
    if len(names) == len(num):
        _check_counts(chart, num, den, names)
    vals = [n if chart == "c" else n / d for n, d in zip(num, den, strict=True)]
    return _Series(vals, num, den)


def spc(
    values: Sequence[float] | None = None,
    *,
    labels: Sequence[str] | None = None,
    numerators: Sequence[float] | None = None,
    denominators: Sequence[float] | None = None,
    options: SpcOptions | None = None,
) -> SpcResult:
    """An SPC chart of a series (in time order: the caller sorts it).

    XmR takes `values`; p-, u-, p'- and u'-charts take `numerators` and `denominators` (the
    plotted value is their ratio); a c-chart takes `numerators` (counts).
    """
    opts = options or SpcOptions()
    names = list(labels) if labels is not None else None
    s = _series(opts.chart, values, numerators, denominators, names)
    n = len(s.values)
    if n < 2:
        raise ConfigError(f"an SPC chart needs at least 2 points (got {n}).")
    names = names if names is not None else [str(i + 1) for i in range(n)]
    if len(names) != n:
        raise ConfigError("SPC labels and values differ in length.")
    trajectory: list[float | None] = (
        list(opts.trajectory) if opts.trajectory is not None else [None] * n
    )
    if len(trajectory) != n:
        raise ConfigError("the SPC trajectory must have one value (or null) per point.")
    points: list[SpcPoint] = []
    warnings: list[str] = []
    sigma_z: float | None = None
    for seg_no, (a, b) in enumerate(_segments(n, opts.rebase_at)):
        seg_points, seg_sigma, n_base = _segment(s, names, trajectory, opts, seg_no, a, b)
        points.extend(seg_points)
        sigma_z = seg_sigma if seg_sigma is not None else sigma_z
        if n_base < SHORT_BASELINE:
            warnings.append(
                f"the limits of points {names[a]}–{names[b - 1]} rest on {n_base} points "
                f"(fewer than {SHORT_BASELINE}): treat them as trial limits."
            )
        _apply_rules(seg_points, opts)
    for p in points:
        _classify(p, opts.improvement)
    last = points[-1]
    variation: Literal["common", "improvement", "concern", "neither"] = last.special or "common"
    return SpcResult(
        opts.chart,
        points,
        opts.improvement,
        opts.target,
        variation,
        _assurance(last, opts),
        warnings,
        sigma_z,
    )


def _segment(
    s: _Series,
    labels: list[str],
    trajectory: list[float | None],
    opts: SpcOptions,
    seg_no: int,
    a: int,
    b: int,
) -> tuple[list[SpcPoint], float | None, int]:
    """The points of one segment with their limits; Laney's sigma_z; points the limits use."""
    seg = range(a, b)
    base_end = b if opts.fix_after is None else min(b, a + opts.fix_after)
    base = range(a, base_end)
    if len(base) < 2 and opts.chart in ("xmr", "p_prime", "u_prime"):
        base = seg
    limits, sigma_z = _limits(opts.chart, s, base, seg, opts.screen_outliers)
    out = []
    for i, (centre, width) in zip(seg, limits, strict=True):
        lo, hi = centre - width, centre + width
        if opts.chart != "xmr":
            lo = max(lo, 0.0)
        if opts.chart in ("p", "p_prime"):
            hi = min(hi, 1.0)
        out.append(
            SpcPoint(
                i,
                labels[i],
                s.values[i],
                centre,
                lo,
                hi,
                centre - 2 * width / 3,
                centre + 2 * width / 3,
                seg_no,
                trajectory=trajectory[i],
            )
        )
    return out, sigma_z, len(base)


def _side(p: SpcPoint) -> int:
    return 1 if p.value > p.mean else (-1 if p.value < p.mean else 0)


def _sign(x: float) -> int:
    return 1 if x > 0 else (-1 if x < 0 else 0)


def _outside(p: SpcPoint) -> bool:
    return (p.upper is not None and p.value > p.upper) or (
        p.lower is not None and p.value < p.lower
    )


def _apply_rules(seg: list[SpcPoint], opts: SpcOptions) -> None:
    """Mark every rule each point of one segment meets (the order of `RULES`)."""
    if "astronomical" in opts.rules:
        for p in seg:
            if _outside(p):
                p.rules.append("astronomical")
    if "shift" in opts.rules:
        _shift(seg, opts.shift_length)
    if "trend" in opts.rules:
        _trend(seg, opts.trend_length)
    if "two_of_three" in opts.rules:
        _two_of_three(seg, opts.two_of_three_beyond)


def _shift(seg: list[SpcPoint], length: int) -> None:
    n = len(seg)
    start = 0
    while start < n:
        side = _side(seg[start])
        end = start
        while end + 1 < n and side != 0 and _side(seg[end + 1]) == side:
            end += 1
        if side != 0 and end - start + 1 >= length:
            for p in seg[start : end + 1]:
                p.rules.append("shift")
        start = end + 1


def _trend(seg: list[SpcPoint], length: int) -> None:
    """`length` points = `length` - 1 consecutive rises (or falls); a tie breaks the run.

    A point where a rising run meets a falling one takes the later run's slope (the
    NHSRplotthedots reading: a point in a trend is judged by the step to its right when the
    next point is in a trend too).
    """
    n = len(seg)
    i = 0
    while i < n - 1:
        step = _sign(seg[i + 1].value - seg[i].value)
        j = i
        while step != 0 and j + 1 < n and _sign(seg[j + 1].value - seg[j].value) == step:
            j += 1
        if step != 0 and j - i + 1 >= length:
            for p in seg[i : j + 1]:
                if "trend" not in p.rules:
                    p.rules.append("trend")
                p.trend = step
        i = max(j, i + 1)


def _near(p: SpcPoint, side: int, beyond: bool) -> bool:
    """Beyond the two-thirds line on `side` (and, unless `beyond`, not beyond the limit)."""
    if p.near_upper is None or p.near_lower is None:
        return False
    close = p.value > p.near_upper if side == 1 else p.value < p.near_lower
    return close and (beyond or not _outside(p))


def _two_of_three(seg: list[SpcPoint], beyond: bool) -> None:
    flagged: set[int] = set()
    for i in range(len(seg) - 2):
        window = seg[i : i + 3]
        for side in (1, -1):
            near = [k for k, p in enumerate(window) if _near(p, side, beyond)]
            # all three on the same side of the mean, two of them near the limit
            if len(near) >= 2 and all(_side(p) == side for p in window):
                flagged.update(i + k for k in near)
    for k in sorted(flagged):
        seg[k].rules.append("two_of_three")


def _classify(p: SpcPoint, direction: Direction) -> None:
    """Set the deciding rule, whether the special cause is high or low, and its colour."""
    if not p.rules:
        return
    p.rule = next(r for r in PRECEDENCE if r in p.rules)
    # a trend crosses the mean: judge it by its slope, not by the side the point is on
    p.high = p.trend > 0 if p.rule == "trend" else p.value > p.mean
    if direction == "neutral":
        p.special = "neither"
        return
    good = p.high if direction == "increase" else not p.high
    p.special = "improvement" if good else "concern"


def _assurance(last: SpcPoint, opts: SpcOptions) -> Literal["pass", "fail", "hit_and_miss"] | None:
    t = opts.target
    if t is None or opts.improvement == "neutral" or last.lower is None or last.upper is None:
        return None
    if opts.improvement == "increase":
        if last.lower > t:
            return "pass"
        if last.upper < t:
            return "fail"
    else:
        if last.upper < t:
            return "pass"
        if last.lower > t:
            return "fail"
    return "hit_and_miss"


# --------------------------------------------------------------------------- funnel plots
FunnelKind = Literal["rate", "proportion", "ratio"]


@dataclass(frozen=True)
class FunnelPoint:
    org: str
    observed: float
    exposure: float
    value: float
    limits: dict[str, tuple[float, float]]
    outside: str  # "", "below 95%", "above 99.8%" (the widest band it falls outside of)


def _poisson_funnel_count(mu: float, tail: float, side: Literal["low", "high"]) -> float:
    """The event count (continuous) whose exact Poisson limit lands on `mu` expected events.

    The lower funnel limit at an exposure with `mu` expected events is the count E whose
    upper exact limit equals mu (a point below it has an interval wholly below the centre);
    the upper limit is the E whose lower exact limit equals mu. Treating E as continuous
    gives OHID's smooth curves (their tool solves the same equation by bisection).
    """
    from scipy.optimize import brentq
    from scipy.stats import chi2

    if mu <= 0:
        return 0.0
    if side == "low":

        def gap(e: float) -> float:
            return float(chi2.ppf(1 - tail, 2 * e + 2) / 2) - mu

        if gap(0.0) >= 0:
            return 0.0  # even no events is within the limits
    else:

        def gap(e: float) -> float:
            return float(chi2.ppf(tail, 2 * e) / 2) - mu if e > 0 else -mu

    top = mu + 20 * math.sqrt(mu) + 20
    return float(brentq(gap, 0.0, top, xtol=1e-10, rtol=1e-12))


def _wilson_funnel(average: float, n: float, z: float) -> tuple[float, float]:
    """Proportions whose Wilson score interval (z) at denominator n ends exactly on `average`.

    A practice with x of n is outside the funnel when its own Wilson interval excludes the
    average: the limits are the two roots in x of (a(n+z²) - x - z²/2)² = z²(x(n-x)/n + z²/4),
    the Wilson interval's endpoint equation with the endpoint set to the average a.
    """
    s = n + z * z
    qa = 1 + z * z / n
    qb = -2 * average * s
    qc = average * average * s * s - average * z * z * s
    root = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))
    lo, hi = (-qb - root) / (2 * qa) / n, (-qb + root) / (2 * qa) / n
    return max(lo, 0.0), min(hi, 1.0)


def funnel_limits(
    centre: float,
    exposure: float,
    *,
    kind: FunnelKind = "rate",
    coverages: Sequence[float] = (0.95, 0.998),
) -> dict[str, tuple[float, float]]:
    """Funnel limits at one exposure, as fractions (x `per` or x100 is the caller's).

    `centre` is the pooled rate per unit of exposure, the pooled proportion, or 1 for a ratio
    (observed / expected, with the expected count as the exposure). Methods as OHID's
    Fingertips / PHEindicatormethods (`calculate_funnel_limits`): exact Poisson for rates and
    ratios, Wilson score for proportions, both solved continuously so the limits are smooth.
    """
    from careis.measures.stats import z_for

    out: dict[str, tuple[float, float]] = {}
    if exposure <= 0:
        return out
    for cov in coverages:
        tail = (1 - cov) / 2
        if kind == "proportion":
            out[f"{cov * 100:g}"] = _wilson_funnel(centre, exposure, z_for(cov))
            continue
        mu = centre * exposure
        low = _poisson_funnel_count(mu, tail, "low")
        high = _poisson_funnel_count(mu, tail, "high")
        out[f"{cov * 100:g}"] = (low / exposure, high / exposure)
    return out


def funnel(
    orgs: Sequence[str],
    observed: Sequence[float],
    exposure: Sequence[float],
    *,
    kind: FunnelKind = "rate",
    per: float = 1000.0,
    coverages: Sequence[float] = (0.95, 0.998),
) -> tuple[float, list[FunnelPoint]]:
    """Funnel plot: each organisation's value against the centre with smooth OHID limits.

    Rates: observed events over person-years, centred on the pooled rate, shown per `per`.
    Proportions: numerator over denominator, centred on the pooled proportion, shown as %.
    Ratios: observed over expected events (`exposure` = expected), centred on 1, shown x
    `per` (100 for an indirectly standardised ratio). Returns (centre as shown, points).
    """
    if kind == "ratio":
        theta = 1.0
    else:
        total_e = sum(exposure)
        if total_e <= 0:
            raise ConfigError("a funnel plot needs positive exposure.")
        theta = sum(observed) / total_e
    scale = 100.0 if kind == "proportion" else per
    out = []
    for org, o, e in zip(orgs, observed, exposure, strict=True):
        fractions = funnel_limits(theta, e, kind=kind, coverages=coverages)
        value = o / e if e > 0 else math.nan
        outside = ""
        for band, (lo, hi) in fractions.items():  # narrowest band first
            if value < lo:
                outside = f"below {band}%"
            elif value > hi:
                outside = f"above {band}%"
        lims = {band: (lo * scale, hi * scale) for band, (lo, hi) in fractions.items()}
        out.append(FunnelPoint(org, o, e, value * scale, lims, outside))
    return theta * scale, out
