"""The generator's contract: repeatable files, the right organisations, plausible rates, a
scheme effect that appears only when switched on, and one-line errors for bad requests."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from careis.codelists import CodelistLibrary
from careis.errors import CareisError, ConfigError
from careis.synth import SynthConfig, expected_patients, generate, ids
from careis.synth.codes import load_codebook
from careis.synth.orgs import UNALLOCATED

from .conftest import Generate
from .support import TABLES, read

FILES = (*(f"{t}.parquet" for t in TABLES), "truth/practices.parquet", "generation.json")
SMALL = {"practices": ["P82001", "P82016"], "scale": 0.03}


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


# ------------------------------------------------------------------ determinism
def test_same_config_gives_identical_files(tmp_path: Path, library: CodelistLibrary) -> None:
    config = SynthConfig.parse(SMALL)
    generate(config, tmp_path / "a", codelists=library)
    generate(config, tmp_path / "b", codelists=library)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_a_different_seed_gives_different_data(make_dataset: Generate) -> None:
    a = make_dataset(**SMALL)
    b = make_dataset(**SMALL, seed=7)
    assert (a / "patients.parquet").read_bytes() != (b / "patients.parquet").read_bytes()
    ids_a = set(read(a, "patients").column("patient_id").to_pylist())
    ids_b = set(read(b, "patients").column("patient_id").to_pylist())
    assert not ids_a & ids_b  # the pseudonym key changes with the seed


def test_output_does_not_depend_on_the_number_of_workers(
    tmp_path: Path, library: CodelistLibrary
) -> None:
    one = SynthConfig.parse({**SMALL, "workers": 1})
    two = SynthConfig.parse({**SMALL, "workers": 2})
    generate(one, tmp_path / "one", codelists=library)
    generate(two, tmp_path / "two", codelists=library)
    a, b = _bytes(tmp_path / "one"), _bytes(tmp_path / "two")
    for name in FILES:
        if name != "generation.json":  # records the workers setting itself
            assert a[name] == b[name], name


def test_a_practices_patients_come_from_its_own_random_stream(library: CodelistLibrary) -> None:
    """Child seeds per practice: other practices in the selection do not change who a
    practice's patients are (ages, sexes, registration dates, conditions)."""
    from careis.synth import practice
    from careis.synth.generator import build_context

    def population(codes: list[str]) -> practice.Batch:
        ctx = build_context(SynthConfig.parse({"practices": codes, "scale": 0.03}), library)
        p = ctx.plan.codes.index("P82001")
        rng = np.random.default_rng([ctx.config.seed, 1, int(ctx.plan.number[p])])
        return practice._population(ctx, rng, p)

    alone = population(["P82001"])
    among = population(["A81001", "P82001", "P82016"])
    for name in ("male", "birth", "entry", "decile", "z", "onset"):
        assert np.array_equal(getattr(alone, name), getattr(among, name)), name


# ------------------------------------------------------------------ organisations
def test_organisations_federations_and_a_pcn_move(make_dataset: Generate) -> None:
    folder = make_dataset(sub_icb=["00T"], scale=0.02)
    orgs = read(folder, "organisations").to_pandas()
    mem = read(folder, "memberships").to_pandas()
    info = json.loads((folder / "generation.json").read_text())
    pcns = sorted(orgs.loc[orgs["org_type"] == "pcn", "org_code"])
    groups = info["federations"]["groups"]
    assert info["federations"]["automatic"] is True
    assert sorted(p for g in groups.values() for p in g["pcns"]) == pcns  # each PCN once
    assert all(3 <= len(g["pcns"]) <= 4 for g in groups.values())
    assert sorted(groups) == ["FED00T1", "FED00T2", "FED00T3"]
    assert groups["FED00T1"]["name"] == "Greater Manchester 00T Federation 1"
    assert groups["FED00T1"]["pcns"] == pcns[:3]  # PCNs sorted by code, then split
    # one practice moves PCN on 1 October of the baseline year (2023/24)
    (move,) = info["pcn_moves"]
    assert move["date"] == "2023-10-01"
    rows = mem[(mem["practice_code"] == move["practice"]) & (mem["group_type"] == "pcn")]
    rows = rows.sort_values("valid_from")
    assert rows["group_code"].tolist() == [move["from_pcn"], move["to_pcn"]]
    assert str(rows["valid_to"].iloc[0]) == "2023-09-30"
    assert str(rows["valid_from"].iloc[1]) == "2023-10-01"
    assert pd.isna(rows["valid_to"].iloc[1])
    # every practice belongs to exactly one sub-ICB and ICB, open-ended
    for kind in ("sub_icb", "icb"):
        part = mem[mem["group_type"] == kind]
        assert part["practice_code"].is_unique
        assert part["valid_to"].isna().all()


def test_given_federations_are_used(make_dataset: Generate) -> None:
    folder = make_dataset(
        sub_icb=["00T"],
        scale=0.02,
        pcn_moves=0,
        federations=[{"code": "BOLTONN", "name": "Bolton North", "pcns": ["U79678", "U46071"]}],
    )
    mem = read(folder, "memberships").to_pandas()
    fed = mem[mem["group_type"] == "federation"]
    assert set(fed["group_code"]) == {"BOLTONN"}
    orgs = read(folder, "organisations").to_pandas().set_index("org_code")
    assert orgs.loc["BOLTONN", "name"] == "Bolton North"


def test_practices_without_a_list_size_get_the_median(make_dataset: Generate) -> None:
    folder = make_dataset(practices=["Y05317", "Y05318", "C84001"], scale=0.05, years=1)
    info = json.loads((folder / "generation.json").read_text())
    assert info["practices"]["imputed_list_size"] == ["Y05317", "Y05318"]
    regs = read(folder, "registrations").to_pandas()
    counts = regs.groupby("practice_code")["patient_id"].nunique()
    assert counts["Y05317"] > 0
    assert counts["Y05318"] > 0


def test_expected_patients_is_about_the_list_on_the_first_day(make_dataset: Generate) -> None:
    settings = {"sub_icb": ["00T"], "scale": 0.05}
    folder = make_dataset(**settings)
    regs = read(folder, "registrations").to_pandas()
    first = pd.Timestamp("2022-04-01").date()
    on_day = regs[
        (regs["start_date"] <= first) & (regs["end_date"].isna() | (regs["end_date"] >= first))
    ]
    expected = expected_patients(SynthConfig.parse(settings))
    assert abs(on_day["patient_id"].nunique() / expected - 1) < 0.03  # after the burn-in year


# ------------------------------------------------------------------ realism
def test_rates_and_prevalences_are_plausible(make_dataset: Generate) -> None:
    folder = make_dataset(sub_icb=["00T"], scale=0.1)
    info = json.loads((folder / "generation.json").read_text())
    realised = info["realised"]
    for year in realised["per_year"].values():
        assert 70 <= year["emergency_per_1000"] <= 150
        assert 300 <= year["ae_per_1000"] <= 520
        assert 80 <= year["elective_per_1000"] <= 180
        assert 4 <= year["deaths_per_1000"] <= 15
    prev = realised["prevalence_percent"]
    assert 10 <= prev["hypertension"] <= 20
    assert 5 <= prev["diabetes"] <= 11
    assert 0.3 <= prev["dementia"] <= 1.3
    assert 9 <= prev["depression"] <= 17
    efi = realised["efi_65_percent"]
    assert 38 <= efi["fit"] <= 62
    assert 25 <= efi["mild"] <= 45
    assert 7 <= efi["moderate"] <= 18
    assert 1.5 <= efi["severe"] <= 7
    assert 30 <= realised["polypharmacy_65_percent"] <= 50
    assert 50 <= realised["hba1c_latest_le58_percent"] <= 75
    # list sizes stay roughly stable and the methods mix is dominated by 21 (via A&E)
    adm = read(folder, "admissions").to_pandas()
    emergency = adm[adm["admission_method"].str.startswith("2")]
    assert (emergency["admission_method"] == "21").mean() > 0.6
    zero_day = (emergency["discharge_date"] == emergency["admission_date"]).mean()
    assert 0.15 <= zero_day <= 0.4
    people = pd.Series(info["realised"]["per_year"]).map(lambda y: y["person_years"])
    assert people.max() / people.min() < 1.05


def _by_engagement(folder: Path) -> tuple[float, float]:
    """Expected % change in emergency admissions per 1,000, high vs low engagement."""
    truth = pq.read_table(folder / "truth/practices.parquet").to_pandas()
    high = truth[truth["engagement"] >= truth["engagement"].median()]
    low = truth[truth["engagement"] < truth["engagement"].median()]

    def change(part: pd.DataFrame, kind: str) -> float:
        perf = part[f"{kind}_performance"].sum() / part["person_years_performance"].sum()
        base = part[f"{kind}_baseline"].sum() / part["person_years_baseline"].sum()
        return float(perf / base - 1) * 100

    return change(high, "expected_emergency"), change(low, "expected_emergency")


def test_no_scheme_effect_means_no_engagement_difference(make_dataset: Generate) -> None:
    folder = make_dataset(
        sub_icb=["00T"],
        scale=0.1,
        intervention={"care_plan_effect": 0.0, "practice_wide_effect": 0.0},
    )
    high, low = _by_engagement(folder)
    assert abs(high - low) < 1.5
    assert -2.0 < high < 5.0
    assert -2.0 < low < 5.0


def test_the_scheme_lowers_admissions_where_practices_engage(make_dataset: Generate) -> None:
    folder = make_dataset(sub_icb=["00T"], scale=0.1)
    high, low = _by_engagement(folder)
    assert high < low - 5.0
    truth = pq.read_table(folder / "truth/practices.parquet").to_pandas()
    engaged = truth[truth["engagement"] > 0.7]
    rate = engaged["emergency_performance"].sum() / engaged["person_years_performance"].sum()
    base = engaged["emergency_baseline"].sum() / engaged["person_years_baseline"].sum()
    assert -0.25 <= rate / base - 1 <= -0.08
    assert (truth["care_plans_scheme_performance"] > 0).sum() > len(truth) / 2
    events = read(folder, "events").to_pandas()
    assert len(events) > 0


def test_engagement_can_be_set_per_practice(make_dataset: Generate) -> None:
    folder = make_dataset(
        practices=["P82001", "P82016"],
        scale=0.03,
        intervention={"engagement": {"p82001": 0.0, "P82016": 1.0}},
    )
    truth = pq.read_table(folder / "truth/practices.parquet").to_pandas().set_index("practice_code")
    assert truth.loc["P82001", "engagement"] == 0.0
    assert truth.loc["P82016", "engagement"] == 1.0
    assert truth.loc["P82001", "care_plans_scheme_performance"] == 0
    assert truth.loc["P82016", "care_plans_scheme_performance"] > 0
    assert truth.loc["P82016", "practice_wide_multiplier"] == pytest.approx(0.75)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("settings", "text"),
    [
        ({"sub_icb": ["ZZZ"]}, "unknown sub-ICB code: ZZZ"),
        ({"icb": ["QOP"], "sub_icb": ["00T"]}, "exactly one"),
        ({"sub_icb": ["00T"], "scale": 0}, "scale"),
        ({"sub_icb": ["00T"], "intervention": {"performance_year": 2030}}, "performance_year"),
        ({"sub_icb": ["00T"], "intervention": {"engagement": {"A81001": 0.5}}}, "A81001"),
        ({"sub_icb": ["00T"], "intervention": {"engagement": {"P82001": 2}}}, "between 0 and 1"),
        ({"sub_icb": ["00T"], "federations": [{"code": "F1", "name": "x", "pcns": ["U1"]}]}, "U1"),
        ({"sub_icb": ["00T"], "colour": "blue"}, "colour"),
    ],
)
def test_bad_requests_are_one_line_config_errors(
    tmp_path: Path, library: CodelistLibrary, settings: dict[str, object], text: str
) -> None:
    with pytest.raises(ConfigError) as info:
        generate(SynthConfig.parse(settings), tmp_path, codelists=library)
    assert text in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unwritable_folder_is_a_config_error(tmp_path: Path, library: CodelistLibrary) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CareisError, match="cannot write"):
        generate(SynthConfig.parse(SMALL), blocker / "out", codelists=library)


def test_missing_code_lists_are_named_in_one_error(library: CodelistLibrary) -> None:
    class Partial:
        """A library without two of the lists the generator needs."""

        def names(self) -> list[str]:
            return [n for n in library.names() if n not in {"hba1c", "efi_falls"}]

    with pytest.raises(ConfigError, match=r"not found: efi_falls, hba1c\."):
        load_codebook(Partial())  # type: ignore[arg-type]


def test_an_interrupted_run_leaves_no_dataset(
    tmp_path: Path, library: CodelistLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("careis.synth.generator")

    def boom(ctx: object, p: int) -> object:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(module, "simulate", boom)
    with pytest.raises(RuntimeError):
        generate(SynthConfig.parse(SMALL), tmp_path, codelists=library)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ identifiers
def test_pseudonyms_are_unique_and_do_not_reveal_the_counter() -> None:
    local = np.arange(200_000, dtype=np.int64)
    a = ids.scrambled_ids(ids.DOMAIN_PATIENT, ids.practice_number("P82001"), local, key=42)
    b = ids.scrambled_ids(ids.DOMAIN_PATIENT, ids.practice_number("P82002"), local, key=42)
    values = a.to_pylist() + b.to_pylist()
    assert len(set(values)) == len(values)
    assert all(len(v) == 16 and int(v, 16) >= 0 for v in values[:1000])
    assert values[:1000] != sorted(values[:1000])


# ------------------------------------------------------------------ the loader's view
def test_the_loader_accepts_every_generated_row(make_dataset: Generate) -> None:
    """The contract with `careis.data.load`: nothing the generator writes is quarantined."""
    load = pytest.importorskip("careis.data.load")
    from careis.engine import Engine

    folder = make_dataset(sub_icb=["00T"], scale=0.05)
    with Engine.duckdb() as engine:
        result = load.load_dataset(engine, folder, extract_date=dt.date(2025, 3, 31))
        rejected = {s.table: s.reasons for s in result.summary if s.quarantined}
    assert rejected == {}


def test_progress_counts_up_to_the_expected_total(tmp_path: Path, library: CodelistLibrary) -> None:
    calls: list[tuple[int, int]] = []
    config = SynthConfig.parse(SMALL)
    generate(config, tmp_path, codelists=library, progress=lambda d, t: calls.append((d, t)))
    assert len(calls) == 2  # one call per practice
    assert calls[-1] == (expected_patients(config), expected_patients(config))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_disabled_scheme_makes_no_scheme_care_plans(make_dataset: Generate) -> None:
    folder = make_dataset(**SMALL, intervention={"enabled": False})
    truth = pq.read_table(folder / "truth/practices.parquet").to_pandas()
    assert (truth["care_plans_scheme_performance"] == 0).all()
    assert (truth["practice_wide_multiplier"] == 1.0).all()
    assert (
        truth["expected_emergency_performance"] == truth["expected_emergency_performance_no_scheme"]
    ).all()


def test_a_practice_in_no_pcn_has_no_pcn_or_federation(make_dataset: Generate) -> None:
    """NHS Digital's practice-to-PCN file gives a practice in no PCN the code "U"
    ("Unallocated"): that is not a network, so the practice gets no PCN and no federation,
    and no organisation "U" exists (read as a PCN, it was one "PCN" of 101 practices across
    35 ICBs)."""
    chosen = ["A82004", "A82006", "A82013", "A82016", "A82018", "A82019"]  # A82019: "U"
    folder = make_dataset(practices=chosen, scale=0.02)
    orgs = read(folder, "organisations").to_pandas()
    mem = read(folder, "memberships").to_pandas()
    assert UNALLOCATED not in set(orgs["org_code"])
    own = mem[mem["practice_code"] == "A82019"]
    assert sorted(own["group_type"]) == ["icb", "sub_icb"]
    others = mem[(mem["practice_code"] != "A82019") & (mem["group_type"] == "pcn")]
    assert sorted(set(others["group_code"])) == ["U08085", "U92223"]
    assert set(mem.loc[mem["group_type"] == "federation", "practice_code"]) == set(chosen) - {
        "A82019"
    }
