"""Statistical process control the NHS way ("Making Data Count"), and funnel plots.

Why our own and not a package: the NHS rules are specific (limits at mean +/- 2.66 x mean
moving range; runs of 7; 2 of 3 beyond two-thirds of the limit distance; icons for variation
and assurance) and the Python packages that exist use other rules. This module is plain
Python over short series (a few dozen monthly points), so it runs after the engine has
aggregated the data and is easy to check by hand.

Charts:
- XmR (individuals): centre = mean; limits = mean +/- 2.66 x mean moving range, optionally
  after screening moving ranges above 3.267 x their mean (then recomputing the mean MR);
- p (proportions), u (rates per unit of exposure), c (counts): centre from the pooled data,
  3-sigma limits from the binomial / Poisson variance, per point when the denominators vary.

Special-cause rules (each can be switched off; run and trend lengths are configurable 6 or 7
as the NHS Excel tool allows):
- `astronomical`: a point beyond a process limit;
- `shift`: a run of `shift_length` points on one side of the mean (a point on the mean
  breaks it);
- `trend`: `trend_length` points each higher (or each lower) than the one before (a tie
  breaks it);
- `two_of_three`: 2 of 3 consecutive points beyond two-thirds of the limit distance, on the
  same side (the third may be anywhere).
Rules are evaluated within each segment (rebasing starts a fresh segment).

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

Direction = Literal["increase", "decrease", "neutral"]
ChartType = Literal["xmr", "p", "u", "c"]


@dataclass(frozen=True)
class SpcOptions:
    chart: ChartType = "xmr"
    improvement: Direction = "neutral"
    shift_length: int = 7
    trend_length: int = 7
    rules: tuple[str, ...] = ("astronomical", "shift", "trend", "two_of_three")
    screen_outliers: bool = False
    rebase_at: tuple[int, ...] = ()
    fix_after: int | None = None
    target: float | None = None
    trajectory: tuple[float | None, ...] | None = None

    def __post_init__(self) -> None:
        for name, n in (("shift_length", self.shift_length), ("trend_length", self.trend_length)):
            if n not in (6, 7, 8):
                raise ConfigError(f"SPC {name} must be 6, 7 or 8 (got {n}).")
        if self.fix_after is not None and self.fix_after < 2:
            raise ConfigError("SPC fix_after needs at least 2 points to compute limits.")
        unknown = set(self.rules) - {"astronomical", "shift", "trend", "two_of_three"}
        if unknown:
            raise ConfigError(f"unknown SPC rule(s): {', '.join(sorted(unknown))}.")


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
    special: Literal["improvement", "concern", "neither"] | None = None
    trajectory: float | None = None
    trend: int = 0  # +1 / -1 when the point is part of a rising / falling trend


@dataclass
class SpcResult:
    chart: ChartType
    points: list[SpcPoint]
    improvement: Direction
    target: float | None
    variation: Literal["common", "improvement", "concern", "neither"]
    assurance: Literal["pass", "fail", "hit_and_miss"] | None

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


def _limits(
    chart: ChartType,
    values: Sequence[float],
    num: Sequence[float] | None,
    den: Sequence[float] | None,
    base: range,
    seg: range,
    screen: bool,
) -> list[tuple[float, float | None]]:
    """(centre, half-width of the limits) for each point of `seg`, from the points in `base`."""
    if chart == "xmr":
        centre = sum(values[i] for i in base) / len(base)
        width = XMR_LIMIT * _mean_moving_range([values[i] for i in base], screen)
        return [(centre, width)] * len(seg)
    assert num is not None and den is not None
    total_num = sum(num[i] for i in base)
    total_den = sum(den[i] for i in base)
    if chart == "c":
        centre = total_num / len(base)
        return [(centre, 3 * math.sqrt(centre))] * len(seg)
    if total_den <= 0:
        raise ConfigError("an SPC p- or u-chart needs positive denominators.")
    centre = total_num / total_den
    out: list[tuple[float, float | None]] = []
    for i in seg:
        if den[i] <= 0:
            out.append((centre, None))
        elif chart == "p":
            out.append((centre, 3 * math.sqrt(centre * (1 - centre) / den[i])))
        else:
            out.append((centre, 3 * math.sqrt(centre / den[i])))
    return out


def spc(
    values: Sequence[float] | None = None,
    *,
    labels: Sequence[str] | None = None,
    numerators: Sequence[float] | None = None,
    denominators: Sequence[float] | None = None,
    options: SpcOptions | None = None,
) -> SpcResult:
    """An SPC chart of a series.

    XmR takes `values`; p- and u-charts take `numerators` and `denominators` (the plotted
    value is their ratio); a c-chart takes `numerators` (counts).
    """
    opts = options or SpcOptions()
    chart = opts.chart
    if chart == "xmr":
        if values is None:
            raise ConfigError("an XmR chart needs values.")
        vals = [float(v) for v in values]
        num = den = None
    else:
        if numerators is None or (chart != "c" and denominators is None):
            raise ConfigError(
                f"a {chart}-chart needs numerators"
                + ("" if chart == "c" else " and denominators")
                + "."
            )
        num = [float(v) for v in numerators]
        den = [float(v) for v in denominators] if denominators is not None else [1.0] * len(num)
        if len(den) != len(num):
            raise ConfigError("numerators and denominators differ in length.")
        vals = [
            n if chart == "c" else (n / d if d > 0 else math.nan)
            for n, d in zip(num, den, strict=True)
        ]
    n = len(vals)
    if n < 2:
        raise ConfigError(f"an SPC chart needs at least 2 points (got {n}).")
    if any(math.isnan(v) for v in vals):
        raise ConfigError("an SPC series has a missing value; fill or drop it first.")
    labels = list(labels) if labels is not None else [str(i + 1) for i in range(n)]
    if len(labels) != n:
        raise ConfigError("SPC labels and values differ in length.")
    trajectory = list(opts.trajectory) if opts.trajectory is not None else [None] * n
    if len(trajectory) != n:
        raise ConfigError("the SPC trajectory must have one value (or null) per point.")

    points: list[SpcPoint] = []
    for s, (a, b) in enumerate(_segments(n, opts.rebase_at)):
        seg = range(a, b)
        base_end = b if opts.fix_after is None else min(b, a + opts.fix_after)
        base = range(a, base_end)
        if len(base) < 2 and chart == "xmr":
            base = seg
        for i, (centre, width) in zip(
            seg, _limits(chart, vals, num, den, base, seg, opts.screen_outliers), strict=True
        ):
            lo = hi = nlo = nhi = None
            if width is not None:
                lo, hi = centre - width, centre + width
                nlo, nhi = centre - 2 * width / 3, centre + 2 * width / 3
                if chart in ("p", "u", "c"):
                    lo = max(lo, 0.0)
                if chart == "p":
                    hi = min(hi, 1.0)
            points.append(
                SpcPoint(
                    i, labels[i], vals[i], centre, lo, hi, nlo, nhi, s, trajectory=trajectory[i]
                )
            )
    for a, b in _segments(n, opts.rebase_at):
        _apply_rules(points[a:b], opts)
    for p in points:
        if p.rules:
            p.special = _classify(p, opts.improvement)
    last = points[-1]
    variation: Literal["common", "improvement", "concern", "neither"] = last.special or "common"
    return SpcResult(
        chart, points, opts.improvement, opts.target, variation, _assurance(last, opts)
    )


def _side(p: SpcPoint) -> int:
    return 1 if p.value > p.mean else (-1 if p.value < p.mean else 0)


def _apply_rules(seg: list[SpcPoint], opts: SpcOptions) -> None:
    n = len(seg)
    if "astronomical" in opts.rules:
        for p in seg:
            if (p.upper is not None and p.value > p.upper) or (
                p.lower is not None and p.value < p.lower
            ):
                p.rules.append("astronomical")
    if "shift" in opts.rules:
        start = 0
        while start < n:
            side = _side(seg[start])
            end = start
            while end + 1 < n and side != 0 and _side(seg[end + 1]) == side:
                end += 1
            if side != 0 and end - start + 1 >= opts.shift_length:
                for p in seg[start : end + 1]:
                    p.rules.append("shift")
            start = end + 1
    if "trend" in opts.rules:
        # trend_length points = trend_length - 1 consecutive rises (or falls)
        i = 0
        while i < n - 1:
            step = _sign(seg[i + 1].value - seg[i].value)
            j = i
            while step != 0 and j + 1 < n and _sign(seg[j + 1].value - seg[j].value) == step:
                j += 1
            if step != 0 and j - i + 1 >= opts.trend_length:
                for p in seg[i : j + 1]:
                    p.rules.append("trend")
                    p.trend = step
            i = max(j, i + 1)
    if "two_of_three" in opts.rules:
        flagged: set[int] = set()
        for i in range(n - 2):
            window = seg[i : i + 3]
            for side in (1, -1):
                near = [
                    k
                    for k, p in enumerate(window)
                    if p.near_upper is not None
                    and p.near_lower is not None
                    and (
                        (side == 1 and p.value > p.near_upper)
                        or (side == -1 and p.value < p.near_lower)
                    )
                ]
                # all three on the same side of the mean, two of them near the limit
                if len(near) >= 2 and all(_side(p) == side for p in window):
                    flagged.update(i + k for k in near)
        for k in sorted(flagged):
            seg[k].rules.append("two_of_three")


def _sign(x: float) -> int:
    return 1 if x > 0 else (-1 if x < 0 else 0)


def _classify(p: SpcPoint, direction: Direction) -> Literal["improvement", "concern", "neither"]:
    if direction == "neutral":
        return "neither"
    high = p.value > p.mean
    if p.rules == ["trend"]:
        # a trend crosses the mean: judge it by its slope, not by the side the point is on
        high = p.trend > 0
    good = high if direction == "increase" else not high
    return "improvement" if good else "concern"


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


@dataclass(frozen=True)
class FunnelPoint:
    org: str
    observed: float
    exposure: float
    value: float
    limits: dict[str, tuple[float, float]]
    outside: str  # "", "95", "99.8" (the widest band it falls outside of), with the side


def funnel(
    orgs: Sequence[str],
    observed: Sequence[float],
    exposure: Sequence[float],
    *,
    kind: Literal["rate", "proportion"] = "rate",
    per: float = 1000.0,
    coverages: Sequence[float] = (0.95, 0.998),
) -> tuple[float, list[FunnelPoint]]:
    """Funnel plot: each organisation's value against the pooled value with exact limits.

    Rates use exact Poisson limits on the expected count (theta x exposure); proportions use
    exact binomial limits on the numerator. Returns (pooled value, points).
    """
    from scipy.stats import binom, poisson

    total_o = sum(observed)
    total_e = sum(exposure)
    if total_e <= 0:
        raise ConfigError("a funnel plot needs positive exposure.")
    theta = total_o / total_e
    scale = per if kind == "rate" else 100.0
    out = []
    for org, o, e in zip(orgs, observed, exposure, strict=True):
        lims: dict[str, tuple[float, float]] = {}
        outside = ""
        for cov in coverages:
            a = (1 - cov) / 2
            if e <= 0:
                continue
            if kind == "rate":
                lo_c = float(poisson.ppf(a, theta * e))
                hi_c = float(poisson.ppf(1 - a, theta * e))
            else:
                lo_c = float(binom.ppf(a, round(e), theta))
                hi_c = float(binom.ppf(1 - a, round(e), theta))
            lims[f"{cov * 100:g}"] = (lo_c / e * scale, hi_c / e * scale)
            if o < lo_c:
                outside = f"below {cov * 100:g}%"
            elif o > hi_c:
                outside = f"above {cov * 100:g}%"
        out.append(FunnelPoint(org, o, e, (o / e * scale) if e > 0 else math.nan, lims, outside))
    return theta * scale, out
