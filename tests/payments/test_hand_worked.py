"""Hand-worked payment cases: every expected figure below is worked out in the comments."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pay_support import change, contract, head, lists, results

from careis.errors import ConfigError
from careis.payments.calculate import evaluate
from careis.payments.ledger import balances, reconcile

FED = {("A", "federation"): "F1", ("B", "federation"): "F1", ("C", "federation"): "F1"}
SIZES = {"A": 1000, "B": 2000, "C": 3000}

POT = (
    head()
    + """\
components:
  - id: perf
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 10
    practice_floor_reduction_percent: 5
    basis: pot
    pot: "10000"
    scaling: {scaling}
    distribute_by: {by}
{extra}"""
)


def fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def pot_contract(
    tmp_path: Path, scaling: str = "all_or_nothing", by: str = "list_size", extra: str = ""
):  # type: ignore[no-untyped-def]
    return contract(tmp_path, fill(POT, scaling=scaling, by=by, extra=extra))


def amounts(run) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    return {line.provider: line.amount for line in run.lines if line.component_id == "perf"}


def fed_results(fed: float, a: float = -15.0, b: float = -8.0, c: float = -3.0):  # type: ignore[no-untyped-def]
    return results(
        lists(SIZES)
        + change(
            {
                ("federation", "F1"): fed,
                ("practice", "A"): a,
                ("practice", "B"): b,
                ("practice", "C"): c,
            }
        )
    )


def test_target_met_but_one_practice_below_its_floor(tmp_path: Path) -> None:
    # F1 -12% meets 10%; C at -3% misses its 5% floor and gets nothing. The £10,000 pot goes to
    # A and B by list size 1000:2000 -> 3333.333.. / 6666.666..; floors 3333.33 + 6666.66 leave
    # one penny, to the larger remainder (B, .666 > .333).
    run = evaluate(pot_contract(tmp_path), fed_results(-12.0), SIZES, FED)
    assert amounts(run) == {"A": Decimal("3333.33"), "B": Decimal("6666.67"), "C": Decimal("0.00")}
    line_c = next(x for x in run.lines if x.provider == "C")
    assert line_c.met == "no" and "practice change -3.00% <= -5.00% [not met]" in line_c.test
    assert reconcile(run, "S1") == []


@pytest.mark.parametrize(
    ("fed", "paid"),
    [
        (-9.99, False),  # missed by a hair
        (-9.994, False),  # prints as -9.99%: missed
        (-9.995, True),  # prints as -10.00% (2 dp, half up): met, as the statement shows
        (-10.0, True),  # exactly at the target
    ],
)
def test_target_at_and_around_the_boundary(tmp_path: Path, fed: float, paid: bool) -> None:
    run = evaluate(pot_contract(tmp_path), fed_results(fed), SIZES, FED)
    assert sum(amounts(run).values()) == (Decimal("10000.00") if paid else Decimal("0.00"))


def test_practice_exactly_at_its_floor_is_paid(tmp_path: Path) -> None:
    run = evaluate(pot_contract(tmp_path), fed_results(-12.0, c=-5.0), SIZES, FED)
    # all three eligible: 10000 x 1/6, 2/6, 3/6 = 1666.67 (remainder .666), 3333.33, 5000.00
    assert amounts(run) == {
        "A": Decimal("1666.67"),
        "B": Decimal("3333.33"),
        "C": Decimal("5000.00"),
    }


def test_stepped_tiers(tmp_path: Path) -> None:
    tiers = "    tiers:\n      - {reduction_percent: 5, pot_percent: 50}\n      - {reduction_percent: 10, pot_percent: 100}\n"
    loaded = pot_contract(tmp_path, "tiers", extra=tiers)
    # -7% reaches the 5% tier: half the pot, £5,000, to A:B = 1:2 -> 1666.67 / 3333.33
    run = evaluate(loaded, fed_results(-7.0), SIZES, FED)
    assert amounts(run) == {"A": Decimal("1666.67"), "B": Decimal("3333.33"), "C": Decimal("0.00")}
    assert sum(amounts(evaluate(loaded, fed_results(-4.99), SIZES, FED)).values()) == 0


@pytest.mark.parametrize(
    ("fed", "earned"),
    [
        (-5.0, "0.00"),
        (-7.5, "5000.00"),
        (-10.0, "10000.00"),
        (-20.0, "10000.00"),
        (-6.0, "2000.00"),
    ],
)
def test_linear_scaling_between_lower_and_target(tmp_path: Path, fed: float, earned: str) -> None:
    # 0% of the pot at a 5% reduction, 100% at 10%: (r - 5) / (10 - 5)
    loaded = pot_contract(tmp_path, "linear", extra="    linear_from_reduction_percent: 5\n")
    run = evaluate(loaded, fed_results(fed, c=-5.0), SIZES, FED)
    assert sum(amounts(run).values()) == Decimal(earned)


def test_distribution_by_contribution(tmp_path: Path) -> None:
    # weights = own reduction % x list: A 15 x 1000 = 15000, B 8 x 2000 = 16000 -> 10000 x
    # 15/31 = 4838.709.. and 16/31 = 5161.290..: floors 4838.70 + 5161.29 leave one penny for
    # A (remainder .9 > .0)
    run = evaluate(pot_contract(tmp_path, by="contribution"), fed_results(-12.0), SIZES, FED)
    assert amounts(run) == {"A": Decimal("4838.71"), "B": Decimal("5161.29"), "C": Decimal("0.00")}


def test_practice_joining_the_federation_mid_year(tmp_path: Path) -> None:
    # C (list 3650) joins F1 on 2024-10-01: a member 182 of the term's 365 days, so its weight
    # is 3650 x 182/365 = 1820. With A 1000 and B 2000 the weights total 4820; a £4,820 pot
    # splits exactly 1000 / 2000 / 1820.
    groups = (
        "groups:\n  - code: F1\n    level: federation\n    practices: [A, B, C]\n"
        "    joined: {C: 2024-10-01}\n"
    )
    # joiner_share: prorate_weight (the rule this working is for; the default pro-rates the amount)
    text = fill(
        POT, scaling="all_or_nothing", by="list_size", extra="    joiner_share: prorate_weight\n"
    ).replace('pot: "10000"', 'pot: "4820"')
    loaded = contract(tmp_path, text + groups)
    res = results(
        lists({"A": 1000, "B": 2000, "C": 3650})
        + change(
            {
                ("federation", "F1"): -12.0,
                ("practice", "A"): -15.0,
                ("practice", "B"): -8.0,
                ("practice", "C"): -6.0,
            }
        )
    )
    run = evaluate(loaded, res, ["A", "B", "C"], {})
    assert amounts(run) == {
        "A": Decimal("1000.00"),
        "B": Decimal("2000.00"),
        "C": Decimal("1820.00"),
    }


def test_per_patient_performance_pro_rated_for_a_mid_year_joiner(tmp_path: Path) -> None:
    text = (
        head()
        + """\
components:
  - id: perf
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 10
    practice_floor_reduction_percent: 5
    rate: "2.00"
groups:
  - {code: F1, level: federation, practices: [A, C], joined: {C: 2024-10-01}}
"""
    )
    res = results(
        lists({"A": 1000, "C": 3650})
        + change({("federation", "F1"): -12.0, ("practice", "A"): -15.0, ("practice", "C"): -6.0})
    )
    run = evaluate(contract(tmp_path, text), res, ["A", "C"], {})
    # A: 1000 x £2 = £2,000; C: 3650 x 182/365 = 1820 patients x £2 = £3,640
    assert amounts(run) == {"A": Decimal("2000.00"), "C": Decimal("3640.00")}


QOF = (
    head()
    + """\
components:
  - id: asthma
    type: concordance
    basis: qof_points
    measure: asthma_review
    max_points: 20
    lower_threshold_percent: 40
    upper_threshold_percent: 70
{extra}"""
)


@pytest.mark.parametrize(
    ("num", "points", "pounds"),
    [
        # D = 55/100 = 55%: 20 x (55 - 40) / (70 - 40) = 10 points;
        # 10 x £220.62 x CPI (5000 / 9964) = 11,031,000 / 9,964 = 1107.0855.. -> £1,107.09
        (55, "10.0000", "1107.09"),
        (40, "0.0000", "0.00"),  # exactly at the lower threshold: no points
        (39, "0.0000", "0.00"),  # below it: no points, never negative
        (
            70,
            "20.0000",
            "2214.17",
        ),  # exactly at the upper threshold: all 20 points, 2 x 1107.0855..
        (
            69,
            "19.3333",
            "2140.37",
        ),  # a hair below: 20 x 29/30 = 19.333..; x 110.70855.. = 2140.365.. -> 2140.37
        (90, "20.0000", "2214.17"),  # above the upper threshold: capped at full points
    ],
)
def test_qof_points_and_pounds_by_hand(tmp_path: Path, num: int, points: str, pounds: str) -> None:
    res = results([*lists({"A": 5000}), ("asthma_review", "practice", "A", num, 100, num)])
    run = evaluate(contract(tmp_path, fill(QOF, extra="")), res, ["A"], {})
    (line,) = run.lines
    assert (str(line.quantity), line.rate, line.amount) == (
        points,
        Decimal("220.62"),
        Decimal(pounds),
    )


def test_qof_prevalence_adjustment_and_configurable_national_figures(tmp_path: Path) -> None:
    extra = (
        "    prevalence_measure: asthma_prevalence\n    national_prevalence_percent: 2.0\n"
        "qof_national: {point_value: '200.00', average_list_size: 10000}\n"
    )
    res = results(
        [
            *lists({"A": 5000}),
            ("asthma_review", "practice", "A", 55, 100, 55.0),
            ("asthma_prevalence", "practice", "A", 125, 5000, 2.5),
        ]
    )
    run = evaluate(contract(tmp_path, fill(QOF, extra=extra)), res, ["A"], {})
    # 10 points x £200 x CPI 0.5 x APDF 2.5/2.0 = 1.25 -> £1,250.00
    assert run.lines[0].amount == Decimal("1250.00")
    # with the 2024/25 defaults: 1107.0855.. x 1.25 = 1383.8569 -> £1,383.86
    extra24 = "    prevalence_measure: asthma_prevalence\n    national_prevalence_percent: 2.0\n"
    run = evaluate(contract(tmp_path, fill(QOF, extra=extra24), "b.yaml"), res, ["A"], {})
    assert run.lines[0].amount == Decimal("1383.86")


PRIME = """\
id: PC-1
name: Prime
model: prime_contractor
commissioner: {code: S1}
term: {start: 2024-04-01, end: 2025-03-31}
holder:
  party: {code: FED1, kind: federation}
  management_fee_percent: 5
subcontractors:
  - party: {code: RXX, kind: trust}
    services: [community_nursing]
schedule:
  instalments:
    - {date: 2024-04-01, percent: 25}
    - {date: 2024-07-01, percent: 25}
    - {date: 2024-10-01, percent: 25}
    - {date: 2025-01-01, percent: 25}
components:
  - id: engagement
    type: engagement
    basis: per_registered_patient
    rate: "1.00"
  - id: nursing
    type: engagement
    basis: fixed
    payee: RXX
    rate: "12000.01"
"""


def test_subcontractor_under_a_prime_contractor(tmp_path: Path) -> None:
    run = evaluate(contract(tmp_path, PRIME), results(lists({"A": 1000})), ["A"], {})
    by = {(x.provider, x.component_id, x.kind): x.amount for x in run.lines}
    # A earns 1000 x £1 = £1,000.00; the prime keeps 5% = £50.00; the trust earns £12,000.01,
    # the prime keeps 5% = 600.0005 -> £600.00 (half up); so the prime retains £650.00.
    assert by[("A", "engagement", "earned")] == Decimal("1000.00")
    assert by[("A", "engagement", "management_fee")] == Decimal("-50.00")
    assert by[("RXX", "nursing", "management_fee")] == Decimal("-600.00")
    bal = balances(run.ledger)
    assert bal == {
        "A": Decimal("950.00"),
        "FED1": Decimal("650.00"),
        "RXX": Decimal("11400.01"),
        "S1": Decimal("-13000.01"),
    }
    assert reconcile(run, "S1") == []
    # quarterly: the trust's £12,000.01 from S1 to the prime in four parts summing exactly
    parts = [e.amount for e in run.ledger if e.payer == "S1" and e.component_id == "nursing"]
    assert parts == [Decimal("3000.01"), Decimal("3000.00"), Decimal("3000.00"), Decimal("3000.00")]
    assert {e.movement for e in run.ledger} == {"payment", "subcontract", "management_fee"}


ALLIANCE = """\
id: AL-1
name: Alliance
model: alliance
commissioner: {code: S1}
term: {start: 2024-04-01, end: 2025-03-31}
alliance:
  members:
    - {party: {code: A, kind: practice}, share_percent: 40}
    - {party: {code: B, kind: practice}, share_percent: 35}
    - {party: {code: RXX, kind: trust}, share_percent: 25}
components:
  - id: risk_pool
    type: gain_share
    measure: emergency_admissions
    level: sub_icb
    org: S1
    unit_cost: "2000"
    gain_share_percent: 50
    loss_share_percent: 50
    gain_cap: "80000"
    loss_collar: "60000"
"""


def alliance_results(perf: int):  # type: ignore[no-untyped-def]
    return results(
        [
            *lists({"A": 1000, "B": 1000}),
            ("emergency_admissions@baseline", "sub_icb", "S1", 1000, 100000, 10.0),
            ("emergency_admissions@performance", "sub_icb", "S1", perf, 100000, perf / 100),
        ]
    )


def test_alliance_pool_with_a_risk_share_loss(tmp_path: Path) -> None:
    # expected 1000 x 100000/100000 = 1000 admissions, actual 1100: 100 over x £2,000 =
    # £200,000 overspend; the members bear 50% = £100,000, limited by the £60,000 collar,
    # split 40/35/25 -> -24,000 / -21,000 / -15,000, paid into the pool and back to S1.
    run = evaluate(contract(tmp_path, ALLIANCE), alliance_results(1100), ["A", "B"], {})
    by = {x.provider: x.amount for x in run.lines}
    assert by == {"A": Decimal("-24000.00"), "B": Decimal("-21000.00"), "RXX": Decimal("-15000.00")}
    bal = balances(run.ledger)
    assert bal["S1"] == Decimal("60000.00") and bal["POOL:risk_pool"] == 0
    assert reconcile(run, "S1") == []


def test_alliance_gain_capped(tmp_path: Path) -> None:
    # 100 fewer admissions = £200,000 saved; 50% = £100,000, capped at £80,000 -> 32,000 /
    # 28,000 / 20,000
    run = evaluate(contract(tmp_path, ALLIANCE), alliance_results(900), ["A", "B"], {})
    assert {x.provider: x.amount for x in run.lines} == {
        "A": Decimal("32000.00"), "B": Decimal("28000.00"), "RXX": Decimal("20000.00")
    }  # fmt: skip


WITHHOLD = (
    head()
    + """\
components:
  - id: engagement
    type: engagement
    basis: per_registered_patient
    rate: "1.25"
  - id: quality
    type: withhold
    percent: 10
    from_components: [engagement]
    measure: care_plan
    target_percent: 50
"""
)


def test_withhold_released_or_clawed_back(tmp_path: Path) -> None:
    res = results(
        [
            *lists({"A": 1000, "B": 999}),
            ("care_plan", "practice", "A", 6, 10, 60.0),
            ("care_plan", "practice", "B", 4999, 10000, 49.99),
        ]
    )
    run = evaluate(contract(tmp_path, WITHHOLD), res, ["A", "B"], {})
    total = {p: sum((x.amount for x in run.lines if x.provider == p), Decimal(0)) for p in "AB"}
    # A: £1,250.00, 10% (£125.00) withheld and released -> £1,250.00
    # B: 999 x 1.25 = £1,248.75, 10% = 124.875 -> £124.88 withheld and clawed back -> £1,123.87
    assert total == {"A": Decimal("1250.00"), "B": Decimal("1123.87")}
    claw = [e for e in run.ledger if e.movement == "clawback"]
    assert [(c.payee, c.amount) for c in claw] == [("S1", Decimal("124.88"))]
    assert reconcile(run, "S1") == []


MILESTONES = (
    head()
    + """\
schedule: {reconciliation_date: 2025-06-30}
components:
  - id: it
    type: engagement
    basis: milestone
    milestones:
      - {id: it_live, description: IT integration live, amount: "500", due: 2024-09-30}
      - {id: sharing, description: Data sharing live, amount: "750", due: 2024-12-31}
    achievements: achieved.csv
  - id: plans
    type: concordance
    measure: care_plan
    rate: "50"
  - id: plans_on_account
    type: aspiration
    of_component: plans
    percent: 80
    prior_statements: last_year.csv
"""
)


def test_milestones_and_aspiration_payments(tmp_path: Path) -> None:
    (tmp_path / "achieved.csv").write_text(
        "practice_code,milestone_id,achieved_on\n"
        "A,it_live,2024-09-30\n"  # on the due date: paid, that day
        "B,it_live,2024-10-01\n"  # a day late: not paid
        "A,sharing,2024-11-15\n"
    )
    (tmp_path / "last_year.csv").write_text(
        "provider,component_id,amount,kind\nA,plans,1000.00,earned\nB,plans,500.00,earned\nB,plans,-1.00,withhold\n"
    )
    res = results(
        [
            *lists({"A": 100, "B": 100}),
            ("care_plan", "practice", "A", 30, 40, 75.0),
            ("care_plan", "practice", "B", 5, 40, 12.5),
        ]
    )
    run = evaluate(contract(tmp_path, MILESTONES), res, ["A", "B"], {})
    paid = {e.date.isoformat(): e.amount for e in run.ledger if e.component_id == "it"}
    assert paid == {"2024-09-30": Decimal("500.00"), "2024-11-15": Decimal("750.00")}
    by = {
        (x.provider, x.component_id, x.kind): x.amount for x in run.lines if x.component_id != "it"
    }
    # A: 80% of last year's £1,000 = £800 on account; achieved 30 x £50 = £1,500; net £1,500
    assert by[("A", "plans_on_account", "on_account")] == Decimal("800.00")
    assert by[("A", "plans_on_account", "recovery")] == Decimal("-800.00")
    # B: £400 on account, achieved only 5 x £50 = £250: the year-end balance is a £150 claw-back
    recovery_b = [
        e for e in run.ledger if e.payee == "S1" and e.movement == "recovery" and e.payer == "B"
    ]
    assert [(e.date.isoformat(), e.amount) for e in recovery_b] == [
        ("2025-06-30", Decimal("400.00"))
    ]
    total_b = sum((x.amount for x in run.lines if x.provider == "B"), Decimal(0))
    assert total_b == Decimal("250.00")
    assert reconcile(run, "S1") == []


def test_bad_achievements_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "achieved.csv").write_text(
        "practice_code,milestone_id,achieved_on\nA,it_lve,2024-09-30\n"
    )
    (tmp_path / "last_year.csv").write_text("provider,component_id,amount\n")
    res = results([*lists({"A": 100}), ("care_plan", "practice", "A", 1, 1, 100.0)])
    with pytest.raises(ConfigError) as info:
        evaluate(contract(tmp_path, MILESTONES), res, ["A"], {})
    assert (
        "achieved.csv, line 2: unknown milestone 'it_lve'. Fix: use one of: it_live, sharing."
        in str(info.value)
    )


ALLIANCE_TARGET = (
    head("alliance")
    + """\
alliance:
  members:
    - {party: {code: A, kind: practice}, share_percent: 50}
    - {party: {code: B, kind: practice}, share_percent: 50}
components:
  - id: perf
    type: performance
    measure: emergency_admissions_change
    aggregate_level: alliance
    target_reduction_percent: {target}
    practice_floor_reduction_percent: 5
    basis: pot
    pot: "1000"
"""
)


@pytest.mark.parametrize(
    ("target", "paid_a"), [("10", "0.00"), ("7.25", "1000.00"), ("7.26", "0.00")]
)
def test_alliance_wide_target_pools_numerators(tmp_path: Path, target: str, paid_a: str) -> None:
    # A: 100 -> 80 admissions per 1,000 person-years (-20%); B: 300 -> 291 per 3,000 (-3%).
    # Alliance: (371 / 4000) / (400 / 4000) - 1 = -7.25% (the mean of the practices' changes,
    # -11.5%, would wrongly meet a 10% target). B misses its 5% floor, so A takes the pot.
    res = results(
        [
            *lists({"A": 1000, "B": 3000}),
            ("emergency_admissions@baseline", "practice", "A", 100, 1000, 100.0),
            ("emergency_admissions@performance", "practice", "A", 80, 1000, 80.0),
            ("emergency_admissions@baseline", "practice", "B", 300, 3000, 100.0),
            ("emergency_admissions@performance", "practice", "B", 291, 3000, 97.0),
            *change({("practice", "A"): -20.0, ("practice", "B"): -3.0}),
        ]
    )
    run = evaluate(contract(tmp_path, fill(ALLIANCE_TARGET, target=target)), res, ["A", "B"], {})
    assert amounts(run) == {"A": Decimal(paid_a), "B": Decimal("0.00")}
    assert "alliance alliance reduction 7.25%" in run.lines[0].test


def test_share_of_a_practice_below_its_floor_can_return_to_the_commissioner(tmp_path: Path) -> None:
    # below_floor: return - the pot is split over all three (1000:2000:3000 -> 1666.67 /
    # 3333.33 / 5000.00, the spare penny to A's larger remainder) and C's £5,000 is not paid.
    loaded = pot_contract(tmp_path, extra="    below_floor: return\n")
    run = evaluate(loaded, fed_results(-12.0), SIZES, FED)
    assert amounts(run) == {"A": Decimal("1666.67"), "B": Decimal("3333.33"), "C": Decimal("0.00")}
    assert "£5,000.00 of practices below the floor returned" in run.lines[0].test
    assert reconcile(run, "S1") == []
