"""Registers, entry/exit, the `careis risk` commands and the 'model' method of `careis run`.

Patient-level files must only be written under practices/<code>/; every user error is one
line on stderr with exit status 2.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from builders import D, Dataset
from careis.cli import main
from careis.risk.scoring import register_changes
from careis.risk.training import coverage

EXAMPLES = Path(__file__).parents[2] / "examples"


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_register_changes_hand_example() -> None:
    """Previous register: a, b, c. Now: b, d. c is still registered (below cut-off); a has
    left the practice."""

    def t(ids: list[str]) -> pa.Table:
        return pa.table({"practice_code": ["X"] * len(ids), "patient_id": ids})

    changes = register_changes(t(["b", "d"]), t(["a", "b", "c"]), t(["b", "c", "d", "e"]))
    assert [(c["patient_id"], c["change"], c["reason"]) for c in changes] == [
        ("d", "entered", "new to the top N%"),
        ("a", "left", "no longer registered"),
        ("c", "left", "below cut-off"),
    ]


def test_patients_without_registration_are_counted(duck: Any) -> None:
    ds = Dataset()
    ds.org("A00001", "practice")
    ds.patient("R1", "A00001", born=D(1950, 1, 1))
    ds.patient("GONE", "A00001", born=D(1950, 1, 1), end=D(2020, 1, 1))
    ds.patient("DEAD", "A00001", born=D(1950, 1, 1), died=D(2023, 1, 1))
    ds.add("patients", patient_id="NOREG", sex="F", birth_month=D(1950, 1, 1), imd_decile=3)
    c = coverage(duck, ds.tables(duck), D(2024, 4, 1))
    assert c == {
        "patients": 4,
        "registered": 1,
        "died_before": 1,
        "no_registration": 1,
        "not_registered_on_date": 1,
    }


# One row of the metrics table `careis risk train` / `evaluate` print:
# data | patients | admitted | AUROC (95% CI) | cal. slope | cal. intercept | Brier | top 2%
ROW = re.compile(
    r"(?P<set>apparent|temporal|geographic|evaluation)\s*[│|]\s*(?P<patients>[\d,]+)\s*[│|]\s*"
    r"(?P<admitted>[\d,]+)\s*[│|]\s*(?P<auroc>\d\.\d{3}) \((?P<lo>\d\.\d{3})-(?P<hi>\d\.\d{3})\)"
    r"\s*[│|]\s*(?P<slope>-?\d+\.\d{2})\s*[│|]\s*(?P<intercept>[+-]\d+\.\d{2})\s*[│|]\s*"
    r"(?P<brier>\d\.\d{4})"
)


def printed_metrics(out: str) -> dict[str, dict[str, str]]:
    """The metrics table's rows as printed, by validation set."""
    return {m["set"]: m.groupdict() for m in ROW.finditer(out)}


def check_printed_equals_json(printed: dict[str, str], m: dict[str, Any]) -> None:
    """What the command prints is the JSON's figure, rounded as shown; and the figures are sane."""
    assert 0 < m["admitted"] < m["patients"]
    assert 0 <= m["auroc_ci"][0] <= m["auroc"] <= m["auroc_ci"][1] <= 1
    assert 0 <= m["brier"] <= 1 and math.isfinite(m["calibration"]["slope"])
    assert printed == {
        "set": printed["set"],
        "patients": f"{m['patients']:,}",
        "admitted": f"{m['admitted']:,}",
        "auroc": f"{m['auroc']:.3f}",
        "lo": f"{m['auroc_ci'][0]:.3f}",
        "hi": f"{m['auroc_ci'][1]:.3f}",
        "slope": f"{m['calibration']['slope']:.2f}",
        "intercept": f"{m['calibration']['intercept']:+.2f}",
        "brier": f"{m['brier']:.4f}",
    }


@dataclass(frozen=True)
class Trained:
    folder: Path  # <folder>/logistic/model.json, model_card.json, model_card.html
    printed: str  # what `careis risk train` printed


@pytest.fixture(scope="module")
def models(risk_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    out = tmp_path_factory.mktemp("models")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setenv("COLUMNS", "250")  # one table row per line
        with pytest.raises(SystemExit) as info:
            main(["risk", "train", str(risk_data), "--out", str(out), "--kind", "logistic",
                  "--extract-date", "2025-06-30"])  # fmt: skip
    assert info.value.code in (0, None)
    return Trained(out, printed.getvalue())


def test_train_writes_model_and_card(models: Trained) -> None:
    folder = models.folder / "logistic"
    assert {p.name for p in folder.iterdir()} == {
        "model.json",
        "model_card.json",
        "model_card.html",
    }
    html = (folder / "model_card.html").read_text()
    assert "Temporal validation" in html and "Geographic validation" in html
    assert "synthetic data" in html  # the generator writes generation.json
    card = json.loads((folder / "model_card.json").read_text())
    printed = printed_metrics(models.printed)
    assert {"temporal", "geographic"} <= set(card["metrics"]) <= set(printed), models.printed
    for name, metrics in card["metrics"].items():
        check_printed_equals_json(printed[name], metrics)
    # validated on a later year, the model still ranks patients better than chance
    assert card["metrics"]["temporal"]["auroc"] > 0.5


def test_score_writes_patient_files_only_in_practice_folders(
    models: Trained, risk_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        ["risk", "score", str(risk_data), "--model", str(models.folder / "logistic" / "model.json"),
         "--index-date", "2024-04-01", "--previous-index-date", "2024-01-01", "--out",
         str(tmp_path), "--extract-date", "2025-06-30"],
        capsys,
    )  # fmt: skip
    assert code in (0, None), err
    assert "patients scored" in out and "entered" in out
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and "practices" not in p.parts]
    assert [p.relative_to(tmp_path).as_posix() for p in outside] == ["risk/practice_summary.csv"]
    summary = rows(tmp_path / "risk" / "practice_summary.csv")
    assert "patient_id" not in summary[0]
    practices = sorted(p.name for p in (tmp_path / "practices").iterdir())
    assert practices == sorted(r["practice_code"] for r in summary)
    for practice in practices:
        reg = rows(tmp_path / "practices" / practice / "register.csv")
        assert reg, practice
        assert [int(r["register_rank"]) for r in reg] == list(range(1, len(reg) + 1))
        scores = [float(r["risk_score"]) for r in reg]
        assert scores == sorted(scores, reverse=True)
        assert all(r["top_factors"] for r in reg)
        frail = rows(tmp_path / "practices" / practice / "frailty.csv")
        assert all(
            r["efi_category"] in ("moderate", "severe") and int(r["age"]) >= 65 for r in frail
        )
        assert (tmp_path / "practices" / practice / "register_changes.csv").exists()


def test_score_refuses_model_of_another_schema(
    models: Trained, risk_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    body = json.loads((models.folder / "logistic" / "model.json").read_text())
    body["features"] = body["features"][:-1]
    body.pop("model_id")
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps(body))
    code, _, err = cli(
        ["risk", "score", str(risk_data), "--model", str(bad), "--index-date", "2024-04-01",
         "--out", str(tmp_path / "o")],
        capsys,
    )  # fmt: skip
    line = one_line_error(code, err)
    assert str(bad) in line and "housebound" in line and "retrain" in line


def test_malformed_codelist_row(
    risk_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "efi_falls.csv").write_text("code,term\n161898004,Falls\n,no code here\n")
    code, _, err = cli(
        ["risk", "train", str(risk_data), "--codelists", str(lists), "--out", str(tmp_path / "m"),
         "--kind", "logistic"],
        capsys,
    )  # fmt: skip
    line = one_line_error(code, err)
    assert "efi_falls.csv" in line and "line 3" in line


def test_evaluate_and_its_errors(
    models: Trained,
    risk_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = str(models.folder / "logistic" / "model.json")
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    code, out, err = cli(
        ["risk", "evaluate", str(risk_data), "--model", model, "--index-date", "2023-10-01",
         "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert code in (0, None), err
    body = json.loads((tmp_path / "evaluation.json").read_text())
    model_id = json.loads((models.folder / "logistic" / "model.json").read_text())["model_id"]
    assert (body["model_id"], body["index_date"]) == (model_id, "2023-10-01")
    printed = printed_metrics(out)
    assert set(printed) == {"evaluation"}, out
    check_printed_equals_json(printed["evaluation"], body)
    code, _, err = cli(
        ["risk", "evaluate", str(risk_data), "--model", model, "--index-date", "2024-10-01"],
        capsys,
    )
    assert "last admission in the data" in one_line_error(code, err)
    code, _, err = cli(
        ["risk", "evaluate", str(risk_data), "--model", str(risk_data / "patients.parquet"),
         "--index-date", "2023-04-01"],
        capsys,
    )  # fmt: skip
    assert "not a careis model" in one_line_error(code, err)


def _config(folder: Path, data: Path, out: Path, risk: str) -> Path:
    path = folder / f"run-{out.name}.yaml"
    path.write_text(
        f"""name: Small risk scheme
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
risk: {risk}
contract: {EXAMPLES / "contracts" / "enhanced_service.yaml"}
output: {{dir: {out}}}
"""
    )
    return path


@pytest.mark.slow  # two full runs, the first training its model
def test_run_with_model_method_and_reuse_of_its_model(
    risk_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    cfg = _config(tmp_path, risk_data, first, "{method: model, model_kind: logistic}")
    code, _, err = cli(["run", str(cfg)], capsys)
    assert code in (0, None), err
    for name in ("model.json", "model_card.json", "model_card.html", "practice_summary.csv"):
        assert (first / "risk" / name).exists(), name
    report = (first / "report.html").read_text()
    assert "Risk profiling: registers and frailty" in report and "eFI moderate" in report
    # a second run that loads the first run's model draws the same registers, byte for byte
    second = tmp_path / "second"
    cfg2 = _config(
        tmp_path, risk_data, second, f"{{method: model, model: {first / 'risk' / 'model.json'}}}"
    )
    code, _, err = cli(["run", str(cfg2)], capsys)
    assert code in (0, None), err
    for practice in (first / "practices").iterdir():
        for name in ("register.csv", "frailty.csv", "register_changes.csv"):
            a = (practice / name).read_bytes()
            assert a == (second / "practices" / practice.name / name).read_bytes(), name
    assert (first / "measures" / "results.csv").read_bytes() == (
        second / "measures" / "results.csv"
    ).read_bytes()


def test_cohort_tables_for_the_measures_engine(duck: Any) -> None:
    """The cohorts the measures engine accepts: simple, named columns, one row per patient."""
    from careis.risk.scoring import efi_cohort, risk_cohort

    scored = duck.from_arrow(
        pa.table(
            {
                "patient_id": ["a", "b", "c"],
                "practice_code": ["X", "X", "Y"],
                "age": [70, 40, 66],
                "risk_score": [0.3, 0.1, 0.2],
                "efi_score": [10 / 36, 1 / 36, 13 / 36],
                "efi_category": ["moderate", "fit", "severe"],
            }
        )
    )
    reg = duck.from_arrow(pa.table({"patient_id": ["a"], "practice_code": ["X"]}))
    risk = duck.to_arrow(risk_cohort(scored, reg).order_by("patient_id")).to_pylist()
    assert [(r["patient_id"], r["on_register"]) for r in risk] == [("a", 1), ("b", 0), ("c", 0)]
    assert list(risk[0]) == ["patient_id", "practice_code", "risk_score", "on_register"]
    efi = duck.to_arrow(efi_cohort(scored).order_by("patient_id")).to_pylist()
    assert [r["patient_id"] for r in efi] == ["a", "c"]  # 65+ only
    assert list(efi[0]) == ["patient_id", "practice_code", "efi_score", "efi_category"]
