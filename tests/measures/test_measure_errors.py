"""Bad measure definitions are clear one-line errors naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from careis.cli import app
from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.errors import ConfigError
from careis.measures.compile import evaluate
from careis.measures.definitions import load_measures
from careis.periods import financial_year

RATE = """\
  - id: emerg
    name: Emergency admissions
    kind: rate
    periods: [baseline, performance]
"""


def write(tmp_path: Path, body: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text("measures:\n" + body)
    return path


def check(path: Path, lists: Path | None = None) -> None:
    load_measures([path]).check(codelist_names=CodelistLibrary(lists).names(), cohorts=["register"])


def test_missing_code_list_names_measure_line_and_a_guess(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RATE
        + """\
  - id: plans
    name: Care plans
    kind: indicator
    population: {cohort: register}
    numerator: [{codes: care_plans}]
""",
    )
    with pytest.raises(ConfigError) as err:
        check(path)
    msg = str(err.value)
    assert f"{path}, line 6" in msg
    assert "code list 'care_plans'" in msg and "did you mean 'care_plan'" in msg
    assert "\n" not in msg


def test_circular_reference(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RATE
        + """\
  - id: a
    name: A
    kind: change
    of: b
  - id: b
    name: B
    kind: change
    of: a
""",
    )
    with pytest.raises(
        ConfigError, match=r"line 6: circular reference between measures: a -> b -> a"
    ):
        check(path)
    self_ref = write(tmp_path, RATE + "  - {id: c, name: C, kind: change, of: c}\n", "s.yaml")
    with pytest.raises(ConfigError, match=r"circular reference between measures: c -> c"):
        check(self_ref)


def test_change_of_unknown_measure_or_period(tmp_path: Path) -> None:
    path = write(tmp_path, RATE + "  - {id: c, name: C, kind: change, of: emergency}\n")
    with pytest.raises(
        ConfigError,
        match=r"compares 'emergency', which is not defined",
    ):
        check(path)
    single = write(
        tmp_path,
        "  - {id: r, name: R, kind: rate}\n  - {id: c, name: C, kind: change, of: r}\n",
        "p.yaml",
    )
    with pytest.raises(
        ConfigError, match=r"period 'baseline' of 'r'.*add 'baseline' to the periods"
    ):
        check(single)


def test_thresholds_lower_above_upper(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
  - id: plans
    name: Care plans
    kind: indicator
    population: {cohort: register}
    numerator: [{codes: care_plan}]
    thresholds:
      lower: 80
      upper: 40
""",
    )
    with pytest.raises(ConfigError) as err:
        load_measures([path])
    msg = str(err.value)
    assert "line 7" in msg and "thresholds" in msg
    assert "lower threshold (80.0) is above the upper threshold (40.0)" in msg


def test_typo_in_a_field_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "  - {id: r, name: R, kind: rate, standardize: direct}\n")
    with pytest.raises(ConfigError, match=r"line 2.*unknown field 'standardize'"):
        load_measures([path])
    bad_kind = write(tmp_path, "  - {id: r, name: R, kind: ratio}\n", "k.yaml")
    with pytest.raises(ConfigError, match=r"line 2"):
        load_measures([bad_kind])


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    one = write(tmp_path, RATE, "a.yaml")
    two = write(tmp_path, RATE, "b.yaml")
    with pytest.raises(ConfigError, match=r"measure id 'emerg' is defined twice"):
        load_measures([one, two])


def test_unknown_cohort(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  - id: f\n    name: F\n    kind: count\n    population: {cohort: frail}\n",
    )
    with pytest.raises(
        ConfigError, match=r"line 2.*cohort 'frail', which this run does not supply"
    ):
        check(path)


def test_period_outside_the_data(tmp_path: Path, duck: Engine) -> None:
    from tests_measures_data import build

    path = write(
        tmp_path,
        """\
  - id: emerg
    name: Emergency admissions
    kind: rate
    periods:
      - {name: fy2030, start: 2030-04-01, end: 2031-03-31}
""",
    )
    tables = build().tables(duck)
    with pytest.raises(
        ConfigError,
        match=r"line 2: measure 'emerg': period 'fy2030' ends 2031-03-31, after the data end",
    ):
        evaluate(
            duck,
            tables,
            load_measures([path]),
            periods={"baseline": financial_year(2023), "performance": financial_year(2024)},
            index_date=financial_year(2024).start,
            library=CodelistLibrary(),
        )


def test_explicit_period_must_be_ordered(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RATE.replace("[baseline, performance]", "[{name: p, start: 2024-04-01, end: 2024-01-01}]"),
    )
    with pytest.raises(ConfigError, match=r"line 5.*ends \(2024-01-01\) before it starts"):
        load_measures([path])


def test_cli_measures_check_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["measures", "check"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 21 measures are valid" in ok.output
    listed = runner.invoke(app, ["measures", "list"])
    assert "emergency_admissions_change" in listed.output


def test_cli_measures_check_reports_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, "  - {id: r, name: R, kind: rate, events: {diagnosis: acsc}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "careis.cli", "measures", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "code list 'acsc'" in done.stderr


def test_cli_spc_on_the_shipped_example(tmp_path: Path) -> None:
    from careis.measures.definitions import shipped_library

    csv_file = shipped_library().parent / "spc" / "ae_rrk_type1.csv"
    out = tmp_path / "rrk.csv"
    res = CliRunner().invoke(
        app,
        ["spc", str(csv_file), "--value", "performance", "--label", "month",
         "--improvement", "increase", "--target", "0.95", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "assurance: fail" in res.output
    assert out.read_text().startswith("index,label,value,mean")
