"""Invariants every generated dataset must satisfy, whatever the seed, scale or selection.

Why property tests: the generator is a large vectorised program whose edge cases (a patient
born on the last day, a death on a move date, a practice of three patients) appear only
for some seeds. Hypothesis draws small configurations and each is checked against the
rules a loader or an analyst would apply.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careis.data import schema
from careis.synth.writer import arrow_schema

from .conftest import Generate
from .support import TABLES, read, write_codelists

# Real practices: two from Bolton (00T, different PCNs), one from 03N, and one with no
# 2016 list size (Y00361) so the imputation path is exercised.
PRACTICES = ["P82001", "P82002", "P82016", "C84001", "Y00361"]


def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    return {t: read(folder, t).to_pandas() for t in TABLES}


def check_dataset(folder: Path, lists: dict[str, list[str]]) -> None:
    """Every invariant of one dataset (raises AssertionError naming the rule)."""
    for table in TABLES:
        got = read(folder, table).schema
        want = arrow_schema(table)
        assert got.names == want.names, f"{table}: columns {got.names}"
        assert [f.type for f in got] == [f.type for f in want], f"{table}: types"
    assert "is_emergency" not in read(folder, "admissions").schema.names
    df = _frames(folder)
    pats, regs, ev, adm, ae = (
        df["patients"],
        df["registrations"],
        df["events"],
        df["admissions"],
        df["ae_attendances"],
    )
    orgs, mem = df["organisations"], df["memberships"]

    # keys
    for table in TABLES:
        key = list(schema.spec(table).key)
        if key:
            assert not df[table].duplicated(key).any(), f"{table}: duplicate {key}"
    assert pats["patient_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert set(pats["sex"]) <= {"F", "M"}
    assert (pd.to_datetime(pats["birth_month"]).dt.day == 1).all()
    assert pats["imd_decile"].dropna().between(1, 10).all()

    # organisations and memberships
    practices = set(orgs.loc[orgs["org_type"] == "practice", "org_code"])
    assert set(regs["practice_code"]) <= practices
    assert set(mem["group_code"]) <= set(orgs["org_code"])
    assert set(mem["practice_code"]) == practices
    end = mem["valid_to"].fillna(pd.Timestamp("2100-01-01").date())
    assert (end >= mem["valid_from"]).all()

    # registrations: within life, ordered, at most one at a time
    info = pats.set_index("patient_id")
    regs = regs.join(info, on="patient_id")
    assert set(regs["patient_id"]) == set(pats["patient_id"])
    assert (regs["start_date"] >= regs["birth_month"]).all()
    ends = regs["end_date"]
    assert (ends.isna() | (ends >= regs["start_date"])).all()
    died = regs["death_date"].notna()
    assert (~died | ends.isna() | (ends <= regs["death_date"])).all()
    assert (~died | (regs["start_date"] <= regs["death_date"])).all()
    regs = regs.sort_values(["patient_id", "start_date"])
    same = regs["patient_id"].to_numpy()[1:] == regs["patient_id"].to_numpy()[:-1]
    prev_end = pd.to_datetime(regs["end_date"]).to_numpy()[:-1]
    next_start = pd.to_datetime(regs["start_date"]).to_numpy()[1:]
    overlap = same & (np.isnat(prev_end) | (prev_end >= next_start))
    assert not overlap.any(), "overlapping registrations"
    last_end = regs.groupby("patient_id")["end_date"].agg(
        lambda x: None if x.isna().any() else x.max()
    )
    # a patient who died has a registration that ends on the death date
    dead = info["death_date"].dropna()
    assert (last_end.reindex(dead.index) == dead).all()

    # events: within life, not after the last registration ends, codes from the named lists
    ev = ev.join(info, on="patient_id").join(last_end.rename("last_end"), on="patient_id")
    assert (ev["event_date"] >= ev["birth_month"]).all()
    assert (ev["death_date"].isna() | (ev["event_date"] <= ev["death_date"])).all()
    assert (ev["last_end"].isna() | (ev["event_date"] <= ev["last_end"])).all()
    allowed = {c for codes in lists.values() for c in codes}
    assert set(ev["code"]) <= allowed, "event code not in any code list"
    medicines = set(lists["medicines"])
    is_med = ev["code"].isin(medicines)
    assert (ev.loc[is_med, "code_system"] == "dmd").all()
    assert (ev.loc[~is_med, "code_system"] == "snomed").all()
    hba1c = ev["code"].isin(set(lists["hba1c"]))
    assert ev.loc[hba1c, "value"].between(20, 200).all()
    assert ev.loc[~hba1c, "value"].isna().all()

    # admissions and A&E: within life, discharge after admission, codes valid
    adm = adm.join(info, on="patient_id")
    assert (adm["admission_date"] >= adm["birth_month"]).all()
    assert (adm["death_date"].isna() | (adm["admission_date"] <= adm["death_date"])).all()
    dis = adm["discharge_date"]
    assert (dis.isna() | (dis >= adm["admission_date"])).all()
    assert (dis.isna() | adm["death_date"].isna() | (dis <= adm["death_date"])).all()
    assert set(adm["admission_method"]) <= set(schema.ADMISSION_METHODS)
    icd10 = re.compile(schema.PATTERNS["icd10"])
    assert all(icd10.match(code) for code in adm["primary_diagnosis"])
    ae = ae.join(info, on="patient_id")
    assert (ae["death_date"].isna() | (ae["arrival_date"] <= ae["death_date"])).all()
    assert set(ae["department_type"]) <= set(schema.AE_DEPARTMENT_TYPES)
    providers = set(orgs.loc[orgs["org_type"] == "provider", "org_code"])
    assert set(adm["provider_code"]) | set(ae["provider_code"]) <= providers
    # every emergency admission via A&E has a type 1 attendance that day at that provider
    via_ae = adm.loc[
        adm["admission_method"] == "21", ["patient_id", "admission_date", "provider_code"]
    ]
    type1 = ae.loc[ae["department_type"] == "1", ["patient_id", "arrival_date", "provider_code"]]
    matched = via_ae.merge(
        type1.drop_duplicates(),
        left_on=["patient_id", "admission_date", "provider_code"],
        right_on=["patient_id", "arrival_date", "provider_code"],
        how="left",
        indicator=True,
    )
    assert (matched["_merge"] == "both").all()
    # one hospital bed at a time
    adm = adm.sort_values(["patient_id", "admission_date"])
    same = adm["patient_id"].to_numpy()[1:] == adm["patient_id"].to_numpy()[:-1]
    prev_dis = pd.to_datetime(adm["discharge_date"]).to_numpy()[:-1]
    next_adm = pd.to_datetime(adm["admission_date"]).to_numpy()[1:]
    clash = same & (np.isnat(prev_dis) | (next_adm <= prev_dis))
    assert not clash.any(), "overlapping spells"


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    seed=st.integers(0, 2**31),
    scale=st.sampled_from([0.01, 0.02, 0.05]),
    chosen=st.lists(st.sampled_from(PRACTICES), min_size=1, max_size=3, unique=True),
    first_year=st.integers(2019, 2023),
    years=st.integers(1, 3),
    workers=st.just(1),
)
def test_generated_data_satisfy_the_invariants(
    *,
    make_dataset: Generate,
    codelist_dir: Path,
    seed: int,
    scale: float,
    chosen: list[str],
    first_year: int,
    years: int,
    workers: int,
) -> None:
    folder = make_dataset(
        practices=sorted(chosen),
        seed=seed,
        scale=scale,
        first_year=first_year,
        years=years,
        workers=workers,
    )
    check_dataset(folder, write_codelists(codelist_dir))


def test_a_medium_dataset_satisfies_the_invariants(
    make_dataset: Generate, codelist_dir: Path
) -> None:
    folder = make_dataset(sub_icb=["00T"], scale=0.05)
    check_dataset(folder, write_codelists(codelist_dir))


def test_tables_are_written_with_the_canonical_nullability(make_dataset: Generate) -> None:
    folder = make_dataset(sub_icb=["00T"], scale=0.05)
    for table in TABLES:
        fields = {f.name: f.nullable for f in read(folder, table).schema}
        for column in schema.spec(table).columns:
            assert fields[column.name] == column.nullable, f"{table}.{column.name}"
    assert isinstance(read(folder, "events").column("value"), pa.ChunkedArray)
    assert np.isfinite(read(folder, "events").column("value").drop_null().to_numpy()).all()
