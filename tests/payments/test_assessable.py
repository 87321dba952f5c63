"""A component whose input table is empty is not assessable: the run stops, never pays £0.

Issue 15 item 7: an empty memberships table paid every practice £0 on the federation
performance component; an empty events table paid £0 for care plans. The contract below is
written as a commissioner would for a frailty scheme (not copied from examples/): per-patient
medication reviews, an A&E reduction judged per PCN, engagement per registered patient.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.contracts.schema import load_contract
from careis.errors import DataError
from careis.measures.definitions import load_measures
from careis.payments.assessable import TableRows, require_assessable, unassessable

LIBRARY = Path(__file__).parents[2] / "src/careis/examples/measures/scheme.yaml"

CONTRACT = """\
id: FRAILTY-25
name: Frailty medication review scheme
model: enhanced_service
commissioner: {code: 00T, name: NHS Bolton sub-ICB}
term: {start: 2025-04-01, end: 2026-03-31}
components:
  - id: sign_up
    type: engagement
    basis: per_registered_patient
    rate: "0.40"
  - id: reviews
    type: concordance
    measure: medication_review_severe_frailty
    rate: "30.00"
  - id: fewer_ae
    type: performance
    measure: emergency_admissions_change
    aggregate_level: pcn
    target_reduction_percent: 5
    practice_floor_reduction_percent: 2
    rate: "1.50"
"""


def _rows(**empty: int) -> dict[str, TableRows]:
    names = ["patients", "registrations", "events", "admissions", "ae_attendances",
             "organisations", "memberships"]  # fmt: skip
    return {
        n: TableRows(f"{n}.csv", 100, 0 if n in empty else 100 - empty.get(n, 0)) for n in names
    }


@pytest.fixture
def contract(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "frailty.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return load_contract(path)


def test_full_data_is_assessable(contract) -> None:  # type: ignore[no-untyped-def]
    assert unassessable(contract, load_measures([LIBRARY]), _rows()) == []


def test_empty_events_stops_the_concordance_component(contract) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError) as err:
        require_assessable(contract, load_measures([LIBRARY]), _rows(events=1))
    message = str(err.value)
    assert message.startswith(
        "events.csv: the events table has no accepted rows (100 read, 100 quarantined)"
    )
    assert "'reviews' (measure medication_review_severe_frailty)" in message
    assert "£0" in message and "\n" not in message
    assert "sign_up" not in message  # engagement needs only the list


def test_empty_memberships_stops_a_pcn_target(contract) -> None:  # type: ignore[no-untyped-def]
    found = unassessable(contract, load_measures([LIBRARY]), _rows(memberships=1))
    assert [(u.component, u.table) for u in found] == [("fewer_ae", "memberships")]


def test_contract_groups_stand_in_for_empty_memberships(tmp_path: Path) -> None:
    text = CONTRACT + ("groups:\n  - {code: PCN1, level: pcn, practices: [P82001, P82002]}\n")
    path = tmp_path / "grouped.yaml"
    path.write_text(text, encoding="utf-8")
    found = unassessable(load_contract(path), load_measures([LIBRARY]), _rows(memberships=1))
    assert found == []


def test_empty_admissions_reaches_a_change_measure_through_its_base(contract) -> None:  # type: ignore[no-untyped-def]
    found = unassessable(contract, load_measures([LIBRARY]), _rows(admissions=1))
    assert [(u.component, u.table) for u in found] == [("fewer_ae", "admissions")]


def test_tables_needed_follow_the_measure_definitions() -> None:
    measures = load_measures([LIBRARY])
    assert measures.tables_needed("list_size") == {"patients", "registrations"}
    assert "events" in measures.tables_needed("care_plan")
    assert "ae_attendances" in measures.tables_needed("ae_attendances")
    assert "admissions" in measures.tables_needed("emergency_admissions_change")
