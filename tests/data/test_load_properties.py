"""Property: for any mix of good and bad rows, every row is either accepted or quarantined
(read = accepted + quarantined), and exactly the bad ones are quarantined."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careis.data.load import load_dataset
from careis.engine import Engine
from careis_testdata import EXTRACT, base_tables, write_dataset

PATIENT_KINDS = ("good", "good", "bad_date", "bad_sex", "bad_imd", "blank_id", "duplicate")
EVENT_KINDS = ("known", "known", "unknown_patient", "bad_date", "after_extract")


@st.composite
def mixes(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    """Patients and events with a known number of bad rows in each."""
    patients: list[dict[str, Any]] = []
    good_ids: list[str] = []
    for i in range(draw(st.integers(1, 15))):
        kind = draw(st.sampled_from(PATIENT_KINDS))
        pid = f"q{i}"
        row = {"patient_id": pid, "sex": "F", "birth_month": "1950-01-01", "imd_decile": "5"}
        if kind == "duplicate" and good_ids:
            row["patient_id"] = draw(st.sampled_from(good_ids))  # a later copy: rejected
        elif kind == "bad_date":
            row["birth_month"] = draw(st.sampled_from(["1950-13-01", "yesterday", "01/01/1950"]))
        elif kind == "bad_sex":
            row["sex"] = draw(st.sampled_from(["female", "x", "1"]))
        elif kind == "bad_imd":
            row["imd_decile"] = draw(st.sampled_from(["0", "11", "ten", "5.5"]))
        elif kind == "blank_id":
            row["patient_id"] = ""
        else:  # good, or a duplicate with nothing earlier to copy
            good_ids.append(pid)
        patients.append(row)
    bad_patients = len(patients) - len(good_ids)
    events: list[dict[str, Any]] = []
    bad_events = 0
    for _ in range(draw(st.integers(0, 20))):
        kind = draw(st.sampled_from(EVENT_KINDS))
        pid = (
            draw(st.sampled_from(good_ids)) if good_ids and kind != "unknown_patient" else "nobody"
        )
        row = {"patient_id": pid, "event_date": "2015-06-01", "code_system": "snomed", "code": "1"}
        if kind == "bad_date":
            row["event_date"] = "2015-06-31"
        elif kind == "after_extract":
            row["event_date"] = "2099-01-01"
        bad_events += pid == "nobody" or kind in ("bad_date", "after_extract")
        events.append(row)
    return patients, events, bad_patients, bad_events


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes())
def test_every_row_is_accepted_or_quarantined(
    mix: tuple[list[dict[str, Any]], list[dict[str, Any]], int, int],
) -> None:
    patients, events, bad_patients, bad_events = mix
    ids = sorted({p["patient_id"] for p in patients if p["patient_id"]})
    tables = base_tables()
    tables["patients"] = patients
    tables["registrations"] = [
        {"patient_id": pid, "practice_code": "A81001", "start_date": "2000-01-01"} for pid in ids
    ]
    tables["events"] = events
    tables["admissions"] = []
    tables["ae_attendances"] = []
    with tempfile.TemporaryDirectory() as tmp, Engine.duckdb() as engine:
        folder = write_dataset(Path(tmp), tables)
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        summary = {s.table: s for s in result.summary}
        for s in result.summary:
            assert s.read == s.accepted + s.quarantined, s
            assert s.accepted == result.tables[s.table].count().execute()
            assert s.quarantined == result.quarantine[s.table].count().execute()
            assert sum(s.reasons.values()) == s.quarantined
        assert summary["patients"].read == len(patients)
        assert summary["patients"].quarantined == bad_patients
        assert summary["events"].read == len(events)
        assert summary["events"].quarantined == bad_events
