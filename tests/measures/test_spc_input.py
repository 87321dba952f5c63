"""`careis spc` on files nobody tidied: every bad input is one line naming the file and row."""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.cli import main
from careis.errors import CareisError
from careis.measures.spc_input import SpcRequest, run_spc_csv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spc" / "ae_rrk_type1.csv"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["spc", *args])
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def write(tmp_path: Path, text: str | bytes, name: str = "s.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


MONTHS = "month,n,d\n2024-01,5,10\n2024-02,{n},{d}\n2024-03,4,10\n"


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        (MONTHS.format(n=-1, d=10), ["--chart", "p", "--numerator", "n", "--denominator", "d"],
         ["row 3", "negative count"]),
        (MONTHS.format(n=-1, d=10), ["--chart", "c", "--numerator", "n"],
         ["row 3", "negative count"]),
        (MONTHS.format(n=11, d=10), ["--chart", "p", "--numerator", "n", "--denominator", "d"],
         ["row 3", "above the denominator"]),
        (MONTHS.format(n=1, d=0), ["--chart", "u", "--numerator", "n", "--denominator", "d"],
         ["row 3", "denominator is 0"]),
        (MONTHS.format(n="inf", d=10), ["--chart", "c", "--numerator", "n"],
         ["row 3", "'inf'", "not a finite number"]),
        (MONTHS.format(n="", d=10), ["--chart", "c", "--numerator", "n"],
         ["row 3", "not a finite number"]),
        (MONTHS.format(n=1, d=10), ["--value", "n", "--label", "period"],
         ["no column 'period'", "--label", "month, n, d"]),
        (MONTHS.format(n=1, d=10), ["--value", "nope"], ["no column 'nope'"]),
        ("month,v\n2024-03,5\n2024-03,3\n", ["--value", "v", "--label", "month"],
         ["row 3", "repeats row 2"]),
        (b"month,v\nCaf\xe9,5\n2024-02,3\n", ["--value", "v", "--label", "month"],
         ["row 2", "not UTF-8", "Fix: save it as UTF-8"]),
        ("", ["--value", "v"], ["no rows"]),
        (MONTHS.format(n=1, d=10), ["--value", "n", "--chart", "x"], ["--chart must be"]),
        (MONTHS.format(n=1, d=10), ["--chart", "p", "--numerator", "n"], ["--denominator"]),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str | bytes,
    args: list[str],
    expected: list[str],
) -> None:
    path = write(tmp_path, text)
    code, _, err = run_cli([str(path), *args], capsys)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert str(path) in lines[0] or "--" in lines[0]
    for part in expected:
        assert part in lines[0]


def test_a_folder_and_a_missing_out_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli([str(tmp_path), "--value", "v"], capsys)
    assert code == 2 and "is a folder" in err and "Traceback" not in err
    path = write(tmp_path, MONTHS.format(n=1, d=10))
    out = tmp_path / "missing" / "chart.svg"
    code, _, err = run_cli([str(path), "--value", "n", "--out", str(out)], capsys)
    assert code == 2 and "does not exist" in err and "mkdir" in err and "Traceback" not in err
    assert not out.parent.exists()


def test_unsorted_months_are_charted_in_date_order(tmp_path: Path) -> None:
    path = write(tmp_path, "month,v\n2024-03,5\n2024-01,3\n2024-02,4\n")
    run = run_spc_csv(path, SpcRequest(value="v", label="month"))
    assert [p.label for p in run.result.points] == ["2024-01", "2024-02", "2024-03"]
    assert [p.value for p in run.result.points] == [3.0, 4.0, 5.0]
    assert any("not in date order" in n for n in run.notes)
    assert any("fewer than 12" in n for n in run.notes)
    # non-date labels keep the file's order
    other = write(tmp_path, "wk,v\nb,5\na,3\nc,4\n", "w.csv")
    assert [
        p.label for p in run_spc_csv(other, SpcRequest(value="v", label="wk")).result.points
    ] == [
        "b",
        "a",
        "c",
    ]


def test_rebase_label_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, MONTHS.format(n=1, d=10))
    with pytest.raises(CareisError, match="--rebase '2030-01'"):
        run_spc_csv(path, SpcRequest(value="n", label="month", rebase=("2030-01",)))


@pytest.mark.skipif(not EXAMPLE.exists(), reason="example not shipped")
def test_the_shipped_example_still_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rrk.csv"
    args = [str(EXAMPLE), "--value", "performance", "--label", "month", "--improvement",
            "increase", "--target", "0.95", "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["spc", *args])
    assert info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "Variation: concern; assurance: fail" in printed
    assert out.read_text().startswith("index,label,value,mean,lower,upper,segment,rules,special")
