"""The decision tables cite the law for every rule, and each branch the issue found missing:
scope (reg 3(4)), urgent awards and modifications (reg 14), frameworks (regs 6(8) and 18),
Direct Award B's expression-of-interest condition, and reg 13's permitted modifications with
both sides of the £500,000 and 25% limits. Facts are written as a commissioner would answer
them, not copied from the examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from careis.commissioning.route import RouteRequest, decide, default_rules_path, load_rules
from careis.errors import ConfigError

DAY = dt.date(2026, 3, 2)  # a Monday
IN_SCOPE: dict[str, Any] = {"relevant_health_care_services": True, "mixed_procurement": False}
NOT_URGENT = {"urgent_award_needed": False}
NO_FRAMEWORK = {"award_under_framework": False, "concluding_framework_agreement": False}
PLAIN = {**IN_SCOPE, **NOT_URGENT, **NO_FRAMEWORK}


def award(**facts: Any) -> Any:
    return decide(RouteRequest(service="t", decision_date=DAY, facts=facts))


def modify(**facts: Any) -> Any:
    return decide(RouteRequest(service="t", question="modification", decision_date=DAY,
                               facts=facts))  # fmt: skip


@pytest.mark.parametrize("question", ["award", "modification"])
def test_every_rule_cites_a_regulation(question: str) -> None:
    table = load_rules(default_rules_path(question))
    uncited = [f"fact {n}" for n, f in table.facts.items() if "reg" not in f.regulation]
    uncited += [f"derived {n}" for n, d in table.derived.items() if "reg" not in d["regulation"]]
    uncited += [f"route {r.process}" for r in table.routes if "reg" not in r.regulation]
    uncited += [f"notice {n}" for n, x in table.notices.items() if "reg" not in x.regulation]
    assert "reg" in table.key_criteria.regulation and "reg" in table.timing.regulation
    assert uncited == []


def test_a_rule_without_a_citation_is_refused(tmp_path: Any) -> None:
    text = (
        default_rules_path()
        .read_text()
        .replace("    regulation: reg 6(10)-(12)\n    subtract:", "    subtract:")
    )
    bad = tmp_path / "t.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="derived fact 'lifetime_value_increase' has no"):
        load_rules(bad)
    bad.write_text(default_rules_path().read_text().replace(
        "    regulation: reg 3 and Schedule 1 (CPV codes)\n", ""))  # fmt: skip
    with pytest.raises(ConfigError, match="regulation"):
        load_rules(bad)


# --- scope: reg 3 and reg 3(4) -------------------------------------------------------------


def test_not_health_care_is_outside_the_regime() -> None:
    d = award(relevant_health_care_services=False)
    assert d.process == "outside_psr" and d.standstill is None and d.notices == ()


def test_mixed_procurement_mainly_health_care_and_inseparable_is_in_scope() -> None:
    d = award(relevant_health_care_services=True, mixed_procurement=True,
              health_care_main_subject=True, other_goods_not_separable=True, **NOT_URGENT,
              **NO_FRAMEWORK, existing_provider=True, only_existing_provider_capable=True)  # fmt: skip
    assert d.process == "direct_award_a"


@pytest.mark.parametrize(("main", "inseparable"), [(False, True), (True, False)])
def test_mixed_procurement_fails_either_limb(main: bool, inseparable: bool) -> None:
    d = award(relevant_health_care_services=True, mixed_procurement=True,
              health_care_main_subject=main, other_goods_not_separable=inseparable)  # fmt: skip
    assert d.process == "outside_psr"


# --- urgent award: reg 14 ------------------------------------------------------------------


def test_urgent_award_when_all_three_conditions_hold() -> None:
    d = award(**IN_SCOPE, urgent_award_needed=True, urgency_not_foreseeable_or_attributable=True,
              delay_risks_patient_or_public_safety=True)  # fmt: skip
    assert d.process == "urgent_award" and d.notice_ids == ("urgent_award_notice",)
    assert d.standstill is None and d.award_notice_by == DAY + dt.timedelta(days=30)


def test_urgency_from_poor_planning_is_not_urgent() -> None:
    d = award(**IN_SCOPE, urgent_award_needed=True, urgency_not_foreseeable_or_attributable=False,
              **NO_FRAMEWORK, existing_provider=False, patient_choice_service=False,
              most_suitable_provider_identifiable=False)  # fmt: skip
    assert d.process == "competitive"
    assert ("Urgent award", "needs urgency_not_foreseeable_or_attributable is true") in d.rejected


# --- frameworks: reg 6(8), reg 18 --------------------------------------------------------------


def test_concluding_a_framework_is_competitive_even_with_an_only_capable_provider() -> None:
    """reg 6(8): a framework is concluded only by the Competitive Process; Direct Award A is
    not available even where the existing provider is the only one capable."""
    d = award(**IN_SCOPE, **NOT_URGENT, award_under_framework=False,
              concluding_framework_agreement=True, existing_provider=True,
              only_existing_provider_capable=True)  # fmt: skip
    assert d.process == "competitive_framework" and d.standstill is not None
    assert "existing_provider" not in [t.fact for t in d.trail]


@pytest.mark.parametrize(
    ("mini", "process"),
    [(True, "framework_call_off_competition"), (False, "framework_call_off_direct")],
)
def test_call_off_under_a_framework(mini: bool, process: str) -> None:
    d = award(**IN_SCOPE, **NOT_URGENT, award_under_framework=True, framework_mini_competition=mini)
    assert d.process == process
    assert (d.standstill is not None) is mini


# --- Direct Award B: the expression-of-interest condition ---------------------------------------


def test_direct_award_b_needs_a_way_to_express_interest() -> None:
    facts = {**PLAIN, "existing_provider": False, "patient_choice_service": True,
             "unrestricted_providers": True, "most_suitable_provider_identifiable": False}  # fmt: skip
    assert award(**facts, providers_can_express_interest=True).process == "direct_award_b"
    d = award(**facts, providers_can_express_interest=False)
    assert d.process == "competitive"
    assert ("Direct Award Process B", "needs providers_can_express_interest is true") in d.rejected


# --- modifications: reg 13 ---------------------------------------------------------------------

NOT_URGENT_MOD = {"urgent_modification_needed": False, "awarded_under_direct_award_a_or_b": False}
BY_AUTHORITY = {**NOT_URGENT_MOD, "provided_for_in_contract": False,
                "solely_corporate_succession": False, "external_factors": False,
                "attributable_to_authority": True, "materially_different": False}  # fmt: skip


def values(original: str, modified: str) -> dict[str, str]:
    return {"original_lifetime_value": original, "modified_lifetime_value": modified}


@pytest.mark.parametrize(
    ("original", "modified", "process", "notice"),
    [
        # 13(2)(b): permitted if below £500,000 OR less than 25%; not permitted only if both.
        ("2000000", "2499999.99", "permitted_authority_decision", False),  # +£499,999.99, 24.99%
        ("2000000", "2500000", "not_permitted", False),  # exactly £500,000 and exactly 25%
        ("4000000", "4999999", "permitted_authority_decision", True),  # +£999,999, 24.999975%
        ("4000000", "5000000", "not_permitted", False),  # +£1,000,000, exactly 25%
        ("1000000", "1499999", "permitted_authority_decision", False),  # +£499,999, 49.9999%
        ("1000000", "1500000", "not_permitted", False),  # exactly £500,000, 50%
        # a decrease is a change too (careis reads "cumulative change" as its size either way)
        ("3000000", "2000000", "not_permitted", False),  # -£1,000,000, -33%
        ("3000000", "2600000", "permitted_authority_decision", False),  # -£400,000
    ],
)
def test_modification_value_limits(
    original: str, modified: str, process: str, notice: bool
) -> None:
    d = modify(**BY_AUTHORITY, **values(original, modified))
    assert d.process == process
    assert ("modification_notice" in d.notice_ids) is notice


def test_modification_notice_from_exactly_500k() -> None:
    """NHS England's modifications flowchart: a transparency notice for £500,000 or more."""
    d = modify(**NOT_URGENT_MOD, provided_for_in_contract=True, **values("10000000", "10500000"))
    assert d.process == "permitted_provided_for" and d.notice_ids == ("modification_notice",)
    d = modify(**NOT_URGENT_MOD, provided_for_in_contract=True, **values("10000000", "10499999"))
    assert d.notice_ids == ()


def test_novation_to_another_provider_is_not_corporate_succession() -> None:
    d = modify(**NOT_URGENT_MOD, provided_for_in_contract=False, solely_corporate_succession=False,
               external_factors=False, attributable_to_authority=True, materially_different=True)  # fmt: skip
    assert d.process == "not_permitted"


def test_corporate_succession_needs_basic_selection_criteria() -> None:
    base = {
        **NOT_URGENT_MOD,
        "provided_for_in_contract": False,
        "solely_corporate_succession": True,
    }
    ok = modify(**base, successor_meets_basic_selection_criteria=True, **values("1", "1"))
    assert ok.process == "permitted_corporate_succession"


def test_external_factors_must_not_make_it_materially_different() -> None:
    base = {**NOT_URGENT_MOD, "provided_for_in_contract": False, "solely_corporate_succession": False,
            "external_factors": True}  # fmt: skip
    assert modify(**base, materially_different=False, **values("5000000", "7000000")).process == (
        "permitted_external_factors")  # fmt: skip
    d = modify(**base, materially_different=True, attributable_to_authority=False)
    assert d.process == "not_permitted"


def test_direct_award_a_or_b_contract_only_the_material_test() -> None:
    base = {"urgent_modification_needed": False, "awarded_under_direct_award_a_or_b": True}
    d = modify(**base, materially_different=False, **values("1000000", "9000000"))
    assert d.process == "permitted_direct_award_a_b" and d.notice_ids == ("modification_notice",)
    assert modify(**base, materially_different=True).process == "not_permitted_direct_award_a_b"


def test_urgent_modification_uses_the_schedule_14_notice() -> None:
    d = modify(urgent_modification_needed=True, urgency_not_foreseeable_or_attributable=True,
               delay_risks_patient_or_public_safety=True)  # fmt: skip
    assert d.process == "urgent_modification" and d.notice_ids == ("urgent_modification_notice",)
