"""End to end through the CLI: a run on a small synthetic area, determinism, and bad input.

User errors must print exactly one line on stderr (no traceback) and exit with status 2.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from careis.cli import main
from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(
        SynthConfig(practices=["P82001", "P82002", "P82003", "P82004"], scale=0.1, seed=3), out
    )
    return out


def write_config(folder: Path, data: Path, out: Path, contract: Path | None = None) -> Path:
    path = folder / "run.yaml"
    path.write_text(
        f"""name: Small test scheme
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {contract or EXAMPLES / "contracts" / "enhanced_service.yaml"}
output: {{dir: {out}}}
"""
    )
    return path


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run_log.json"
    }


def test_run_writes_every_output_and_is_byte_identical_when_repeated(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out1, out2 = tmp_path / "a", tmp_path / "b"
    code, stdout, _ = cli(["run", str(write_config(tmp_path, small_data, out1))], capsys)
    assert code == 0, stdout
    assert "Report:" in stdout
    assert "Workbook:" in stdout
    for name in ("report.html", "manifest.json", "measures/results.csv", "measures/published.csv",
                 "payments/statements.csv", "payments/summary.csv", "quarantine/summary.csv",
                 "results.xlsx", "payments/payment_file.csv"):  # fmt: skip
        assert (out1 / name).is_file(), name
    registers = sorted(out1.glob("practices/*/register.csv"))
    assert len(registers) == 4
    # patient-level data only in practice folders: no pseudonym appears in aggregate outputs
    pseudonyms = {line.split(",")[1] for line in registers[0].read_text().splitlines()[1:]}
    for name in (
        "measures/results.csv",
        "measures/published.csv",
        "payments/statements.csv",
        "report.html",
    ):
        text = (out1 / name).read_text()
        assert not any(p in text for p in pseudonyms), name
    code, _, _ = cli(["run", str(write_config(tmp_path, small_data, out2))], capsys)
    assert code == 0
    first, second = digest(out1), digest(out2)
    assert first.keys() == second.keys()
    # identical apart from the manifest's record of the output folder itself
    assert {k for k in first if first[k] != second[k]} <= {"manifest.json"}


def test_manifest_is_identical_for_the_same_output_folder(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    config = write_config(tmp_path, small_data, out)
    assert cli(["run", str(config)], capsys)[0] == 0
    before = digest(out)
    shutil.rmtree(out)
    assert cli(["run", str(config)], capsys)[0] == 0
    assert digest(out) == before


def one_line_error(code: int, err: str) -> str:
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_csv_with_a_missing_column(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    (data / "patients.parquet").unlink()
    (data / "patients.csv").write_text("patient_id,sex\np1,F\n")
    line = one_line_error(*cli(["validate", str(data)], capsys)[::2])
    assert "patients.csv" in line and "birth_month" in line


def test_contract_typo_and_negative_rate(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "contracts" / "enhanced_service.yaml").read_text()
    bad = tmp_path / "typo.yaml"
    bad.write_text(
        text.replace("    basis: per_registered_patient", "    bassis: per_registered_patient")
    )
    line = one_line_error(
        *cli(["run", str(write_config(tmp_path, small_data, tmp_path / "o", bad))], capsys)[::2]
    )
    assert (
        "typo.yaml, line" in line
        and "unknown field 'bassis'" in line
        and "did you mean 'basis'" in line
    )
    bad.write_text(text.replace('rate: "0.75"', 'rate: "-0.75"'))
    line = one_line_error(
        *cli(["run", str(write_config(tmp_path, small_data, tmp_path / "o", bad))], capsys)[::2]
    )
    assert "components[0].rate" in line and "greater than or equal to 0" in line


def test_bad_run_config_and_unknown_sub_icb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "name: x\ndata: {path: d}\nperiods: {baseline: 2023/24, performance: 2023/24}\ncontract: c.yaml\n"
    )
    line = one_line_error(*cli(["run", str(cfg)], capsys)[::2])
    assert "bad.yaml, line 3" in line and "overlap" in line
    line = one_line_error(
        *cli(["generate", "--sub-icb", "ZZZ", "--out", str(tmp_path / "g")], capsys)[::2]
    )
    assert "unknown sub-ICB code: ZZZ" in line


def test_period_outside_the_data(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, small_data, tmp_path / "o")
    cfg.write_text(cfg.read_text().replace("performance: 2024/25", "performance: 2026/27"))
    line = one_line_error(*cli(["run", str(cfg)], capsys)[::2])
    assert "performance period" in line and "not covered by the data" in line
