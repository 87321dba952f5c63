"""The business case: does the scheme pay for itself, and when?

Why from the locality's own baseline: a national rate says little about Bolton; the measures
engine already counts the locality's emergency admissions (and, where a run has them, A&E
attendances and bed-days), so the projection starts from those counts, read from a completed
run's `measures/results.csv`. The scheme's own payments come from that run's
`payments/summary.csv`, so the cost side is what the contract actually pays.

Money is `Decimal`, rounded to the penny once per month and line; the payback month is the
first month in which cumulative savings cover cumulative costs. Savings are *tariff* avoided
at the stated price year, not cash released (DOMAIN.md section 8) — the report says so.
Sensitivity (one factor at a time, low/high) and a seeded Monte Carlo use floats: they show a
range, not a figure anyone is paid.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from careis.errors import ConfigError
from careis.money import allocate, round_pence
from careis.yamlio import load_yaml, validation_error

ZERO = Decimal(0)

# Defaults from DOMAIN.md section 8: NHS reference costs 2016/17 (HFMA, Dec 2017).
DEFAULT_PRICE_YEAR = "2016/17 (NHS reference costs, via HFMA Dec 2017)"
DEFAULT_UNIT_COSTS: dict[str, Decimal] = {
    "emergency_admissions": Decimal("1590"),  # non-elective inpatient episode, excl. excess days
    "ae_attendances": Decimal("148"),  # A&E attendance
    "bed_days": Decimal("313"),  # excess bed day
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    low: Decimal
    high: Decimal

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class ActivitySpec(_Model):
    """One kind of activity the scheme is expected to avoid."""

    baseline: Decimal | None = Field(
        default=None, ge=0, description="Events a year; omit to read it from the run."
    )
    measure: str | None = Field(
        default=None, description="Measure id in the run's results.csv (numerator is counted)."
    )
    unit_cost: Decimal | None = Field(default=None, ge=0, description="£ per event.")
    effect: Decimal = Field(ge=0, le=1, description="Share of events avoided at full effect.")
    effect_range: Range | None = Field(default=None, description="For sensitivity/Monte Carlo.")


class CostItem(_Model):
    name: str
    kind: Literal["engagement", "concordance", "performance", "technology", "set_up", "other"]
    amount: Decimal | None = Field(
        default=None, ge=0, description="£: one-off amount, or per year for recurring costs."
    )
    from_payments: str | None = Field(
        default=None,
        description="Take the yearly amount from this column of the run's payments/summary.csv.",
    )
    timing: Literal["one_off", "monthly", "year_end"] = Field(
        description="one_off: in `month`; monthly: the yearly amount in 12 parts; year_end."
    )
    month: int = Field(default=1, ge=1, description="For one_off: the month it is paid.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.amount is None) == (self.from_payments is None):
            raise ValueError("give exactly one of 'amount' or 'from_payments'")
        return self


class MonteCarlo(_Model):
    runs: int = Field(default=2000, ge=100, le=200_000)
    seed: int = 1


class BusinessCaseSpec(_Model):
    name: str
    price_year: str = DEFAULT_PRICE_YEAR
    start: dt.date = Field(description="First day of month 1 of the projection.")
    years: int = Field(default=3, ge=1, le=10)
    run: str | None = Field(
        default=None, description="A completed careis run folder (relative to this file)."
    )
    level: str = Field(default="icb", description="Level of results.csv to take baselines from.")
    period: str = Field(default="baseline", description="Period of results.csv to use.")
    ramp_months: int = Field(default=0, ge=0, description="Months to reach the full effect.")
    uptake: Decimal = Field(default=Decimal(1), ge=0, le=1)
    uptake_range: Range | None = None
    unit_cost_range: Range = Field(
        default_factory=lambda: Range(low=Decimal("0.8"), high=Decimal("1.2")),
        description="Multipliers on every unit cost, for sensitivity/Monte Carlo.",
    )
    activities: dict[str, ActivitySpec] = Field(min_length=1)
    costs: tuple[CostItem, ...] = Field(min_length=1)
    monte_carlo: MonteCarlo = Field(default_factory=MonteCarlo)


@dataclass(frozen=True)
class Month:
    index: int  # 1-based
    start: dt.date
    savings: Decimal
    costs: Decimal
    net: Decimal
    cumulative: Decimal


@dataclass(frozen=True)
class YearRow:
    year: int
    avoided: dict[str, Decimal]  # events avoided in the year
    savings: Decimal
    costs: dict[str, Decimal]  # by cost item name
    total_costs: Decimal
    net: Decimal
    cumulative: Decimal


@dataclass(frozen=True)
class TornadoBar:
    factor: str
    low_label: str
    high_label: str
    net_low: float
    net_high: float


@dataclass(frozen=True)
class BusinessCase:
    spec: BusinessCaseSpec
    baselines: dict[str, Decimal]
    baseline_sources: dict[str, str]
    unit_costs: dict[str, Decimal]
    costs: dict[str, Decimal]  # resolved yearly (or one-off) amount by item name
    months: tuple[Month, ...]
    years: tuple[YearRow, ...]
    payback_month: int | None
    year1_recouped: bool
    tornado: tuple[TornadoBar, ...]
    mc_net_p5: float
    mc_net_p50: float
    mc_net_p95: float
    mc_prob_year1_recouped: float
    mc_prob_payback_in_horizon: float

    @property
    def total_net(self) -> Decimal:
        return self.months[-1].cumulative


def load_business_case(path: str | Path) -> tuple[BusinessCaseSpec, Path]:
    data, lines = load_yaml(path)
    try:
        return BusinessCaseSpec.model_validate(data), Path(path).resolve().parent
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise ConfigError(
            "file not found.",
            file=path,
            fix="run 'careis run' first, or point 'run:' at its output.",
        ) from None


def _run_baselines(spec: BusinessCaseSpec, run: Path) -> dict[str, tuple[Decimal, str]]:
    rows = _read_csv(run / "measures" / "results.csv")
    out: dict[str, tuple[Decimal, str]] = {}
    for name, act in spec.activities.items():
        measure = act.measure or name
        hits = [
            r for r in rows
            if r["measure_id"] == measure and r["level"] == spec.level and r["period"] == spec.period
        ]  # fmt: skip
        if hits:
            total = sum((Decimal(r["numerator"] or "0") for r in hits), ZERO)
            orgs = ", ".join(sorted(r["org_code"] for r in hits))
            period = f"{hits[0]['period_start']} to {hits[0]['period_end']}"
            # the run's practices only: a run of one sub-ICB rolled up to its ICB is not the ICB
            where = f"the run's practices in {spec.level.replace('_', '-').upper()} {orgs}"
            out[name] = (total, f"measure '{measure}', {where}, {period}")
    return out


def _payment_totals(run: Path) -> dict[str, Decimal]:
    rows = _read_csv(run / "payments" / "summary.csv")
    totals: dict[str, Decimal] = {}
    for r in rows:
        for col, value in r.items():
            if col in ("provider", "pcn", "federation", "sub_icb", "icb"):
                continue
            totals[col] = totals.get(col, ZERO) + Decimal(value or "0")
    return totals


def _monthly(item: CostItem, amount: Decimal, n_months: int) -> list[Decimal]:
    out = [ZERO] * n_months
    if item.timing == "one_off":
        if item.month <= n_months:
            out[item.month - 1] = round_pence(amount)
    elif item.timing == "year_end":
        for m in range(12, n_months + 1, 12):
            out[m - 1] = round_pence(amount)
    else:  # monthly: the yearly amount in 12 whole-penny parts that sum exactly
        parts = allocate(amount, dict.fromkeys(range(12), 1), order=list(range(12)))
        for m in range(n_months):
            out[m] = parts[m % 12]
    return out


def _ramp(m: int, ramp_months: int) -> Decimal:
    if ramp_months <= 0 or m >= ramp_months:
        return Decimal(1)
    return Decimal(m) / Decimal(ramp_months)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def payback_month(cumulative: list[Decimal]) -> int | None:
    """The first month after which the cumulative net stays at or above zero to the end of the
    horizon (1-based), or None: "not within N months".

    Why not the first month it touches zero: payments that fall at year end pull the cumulative
    back below zero, and a scheme that crosses zero in month 5 and ends the horizon in deficit
    has not paid back."""
    month: int | None = None
    for i in range(len(cumulative), 0, -1):
        if cumulative[i - 1] < 0:
            break
        month = i
    return month


def build(
    spec: BusinessCaseSpec, base_dir: Path, run: Path | None = None, *, file: Path | None = None
) -> BusinessCase:
    """Project savings and costs month by month; find the payback month; test sensitivity.

    `file` is the business case's own file: an error about what it states (a baseline or a
    unit cost it lacks) names it, so the user knows which file to edit."""
    try:
        return _build(spec, base_dir, run)
    except ConfigError as exc:
        if exc.file is not None or file is None:
            raise
        raise ConfigError(exc.problem, file=file, where=exc.where, fix=exc.fix) from None


def _build(spec: BusinessCaseSpec, base_dir: Path, run: Path | None) -> BusinessCase:
    run_dir = run or ((base_dir / spec.run) if spec.run else None)
    from_run = _run_baselines(spec, run_dir) if run_dir is not None else {}
    baselines: dict[str, Decimal] = {}
    sources: dict[str, str] = {}
    unit_costs: dict[str, Decimal] = {}
    for name, act in spec.activities.items():
        if act.baseline is not None:
            baselines[name], sources[name] = act.baseline, "stated in the business case"
        elif name in from_run:
            baselines[name], sources[name] = from_run[name]
        else:
            where = f"the run {run_dir}" if run_dir else "no run ('run:' is not set)"
            raise ConfigError(
                f"activity '{name}' has no baseline: it is not stated and {where} has no "
                f"'{act.measure or name}' measure at level {spec.level}, period {spec.period}.",
                fix=f"add 'baseline:' under activities.{name}, or point 'run:' at a run that "
                "measures it.",
            )
        cost = act.unit_cost if act.unit_cost is not None else DEFAULT_UNIT_COSTS.get(name)
        if cost is None:
            raise ConfigError(
                f"activity '{name}' has no unit cost and careis has no default for it.",
                fix=f"add 'unit_cost:' under activities.{name} (and state the price year).",
            )
        unit_costs[name] = cost
    payments = _payment_totals(run_dir) if run_dir is not None and any(
        c.from_payments for c in spec.costs) else {}  # fmt: skip
    amounts: dict[str, Decimal] = {}
    for item in spec.costs:
        if item.from_payments is not None:
            if item.from_payments not in payments:
                raise ConfigError(
                    f"cost '{item.name}': column '{item.from_payments}' is not in the run's "
                    f"payments/summary.csv (columns: {', '.join(sorted(payments)) or 'none'}).",
                    fix="name a payment component id from the contract.",
                )
            amounts[item.name] = payments[item.from_payments]
        else:
            amounts[item.name] = item.amount or ZERO
    n = spec.years * 12
    for item in spec.costs:
        if item.timing == "one_off" and item.month > n:
            raise ConfigError(
                f"cost '{item.name}' is paid in month {item.month}, after the {n}-month horizon.",
                fix="lower 'month' or raise 'years'.",
            )
    cost_lines = {item.name: _monthly(item, amounts[item.name], n) for item in spec.costs}
    months: list[Month] = []
    cumulative = ZERO
    avoided_by_month: list[dict[str, Decimal]] = []
    for m in range(1, n + 1):
        ramp = _ramp(m, spec.ramp_months)
        avoided = {
            name: baselines[name] * spec.activities[name].effect
            * spec.uptake * ramp / 12
            for name in spec.activities
        }  # fmt: skip
        savings = sum((round_pence(avoided[k] * unit_costs[k]) for k in avoided), ZERO)
        costs = sum((cost_lines[k][m - 1] for k in cost_lines), ZERO)
        cumulative += savings - costs
        avoided_by_month.append(avoided)
        months.append(Month(m, _add_months(spec.start, m - 1), savings, costs,
                            savings - costs, cumulative))  # fmt: skip
    years: list[YearRow] = []
    for y in range(1, spec.years + 1):
        chunk = months[(y - 1) * 12 : y * 12]
        avoided_y = {
            k: sum((a[k] for a in avoided_by_month[(y - 1) * 12 : y * 12]), ZERO)
            for k in spec.activities
        }
        costs_y = {k: sum(v[(y - 1) * 12 : y * 12], ZERO) for k, v in cost_lines.items()}
        savings_y = sum((mo.savings for mo in chunk), ZERO)
        total_costs = sum(costs_y.values(), ZERO)
        years.append(YearRow(y, avoided_y, savings_y, costs_y, total_costs,
                             savings_y - total_costs, chunk[-1].cumulative))  # fmt: skip
    payback = payback_month([mo.cumulative for mo in months])
    tornado, mc = _uncertainty(spec, baselines, unit_costs, cost_lines)
    return BusinessCase(
        spec=spec,
        baselines=baselines,
        baseline_sources=sources,
        unit_costs=unit_costs,
        costs=amounts,
        months=tuple(months),
        years=tuple(years),
        payback_month=payback,
        year1_recouped=payback is not None and payback <= 12,
        tornado=tornado,
        **mc,
    )


def _uncertainty(
    spec: BusinessCaseSpec,
    baselines: dict[str, Decimal],
    unit_costs: dict[str, Decimal],
    cost_lines: dict[str, list[Decimal]],
) -> tuple[tuple[TornadoBar, ...], dict[str, float]]:
    """Tornado (one factor at a time) and a seeded Monte Carlo on the horizon's net."""
    n = spec.years * 12
    ramp = np.array([float(_ramp(m, spec.ramp_months)) for m in range(1, n + 1)])
    monthly_costs = np.array(
        [float(sum((v[m] for v in cost_lines.values()), ZERO)) for m in range(n)]
    )
    names = list(spec.activities)
    base = np.array([float(baselines[k]) / 12 for k in names])
    cost = np.array([float(unit_costs[k]) for k in names])
    eff0 = np.array([float(spec.activities[k].effect) for k in names])

    def cumulative(eff: np.ndarray, mult: np.ndarray, uptake: np.ndarray) -> np.ndarray:
        """Cumulative net by month for each draw (draws x months)."""
        per_month = (eff * base * cost).sum(axis=-1) * mult * uptake  # draws
        savings = per_month[:, None] * ramp[None, :]
        return np.cumsum(savings - monthly_costs[None, :], axis=1)

    one = np.ones(1)
    up0 = float(spec.uptake)
    bars: list[TornadoBar] = []

    def net(eff: np.ndarray, mult: float = 1.0, uptake: float = up0) -> float:
        return float(cumulative(eff[None, :], one * mult, one * uptake)[0, -1])

    for i, k in enumerate(names):
        rng = spec.activities[k].effect_range
        if rng is not None:
            lo, hi = eff0.copy(), eff0.copy()
            lo[i], hi[i] = float(rng.low), float(rng.high)
            bars.append(TornadoBar(f"effect on {k.replace('_', ' ')}", f"{rng.low:.0%}",
                                   f"{rng.high:.0%}", net(lo), net(hi)))  # fmt: skip
    ucr = spec.unit_cost_range
    bars.append(TornadoBar("unit costs", f"x{ucr.low}", f"x{ucr.high}",
                           net(eff0, float(ucr.low)), net(eff0, float(ucr.high))))  # fmt: skip
    if spec.uptake_range is not None:
        ur = spec.uptake_range
        bars.append(TornadoBar("uptake", f"{ur.low:.0%}", f"{ur.high:.0%}",
                               net(eff0, uptake=float(ur.low)), net(eff0, uptake=float(ur.high))))  # fmt: skip
    bars.sort(key=lambda b: -abs(b.net_high - b.net_low))

    rng_ = np.random.default_rng(spec.monte_carlo.seed)
    runs = spec.monte_carlo.runs

    def tri(low: float, mode: float, high: float) -> np.ndarray:
        if high <= low:
            return np.full(runs, mode)
        return rng_.triangular(low, min(max(mode, low), high), high, runs)

    effs = np.stack(
        [
            tri(float(a.effect_range.low), float(a.effect), float(a.effect_range.high))
            if a.effect_range is not None
            else np.full(runs, float(a.effect))
            for a in spec.activities.values()
        ],
        axis=1,
    )
    mult = tri(float(ucr.low), 1.0, float(ucr.high))
    upt = (
        tri(float(spec.uptake_range.low), up0, float(spec.uptake_range.high))
        if spec.uptake_range is not None
        else np.full(runs, up0)
    )
    cum = cumulative(effs, mult, upt)
    final = cum[:, -1]
    p5, p50, p95 = (float(x) for x in np.percentile(final, [5, 50, 95]))
    return tuple(bars), {
        "mc_net_p5": round(p5, 2),
        "mc_net_p50": round(p50, 2),
        "mc_net_p95": round(p95, 2),
        # the same definition as payback_month: from month 12 (or the last) on, never below zero
        "mc_prob_year1_recouped": round(
            float((cum[:, min(11, n - 1) :] >= 0).all(axis=1).mean()), 4
        ),
        "mc_prob_payback_in_horizon": round(float((cum[:, -1] >= 0).mean()), 4),
    }
