"""Issue 13: payments follow the contract the commissioner wrote (groups, periods, list date,
joiners), each case worked by hand from a contract written for the test, not copied from
examples/.

The figures are small enough to check with a pencil; each test says how they were worked.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from pay_support import change, contract, head, lists, results

from careis.engine import Engine
from careis.errors import ConfigError
from careis.facts.membership import (
    joined_during,
    list_sizes_on,
    membership_on,
    with_contract_groups,
)
from careis.measures.results import AmbiguousPeriod, MeasureResults
from careis.measures.rollup import roll_up
from careis.payments.calculate import evaluate
from careis.payments.ledger import reconcile
from careis.payments.lines import StatementLine

# A commissioner's PCN scheme: £3 per registered patient where the PCN cuts emergency
# admissions by 10% and the practice by at least 5%.
PCN_SCHEME = (
    head()
    + """\
components:
  - id: admissions
    type: performance
    measure: emergency_admissions_change
    aggregate_level: pcn
    target_reduction_percent: 10
    practice_floor_reduction_percent: 5
    rate: "3.00"
"""
)

NOV = dt.date(2024, 11, 1)
LONG_AGO = dt.date(2020, 1, 1)

TWO_PCNS = """\
groups:
  - {code: NORTH, level: pcn, practices: [A, B]}
  - {code: SOUTH, level: pcn, practices: [C, D]}
"""


def paid(run) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    return {line.provider: line.amount for line in run.lines}


def pcn_results() -> MeasureResults:
    return results(
        lists({"A": 1000, "B": 2000, "C": 1500, "D": 500})
        + change(
            {
                ("pcn", "NORTH"): -12.0,
                ("pcn", "SOUTH"): -11.0,
                ("practice", "A"): -15.0,
                ("practice", "B"): -6.0,
                ("practice", "C"): -9.0,
                ("practice", "D"): -2.0,
            }
        )
    )


# --------------------------------------------------------------------------- item 1: groups
def test_two_contract_groups_at_one_level_are_both_judged(tmp_path: Path) -> None:
    # NORTH -12% and SOUTH -11% both meet 10%. Floors (5%): A -15 yes, B -6 yes, C -9 yes,
    # D -2 no. Pay: A 1000 x £3 = £3,000; B 2000 x £3 = £6,000; C 1500 x £3 = £4,500; D £0.
    # (Before issue 13 the second group deleted the first's memberships: A and B fell to
    # "(none)" and were paid nothing.)
    run = evaluate(contract(tmp_path, PCN_SCHEME + TWO_PCNS), pcn_results(), "ABCD", {})
    assert paid(run) == {
        "A": Decimal("3000.00"),
        "B": Decimal("6000.00"),
        "C": Decimal("4500.00"),
        "D": Decimal("0.00"),
    }
    orgs = {line.provider: line.measure_org for line in run.lines}
    assert orgs == {"A": "NORTH", "B": "NORTH", "C": "SOUTH", "D": "SOUTH"}


def test_contract_groups_replace_the_datas_at_their_level(tmp_path: Path) -> None:
    # The data put all four in NORTH; the contract splits them. The contract wins.
    data = {(p, "pcn"): "NORTH" for p in "ABCD"} | {(p, "federation"): "FED" for p in "ABCD"}
    run = evaluate(contract(tmp_path, PCN_SCHEME + TWO_PCNS), pcn_results(), "ABCD", data)
    assert {line.provider: line.measure_org for line in run.lines}["C"] == "SOUTH"


def test_a_contract_group_without_an_aggregate_is_refused_in_one_line(tmp_path: Path) -> None:
    # Results rolled up over other groups hold no SOUTH row: refuse, naming the group's line.
    res = results(
        lists({"A": 1000, "B": 2000, "C": 1500, "D": 500})
        + change({("pcn", "NORTH"): -12.0, ("practice", "A"): -15.0})
    )
    with pytest.raises(ConfigError) as exc:
        evaluate(contract(tmp_path, PCN_SCHEME + TWO_PCNS), res, "ABCD", {})
    text = str(exc.value)
    assert "SOUTH" in text and "line 16" in text  # SOUTH's line and "\n" not in text


def _memberships() -> ibis.Table:
    """The data's memberships: A, B and C in PCN NORTH all along."""
    rows = [
        {
            "practice_code": p,
            "group_type": "pcn",
            "group_code": "NORTH",
            "valid_from": dt.date(2020, 1, 1),
            "valid_to": None,
        }
        for p in "ABC"
    ]
    schema = pa.schema(
        [
            ("practice_code", pa.string()),
            ("group_type", pa.string()),
            ("group_code", pa.string()),
            ("valid_from", pa.date32()),
            ("valid_to", pa.date32()),
        ]
    )
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def test_roll_up_is_over_the_contracts_group_not_the_datas(duck: Engine) -> None:
    check_roll_up_over_contract_group(duck)


@pytest.mark.spark
def test_roll_up_over_a_contract_group_on_spark(spark_engine: Engine) -> None:
    check_roll_up_over_contract_group(spark_engine)


def check_roll_up_over_contract_group(duck: Engine) -> None:
    """The contract's group, not the data's, rolled up and paid on, on either engine."""
    # The contract's NORTH is A and B only (C joins it on 1 October). Monthly admissions:
    # A 10 in May, B 20 in June, C 5 in May and 7 in November. The data's NORTH would hold
    # 10 + 20 + 5 + 7 = 42; the contract's holds A + B + C from 1 October = 10 + 20 + 7 = 37.
    members = with_contract_groups(
        _memberships(), [("NORTH", "pcn", ["A", "B", "C"], {"C": dt.date(2024, 10, 1)})]
    )
    rows = ibis.memtable(
        pa.table(
            {
                "practice_code": ["A", "B", "C", "C"],
                "month_start": pa.array(
                    [dt.date(2024, 5, 1), dt.date(2024, 6, 1), dt.date(2024, 5, 1), NOV],
                    pa.date32(),
                ),
                "measure_id": ["adm"] * 4,
                "numerator": [10.0, 20.0, 5.0, 7.0],
                "denominator": [1.0, 1.0, 1.0, 1.0],
            }
        )
    )
    out = duck.to_arrow(roll_up(rows, members, "month_start", ["measure_id"])).to_pylist()
    north = [r for r in out if r["level"] == "pcn"]
    assert [(r["org_code"], r["numerator"]) for r in north] == [("NORTH", 37.0)]
    # the same table gives the memberships paid and shown: C judged with NORTH from 1 October
    on_list = membership_on(duck, {"memberships": members}, dt.date(2024, 4, 1))
    assert on_list == {("A", "pcn"): "NORTH", ("B", "pcn"): "NORTH"}
    term = contract_term()
    merged, joined = joined_during(duck, {"memberships": members}, term, on_list)
    assert merged[("C", "pcn")] == "NORTH" and joined == {("C", "pcn"): dt.date(2024, 10, 1)}


def contract_term():  # type: ignore[no-untyped-def]
    from careis.periods import Period

    return Period(start=dt.date(2024, 4, 1), end=dt.date(2025, 3, 31))


# --------------------------------------------------------------------------- item 2: periods
CARE_PLANS = (
    head()
    + """\
components:
  - id: care_plans
    type: concordance
    measure: care_plan
    rate: "10.00"
"""
)


def two_period_care_plans() -> MeasureResults:
    # baseline 2023/24: 40 of 100 care plans; performance 2024/25: 70 of 100.
    return results(
        [
            *lists({"A": 1000}),
            ("care_plan@baseline", "practice", "A", 40.0, 100.0, 40.0),
            ("care_plan@performance", "practice", "A", 70.0, 100.0, 70.0),
        ]
    )


def test_two_period_indicator_is_paid_on_the_performance_year(tmp_path: Path) -> None:
    # 70 care plans in the performance year x £10 = £700 (the baseline would pay £400).
    run = evaluate(contract(tmp_path, CARE_PLANS), two_period_care_plans(), ["A"], {})
    assert paid(run) == {"A": Decimal("700.00")}


def test_a_component_may_state_the_period_it_pays_on(tmp_path: Path) -> None:
    text = CARE_PLANS + "    period: baseline\n"
    run = evaluate(contract(tmp_path, text), two_period_care_plans(), ["A"], {})
    assert paid(run) == {"A": Decimal("400.00")}


def test_a_lookup_without_a_period_is_refused_when_it_is_ambiguous() -> None:
    res = two_period_care_plans()
    with pytest.raises(AmbiguousPeriod, match="2 periods"):
        res.lookup("care_plan", "practice", "A")
    # a measure held in one period is unambiguous; a change row answers for 'performance'
    assert res.lookup("list_size", "practice", "A") is not None
    chg = MeasureResults(
        results(change({("practice", "A"): -5.0})).table.set_column(
            1, "period", pa.array(["performance vs baseline"])
        ),
        res.catalogue,
    )
    row = chg.lookup("emergency_admissions_change", "practice", "A", "performance")
    assert row is not None and row["value"] == -5.0


# --------------------------------------------------------------------------- item 3: list date
def _population() -> dict[str, ibis.Table]:
    """Five patients of practice A: p1 all year; p2 registers on 1 July; p3 leaves on 31 August;
    p4 dies on 15 September; p5 registers on 2 October (after the list date)."""
    regs = pa.table(
        {
            "patient_id": ["p1", "p2", "p3", "p4", "p5"],
            "practice_code": ["A"] * 5,
            "start_date": pa.array(
                [LONG_AGO, dt.date(2024, 7, 1), LONG_AGO, LONG_AGO, dt.date(2024, 10, 2)],
                pa.date32(),
            ),
            "end_date": pa.array([None, None, dt.date(2024, 8, 31), None, None], pa.date32()),
        }
    )
    pats = pa.table(
        {
            "patient_id": ["p1", "p2", "p3", "p4", "p5"],
            "death_date": pa.array([None, None, None, dt.date(2024, 9, 15), None], pa.date32()),
        }
    )
    return {"registrations": ibis.memtable(regs), "patients": ibis.memtable(pats)}


def test_list_size_is_taken_on_the_contracts_list_date(duck: Engine, tmp_path: Path) -> None:
    # On 1 April: p1, p3, p4 = 3. On 1 October: p1, p2 = 2 (p3 left, p4 died, p5 not yet).
    tables = _population()
    assert list_sizes_on(duck, tables, dt.date(2024, 4, 1)) == {"A": 3}
    october = list_sizes_on(duck, tables, dt.date(2024, 10, 1))
    assert october == {"A": 2}
    text = (
        head()
        + """\
list_size_date: 2024-10-01
components:
  - {id: engage, type: engagement, basis: per_registered_patient, rate: "1.50"}
"""
    )
    # the results' list_size (taken on the index date) says 3; the contract's date says 2
    res = results(lists({"A": 3}))
    run = evaluate(contract(tmp_path, text), res, ["A"], {}, list_sizes=october)
    (line,) = run.lines
    assert (line.quantity, line.amount) == (Decimal(2), Decimal("3.00"))
    assert "2024-10-01" in line.evidence


# --------------------------------------------------------------------------- item 5: joiners
JOINER_POT = (
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
    pot: "6650"
    distribute_by: list_size
{rule}groups:
  - {code: F1, level: federation, practices: [A, B, C], joined: {C: 2024-10-01}}
"""
)


def _joiner_run(tmp_path: Path, rule: str):  # type: ignore[no-untyped-def]
    text = JOINER_POT.replace("{rule}", f"    joiner_share: {rule}\n" if rule else "")
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
    return evaluate(contract(tmp_path, text), res, ["A", "B", "C"], {})


@pytest.mark.parametrize("rule", ["", "prorate_amount_return"])
def test_joiner_unearned_share_returns_to_the_commissioner_by_default(
    tmp_path: Path, rule: str
) -> None:
    # Full-year shares of £6,650 by list: A 1000, B 2000, C 3650. C was a member 182 of 365
    # days: 3650 x 182/365 = £1,820.00; the other £1,830.00 stays with the commissioner.
    run = _joiner_run(tmp_path, rule)
    assert paid(run) == {"A": Decimal("1000.00"), "B": Decimal("2000.00"), "C": Decimal("1820.00")}
    assert "£1,830.00 unearned by joiners returned" in run.lines[0].test


def test_joiner_unearned_share_redistributed_to_full_year_members(tmp_path: Path) -> None:
    # C's unearned £1,830 goes to A and B by list (1:2): £610 and £1,220. The pot is paid out.
    run = _joiner_run(tmp_path, "prorate_amount_redistribute")
    assert paid(run) == {"A": Decimal("1610.00"), "B": Decimal("3220.00"), "C": Decimal("1820.00")}
    assert sum(paid(run).values()) == Decimal("6650.00")


def test_joiner_weight_pro_rated_shares_the_whole_pot(tmp_path: Path) -> None:
    # Weights A 1000, B 2000, C 3650 x 182/365 = 1820; total 4820. £6,650 x 1000/4820 =
    # £1,379.6680, x 2000/4820 = £2,759.3361, x 1820/4820 = £2,510.9959. Rounded down:
    # 1,379.66 + 2,759.33 + 2,510.99 = 6,649.98; the 2p left go to the largest remainders
    # (A 0.80p, B 0.61p; C 0.59p misses): £1,379.67 / £2,759.34 / £2,510.99 = £6,650.00.
    run = _joiner_run(tmp_path, "prorate_weight")
    assert paid(run) == {"A": Decimal("1379.67"), "B": Decimal("2759.34"), "C": Decimal("2510.99")}


def test_an_unknown_joiner_rule_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="joiner_share"):
        _joiner_run(tmp_path, "half")


# --------------------------------------------------------------------------- metamorphic
SCHEMES = {
    "per_patient": PCN_SCHEME,
    "pot_linear": PCN_SCHEME.replace(
        '    rate: "3.00"\n',
        '    basis: pot\n    pot: "9000"\n    scaling: linear\n'
        "    linear_from_reduction_percent: 5\n    below_floor: return\n",
    ),
    "pot_contribution": PCN_SCHEME.replace(
        '    rate: "3.00"\n', '    basis: pot\n    pot: "5000"\n    distribute_by: contribution\n'
    ),
}

DATA_GROUPS = {("A", "pcn"): "NORTH", ("B", "pcn"): "NORTH"} | {
    ("C", "pcn"): "SOUTH",
    ("D", "pcn"): "SOUTH",
}


def rows_of(run) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return [StatementLine.as_row(line) for line in run.lines]


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_stating_the_datas_own_groups_changes_nothing(tmp_path: Path, scheme: str) -> None:
    plain = evaluate(contract(tmp_path, SCHEMES[scheme]), pcn_results(), "ABCD", DATA_GROUPS)
    stated = contract(tmp_path, SCHEMES[scheme] + TWO_PCNS, name="stated.yaml")
    assert rows_of(evaluate(stated, pcn_results(), "ABCD", DATA_GROUPS)) == rows_of(plain)
    assert any(line.amount for line in plain.lines)  # the comparison is of money, not of zeros


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_permuting_input_row_order_changes_nothing(tmp_path: Path, scheme: str, seed: int) -> None:
    base = evaluate(contract(tmp_path, SCHEMES[scheme]), pcn_results(), "ABCD", DATA_GROUPS)
    rng = random.Random(seed)
    table = pcn_results().table
    order = list(range(table.num_rows))
    rng.shuffle(order)
    shuffled = MeasureResults(table.take(order), pcn_results().catalogue)
    practices = rng.sample("ABCD", 4)
    groups = dict(rng.sample(sorted(DATA_GROUPS.items()), len(DATA_GROUPS)))
    run = evaluate(contract(tmp_path, SCHEMES[scheme]), shuffled, practices, groups)
    assert rows_of(run) == rows_of(base)


JOINER_GAIN = (
    head()
    + """\
components:
  - id: risk_pool
    type: gain_share
    measure: emergency_admissions
    level: federation
    org: F1
    unit_cost: "133"
    gain_share_percent: 50
    loss_share_percent: 50
{rule}groups:
  - {code: F1, level: federation, practices: [A, B, C], joined: {C: 2024-10-01}}
"""
)


def _joiner_gain(tmp_path: Path, rule: str):  # type: ignore[no-untyped-def]
    text = JOINER_GAIN.replace("{rule}", f"    joiner_share: {rule}\n" if rule else "")
    res = results(
        [
            *lists({"A": 1000, "B": 2000, "C": 3650}),
            ("emergency_admissions@baseline", "federation", "F1", 1000, 100000, 10.0),
            ("emergency_admissions@performance", "federation", "F1", 900, 100000, 9.0),
        ]
    )
    return evaluate(contract(tmp_path, text), res, ["A", "B", "C"], {})


@pytest.mark.parametrize("rule", ["", "prorate_amount_return"])
def test_gain_share_joiner_keeps_only_its_time_as_a_member(tmp_path: Path, rule: str) -> None:
    # Expected 1000 admissions, actual 900: 100 fewer x £133 = £13,300 saved; the practices
    # share 50% = £6,650 by list (A 1000, B 2000, C 3650: £1 a patient). C joined F1 on
    # 1 October: 182 of 365 days, 3650 x 182/365 = £1,820.00; £1,830.00 stays with S1.
    run = _joiner_gain(tmp_path, rule)
    assert paid(run) == {"A": Decimal("1000.00"), "B": Decimal("2000.00"), "C": Decimal("1820.00")}
    assert "£1,830.00 not earned by joiners stays with the commissioner" in run.lines[0].test
    assert reconcile(run, "S1") == []


def test_gain_share_joiner_remainder_redistributed(tmp_path: Path) -> None:
    # C's £1,830.00 goes to A and B by list (1:2): £610 and £1,220; all £6,650 is paid.
    run = _joiner_gain(tmp_path, "prorate_amount_redistribute")
    assert paid(run) == {"A": Decimal("1610.00"), "B": Decimal("3220.00"), "C": Decimal("1820.00")}
    assert reconcile(run, "S1") == []


def test_gain_share_joiner_weight_pro_rated(tmp_path: Path) -> None:
    # Weights 1000, 2000, 1820 (as for the pot above): £1,379.67 / £2,759.34 / £2,510.99.
    run = _joiner_gain(tmp_path, "prorate_weight")
    assert paid(run) == {"A": Decimal("1379.67"), "B": Decimal("2759.34"), "C": Decimal("2510.99")}
    assert reconcile(run, "S1") == []
