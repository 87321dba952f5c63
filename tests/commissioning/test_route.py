"""The PSR route: every branch, the considerable-change thresholds either side, missing facts,
the standstill across bank holidays, and the rules being data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careis.commissioning.route import (
    MissingRouteFact,
    RouteRequest,
    decide,
    default_rules_path,
    load_request,
    load_rules,
)
from careis.commissioning.workdays import add_working_days, is_working_day
from careis.errors import ConfigError

DAY = dt.date(2025, 7, 1)  # a Tuesday, no bank holiday near

# In scope (reg 3), not urgent (reg 14), no framework (regs 6(8), 18): the questions every award
# question answers before the five processes are reached.
BASE: dict[str, Any] = {
    "relevant_health_care_services": True,
    "mixed_procurement": False,
    "urgent_award_needed": False,
    "award_under_framework": False,
    "concluding_framework_agreement": False,
}

# An existing community service being re-let: not A (others could provide it), not B.
REPLACING: dict[str, Any] = {
    **BASE,
    "existing_provider": True,
    "only_existing_provider_capable": False,
    "patient_choice_service": False,
    "contract_expiring_and_replaced": True,
    "materially_different": False,
    "change_attributable_to_authority": True,
    "existing_provider_satisfactory": True,
    "most_suitable_provider_identifiable": True,
}


def route(facts: dict[str, Any], day: dt.date = DAY, **kw: Any) -> Any:
    return decide(RouteRequest(service="test", decision_date=day, facts={**BASE, **facts}, **kw))


def values(existing: str, proposed: str, **more: Any) -> dict[str, Any]:
    return {**REPLACING, "existing_lifetime_value": existing, "proposed_lifetime_value": proposed,
            **more}  # fmt: skip


def test_direct_award_a_guidance_example_emergency_department() -> None:
    """Guidance example: Type 1 A&E with its existing trust - only that provider can do it."""
    d = route({"existing_provider": True, "only_existing_provider_capable": True})
    assert d.process == "direct_award_a" and d.obligation == "must"
    assert d.standstill is None and d.award_notice_by == dt.date(2025, 7, 31)
    assert "30 days" in d.notices[0] and d.notice_ids == ("award_notice_30_days",)
    assert [t.fact for t in d.trail][-2:] == ["existing_provider", "only_existing_provider_capable"]


def test_direct_award_b_patient_choice() -> None:
    d = route({"existing_provider": False, "patient_choice_service": True,
               "unrestricted_providers": True, "providers_can_express_interest": True})  # fmt: skip
    assert d.process == "direct_award_b" and d.obligation == "must"
    assert ("Direct Award Process A", "needs existing_provider is true") in d.rejected


def test_direct_award_c_value_increase_just_under_500k() -> None:
    d = route(values("2000000", "2499999.99"))  # +£499,999.99 (24.99999%)
    assert d.process == "direct_award_c" and d.obligation == "may"
    shown = {t.fact: t.shown for t in d.trail}
    assert shown["lifetime_value_increase"] == "£499,999.99"
    assert shown["existing_provider"] == "yes"
    # reg 12: published Tue 1 July; begins Wed 2 July; 8 working days after it: Thu 3 (1),
    # Fri 4 (2), Mon 7-Fri 11 (3-7), Mon 14 (8). Award from Tue 15 July.
    assert d.standstill is not None and d.standstill.first_day == dt.date(2025, 7, 2)
    assert d.standstill.last_day == dt.date(2025, 7, 14)
    assert d.standstill.earliest_award == dt.date(2025, 7, 15)
    assert len(d.key_criteria) == 5


def test_considerable_change_at_exactly_both_thresholds() -> None:
    d = route(values("2000000", "2500000"))  # +£500,000 and +25%: "at least" both
    assert d.process == "most_suitable_provider"
    assert ("Direct Award Process C", "needs not (considerable_change is true)") in d.rejected


def test_over_500k_but_under_25_percent_is_not_considerable() -> None:
    d = route(values("4000000", "4999999"))  # +£999,999 but +24.999975%
    assert d.process == "direct_award_c"
    shown = {t.fact: t.shown for t in d.trail}
    assert shown["lifetime_value_increase_percent"] == "24.999975%"


def test_over_25_percent_but_under_500k_is_not_considerable() -> None:
    d = route(values("1000000", "1499999"))  # +49.9999% but +£499,999
    assert d.process == "direct_award_c"


def test_large_increase_not_attributable_to_authority() -> None:
    d = route(values("1000000", "3000000", change_attributable_to_authority=False))
    assert d.process == "direct_award_c"


def test_materially_different_goes_to_competition() -> None:
    d = route({**REPLACING, "materially_different": True,
               "most_suitable_provider_identifiable": False})  # fmt: skip
    assert d.process == "competitive" and d.obligation == "default"
    assert any("contract notice" in n for n in d.notices)
    # materially different settles considerable change: the values are never asked for
    assert "existing_lifetime_value" not in [t.fact for t in d.trail]


def test_unsatisfactory_provider_most_suitable_provider() -> None:
    d = route(values("1000000", "1000000", existing_provider_satisfactory=False))
    assert d.process == "most_suitable_provider"


def test_new_service_competitive() -> None:
    d = route({"existing_provider": False, "patient_choice_service": False,
               "most_suitable_provider_identifiable": False})  # fmt: skip
    assert d.process == "competitive"


def test_missing_fact_is_named_with_its_question() -> None:
    with pytest.raises(MissingRouteFact) as err:
        route({"existing_provider": True, "only_existing_provider_capable": False,
               "patient_choice_service": False, "contract_expiring_and_replaced": True,
               "materially_different": False, "change_attributable_to_authority": True})  # fmt: skip
    assert err.value.fact == "proposed_lifetime_value"
    assert "proposed new contract's lifetime value" in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_fact_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'existing_provider'"):
        route({"existing_provder": True})


def test_before_the_psr_the_older_regime_applied() -> None:
    d = route({}, day=dt.date(2023, 12, 31))
    assert d.process == "older_regime" and "Light-Touch Regime" in d.reason
    d2 = route({"existing_provider": True, "only_existing_provider_capable": True},
               existing_contract_awarded=dt.date(2019, 4, 1))  # fmt: skip
    assert d2.process == "direct_award_a" and "older regime" in d2.notes[0]


def test_a_change_in_the_law_is_a_change_in_the_table(tmp_path: Path) -> None:
    text = default_rules_path().read_text().replace("at_least: 500000", "at_least: 1000000")
    text = text.replace('version: "2025-04"', 'version: "test"')
    path = tmp_path / "psr-changed.yaml"
    path.write_text(text)
    table = load_rules(path)
    req = RouteRequest(service="t", decision_date=DAY, facts=values("2000000", "2500000"))
    assert decide(req).process == "most_suitable_provider"
    assert decide(req, table).process == "direct_award_c"
    assert decide(req, table).rules == "psr-2023 (version test)"


def test_route_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "route.yaml"
    path.write_text("service: x\ndecision_date: 2025-13-01\n")
    with pytest.raises(ConfigError, match=r"line 2.*2025-13-01.*YYYY-MM-DD"):
        load_request(path)
    bad = tmp_path / "rules.yaml"
    bad.write_text(default_rules_path().read_text().replace("fact: patient_choice_service",
                                                            "fact: patient_choise"))  # fmt: skip
    with pytest.raises(ConfigError, match="undeclared fact 'patient_choise'"):
        load_rules(bad)


@given(
    start=st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 31)),
    n=st.integers(min_value=1, max_value=30),
)
@settings(max_examples=200, deadline=None)
def test_add_working_days_counts_only_working_days(start: dt.date, n: int) -> None:
    end = add_working_days(start, n)
    assert is_working_day(end)
    days = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(is_working_day(d) for d in days) == n


def test_decision_table_checks_its_derived_facts(tmp_path: Path) -> None:
    text = default_rules_path().read_text()
    bad = tmp_path / "a.yaml"
    bad.write_text(text.replace("subtract: [proposed", "substract: [proposed"))
    with pytest.raises(ConfigError, match="derived fact 'lifetime_value_increase' must have"):
        load_rules(bad)
    bad.write_text(
        text.replace("{fact: materially_different, is: true}", "{fact: material, is: true}")
    )
    with pytest.raises(ConfigError, match="uses undeclared fact 'material'"):
        load_rules(bad)


def test_route_file_names_its_own_table(tmp_path: Path) -> None:
    from careis.commissioning.route import rules_for

    text = default_rules_path().read_text().replace('version: "2025-04"', 'version: "local"')
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "psr-local.yaml").write_text(text)
    path = tmp_path / "route.yaml"
    path.write_text(
        "service: x\ndecision_date: 2025-07-01\nrules: tables/psr-local.yaml\n"
        "facts: {relevant_health_care_services: true, mixed_procurement: false,\n"
        "  urgent_award_needed: false, award_under_framework: false,\n"
        "  concluding_framework_agreement: false, existing_provider: true,\n"
        "  only_existing_provider_capable: true}\n"
    )
    req = load_request(path)
    assert decide(req, rules_for(req, path)).rules == "psr-2023 (version local)"
