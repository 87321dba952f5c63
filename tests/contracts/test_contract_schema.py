"""The contract schema as a commissioner meets it: writing a contract from scratch.

Each test writes a contract the way a commissioner would (not copied from examples/): one of
each of the seven models is accepted, with the values it states parsed exactly (money as
Decimal, dates, parties, shares) and the documented defaults filled in. Each rule a
commissioner can break is refused with one line that names the file, the line of the
offending key and the field or problem, and no traceback.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from careis.contracts.common import PartyKind
from careis.contracts.schema import Contract, LoadedContract, load_contract, readable_id
from careis.errors import ConfigError

D = dt.date

# An enhanced service a sub-ICB might write: three payments, quarterly instalments.
ENHANCED = """\
id: ES-00T-2024
name: Proactive care enhanced service
model: enhanced_service
commissioner: {code: 00T, name: NHS Bolton, kind: sub_icb}
term: {start: 2024-04-01, end: 2025-03-31}
list_size_date: 2024-04-01
providers:
  select: listed
  practices: [P82001, P82002]
schedule:
  instalments:
    - {date: 2024-07-01, percent: 25}
    - {date: 2024-10-01, percent: 25}
    - {date: 2025-01-01, percent: 25}
    - {date: 2025-03-01, percent: 25}
components:
  - id: taking_part
    type: engagement
    basis: per_registered_patient
    rate: "0.75"
  - id: care_plans
    type: concordance
    measure: care_plan
    rate: "45.00"
  - id: fewer_admissions
    type: performance
    measure: emergency_admissions_change
    aggregate_level: federation
    target_reduction_percent: 15
    practice_floor_reduction_percent: 10
    rate: "2.00"
"""

HEAD = """\
id: {id}
name: Integrated care for Bolton
model: {model}
commissioner: {{code: 00T, name: NHS Bolton}}
term: {{start: 2024-04-01, end: 2026-03-31}}
"""

FEDERATION = "{code: FED1, name: Bolton GP Federation, kind: federation}"
TRUST = "{code: RMC, name: Bolton NHS Foundation Trust, kind: trust}"
CAPITATION = """\
components:
  - id: budget
    type: capitation
    rate: "150.00"
    payee: holder
"""

BY_MODEL = {
    "prime_contractor": f"""\
holder: {{party: {FEDERATION}, management_fee_percent: 2.5}}
subcontractors:
  - {{party: {TRUST}, services: [community_nursing]}}
components:
  - id: taking_part
    type: engagement
    basis: per_registered_patient
    rate: "1.10"
""",
    "prime_provider": f"holder: {{party: {FEDERATION}, management_fee_percent: 3}}\n" + CAPITATION,
    "alliance": f"""\
alliance:
  members:
    - {{party: {FEDERATION}, share_percent: 60}}
    - {{party: {TRUST}, share_percent: 40}}
components:
  - id: shared_savings
    type: gain_share
    measure: emergency_admissions
    level: sub_icb
    org: 00T
    unit_cost: "1850.00"
    gain_share_percent: 50
    loss_share_percent: 25
    gain_cap: "250000"
    loss_collar: "100000"
""",
    "aco_virtual": f"""\
alliance:
  members:
    - {{party: {FEDERATION}, share_percent: 50}}
    - {{party: {TRUST}, share_percent: 50}}
components:
  - id: shared_savings
    type: gain_share
    measure: emergency_admissions
    level: sub_icb
    org: 00T
    unit_cost: "1850"
    gain_share_percent: 40
""",
    "aco_partial": "holder: {party: {code: BOLACO, name: Bolton ACO, kind: other_provider}}\n"
    f"subcontractors: [{{party: {TRUST}}}]\n" + CAPITATION,
    "aco_full": """\
holder: {party: {code: BOLACO, kind: other_provider}}
services: [core_general_practice, community_services]
core_contracts:
  - {practice: P82001, type: gms, status: suspended}
  - {practice: P82002, type: apms, status: suspended, reactivatable: true}
"""
    + CAPITATION,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    return path


def accepted(tmp_path: Path, text: str) -> Contract:
    loaded: LoadedContract = load_contract(write(tmp_path, text))
    return loaded.contract


def refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_contract(path)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert msg.startswith(str(path)), msg
    return msg


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_an_enhanced_service_written_from_scratch(tmp_path: Path) -> None:
    c = accepted(tmp_path, ENHANCED)
    assert (c.id, c.model, c.commissioner.code, c.commissioner.name) == (
        "ES-00T-2024",
        "enhanced_service",
        "00T",
        "NHS Bolton",
    )
    assert (c.term.start, c.term.end, c.list_size_date) == (
        D(2024, 4, 1),
        D(2025, 3, 31),
        D(2024, 4, 1),
    )
    assert (c.providers.select, c.providers.practices) == ("listed", ["P82001", "P82002"])
    assert [(i.date, i.percent) for i in c.schedule.instalments] == [
        (D(2024, 7, 1), Decimal(25)),
        (D(2024, 10, 1), Decimal(25)),
        (D(2025, 1, 1), Decimal(25)),
        (D(2025, 3, 1), Decimal(25)),
    ]
    engage, plans, perf = c.components
    # money is exact: the pence written are the pence held
    assert (engage.type, engage.basis, engage.rate) == (  # type: ignore[union-attr]
        "engagement",
        "per_registered_patient",
        Decimal("0.75"),
    )
    assert isinstance(engage.rate, Decimal)  # type: ignore[union-attr]
    assert (plans.measure, plans.rate, plans.basis) == (  # type: ignore[union-attr]
        "care_plan",
        Decimal("45.00"),
        "per_patient",
    )
    assert (perf.aggregate_level, perf.rate) == ("federation", Decimal("2.00"))  # type: ignore[union-attr]
    assert (perf.target_reduction_percent, perf.practice_floor_reduction_percent) == (  # type: ignore[union-attr]
        Decimal(15),
        Decimal(10),
    )


def test_what_a_commissioner_may_leave_out(tmp_path: Path) -> None:
    """The documented defaults: every practice, paid in year, all-or-nothing performance."""
    text = ENHANCED.replace(
        "providers:\n  select: listed\n  practices: [P82001, P82002]\n", ""
    ).replace("list_size_date: 2024-04-01\n", "")
    c = accepted(tmp_path, text)
    assert c.providers.select == "all_practices" and c.list_size_date is None
    assert c.commissioner.kind == "sub_icb"
    engage, plans, perf = c.components
    assert engage.paid == "in_year" and engage.payee == "practices"  # type: ignore[union-attr]
    assert plans.paid == "year_end"  # type: ignore[union-attr]
    assert (perf.basis, perf.scaling, perf.below_floor) == (  # type: ignore[union-attr]
        "per_registered_patient",
        "all_or_nothing",
        "redistribute",
    )
    assert c.holder is None and c.alliance is None and c.subcontractors == []


def test_a_prime_contractor(tmp_path: Path) -> None:
    c = accepted(
        tmp_path, HEAD.format(id="PC-1", model="prime_contractor") + BY_MODEL["prime_contractor"]
    )
    assert c.holder is not None
    assert (c.holder.party.code, c.holder.party.kind) == ("FED1", PartyKind.FEDERATION)
    assert c.holder.management_fee_percent == Decimal("2.5")
    assert [(s.party.code, s.party.kind, s.services) for s in c.subcontractors] == [
        ("RMC", PartyKind.TRUST, ["community_nursing"])
    ]
    assert c.components[0].rate == Decimal("1.10")  # type: ignore[union-attr]


def test_a_prime_provider_pays_itself(tmp_path: Path) -> None:
    c = accepted(
        tmp_path, HEAD.format(id="PP-1", model="prime_provider") + BY_MODEL["prime_provider"]
    )
    assert c.holder is not None and c.holder.management_fee_percent == Decimal(3)
    (budget,) = c.components
    assert (budget.type, budget.rate, budget.payee) == ("capitation", Decimal("150.00"), "holder")  # type: ignore[union-attr]


@pytest.mark.parametrize("model", ["alliance", "aco_virtual"])
def test_an_alliance_shares_a_pool(tmp_path: Path, model: str) -> None:
    c = accepted(tmp_path, HEAD.format(id="AL-1", model=model) + BY_MODEL[model])
    assert c.alliance is not None and c.holder is None
    shares = {m.party.code: m.share_percent for m in c.alliance.members}
    assert sum(shares.values()) == 100 and set(shares) == {"FED1", "RMC"}
    (gain,) = c.components
    assert (gain.level, gain.org, gain.unit_cost) == ("sub_icb", "00T", Decimal(1850))  # type: ignore[union-attr]
    if model == "alliance":
        assert shares == {"FED1": Decimal(60), "RMC": Decimal(40)}
        assert (gain.gain_share_percent, gain.loss_share_percent) == (Decimal(50), Decimal(25))  # type: ignore[union-attr]
        assert (gain.gain_cap, gain.loss_collar) == (Decimal(250000), Decimal(100000))  # type: ignore[union-attr]
    else:  # no losses shared and no cap unless the contract says so
        assert (gain.loss_share_percent, gain.gain_cap, gain.loss_collar) == (  # type: ignore[union-attr]
            Decimal(0),
            None,
            None,
        )


def test_accountable_care_organisations(tmp_path: Path) -> None:
    partial = accepted(
        tmp_path, HEAD.format(id="ACOP-1", model="aco_partial") + BY_MODEL["aco_partial"]
    )
    assert partial.holder is not None and partial.holder.party.kind == PartyKind.OTHER_PROVIDER
    assert partial.holder.management_fee_percent == 0 and partial.core_contracts == []
    full = accepted(tmp_path, HEAD.format(id="ACOF-1", model="aco_full") + BY_MODEL["aco_full"])
    assert "core_general_practice" in full.services
    assert [(cc.practice, cc.type, cc.status, cc.reactivatable) for cc in full.core_contracts] == [
        ("P82001", "gms", "suspended", True),
        ("P82002", "apms", "suspended", True),
    ]


def test_every_model_is_covered() -> None:
    from typing import get_args

    from careis.contracts.schema import ContractModel

    assert set(get_args(ContractModel)) == {"enhanced_service", *BY_MODEL}


# (what the commissioner got wrong, the text before, the text after, the line the message must
# name, what it must say). The line is the changed line (None), or the first line holding the
# text given: a rule about a whole block (a component, the schedule) names the block's line
# and path, and says which of its fields are at fault.
BREAKS = [
    ("a misspelt field", "    basis: per_registered_patient", "    basys: per_registered_patient",
     None, "unknown field 'basys'. Fix: did you mean 'basis'?"),
    ("a negative rate", 'rate: "0.75"', 'rate: "-0.75"',
     None, "field 'components[0].rate': Input should be greater than or equal to 0"),
    ("a rate that is not money", 'rate: "45.00"', 'rate: "45 pounds"',
     None, "field 'components[1].rate': '45 pounds' is not an amount of money"),
    ("fractions of a penny beyond four places", 'rate: "2.00"', 'rate: "2.00001"',
     None, "field 'components[2].rate'"),
    ("an unknown model", "model: enhanced_service", "model: partnership", None, "field 'model'"),
    ("an unknown component type", "type: engagement", "type: bonus",
     None, "field 'components[0].type'"),
    ("an impossible date", "term: {start: 2024-04-01,", "term: {start: 2024-13-01,",
     None, "'2024-13-01' is not a valid value (month must be in 1..12)"),
    ("a term ending before it starts", "end: 2025-03-31}", "end: 2024-03-31}",
     None, "before its start"),
    ("a floor above the target", "practice_floor_reduction_percent: 10",
     "practice_floor_reduction_percent: 25", "- id: fewer_admissions",
     "field 'components[2]': practice_floor_reduction_percent must not exceed target_reduction_percent"),
    ("a performance level careis cannot aggregate", "aggregate_level: federation",
     "aggregate_level: practice", None, "field 'components[2].aggregate_level'"),
    ("a target above 100%", "target_reduction_percent: 15", "target_reduction_percent: 150",
     None, "field 'components[2].target_reduction_percent'"),
    ("two components with one id", "  - id: care_plans", "  - id: taking_part",
     None, "component id 'taking_part' is used twice"),
    ("a per-patient payment to one party", "    basis: per_registered_patient",
     "    basis: per_registered_patient\n    payee: FED1", "- id: taking_part",
     "field 'components[0]': a payee other than 'practices' can only be paid a fixed sum"),
    ("an instalment after the term", "{date: 2025-03-01, percent: 25}",
     "{date: 2025-04-01, percent: 25}",
     None, "instalment date 2025-04-01 is outside the contract term"),
    ("instalments out of order", "{date: 2024-10-01, percent: 25}",
     "{date: 2024-06-01, percent: 25}", "schedule:",
     "field 'schedule': instalment dates must be distinct and in order"),
    ("instalments not summing to 100%", "{date: 2025-03-01, percent: 25}",
     "{date: 2025-03-01, percent: 20}", "schedule:",
     "field 'schedule': instalment percentages sum to 95%, not 100%"),
    ("listed providers with none listed", "  practices: [P82001, P82002]", "  practices: []",
     "providers:", "field 'providers': select: listed needs a non-empty 'practices' list"),
    ("an alliance in an enhanced service", "components:",
     f"alliance: {{members: [{{party: {FEDERATION}, share_percent: 100}}]}}\ncomponents:",
     None, "field 'alliance.members'"),
]  # fmt: skip


def changed_line(text: str, before: str) -> int:
    return text[: text.index(before)].count("\n") + 1


@pytest.mark.parametrize(
    ("before", "after", "where", "says"),
    [pytest.param(b, a, w, s, id=what) for what, b, a, w, s in BREAKS],
)
def test_each_rule_break_is_one_line_naming_line_and_field(
    tmp_path: Path, before: str, after: str, where: str | None, says: str
) -> None:
    assert before in ENHANCED, before
    text = ENHANCED.replace(before, after, 1)
    msg = refused(tmp_path, text)
    line = changed_line(ENHANCED, before) if where is None else line_of(text, where)
    assert f", line {line}: " in msg, msg
    assert says in msg, msg


MODEL_BREAKS = [
    ("prime_contractor", "holder: {party: {code: FED1, name: Bolton GP Federation, kind: federation}, management_fee_percent: 2.5}\n",
     "", "model", "a prime_contractor contract needs a 'holder'"),
    ("prime_contractor", "management_fee_percent: 2.5", "management_fee_percent: 101",
     "holder", "field 'holder.management_fee_percent'"),
    ("prime_provider", "    payee: holder", "    payee: practices", "components",
     "a prime provider delivers services itself"),
    ("alliance", "share_percent: 40", "share_percent: 45", "alliance:",
     "alliance shares sum to 105%, not 100%"),
    ("alliance", "{code: RMC, name: Bolton NHS Foundation Trust, kind: trust}, share_percent: 40",
     "{code: FED1, kind: federation}, share_percent: 40", "alliance:",
     "an alliance member is listed twice"),
    ("aco_virtual", "    gain_share_percent: 40", "    gain_share_percent: 40\n    paid: in_year",
     "paid: in_year", "field 'components[0].paid'"),
    ("aco_partial", "kind: trust}}]", "kind: hospital}}]", "subcontractors",
     "field 'subcontractors[0].party.kind'"),
    ("aco_full", "services: [core_general_practice, community_services]",
     "services: [community_services]", "services", "includes 'core_general_practice' in services"),
    ("aco_full", "{practice: P82001, type: gms, status: suspended}",
     "{practice: P82001, type: gms, status: active}", "P82001",
     "practice P82001's GMS contract must be suspended"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "before", "after", "on_line_with", "says"),
    [pytest.param(*b, id=f"{b[0]}: {b[4][:40]}") for b in MODEL_BREAKS],
)
def test_each_model_rule_break_is_one_line(
    tmp_path: Path, model: str, before: str, after: str, on_line_with: str, says: str
) -> None:
    text = HEAD.format(id="X-1", model=model) + BY_MODEL[model]
    assert before in text, before
    text = text.replace(before, after, 1)
    msg = refused(tmp_path, text)
    assert f", line {line_of(text, on_line_with)}: " in msg, msg
    assert says in msg, msg


def test_components_have_names_for_readers(tmp_path: Path) -> None:
    """A component's `name` is what statements and reports show; without one, its id in
    words (abbreviations in capitals), never the raw id."""
    text = ENHANCED.replace("  - id: taking_part\n", "  - id: taking_part\n    name: Engagement\n")
    c = accepted(tmp_path, text)
    assert c.component_names() == {
        "taking_part": "Engagement",
        "care_plans": "Care plans",
        "fewer_admissions": "Fewer admissions",
    }
    assert [readable_id(i) for i in ("concordance_qof", "it_go_live", "qof", "aco-risk")] == [
        "Concordance QOF", "IT go live", "QOF", "ACO risk"]  # fmt: skip
