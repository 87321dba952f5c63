"""The records the regime requires: the conflicts register (reg 21) validated, the decision
record (reg 24) naming what is missing and never inventing it, notice contents against the
Schedules, and the annual summary (reg 25(2)) counted by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from careis.commissioning.conflicts import load_conflicts
from careis.commissioning.decision_inputs import Exclusions, RecordFacts, Representations
from careis.commissioning.records import (
    annual_summary,
    build_record,
    record_text,
    summary_text,
    unknown_items,
)
from careis.commissioning.route import RouteRequest, decide, default_rules_path, load_rules
from careis.errors import ConfigError

D = dt.date
AWARD = load_rules()
MODIFICATION = load_rules(default_rules_path("modification"))
DA_C = {
    "relevant_health_care_services": True,
    "mixed_procurement": False,
    "urgent_award_needed": False,
    "award_under_framework": False,
    "concluding_framework_agreement": False,
    "existing_provider": True,
    "only_existing_provider_capable": False,
    "patient_choice_service": False,
    "contract_expiring_and_replaced": True,
    "materially_different": True,
    "most_suitable_provider_identifiable": True,
}  # fmt: skip  (materially different: Most Suitable Provider)

CONFLICTS = """\
conflicts:
  - id: C1
    person: Director of Finance
    role: panel member
    interest: non-executive director of a bidder
    kind: financial
    declared: 2025-06-01
    management: excluded from scoring and from the decision
"""


def _request(**kw: Any) -> RouteRequest:
    return RouteRequest(service="Podiatry", decision_date=D(2025, 12, 18), facts=DA_C, **kw)


# --- Schedules ---------------------------------------------------------------------------------


def test_every_notice_item_can_be_filled_or_named() -> None:
    assert unknown_items(AWARD) == [] and unknown_items(MODIFICATION) == []


def test_schedule_3_items_for_direct_award_c() -> None:
    """SI 2023/1348 Schedule 3: nine items, in this order."""
    items = AWARD.notices["intention_to_award_c"].content
    assert len(items) == 9
    assert items[1] == "contract title and reference"
    assert items[5] == "details of the award decision-makers"
    assert items[6] == "reasons for selecting the provider with reference to the key criteria"
    assert items[7:] == ("declared conflicts or potential conflicts of interest",
                         "how conflicts were managed")  # fmt: skip


def test_schedule_14_items_for_urgent_modification() -> None:
    """Schedule 14 (reg 14(5)(c)): nine items, the last the reasons why reg 14 applied."""
    items = MODIFICATION.notices["urgent_modification_notice"].content
    assert len(items) == 9 and items[-1] == "the reasons why regulation 14 applied"
    assert "effective date of the modification" in items


# --- conflicts register ------------------------------------------------------------------------


def test_conflicts_register_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFLICTS)
    reg = load_conflicts(path)
    assert reg.by_id()["C1"].kind == "financial"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("    management: excluded from scoring and from the decision\n", "management"),
        ("kind: financial", "kind: pecuniary"),
        ("declared: 2025-06-01", "declared: 1 June"),
    ],
)
def test_conflicts_register_bad_entry_is_one_line(
    tmp_path: Path, change: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    bad = CONFLICTS.replace(change, "") if change.startswith("    ") else CONFLICTS.replace(
        change, message)  # fmt: skip
    path.write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_conflicts(path)
    text = str(err.value)
    assert "\n" not in text and "c.yaml" in text and "line 2" in text and "Fix:" in text


def test_conflicts_register_csv_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,person,role,interest,kind,declared,management\n"
                    "C1,CFO,panel,shares,financial,2025-06-01,left the room\n"
                    "C1,CMO,panel,spouse,indirect,2025-06-02,did not vote\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"c.csv, row 3: duplicate id 'C1'"):
        load_conflicts(path)


# --- decision record ---------------------------------------------------------------------------


def test_record_names_what_is_missing_and_invents_nothing() -> None:
    req = _request()
    r = build_record("podiatry.yaml", req, decide(req), AWARD)
    assert r.decision.process == "most_suitable_provider"
    assert "Decision: provider" in r.missing and "Decision: decision-makers" in r.missing
    assert "Key criteria and basic selection criteria: social value" in r.missing
    assert "Conflicts of interest: declared" in r.missing
    text = record_text(r)
    assert "provider: MISSING" in text and "MISSING (give these" in text


def test_record_cites_the_conflicts_register(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFLICTS)
    reg = load_conflicts(path)
    req = _request(record=RecordFacts(conflicts=("C1",)))
    r = build_record("p.yaml", req, decide(req), AWARD, reg)
    conflicts = dict(r.sections)["Conflicts of interest"]
    assert "non-executive director of a bidder" in (conflicts[0].value or "")
    assert conflicts[1].value == "Director of Finance: excluded from scoring and from the decision"
    bad = _request(record=RecordFacts(conflicts=("C9",)))
    with pytest.raises(ConfigError, match="'C9', which is not in the conflicts register"):
        build_record("p.yaml", bad, decide(bad), AWARD, reg)


def test_none_declared_is_recorded_not_assumed() -> None:
    req = _request(record=RecordFacts(no_conflicts_declared=True))
    r = build_record("p.yaml", req, decide(req), AWARD)
    assert dict(r.sections)["Conflicts of interest"][0].value == "none declared"


def test_an_excluded_provider_is_a_problem() -> None:
    """reg 20 (as amended by SI 2025/163): no award to an excluded provider unless there are
    overriding reasons of public interest."""
    req = _request(record=RecordFacts(exclusions=Exclusions(provider_excluded=True)))
    r = build_record("p.yaml", req, decide(req), AWARD)
    assert r.problems and "reg 20" in r.problems[0]
    ok = _request(record=RecordFacts(exclusions=Exclusions(
        provider_excluded=True, overriding_public_interest="only provider of the service")))  # fmt: skip
    assert build_record("p.yaml", ok, decide(ok), AWARD).problems == ()


def test_record_dates_follow_reg_12() -> None:
    req = _request(representations=Representations(received=D(2026, 1, 5),
                                                   decision_communicated=D(2026, 1, 9)))  # fmt: skip
    r = build_record("p.yaml", req, decide(req), AWARD)
    dates = {x.label: x.value for x in dict(r.sections)["Dates"]}
    assert dates["standstill begins"] == "2025-12-19"
    assert dates["representations close (midnight at the end of)"] == "2026-01-05"
    assert dates["contract may be entered into from (after review)"] == "2026-01-17"


# --- annual summary (reg 25) ------------------------------------------------------------------


def _decided(name: str, day: dt.date, facts: dict[str, Any], **kw: Any) -> Any:
    req = RouteRequest(service=name, decision_date=day, facts=facts, **kw)
    return (name, req, decide(req))


def test_annual_summary_counts_by_hand() -> None:
    """FY 2025/26 = 1 April 2025 to 31 March 2026. Counted: a DA C on 31 March 2026 (a), an
    urgent award (f), a competitive process with representations (c, i); not counted: a DA C
    on 1 April 2026 (next year). New providers (g): ODS code N1 held nothing before."""
    da_c = {**DA_C, "materially_different": False, "change_attributable_to_authority": False,
            "existing_provider_satisfactory": True}  # fmt: skip
    urgent = {"relevant_health_care_services": True, "mixed_procurement": False,
              "urgent_award_needed": True, "urgency_not_foreseeable_or_attributable": True,
              "delay_risks_patient_or_public_safety": True}  # fmt: skip
    competitive = {**DA_C, "existing_provider": False, "most_suitable_provider_identifiable": False}
    decisions = [
        _decided("a.yaml", D(2026, 3, 31), da_c, record=RecordFacts(provider_code="OLD1")),
        _decided("b.yaml", D(2026, 4, 1), da_c, record=RecordFacts(provider_code="OLD1")),
        _decided("c.yaml", D(2025, 9, 1), urgent, record=RecordFacts(provider_code="N1")),
        _decided(
            "d.yaml",
            D(2025, 10, 1),
            competitive,
            record=RecordFacts(provider_code="OLD1"),
            representations=Representations(
                received=D(2025, 10, 7), provider="X Ltd", outcome="continue"
            ),
        ),
    ]
    s = annual_summary(decisions, 2025, previous_providers={"OLD1"})
    assert {k: n for k, (_, n) in s.counts.items()} == {"a": 1, "b": 0, "c": 1, "d": 0, "e": 0,
                                                          "f": 1}  # fmt: skip
    assert s.new_providers == 1
    assert s.representations == ["d.yaml: X Ltd (continue)"]
    text = summary_text(s)
    assert "2025-04-01 to 2026-03-31" in text and "(i) written representations" in text
