"""The business case: a payback month computed by hand, baselines read from a run, and the
uncertainty summaries behaving as they must."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from careis.commissioning.business_case import build, load_business_case
from careis.errors import ConfigError
from commissioning_fixtures import fake_run

HAND = """\
name: Hand-computed case
start: 2025-04-01
years: 2
activities:
  emergency_admissions:
    baseline: 1200
    unit_cost: 1590
    effect: 0.10
    effect_range: {low: 0.05, high: 0.15}
costs:
  - {name: Set-up, kind: set_up, amount: 50000, timing: one_off}
  - {name: Technology, kind: technology, amount: 24000, timing: monthly}
monte_carlo: {runs: 500, seed: 3}
"""


def case(tmp_path: Path, text: str, run: Path | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "bc.yaml"
    path.write_text(text)
    spec, base = load_business_case(path)
    return build(spec, base, run)


def test_payback_month_by_hand(tmp_path: Path) -> None:
    """1,200 admissions a year x 10% avoided = 10 a month x £1,590 = £15,900 saved a month.
    Costs: £50,000 in month 1, then £2,000 a month. Cumulative net = 13,900m - 50,000:
    month 3 = -£8,300, month 4 = +£5,600, so payback in month 4; year 1 net = £116,800."""
    bc = case(tmp_path, HAND)
    assert bc.months[0].savings == Decimal("15900.00") and bc.months[0].costs == Decimal("52000")
    assert bc.months[2].cumulative == Decimal("-8300.00")
    assert bc.months[3].cumulative == Decimal("5600.00")
    assert bc.payback_month == 4 and bc.year1_recouped
    assert bc.years[0].net == Decimal("116800.00")
    assert bc.years[1].net == Decimal("166800.00")  # no set-up in year 2
    assert bc.years[0].avoided["emergency_admissions"] == Decimal("120")
    assert bc.total_net == Decimal("283600.00")


def test_ramp_delays_payback_by_hand(tmp_path: Path) -> None:
    """With a 3-month ramp savings are £5,300, £10,600, then £15,900 a month: cumulative net
    -46,700, -38,100, -24,200, -10,300, +3,600 -> payback in month 5."""
    bc = case(tmp_path, HAND.replace("years: 2", "years: 2\nramp_months: 3"))
    assert [m.cumulative for m in bc.months[:5]] == [
        Decimal(x) for x in ("-46700", "-38100", "-24200", "-10300", "3600")
    ]
    assert bc.payback_month == 5


def test_not_recouped_in_year_one(tmp_path: Path) -> None:
    bc = case(tmp_path, HAND.replace("amount: 50000", "amount: 500000"))
    # 13,900 x 12 = 166,800 < 500,000; by month 24: 333,600 < 500,000
    assert not bc.year1_recouped and bc.payback_month is None
    assert bc.mc_prob_payback_in_horizon < 0.5


def test_tornado_and_monte_carlo(tmp_path: Path) -> None:
    bc = case(tmp_path, HAND)
    bars = {b.factor: b for b in bc.tornado}
    eff = bars["effect on emergency admissions"]
    # effect 5% halves the savings: 24 x (7,950 - 2,000) - 50,000 = 92,800
    assert eff.net_low == pytest.approx(92800) and eff.net_high == pytest.approx(474400)
    assert bars["unit costs"].net_low < float(bc.total_net) < bars["unit costs"].net_high
    assert bc.mc_net_p5 < float(bc.total_net) < bc.mc_net_p95
    again = case(tmp_path, HAND)
    assert (again.mc_net_p5, again.mc_net_p95) == (bc.mc_net_p5, bc.mc_net_p95)  # seeded


def _fake_run(folder: Path) -> Path:
    return fake_run(
        folder,
        "emergency_admissions,baseline,2023-04-01,2024-03-31,icb,QOP,2400,20000,120,x\n"
        "emergency_admissions,performance,2024-04-01,2025-03-31,icb,QOP,2000,20000,100,x\n"
        "emergency_admissions,baseline,2023-04-01,2024-03-31,practice,P1,2400,20000,120,x\n",
        "P1,U1,F1,100.50,200.00,0.00,300.50\nP2,U1,F1,99.50,100.00,1000.00,1199.50\n",
    )


def test_baseline_and_payments_from_a_run(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run")
    text = f"""\
name: From a run
start: 2025-04-01
years: 1
run: {run}
activities:
  emergency_admissions: {{effect: 0.05}}
costs:
  - {{name: Engagement, kind: engagement, from_payments: engagement, timing: year_end}}
  - {{name: Care plans, kind: concordance, from_payments: care_plans, timing: year_end}}
"""
    bc = case(tmp_path, text)
    assert bc.baselines["emergency_admissions"] == Decimal("2400")
    assert (
        "the run's practices in ICB QOP, 2023-04-01 to 2024-03-31"
        in bc.baseline_sources["emergency_admissions"]
    )
    assert bc.unit_costs["emergency_admissions"] == Decimal("1590")  # DOMAIN.md default
    assert bc.costs == {"Engagement": Decimal("200.00"), "Care plans": Decimal("300.00")}
    assert bc.months[11].costs == Decimal("500.00")
    # 2,400 x 5% = 120 avoided x £1,590 = £190,800 saved, less £500
    assert bc.total_net == Decimal("190300.00")


def test_missing_baseline_names_activity_and_fix(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run")
    text = HAND.replace("    baseline: 1200\n", "") + "run: " + str(run) + "\n"
    text = text.replace("emergency_admissions:", "ae_attendances:")
    with pytest.raises(ConfigError, match="activity 'ae_attendances' has no baseline"):
        case(tmp_path, text)
    bad = HAND.replace("amount: 24000", "from_payments: nope")
    with pytest.raises(ConfigError, match=r"column 'nope' is not in the run's payments"):
        case(tmp_path, bad + f"run: {run}\n")


def test_spec_errors_name_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 8.*effect"):
        case(tmp_path, HAND.replace("effect: 0.10", "effect: 1.5"))
    assert dt.date(2025, 4, 1) == case(tmp_path, HAND).months[0].start


def test_one_off_cost_after_the_horizon_is_refused(tmp_path: Path) -> None:
    text = HAND.replace("timing: one_off}", "timing: one_off, month: 25}")
    with pytest.raises(ConfigError, match="month 25, after the 24-month horizon"):
        case(tmp_path, text)


# Payback is the first month after which the cumulative net stays >= 0 to the end of the
# horizon. 1,200 admissions a year x 10% avoided = 10 a month x £1,000 = £10,000 saved a month.
TEN_K = """\
name: Payback cases
start: 2025-04-01
years: {years}
activities:
  emergency_admissions: {{baseline: 1200, unit_cost: 1000, effect: 0.10}}
costs:
{costs}
monte_carlo: {{runs: 100, seed: 1}}
"""


def test_never_pays_back_although_it_touches_zero(tmp_path: Path) -> None:
    """£130,000 paid at each year end: cumulative month 11 = +£110,000, month 12 = -£10,000,
    month 13 = £0, month 23 = +£100,000, month 24 = £240,000 - £260,000 = -£20,000. The first
    month at zero (month 1) is not payback: the horizon ends in deficit."""
    costs = "  - {name: Payments, kind: performance, amount: 130000, timing: year_end}"
    bc = case(tmp_path, TEN_K.format(years=2, costs=costs))
    assert bc.months[11].cumulative == Decimal("-10000.00")
    assert bc.months[12].cumulative == Decimal("0.00")
    assert bc.months[23].cumulative == Decimal("-20000.00")
    assert bc.payback_month is None and not bc.year1_recouped
    assert bc.mc_prob_payback_in_horizon < 0.5  # unit costs vary 0.8-1.2 in the simulation


def test_dips_below_zero_after_first_crossing(tmp_path: Path) -> None:
    """Set-up £30,000 in month 1, a £100,000 payment in month 6: cumulative -20,000, -10,000,
    0 (month 3), +10,000, +20,000, then month 6 = -£70,000, rising £10,000 a month to £0 in
    month 13 and above after. Payback is month 13, not month 3."""
    costs = ("  - {name: Set-up, kind: set_up, amount: 30000, timing: one_off, month: 1}\n"
             "  - {name: Review, kind: other, amount: 100000, timing: one_off, month: 6}")  # fmt: skip
    bc = case(tmp_path, TEN_K.format(years=2, costs=costs))
    assert bc.months[2].cumulative == Decimal("0.00")
    assert bc.months[5].cumulative == Decimal("-70000.00")
    assert bc.months[12].cumulative == Decimal("0.00")
    assert bc.payback_month == 13 and not bc.year1_recouped


def test_recouped_in_month_12_exactly(tmp_path: Path) -> None:
    """£120,000 set-up in month 1: cumulative month 11 = -£10,000, month 12 = £0 -> payback in
    month 12, so the costs are recouped in year 1."""
    costs = "  - {name: Set-up, kind: set_up, amount: 120000, timing: one_off, month: 1}"
    bc = case(tmp_path, TEN_K.format(years=2, costs=costs))
    assert bc.months[10].cumulative == Decimal("-10000.00")
    assert bc.months[11].cumulative == Decimal("0.00")
    assert bc.payback_month == 12 and bc.year1_recouped
