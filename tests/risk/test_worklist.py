"""A practice's worklist as a practice manager reads it (issue 19 item 4): who needs what and
why, by rules written as data, each row naming its rule and the measure or flag behind it.

Hand-worked on one practice, index date 2025-04-01, shipped rules (post-discharge window 14
days, among the register and the frailty list):

| patient | on | hospital and GP record | listed by |
| --- | --- | --- | --- |
| R1 | register (rank 1, 60%) | emergency, discharged 3 days before, nothing since | post_discharge_contact, care_plan_missing, on_register |
| R2 | register (rank 2, 50%) | emergency, discharged 3 days before; GP event the day after | on_register |
| R3 | register (rank 3, 40%) | emergency, discharged 40 days before, nothing since | on_register |
| R4 | register (rank 4, 30%) | elective (method 11), discharged 3 days before | on_register |
| R5 | register (rank 5, 20%), new | emergency, discharged on 2025-03-20 with a GP event that day | new_to_register, care_plan_review_due, on_register |
| R6 | register (rank 6, 10%) | discharged 10 days before with a contact; again 2 days before, nothing since | post_discharge_contact (the later one), on_register |
| F1 | frailty list (severe, 80) | emergency, discharged 2 days before; an event before the admission only | post_discharge_contact, medication_review_due, frail |
| F2 | frailty list (moderate, 70) | none | frail |
| X1 | neither (35, fit) | emergency, discharged 3 days before, nothing since | nobody: not on the register or the frailty list |
| M1 | mild eFI, 75 | none | nobody: not on the frailty list |
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from builders import D, Dataset
from careis.cli import main
from careis.data.pseudonym import pseudonym
from careis.engine import Engine
from careis.errors import ConfigError
from careis.risk.worklist import COLUMNS, Sources, build_worklist, worklist_rows, worklist_table
from careis.risk.worklist_rules import load_rules, shipped_rules
from engines import ENGINES, open_engine

INDEX = D(2025, 4, 1)
CODE = "A00001"
EVENT = "1000000"  # any code: with the shipped rules any GP record event is a contact
DAY = dt.timedelta(days=1)
NAMES = {
    "care_plan": "Register patients with a care plan",
    "care_plan_review": "Care plans reviewed",
    "medication_review_efi_frail": "Medication review, moderate or severe eFI",
}

# patient: (age, sex, risk, efi score, efi category, register rank or None)
PEOPLE: dict[str, tuple[int, str, float, float, str, int | None]] = {
    "R1": (82, "F", 0.60, 0.20, "mild", 1),
    "R2": (75, "M", 0.50, 0.10, "fit", 2),
    "R3": (70, "F", 0.40, 0.10, "fit", 3),
    "R4": (68, "M", 0.30, 0.10, "fit", 4),
    "R5": (60, "F", 0.20, 0.05, "fit", 5),
    "R6": (66, "M", 0.10, 0.10, "fit", 6),
    "F1": (80, "F", 0.08, 0.40, "severe", None),
    "F2": (70, "M", 0.05, 0.30, "moderate", None),
    "X1": (35, "F", 0.01, 0.00, "fit", None),
    "M1": (75, "F", 0.02, 0.20, "mild", None),
}


def _dataset() -> Dataset:
    ds = Dataset()
    ds.org(CODE, "practice")
    for pid, (age, sex, *_) in PEOPLE.items():
        ds.patient(pid, CODE, born=D(INDEX.year - age - 1, 1, 1), sex=sex)
    back = lambda days: INDEX - dt.timedelta(days=days)  # noqa: E731
    ds.admission("R1", back(5), los=2)  # discharged 3 days before
    ds.admission("R2", back(5), los=2)
    ds.event("R2", back(2), EVENT)  # the day after discharge: contacted
    ds.admission("R3", back(45), los=5)  # discharged 40 days before
    ds.admission("R4", back(5), los=2, method="11")  # elective
    ds.admission("R5", back(14), los=2)  # discharged 2025-03-20 ...
    ds.event("R5", back(12), EVENT)  # ... and seen that same day
    ds.admission("R6", back(12), los=2)  # discharged 10 days before ...
    ds.event("R6", back(9), EVENT)  # ... contacted ...
    ds.admission("R6", back(4), los=2)  # ... admitted again, discharged 2 days before
    ds.event("F1", back(20), EVENT)  # before the admission: not a contact since
    ds.admission("F1", back(3), los=1)
    ds.admission("X1", back(5), los=2)
    return ds


def _sources(engine: Engine) -> Sources:
    tables = _dataset().tables(engine)
    people = pa.table(
        {
            "practice_code": [CODE] * len(PEOPLE),
            "patient_id": list(PEOPLE),
            "age": [p[0] for p in PEOPLE.values()],
            "sex": [p[1] for p in PEOPLE.values()],
            "risk_score": [p[2] for p in PEOPLE.values()],
            "efi_score": [p[3] for p in PEOPLE.values()],
            "efi_category": [p[4] for p in PEOPLE.values()],
        }
    )
    on = [(pid, p[5]) for pid, p in PEOPLE.items() if p[5] is not None]
    register = pa.table(
        {
            "practice_code": [CODE] * len(on),
            "patient_id": [pid for pid, _ in on],
            "register_rank": pa.array([rank for _, rank in on], type=pa.int64()),
            "top_factors": ["age (80)"] * len(on),
        }
    )
    flag_rows = [  # measure, period, patient, denominator, excluded, numerator
        ("care_plan", "performance", "R1", 1, 0, 0),  # due
        ("care_plan", "performance", "R2", 1, 0, 1),  # met
        ("care_plan", "performance", "R3", 1, 1, 0),  # excluded: not due
        ("care_plan", "baseline", "R4", 1, 0, 0),  # another period
        ("care_plan_review", "performance", "R5", 1, 0, 0),
        ("medication_review_efi_frail", "performance", "F1", 1, 0, 0),
    ]
    names = ["measure_id", "period", "patient_id", "denominator", "excluded", "numerator"]
    flags = pa.table(
        {"practice_code": [CODE] * len(flag_rows)}
        | {n: [row[i] for row in flag_rows] for i, n in enumerate(names)}
    )
    entered = pa.table(
        {"practice_code": [CODE], "patient_id": ["R5"], "reason": ["new to the top N%"]}
    )
    return Sources(
        index_date=INDEX,
        people=engine.from_arrow(people),
        register=engine.from_arrow(register),
        flags=engine.from_arrow(flags),
        entered=engine.from_arrow(entered),
        admissions=tables["admissions"],
        events=tables["events"],
        measure_names=NAMES,
    )


@pytest.fixture(scope="module", params=ENGINES)
def rows(request: pytest.FixtureRequest) -> Iterator[list[dict[str, str]]]:
    engine = open_engine(request.param, request)
    try:
        rules = load_rules()
        src = _sources(engine)
        table = engine.to_arrow(worklist_table(src, rules))
        yield worklist_rows(table, src, rules)[CODE]
    finally:
        engine.close()


def _listed(rows: list[dict[str, str]], rule: str) -> list[str]:
    return [r["Patient (pseudonym)"] for r in rows if r["Rule"] == rule]


def test_post_discharge_contact_lists_who_was_discharged_lately_and_not_yet_seen(
    rows: list[dict[str, str]],
) -> None:
    # R2 seen after discharge, R3 40 days ago, R4 elective, R5 seen on the day, X1 not on
    # either list; R6's later discharge counts. Highest risk first.
    assert _listed(rows, "post_discharge_contact") == ["R1", "R6", "F1"]
    r1, r6, f1 = (r for r in rows if r["Rule"] == "post_discharge_contact")
    assert (
        r1["Detail"]
        == "Discharged 2025-03-29, 3 days before 2025-04-01; no GP contact recorded since"
    )
    assert r6["Detail"].startswith("Discharged 2025-03-30, 2 days before")
    assert f1["Detail"].startswith("Discharged 2025-03-30, 2 days before")
    assert r1["Priority"] == "1" and r1["Why on the list"].startswith(
        "Discharged from an emergency admission in the 14 days before the register was drawn"
    )
    assert r1["From (measure or flag)"] == (
        "flag emergency_discharge (discharged from an emergency admission)"
    )


def test_the_other_rules_say_why_in_words_and_which_measure_or_flag(
    rows: list[dict[str, str]],
) -> None:
    assert _listed(rows, "new_to_register") == ["R5"]
    assert _listed(rows, "care_plan_missing") == ["R1"]  # R2 met, R3 excluded, R4 baseline
    assert _listed(rows, "care_plan_review_due") == ["R5"]
    assert _listed(rows, "medication_review_due") == ["F1"]
    assert _listed(rows, "on_register") == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert _listed(rows, "frail") == ["F1", "F2"]  # M1 mild, X1 fit: not on the frailty list
    by = {(r["Rule"], r["Patient (pseudonym)"]): r for r in rows}
    new = by[("new_to_register", "R5")]
    assert new["Detail"] == "new to the top N%; main factors: age (80)"
    assert new["New to the register"] == "Yes: new to the top N%"
    plan = by[("care_plan_missing", "R1")]
    assert (
        plan["From (measure or flag)"] == "measure care_plan (Register patients with a care plan)"
    )
    assert (
        plan["Why on the list"] == "On the register with no personalised care plan agreed this year"
    )
    assert by[("on_register", "R1")]["Still to do this year"] == plan["Why on the list"]
    assert by[("on_register", "R2")]["Still to do this year"] == "Nothing outstanding"
    frail = by[("frail", "F1")]
    assert frail["Detail"] == "Severe frailty (eFI 0.40)" and frail["Age"] == "80"
    assert frail["Chance of an emergency admission in the next 12 months"] == "8%"
    assert frail["Sex"] == "Female" and frail["Frailty (eFI)"] == "Severe (eFI 0.40)"


def test_rows_are_sorted_by_rule_priority_then_risk(rows: list[dict[str, str]]) -> None:
    assert list(rows[0]) == COLUMNS
    keys = [
        (
            int(r["Priority"]),
            -float(r["Chance of an emergency admission in the next 12 months"][:-1]),
        )
        for r in rows
    ]
    assert keys == sorted(keys)
    assert [r["Rule"] for r in rows][:4] == [
        "post_discharge_contact", "post_discharge_contact", "post_discharge_contact",
        "new_to_register",
    ]  # fmt: skip


def test_the_window_and_contact_codes_are_the_rules_parameters(tmp_path: Path) -> None:
    """Window 45 days: R3 (40 days) is listed too; with contact codes, R2's event (not one of
    them) is no longer a contact."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {id: wide, reason: 'within {within_days} days', flag: emergency_discharge,\n"
        "     priority: 1, among: [register], params: {within_days: 45}}\n"
        "  - {id: coded, reason: seen by code, flag: emergency_discharge, priority: 2,\n"
        "     among: [register], params: {within_days: 14, contact_codes: care_plan}}\n",
        encoding="utf-8",
    )
    loaded = load_rules(rules)
    assert loaded.rules[0].text == "within 45 days"
    engine = Engine.duckdb()
    try:
        src = _sources(engine)
        src.contact_codes = {"care_plan": ("snomed", ("999999999",))}
        got = worklist_rows(engine.to_arrow(worklist_table(src, loaded)), src, loaded)[CODE]
    finally:
        engine.close()
    assert _listed(got, "wide") == ["R1", "R3", "R6"]
    assert _listed(got, "coded") == ["R1", "R2", "R5", "R6"]
    assert got[-1]["Detail"].endswith("no care_plan code recorded since")


# ------------------------------------------------------------------ the rules file is checked
GOOD = "  - {id: frail, reason: Frail, flag: efi, priority: 1}\n"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("  - {id: a, reason: r, flag: efi, priorty: 1}\n",
         "line 2, rule 'a': unknown field 'priorty'. Fix: did you mean 'priority'?"),
        ("  - {id: b, reason: r, flag: discharge, priority: 1}\n",
         "line 2, rule 'b': field 'rules[0].flag': Input should be 'register'"),
        ("  - {id: c, reason: r, flag: emergency_discharge, priority: 1}\n",
         "rule 'c': field 'params': flag emergency_discharge needs the parameter 'within_days'."),
        ("  - {id: d, reason: r, measure: care_plan, priority: 1, params: {within_days: 3}}\n",
         "rule 'd': field 'params.within_days': does not apply to measure care_plan."),
        ("  - {id: e, reason: r, measure: care_plan, flag: efi, priority: 1}\n",
         "rule 'e': field 'measure': give exactly one of 'measure:' or 'flag:'"),
        ("  - {id: f, reason: 'in {days} days', flag: efi, priority: 1}\n",
         "rule 'f': field 'reason': names {days}, which is not a parameter of this rule."),
        ("  - {id: g, reason: r, flag: efi, priority: 0}\n",
         "rule 'g': field 'rules[0].priority': Input should be greater than or equal to 1"),
        ("  - {id: h, reason: r, flag: efi, priority: 1, params: {categories: [frail]}}\n",
         "rule 'h': field 'rules[0].params.categories[0]': Input should be 'fit'"),
        ("  - {id: frail, reason: r, flag: register, priority: 2}\n",
         "line 3: rule id 'frail' is used twice."),
    ],
)  # fmt: skip
def test_a_bad_rule_is_one_line_naming_the_file_the_rule_and_the_field(
    tmp_path: Path, rule: str, expected: str
) -> None:
    path = tmp_path / "rules.yaml"
    text = "rules:\n" + (GOOD + rule if "used twice" in expected else rule)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_rule_must_name_an_indicator_of_the_runs_measures() -> None:
    from careis.measures.definitions import load_measures, shipped_library

    measures = load_measures([shipped_library()]).by_id
    rules = load_rules()
    rules.check(measures, ["care_plan"])  # the shipped rules are good
    bad = rules.rules[2].model_copy(update={"measure": "care_plans"})
    rules.rules[2] = bad
    with pytest.raises(ConfigError, match=r"rule 'care_plan_missing': field 'measure': no measure "
                       r"'care_plans' in the run's measures\. Fix: did you mean 'care_plan'\?"):  # fmt: skip
        rules.check(measures, [])
    rules.rules[2] = bad.model_copy(update={"measure": "list_size"})
    with pytest.raises(ConfigError, match="'list_size' is a count measure without patient flags"):
        rules.check(measures, [])


def test_careis_run_stops_on_a_bad_rules_file_before_reading_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {id: x, reason: r, measure: no_such_measure, priority: 1}\n", encoding="utf-8"
    )
    contract = Path(__file__).parents[2] / "examples" / "contracts" / "enhanced_service.yaml"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"name: t\ndata: {{path: {tmp_path / 'nodata'}}}\nperiods: {{baseline: 2023/24, "
        f"performance: 2024/25}}\ncontract: {contract}\nworklist: {{rules: rules.yaml}}\n"
        f"output: {{dir: {tmp_path / 'out'}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as info:
        main(["run", str(config)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert (
        "rules.yaml, line 2, rule 'x': field 'measure': no measure 'no_such_measure'"
        in " ".join(err.split())
    )


def test_the_shipped_rules_are_the_default_file() -> None:
    assert load_rules().path == shipped_rules()
    assert [r.priority for r in load_rules().rules] == sorted(
        r.priority for r in load_rules().rules
    )


# ------------------------------------------------------------------ from a run folder, and back
KEY = "a-long-test-key-0123456789-abcdefghij"
NUMBERS = ["9434765919", "9434765870", "9434765862"]  # valid modulus 11 test numbers


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def practice(tmp_path: Path) -> Path:
    """A run folder with one practice: two register patients, one more frail patient."""
    folder = tmp_path / "run" / "practices" / "P99999"
    folder.mkdir(parents=True)
    a, b, c = (pseudonym(n, KEY) for n in NUMBERS)
    _write(folder / "register.csv",
           ["register_rank", "patient_id", "age", "sex", "risk_score", "top_factors", "efi_score", "efi_category"],
           [[2, b, 70, "M", "0.30", "prior admissions (2)", "0.1", "fit"],
            [1, a, 81, "F", "0.62", "number of long-term conditions (6)", "0.4", "severe"]])  # fmt: skip
    _write(folder / "frailty.csv", ["patient_id", "age", "sex", "efi_score", "efi_category"],
           [[a, 81, "F", "0.4", "severe"], [c, 90, "F", "0.3", "moderate"]])  # fmt: skip
    _write(folder / "measure_flags.csv",
           ["measure_id", "period", "patient_id", "denominator", "excluded", "numerator"],
           [["care_plan", "performance", a, 1, 0, 0], ["care_plan", "performance", b, 1, 0, 1],
            ["care_plan", "baseline", b, 1, 0, 0], ["med_review", "performance", c, 1, 1, 0]])  # fmt: skip
    _write(folder / "register_changes.csv", ["patient_id", "change", "reason"],
           [[a, "entered", "new to the top N%"]])  # fmt: skip
    return folder


def test_a_worklist_from_a_practice_folder_uses_the_same_rules(practice: Path) -> None:
    a, b, c = (pseudonym(n, KEY) for n in NUMBERS)
    rows = build_worklist(practice, {"care_plan": "Care plan agreed"})
    got = [(r["Rule"], r["Patient (pseudonym)"]) for r in rows]
    assert got == [
        ("new_to_register", a), ("care_plan_missing", a), ("on_register", a),
        ("on_register", b), ("frail", a), ("frail", c),
    ]  # fmt: skip
    assert rows[0]["Chance of an emergency admission in the next 12 months"] == "62%"
    assert rows[3]["Still to do this year"] == "Nothing outstanding"  # met in performance
    assert rows[5]["Frailty (eFI)"] == "Moderate (eFI 0.30)"
    assert rows[5]["Chance of an emergency admission in the next 12 months"] == ""


def test_reidentify_joins_the_practices_own_numbers_outside_the_run(
    practice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from careis.csvio import write_rows

    rows = build_worklist(practice, {})
    write_rows(rows, COLUMNS, practice / "worklist.csv")
    numbers = tmp_path / "my_list.csv"
    _write(numbers, ["NHS Number", "name"], [[NUMBERS[0], "A"], [NUMBERS[2], "C"]])
    out = tmp_path / "identified.csv"
    args = ["risk", "reidentify", str(practice / "worklist.csv"), "--numbers", str(numbers),
            "--out", str(out), "--key", KEY]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code in (0, None)
    with out.open(encoding="utf-8") as handle:
        got = [r["NHS number"] for r in csv.DictReader(handle)]
    expected = {pseudonym(n, KEY): n for n in (NUMBERS[0], NUMBERS[2])}
    assert got == [expected.get(r["Patient (pseudonym)"], "not in your list") for r in rows]
    assert "2 patients matched, 1 not in your list" in " ".join(capsys.readouterr().out.split())
    # never into the run folder, and a list without the column is one line
    inside = ["risk", "reidentify", str(practice / "worklist.csv"), "--numbers", str(numbers),
              "--out", str(practice / "x.csv"), "--key", KEY]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(inside)
    assert info.value.code == 2 and "outside the run folder" in " ".join(
        capsys.readouterr().err.split()
    )
    _write(numbers, ["id"], [["1"]])
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2 and "no 'nhs_number' column" in " ".join(
        capsys.readouterr().err.split()
    )


def test_the_shipped_rules_leave_out_a_measure_the_run_does_not_have() -> None:
    """A run with its own measure library still gets a worklist from the shipped rules; a file
    the run names must be right."""
    from careis.measures.definitions import load_measures, shipped_library

    measures = dict(load_measures([shipped_library()]).by_id)
    del measures["care_plan_review"]
    rules = load_rules()
    assert rules.check(measures, [], strict=False) == ["care_plan_review_due"]
    assert "care_plan_review_due" not in {r.id for r in rules.rules} and len(rules.rules) == 6
    with pytest.raises(ConfigError, match="rule 'care_plan_review_due': field 'measure'"):
        load_rules().check(measures, [])
