"""A practice's worklist (issue 18 item 7): from its own folder's files, in words, by risk, and
the documented route back to its patients (`careis risk reidentify`)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from careis.cli import main
from careis.data.pseudonym import pseudonym
from careis.risk.worklist import COLUMNS, build_worklist

KEY = "a-long-test-key-0123456789-abcdefghij"
NUMBERS = ["9434765919", "9434765870", "9434765862"]  # valid modulus 11 test numbers


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
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


def test_worklist_is_by_risk_in_words_with_what_is_still_to_do(practice: Path) -> None:
    a, b, c = (pseudonym(n, KEY) for n in NUMBERS)
    rows = build_worklist(practice, {"care_plan": "Care plan agreed"})
    assert [r["Patient (pseudonym)"] for r in rows] == [a, b, c]  # rank 1, rank 2, then frail
    assert list(rows[0]) == COLUMNS
    first, second, frail = rows
    assert first["Still to do this year"] == "Care plan agreed"
    assert first["Chance of an emergency admission in the next 12 months"] == "62%"
    assert first["Sex"] == "Female" and first["New to the register"] == "Yes: new to the top N%"
    assert first["Why on the list"].startswith("On the case-finding register: number of long-term")
    # met in the performance year (its baseline flag does not count)
    assert second["Still to do this year"] == "Nothing outstanding"
    # an excluded patient is not "due"; a frail patient says why in words
    assert frail["Still to do this year"] == "Nothing outstanding"
    assert frail["Why on the list"] == "Moderate frailty (eFI 0.30)"


def test_reidentify_joins_the_practices_own_numbers_outside_the_run(
    practice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from careis.risk.worklist import write_worklists

    write_worklists(practice.parent, {})
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
    assert got == [NUMBERS[0], "not in your list", NUMBERS[2]]
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
