"""The `careis commission` commands end to end on the shipped examples: outputs, determinism,
one-line errors (exit 2) and a missing route fact that names the fact."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from careis.cli import main
from commissioning_fixtures import fake_run

EXAMPLES = Path(__file__).parents[2] / "examples" / "commissioning"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def _fake_run(folder: Path) -> Path:
    return fake_run(
        folder,
        "emergency_admissions,baseline,2023-04-01,2024-03-31,icb,QOP,33508,301682.9,111.07,x\n"
        "ae_attendances,baseline,2023-04-01,2024-03-31,icb,QOP,95000,301682.9,314.90,x\n"
        "emergency_bed_days,baseline,2023-04-01,2024-03-31,icb,QOP,180000,301682.9,596.65,x\n",
        "P82001,U1,F1,225724.00,100080.00,325054.00,650858.00\n",
    )


def test_register_lists_contracts_and_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["commission", "register", str(EXAMPLES / "register.csv")]) == 0
    assert "10 valid contract(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    text = (
        (EXAMPLES / "register.csv")
        .read_text()
        .replace("2021-04-01,2026-03-31", "2021-04-01,2020-03-31")
    )
    bad.write_text(text.replace(",des,", ",dse,"))
    assert _run(["commission", "register", str(bad)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert "row 5" in errors[0] and "APMS-Y00001" in errors[0] and "before its start" in errors[0]
    assert "row 7" in errors[1] and "'dse' is not a known value" in errors[1]


def test_report_end_to_end_and_byte_identical(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run")
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert _run(["commission", "report", str(EXAMPLES / "workbench.yaml"), "--run", str(run),
                     "--out", str(out)]) == 0  # fmt: skip
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    records = [f"{kind}_route-{r}.{ext}" for r in ("icp", "mental-health", "community")
               for kind, ext in (("decision_record", "html"), ("decision_record", "txt"),
                                 ("notices", "txt"))]  # fmt: skip
    assert names == sorted([
        "business_case_monthly.csv", "business_case_yearly.csv", "commissioning_report.html",
        "decisions.json", "manifest.json", "mapping.csv", "service_specification.html", "service_specification.pdf",
        "service_specification.md", *records,
    ])  # fmt: skip
    for n in names:
        a, b = (hashlib.sha256((o / n).read_bytes()).hexdigest() for o in outs)
        assert a == b, n
    html = (outs[0] / "commissioning_report.html").read_text()
    assert html.count("<svg") == 3  # timeline, cumulative cash, tornado
    assert "Direct Award Process C" in html and "Competitive Process" in html
    assert "Permitted modification" in html and "decision_record_route-icp.html" in html
    assert "Are costs recouped in year 1?" in html
    decisions = json.loads((outs[0] / "decisions.json").read_text())
    icp, mental_health, community = decisions["routes"]
    assert mental_health["process"] == "direct_award_c"
    # reg 12: published Thu 18 Dec 2025; begins Fri 19 Dec; the 8th working day after it is
    # Mon 5 Jan 2026 (22, 23, 24, 29, 30, 31 Dec, 2 and 5 Jan; 25, 26 Dec and 1 Jan are off)
    assert mental_health["standstill_first_day"] == "2025-12-19"
    assert mental_health["standstill_last_day"] == "2026-01-05"
    assert mental_health["earliest_award"] == "2026-01-06"
    assert "older regime" in mental_health["notes"][0]  # the 2023 contract predates the PSR
    assert mental_health["record_missing"] == [
        "notice 'post_award': date the contract was entered into"
    ]
    assert icp["process"] == "competitive" and "Decision: provider" in icp["record_missing"]
    assert community["process"] == "permitted_authority_decision" and community["notices"] == []
    assert decisions["disagreements"] == [] and decisions["timeline_errors"] == []
    mapping = (outs[0] / "mapping.csv").read_text()
    assert "GMS-P82001,gms,P82001,suspend,by agreement,2026-04-01" in mapping
    # no novation: the community contract ends on notice served by 1 Oct 2025, the day before
    # go-live six months on, and its services are awarded in the integrated contract
    assert (
        "NHSSC-COMMUNITY,nhs_standard,RMC,terminate,on 6 months' notice,2026-04-01,2025-10-01"
        in mapping
    )
    record = (outs[0] / "decision_record_route-mental-health.txt").read_text()
    assert "spouse employed by Greater Manchester Mental Health" in record  # from conflicts.yaml
    spec_md = (outs[0] / "service_specification.md").read_text()
    assert "| care_plans | concordance |" in spec_md and "£45.00" in spec_md
    assert "top 2% of the practice's adults" in spec_md
    manifest = json.loads((outs[0] / "manifest.json").read_text())
    assert {f["path"] for f in manifest["inputs"]} >= {"register.csv", "business_case.yaml"}


def test_route_missing_fact_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "route.yaml"
    path.write_text("service: X\ndecision_date: 2025-07-01\nfacts: {existing_provider: true}\n")
    assert _run(["commission", "route", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "relevant_health_care_services" in err and "Fix: add" in err


def test_route_with_register_and_business_case_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["commission", "route", str(EXAMPLES / "route-mental-health.yaml"), "--register",
                 str(EXAMPLES / "register.csv")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Direct Award Process C" in out and "2026-01-05" in out and "2026-01-06" in out
    run = _fake_run(tmp_path / "run")
    assert _run(["commission", "business-case", str(EXAMPLES / "business_case.yaml"), "--run",
                 str(run)]) == 0  # fmt: skip
    assert "Costs recouped in year 1" in capsys.readouterr().out
    # without a run the emergency admissions baseline is missing: one line, naming it
    assert _run(["commission", "business-case", str(EXAMPLES / "business_case.yaml")]) == 2
    assert "activity 'emergency_admissions' has no baseline" in capsys.readouterr().err


def test_map_writes_csv_and_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["commission", "map", str(EXAMPLES / "register.csv"),
                 str(EXAMPLES / "model-alliance.yaml"), "--out", str(tmp_path)]) == 0  # fmt: skip
    assert "Earliest realistic start: 2026-04-01" in capsys.readouterr().out
    assert "terminate" not in (tmp_path / "mapping.csv").read_text()
    assert (tmp_path / "timeline.svg").read_text().startswith("<svg")


def test_route_ask_prompts_for_each_missing_fact(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from careis.cli import app

    path = tmp_path / "route.yaml"
    path.write_text("service: X\ndecision_date: 2025-07-01\nfacts: {existing_provider: true}\n")
    # health care? yes. mixed? no. urgent? no. under a framework? no. concluding one? no.
    # only capable? no. patient choice? no. expiring? yes. materially different? yes.
    # most suitable provider identifiable? yes  -> Most Suitable Provider
    result = CliRunner().invoke(app, ["commission", "route", str(path), "--ask"],
                                input="y\nn\nn\nn\nn\nn\nn\ny\ny\ny\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Most Suitable Provider" in result.output
    assert "materially_different: true" in result.output  # the answers to record
    assert "existing_lifetime_value" not in result.output  # never asked: not needed


def test_spec_command(tmp_path: Path) -> None:
    assert _run(["commission", "spec", str(EXAMPLES.parent / "contracts" / "enhanced_service.yaml"),
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    md = (tmp_path / "service_specification.md").read_text()
    assert "The federation must cut it by at least 10% and the practice by at least 5%." in md
    assert "## 4. Measures" in md and "`emergency_admissions_change`" in md
    html = (tmp_path / "service_specification.html").read_text()
    # the payment table names each component (the contract's `name`), its id beside it
    assert (
        '<td>Personalised care plans<br><span class="code">care_plans</span> (concordance)' in html
    )


def test_summary_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "decisions"
    folder.mkdir()
    for name in ("route-icp.yaml", "route-mental-health.yaml", "route-community.yaml"):
        (folder / name).write_text((EXAMPLES / name).read_text())
    out = tmp_path / "summary.txt"
    assert _run(["commission", "summary", str(folder), "--year", "2025", "--register",
                 str(EXAMPLES / "register.csv"), "--out", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "(a) contracts awarded following Direct Award Process A, B or C: 1" in text
    assert "(c) contracts awarded following the Competitive Process: 1" in text
    # without the register the community file cannot get its lifetime value: one line, named
    assert _run(["commission", "summary", str(folder), "--year", "2025"]) == 2
    assert "existing_contract 'NHSSC-COMMUNITY' is not in the contract register" in (
        capsys.readouterr().err)  # fmt: skip
