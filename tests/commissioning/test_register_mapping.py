"""Register validation and the mapping of existing contracts onto a new care model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from careis.commissioning.mapping import Action, add_months, map_register
from careis.commissioning.model import load_care_model
from careis.commissioning.register import check_register, load_register
from careis.errors import ConfigError
from commissioning_fixtures import HEADER, model_yaml


def test_register_loads_and_defaults_follow_contract_type(locality: Path) -> None:
    reg = load_register(locality)
    by_id = reg.by_id()
    assert len(reg.contracts) == 9
    assert by_id["GMS-1"].termination == "breach_or_agreement"
    assert by_id["GMS-1"].term.open_ended
    assert by_id["APMS-4"].term.end == dt.date(2026, 3, 31)
    assert by_id["COM-1"].termination == "expiry_or_notice"
    assert by_id["SUB-1"].parent == "COM-1"


def test_register_reports_every_bad_row(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        "bad.csv",
        HEADER
        + "A,apms,,P1,,practice,primary_care,core,,,2024-04-01,2023-03-31,6,,,\n"  # end<start
        + "B,gp_contract,,P1,,practice,primary_care,core,,,2024-04-01,,,,,\n"  # unknown type
        + "C,gms,,P1,,practice,primary_care,core,,,2024-04-01,2030-01-01,,,,\n"  # GMS end date
        + "D,nhs_standard,,R1,,trust,community,other,,,2024-04-01,,,notice,,\n"  # no notice
        + "E,apms,,P1,,practice,primary_care,core,,,2024-04-01,,,,,\n"  # APMS open-ended
        + "F,subcontract,,X,,other_provider,community,other,,,2024-04-01,2025-03-31,1,,,NOPE\n"
        + "G,gms,,P2,,practice,primary_care,core,,,2004-04-01,,,,,\n",  # good
    )
    reg, problems = check_register(path)
    assert [c.id for c in reg.contracts] == ["G"]
    got = {p.contract_id: (p.where, p.field, p.problem) for p in problems}
    assert got["A"][0] == "row 2" and "before its start" in got["A"][2]
    assert got["B"][1] == "type" and "'gp_contract' is not a known value" in got["B"][2]
    assert got["C"][0] == "row 4" and "no end date" in got["C"][2]
    assert "notice_months" in got["D"][2]
    assert "time-limited" in got["E"][2]
    assert got["F"][1] == "parent" and "NOPE" in got["F"][2]
    with pytest.raises(ConfigError) as err:
        load_register(path)
    msg = str(err.value)
    assert "\n" not in msg and "bad.csv, row 2" in msg and "and 5 more bad row(s)" in msg


def test_register_yaml_names_line(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        "reg.yaml",
        "contracts:\n"
        "  - id: A\n"
        "    type: gms\n"
        "    provider: {code: P1, kind: practice}\n"
        "    services: [primary_care]\n"
        "    funding_stream: core\n"
        "    term: {start: 2004-04-01}\n"
        "  - id: B\n"
        "    type: apms\n"
        "    provider: {code: P2, kind: practice}\n"
        "    services: [primary_care]\n"
        "    funding_stream: corre\n"
        "    term: {start: 2021-04-01, end: 2026-03-31}\n",
    )
    reg, problems = check_register(path)
    assert [c.id for c in reg.contracts] == ["A"]
    assert problems[0].where == "line 8" and problems[0].field == "funding_stream"


def test_full_integration(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    """GMS/PMS suspended from go-live; APMS ends at expiry; the community contract ends on notice
    served in time for go-live and its services are awarded in the integrated contract (no
    novation: reg 13(1)(b) permits a change of provider only by corporate succession)."""
    model = load_care_model(write("m.yaml", model_yaml("aco_full")))
    m = map_register(load_register(locality), model)
    rows = {r.contract_id: r for r in m.rows}
    assert rows["GMS-1"].action == Action.SUSPEND and rows["GMS-1"].consent_needed
    assert rows["GMS-1"].effective == dt.date(2026, 4, 1)  # at go-live, not at the decision
    assert rows["GMS-1"].reactivation_review == dt.date(2028, 4, 1)
    assert rows["PMS-3"].action == Action.SUSPEND
    apms = rows["APMS-4"]
    # expiry (31 March 2026) is the day before the intended start, so no notice is needed
    assert apms.action == Action.TERMINATE and apms.how.startswith("at expiry")
    assert apms.effective == dt.date(2026, 4, 1) and not apms.consent_needed and apms.gap is None
    com = rows["COM-1"]
    assert com.action == Action.TERMINATE and com.how == "on 6 months' notice"
    # ends the day before go-live: notice served by 1 Oct 2025 (6 months before 1 April 2026)
    assert com.effective == dt.date(2026, 4, 1) and com.serve_notice_by == dt.date(2025, 10, 1)
    assert "ICP1" in com.reason and "reg 13(1)(b)" in com.reg13 and com.moves_into_model
    assert rows["SUB-1"].action == Action.TERMINATE and rows["SUB-1"].effective == dt.date(
        2026, 4, 1
    )
    assert rows["ACU-1"].action == Action.KEEP  # acute is out of scope
    assert rows["LES-1"].action == Action.TERMINATE and rows["LES-1"].how.startswith("at expiry")
    assert m.earliest_start == dt.date(2026, 4, 1) and m.binding == () and m.errors == ()
    assert any(x.startswith("patients_notified_by") for x in m.missing)
    from decimal import Decimal

    from careis.commissioning.mapping import totals

    got = {
        (t.action.value, t.funding_stream): (t.contracts, t.annual_value)
        for t in totals(m, load_register(locality))
    }
    assert got[("suspend", "core")] == (3, Decimal("2250000"))  # GMS-1, GMS-2, PMS-3
    assert got[("terminate", "other")] == (2, Decimal("8100000"))  # community + its subcontract


def test_alliance_terminates_nothing(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    model = load_care_model(write("m.yaml", model_yaml("alliance", lead=False)))
    m = map_register(load_register(locality), model)
    actions = {r.contract_id: r.action for r in m.rows}
    assert Action.TERMINATE not in actions.values() and Action.SUSPEND not in actions.values()
    assert actions["GMS-1"] == Action.ALLIANCE_AGREEMENT
    assert actions["COM-1"] == Action.ALLIANCE_AGREEMENT
    assert actions["DES-1"] == Action.KEEP and actions["ACU-1"] == Action.KEEP
    assert m.earliest_start == dt.date(2026, 4, 1) and m.binding == ()


def test_partial_integration_keeps_all_core_gp_out(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Partial integration leaves core general practice out - APMS included (it is core GP),
    so the APMS practice links in by an integration agreement like GMS and PMS practices."""
    model = load_care_model(write("m.yaml", model_yaml("aco_partial")))
    rows = {r.contract_id: r for r in map_register(load_register(locality), model).rows}
    for cid in ("GMS-1", "PMS-3", "APMS-4"):
        assert rows[cid].action == Action.INTEGRATION_AGREEMENT, cid


def test_early_start_needs_notice_and_moves_start(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Wanting to start on 1 Oct 2025: the community contract can end no earlier than on
    6 months' notice served on the decision day, 1 July 2025 -> 1 January 2026."""
    model = load_care_model(write("m.yaml", model_yaml("aco_partial", start="2025-10-01")))
    m = map_register(load_register(locality), model)
    rows = {r.contract_id: r for r in m.rows}
    assert rows["COM-1"].how == "on 6 months' notice"
    assert rows["COM-1"].effective == dt.date(2026, 1, 1)
    assert m.earliest_start == dt.date(2026, 1, 1) and m.binding == ("COM-1",)
    assert rows["COM-1"].serve_notice_by == dt.date(2025, 7, 1)  # now: it sets the start
    # the LES could end on 1 Oct 2025 on 3 months' notice; the model starts on 1 Jan 2026, so
    # notice is served by 1 Oct 2025 and it ends the day before go-live: no gap
    assert rows["LES-1"].serve_notice_by == dt.date(2025, 10, 1)
    assert rows["LES-1"].effective == dt.date(2026, 1, 1) and rows["LES-1"].gap is None


def test_reactivation_review_counts_from_go_live(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    model = load_care_model(write("m.yaml", model_yaml("aco_full", start="2025-10-01")))
    m = map_register(load_register(locality), model)
    assert m.earliest_start == dt.date(2026, 1, 1)  # community contract on 6 months' notice
    gms = next(r for r in m.rows if r.contract_id == "GMS-1")
    assert gms.effective == dt.date(2026, 1, 1)
    assert gms.reactivation_review == dt.date(2028, 1, 1)


def test_missing_notice_where_termination_needed(write) -> None:  # type: ignore[no-untyped-def]
    reg = write(
        "r.csv",
        HEADER + "APMS-9,apms,,P9,,practice,primary_care,core,,,2021-04-01,2030-03-31,,,,\n",
    )
    model = load_care_model(write("m.yaml", model_yaml("aco_full")))
    with pytest.raises(ConfigError, match=r"APMS-9.*no notice period.*notice_months"):
        map_register(load_register(reg), model)


def test_model_errors_name_the_field(write) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="needs a 'lead_provider'"):
        load_care_model(write("m.yaml", model_yaml("aco_full", lead=False)))
    with pytest.raises(ConfigError, match=r"line 3.*integration_level"):
        load_care_model(write("m2.yaml", model_yaml("federated")))


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2023, 8, 31), 6) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 7, 1), 12) == dt.date(2026, 7, 1)


def test_expired_contract_needs_nothing(write) -> None:  # type: ignore[no-untyped-def]
    reg = write(
        "r.csv",
        HEADER
        + "OLD,lis,,P9,,practice,proactive_care,local_priority,,,2020-04-01,2024-03-31,3,,,\n",
    )
    model = load_care_model(write("m.yaml", model_yaml("aco_full")))
    row = map_register(load_register(reg), model).rows[0]
    assert row.action == Action.KEEP and "ended on 2024-03-31" in row.reason


def test_not_utf8_register_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(
        HEADER.encode() + "A,gms,Caf\xe9,P1,,practice,primary_care,core".encode("latin-1")
    )
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_register(path)


def test_enhanced_service_replaces_local_scheme_only(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    model = load_care_model(write("m.yaml", model_yaml("enhanced_service", lead=False)))
    actions = {r.contract_id: r.action for r in map_register(load_register(locality), model).rows}
    assert actions["LES-1"] == Action.TERMINATE
    assert {k for k, a in actions.items() if a != Action.KEEP} == {"LES-1"}


def test_prime_contractor_ends_community_and_keeps_core_gp(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    model = load_care_model(write("m.yaml", model_yaml("prime_contractor")))
    rows = {r.contract_id: r for r in map_register(load_register(locality), model).rows}
    assert rows["GMS-1"].action == Action.KEEP and rows["APMS-4"].action == Action.KEEP
    assert rows["COM-1"].action == Action.TERMINATE and "prime" in rows["COM-1"].reason
    assert "subcontract" in rows["COM-1"].reason and "reg 13" in rows["COM-1"].reg13
    assert rows["SUB-1"].action == Action.TERMINATE and "with its parent" in rows["SUB-1"].how


def test_involvement_and_scrutiny(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    from careis.commissioning.involvement import assess
    from careis.errors import MissingFactError

    reg = load_register(locality)
    full = load_care_model(write("full.yaml", model_yaml("aco_full")))
    with pytest.raises(MissingFactError, match="service_change"):
        assess(map_register(reg, full))
    change = "service_change: {changes_how_delivered: true, changes_range: false}\n"
    a = assess(
        map_register(reg, load_care_model(write("f2.yaml", model_yaml("aco_full") + change)))
    )
    assert a.involvement_duty and a.likely_substantial
    assert any("GMS-1" in r and "list" in r for r in a.substantial_reasons)
    assert any("reg 23" in x for x in a.actions)
    none = "service_change: {changes_how_delivered: false, changes_range: false}\n"
    alliance = load_care_model(write("a.yaml", model_yaml("alliance", lead=False) + none))
    b = assess(map_register(reg, alliance))
    assert not b.involvement_duty and not b.likely_substantial and b.actions == ()
    big = (
        "service_change: {changes_how_delivered: false, changes_range: true, "
        "patients_affected: 10000}\n"
    )
    c = assess(
        map_register(
            reg, load_care_model(write("c.yaml", model_yaml("alliance", lead=False) + big))
        )
    )
    assert c.involvement_duty and c.likely_substantial
    small = big.replace("10000", "9999")
    d = assess(
        map_register(
            reg, load_care_model(write("d.yaml", model_yaml("alliance", lead=False) + small))
        )
    )
    assert d.involvement_duty and not d.likely_substantial


def test_money_as_spreadsheets_write_it(write) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    path = write(
        "r.csv",
        HEADER
        + 'A,apms,,P1,,practice,primary_care,core,"£1,250,000.50",,2021-04-01,2026-03-31,6,,,\n'
        + "B,apms,,P1,,practice,primary_care,core,lots,,2021-04-01,2026-03-31,6,,,\n",
    )
    reg, problems = check_register(path)
    assert reg.contracts[0].value.annual == Decimal("1250000.50")
    assert problems[0].field == "annual_value" and "'lots'" in problems[0].problem
