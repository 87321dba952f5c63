"""A practice in no group at the level a performance component is judged at is not assessable.

From the contract's side: a federation target with a practice floor, three practices in
federation F1 and practice X in no federation (as NHS Digital's practices in no PCN are). X
has no federation figure to be judged by, so its line says so - met `not_assessable`, £0, the
why in words - and never "not met"; A, B and C are paid to the penny what they would be paid
if X were not in scope at all (X takes no weight in F1's pot, earns nothing, returns nothing).
Every expected figure is worked out in the comments.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pay_support import change, contract, head, lists, results

from careis.contracts.schema import LoadedContract
from careis.measures.results import MeasureResults
from careis.payments.assessable import not_assessable_note
from careis.payments.calculate import evaluate
from careis.payments.ledger import PaymentRun, reconcile
from careis.payments.lines import StatementLine
from careis.report.headline import build_headline, performance_why
from careis.report.statements import line_view

SIZES = {"A": 1000, "B": 2000, "C": 3000, "X": 4000}
FED = {("A", "federation"): "F1", ("B", "federation"): "F1", ("C", "federation"): "F1"}
WHY_X = (
    "not assessable: practice X is in no federation; this component is judged at federation level"
)

PERFORMANCE = (
    head()
    + """\
components:
  - id: perf
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 10
    practice_floor_reduction_percent: 5
{pay}"""
)
PER_PATIENT = '    rate: "2.00"\n'
POT = '    basis: pot\n    pot: "10000"\n'


def perf_contract(tmp_path: Path, pay: str = PER_PATIENT) -> LoadedContract:
    return contract(tmp_path, PERFORMANCE.replace("{pay}", pay))


def measured(fed: float = -12.0) -> MeasureResults:
    # F1 -12% meets the 10% target; A -15% and B -8% reach the 5% floor, C -3% does not; X's
    # own -20% would reach it, but X is in no federation, so there is no F1 figure for it.
    return results(
        lists(SIZES)
        + change(
            {
                ("federation", "F1"): fed,
                ("practice", "A"): -15.0,
                ("practice", "B"): -8.0,
                ("practice", "C"): -3.0,
                ("practice", "X"): -20.0,
            }
        )
    )


def by_practice(run: PaymentRun) -> dict[str, StatementLine]:
    return {line.provider: line for line in run.lines if line.component_id == "perf"}


def amounts(run: PaymentRun) -> dict[str, Decimal]:
    return {p: line.amount for p, line in by_practice(run).items()}


def without_x(run: PaymentRun) -> list[StatementLine]:
    return [line for line in run.lines if line.provider != "X"]


def assert_not_assessable(line: StatementLine, rate: Decimal) -> None:
    assert line.met == "not_assessable"
    assert line.test == WHY_X
    assert (line.quantity, line.rate, line.amount) == (Decimal(0), rate, Decimal(0))
    assert line.measure_level == "federation" and line.measure_org == ""
    assert line.measure_value == "-20.00"  # its own figure, shown; tested against nothing
    assert "payments/memberships.csv [X: no federation]" in line.evidence


def test_per_patient_practice_in_no_federation_is_not_assessable(tmp_path: Path) -> None:
    # £2.00 x list when F1 meets its target and the practice its floor: A 1000 x 2 = £2,000,
    # B 2000 x 2 = £4,000, C below its floor £0; X in no federation: not assessable, £0.
    run = evaluate(perf_contract(tmp_path), measured(), SIZES, FED)
    lines = by_practice(run)
    assert amounts(run) == {
        "A": Decimal("2000.00"),
        "B": Decimal("4000.00"),
        "C": Decimal("0.00"),
        "X": Decimal("0.00"),
    }
    assert [lines[p].met for p in "ABC"] == ["yes", "yes", "no"]
    assert_not_assessable(lines["X"], Decimal("2.00"))
    assert "[not met]" not in lines["X"].test
    assert [line.provider for line in run.lines] == ["A", "B", "C", "X"]  # practice order
    assert reconcile(run, "S1") == []


def test_the_others_are_paid_exactly_as_without_the_practice(tmp_path: Path) -> None:
    loaded = perf_contract(tmp_path)
    with_x = evaluate(loaded, measured(), SIZES, FED)
    alone = evaluate(loaded, measured(), ["A", "B", "C"], FED)
    assert without_x(with_x) == alone.lines


@pytest.mark.parametrize(
    ("below_floor", "paid"),
    [
        # redistribute: F1's £10,000 to the eligible A and B by list size 1000:2000 ->
        # 3333.33 / 6666.67 (the spare penny to B's larger remainder). Had X's 4000 been
        # counted as F1's, A would get 10000 x 1000/7000 = 1428.57.
        ("redistribute", {"A": "3333.33", "B": "6666.67", "C": "0.00"}),
        # return: shared over all of F1 1000:2000:3000 -> 1666.67 / 3333.33 / (5000.00, C's,
        # returned). Had X been counted, A would get 10000 x 1000/10000 = 1000.00.
        ("return", {"A": "1666.67", "B": "3333.33", "C": "0.00"}),
    ],
)
def test_pot_practice_in_no_federation_takes_no_share(
    tmp_path: Path, below_floor: str, paid: dict[str, str]
) -> None:
    loaded = perf_contract(tmp_path, POT + f"    below_floor: {below_floor}\n")
    run = evaluate(loaded, measured(), SIZES, FED)
    assert amounts(run) == {**{p: Decimal(v) for p, v in paid.items()}, "X": Decimal("0.00")}
    assert_not_assessable(by_practice(run)["X"], Decimal(0))
    assert without_x(run) == evaluate(loaded, measured(), ["A", "B", "C"], FED).lines
    assert reconcile(run, "S1") == []


def test_tiered_rate_practice_in_no_federation_is_not_assessable(tmp_path: Path) -> None:
    # tiers, per patient: -7% reaches the 5% tier, half the £2.00 rate: A 1000 x 2 x 0.5 =
    # £1,000, B £2,000, C below its floor £0 - and X not assessable, not "no".
    tiers = (
        PER_PATIENT
        + "    scaling: tiers\n    tiers:\n"
        + "      - {reduction_percent: 5, pot_percent: 50}\n"
        + "      - {reduction_percent: 10, pot_percent: 100}\n"
    )
    loaded = perf_contract(tmp_path, tiers)
    run = evaluate(loaded, measured(-7.0), SIZES, FED)
    assert amounts(run) == {
        "A": Decimal("1000.00"),
        "B": Decimal("2000.00"),
        "C": Decimal("0.00"),
        "X": Decimal("0.00"),
    }
    assert [by_practice(run)[p].met for p in "ABC"] == ["part", "part", "no"]
    assert_not_assessable(by_practice(run)["X"], Decimal("2.00"))
    assert without_x(run) == evaluate(loaded, measured(-7.0), ["A", "B", "C"], FED).lines


def test_a_practice_left_out_of_the_contracts_groups_is_not_assessable(tmp_path: Path) -> None:
    # The contract states F1 itself (A, B, C); X, in the data's federation F9, is in none of
    # the contract's, which replace the data's at that level: X cannot be judged.
    text = PERFORMANCE.replace("{pay}", PER_PATIENT) + (
        "groups:\n  - {code: F1, level: federation, practices: [A, B, C]}\n"
    )
    run = evaluate(contract(tmp_path, text), measured(), SIZES, {("X", "federation"): "F9"})
    assert amounts(run)["A"] == Decimal("2000.00")
    assert_not_assessable(by_practice(run)["X"], Decimal("2.00"))


def test_judged_at_pcn_level_the_why_names_the_pcn(tmp_path: Path) -> None:
    text = PERFORMANCE.replace("{pay}", PER_PATIENT).replace(
        "aggregate_level: federation", "aggregate_level: pcn"
    )
    pcn = {("A", "pcn"): "P1"}
    rows = lists({"A": 1000, "X": 4000}) + change(
        {("pcn", "P1"): -12.0, ("practice", "A"): -15.0, ("practice", "X"): -20.0}
    )
    run = evaluate(contract(tmp_path, text), results(rows), ["A", "X"], pcn)
    assert by_practice(run)["X"].test == (
        "not assessable: practice X is in no PCN; this component is judged at PCN level"
    )


def test_statement_report_and_log_say_not_assessable_not_missed(tmp_path: Path) -> None:
    loaded = perf_contract(tmp_path)
    run = evaluate(loaded, measured(), SIZES, FED)
    x = by_practice(run)["X"]
    assert performance_why(x) == "Not assessable"
    assert line_view(x, {}, {})["met"] == "Not assessable"
    headline = build_headline(loaded.contract, run.lines, {}, set(SIZES))
    assert headline.performance == {
        "Met": 2,
        "Missed: own floor": 1,
        "Not assessable": 1,
    }
    note = (
        "1 practice is in no federation, so its 'perf' line is not assessable (paid nothing, "
        "not counted as missing the target): X"
    )
    assert not_assessable_note(run.lines) == headline.not_assessable == note


def test_the_note_counts_and_names_the_first_five(tmp_path: Path) -> None:
    sizes = {f"X{i}": 100 for i in range(7)} | {"A": 1000}
    rows = lists(sizes) + change({("federation", "F1"): -12.0, ("practice", "A"): -15.0})
    run = evaluate(perf_contract(tmp_path), results(rows), sizes, {("A", "federation"): "F1"})
    assert not_assessable_note(run.lines) == (
        "7 practices are in no federation, so their 'perf' lines are not assessable (paid "
        "nothing, not counted as missing the target): X0, X1, X2, X3, X4 and 2 more"
    )
    assert not_assessable_note([line for line in run.lines if line.provider == "A"]) == ""


def test_a_practice_without_its_own_figure_is_not_assessable(tmp_path: Path) -> None:
    # C has no change figure of its own (no baseline admissions, say): its floor cannot be
    # tested, so its line is not assessable, not "not met"; A and B are paid as before
    # (F1 -12% meets the target: A 1000 x £2 = £2,000, B 2000 x £2 = £4,000).
    figures = {("federation", "F1"): -12.0, ("practice", "A"): -15.0, ("practice", "B"): -8.0}
    run = evaluate(perf_contract(tmp_path), results(lists(SIZES) + change(figures)), SIZES, FED)
    lines = by_practice(run)
    assert amounts(run)["A"] == Decimal("2000.00") and amounts(run)["B"] == Decimal("4000.00")
    c = lines["C"]
    assert c.met == "not_assessable" and c.amount == Decimal(0) and c.measure_org == "F1"
    assert c.test == (
        "not assessable: practice C has no emergency_admissions_change figure for the "
        "performance period, so its floor cannot be tested"
    )
    note = not_assessable_note(run.lines)
    assert "1 practice has no figure to test (its own or its federation's)" in note
    assert "'perf' line is not assessable" in note and ": C" in note


def test_a_group_without_a_figure_leaves_its_members_not_assessable(tmp_path: Path) -> None:
    # F1 has no change figure: its target cannot be tested, so no member is "not met"
    figures = {("practice", p): -15.0 for p in "ABC"} | {("practice", "X"): -20.0}
    run = evaluate(perf_contract(tmp_path), results(lists(SIZES) + change(figures)), SIZES, FED)
    lines = by_practice(run)
    for p in "ABC":
        assert lines[p].met == "not_assessable" and lines[p].amount == Decimal(0)
        assert lines[p].test.startswith("not assessable: federation F1 has no ")
    assert_not_assessable(lines["X"], Decimal("2.00"))
