"""The contract timeline under full integration, checked day by day: never a day without a
contracted provider, GMS/PMS suspended at go-live (SI 2019/248: not before the integrated
contract starts and every patient has been told in writing), reactivation review two years on,
mobilisation in parallel with notice periods, and any gap reported as an error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from careis.commissioning.mapping import Action, map_register, provider_on
from careis.commissioning.model import load_care_model
from careis.commissioning.register import load_register
from commissioning_fixtures import HEADER, model_yaml

D = dt.date


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_full_integration_day_by_day(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    text = model_yaml("aco_full") + "patients_notified_by: 2026-02-27\n"
    m = map_register(load_register(locality), load_care_model(write("m.yaml", text)))
    reg = {c.id: c for c in load_register(locality).contracts}
    go_live = m.earliest_start
    assert go_live == D(2026, 4, 1) and m.errors == () and m.missing == ()
    in_scope = [r for r in m.rows if r.action != Action.KEEP]
    for day in _days(D(2025, 7, 1), D(2026, 6, 30)):
        for r in in_scope:
            who = provider_on(m, r, day, reg[r.contract_id].term.start)
            assert who is not None, (r.contract_id, day)
            # the old provider up to 31 March 2026, the ICP from 1 April 2026
            assert who == (r.provider if day < go_live else "ICP1"), (r.contract_id, day)
    gms = next(r for r in m.rows if r.contract_id == "GMS-1")
    assert gms.action == Action.SUSPEND and gms.effective == go_live
    assert gms.reactivation_review == D(2028, 4, 1)


def test_suspension_waits_for_patients_to_be_told(locality: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Letters finish on 15 April 2026, after the intended 1 April start: go-live moves to
    16 April and notice on the community contract is served six months before, by 16 Oct 2025."""
    text = model_yaml("aco_full") + "patients_notified_by: 2026-04-15\n"
    m = map_register(load_register(locality), load_care_model(write("m.yaml", text)))
    assert m.earliest_start == D(2026, 4, 16)
    assert m.binding == ("patients told in writing (SI 2019/248)",)
    rows = {r.contract_id: r for r in m.rows}
    assert rows["GMS-1"].effective == D(2026, 4, 16)
    assert rows["COM-1"].serve_notice_by == D(2025, 10, 16)
    # the APMS expires on 31 March 2026: 15 days with no contracted provider (1-15 April)
    assert rows["APMS-4"].gap == (D(2026, 4, 1), D(2026, 4, 15))
    assert any("APMS-4" in e and "15 days" in e and "reg 13" in e for e in m.errors)


def test_mobilisation_runs_alongside_notice(write) -> None:  # type: ignore[no-untyped-def]
    """The old mapping added mobilisation after the APMS ended on notice, leaving months with
    no provider. Decision 1 July 2025; APMS to 2030 on 6 months' notice -> can end 1 Jan 2026;
    9 months' mobilisation from the decision -> 1 April 2026 = go-live; notice is served by
    1 Oct 2025 so the APMS ends on 31 March 2026, the day before."""
    reg = write("r.csv", HEADER + "APMS-9,apms,,P9,,practice,primary_care,core,,,2021-04-01,"
                "2030-03-31,6,,,\n")  # fmt: skip
    text = model_yaml("aco_full", start="2025-10-01").replace(
        "term_years: 10\n", "term_years: 10\nmobilisation_months: 9\n")  # fmt: skip
    m = map_register(load_register(reg), load_care_model(write("m.yaml", text)))
    row = m.rows[0]
    assert m.earliest_start == D(2026, 4, 1) and m.binding == ("9 months' mobilisation",)
    assert row.effective == D(2026, 4, 1) and row.serve_notice_by == D(2025, 10, 1)
    assert row.gap is None and m.errors == ()
    for day in _days(D(2025, 7, 1), D(2026, 5, 1)):
        assert provider_on(m, row, day, D(2021, 4, 1)) is not None, day


def test_a_contract_expiring_before_go_live_is_an_error(write) -> None:  # type: ignore[no-untyped-def]
    reg = write("r.csv", HEADER + "APMS-9,apms,,P9,,practice,primary_care,core,,,2021-04-01,"
                "2025-12-31,6,,,\n")  # fmt: skip
    m = map_register(load_register(reg), load_care_model(write("m.yaml", model_yaml("aco_full"))))
    assert m.rows[0].gap == (D(2026, 1, 1), D(2026, 3, 31))
    assert m.errors and "90 days" in m.errors[0]
    assert provider_on(m, m.rows[0], D(2026, 2, 1), D(2021, 4, 1)) is None
