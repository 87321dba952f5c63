"""End to end: `careis ingest` then `careis run` on each shared sample completes.

The samples are tiny (13 to ~1,600 patients, mostly US data), so small-number suppression hides
most figures; that is correct. The periods are chosen from what the ingested data cover (the
run refuses a performance period that ends more than a month after the last admission), as
an analyst would: the financial year ending before the last admission (plus 31 days), and the
year before it as baseline.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ingest_support import HES_AE, HES_APC, SAMPLES

from careis.cli import main
from careis.data.load import load_dataset
from careis.engine import Engine
from careis.facts.population import data_span

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SAMPLES["omop"].exists(), reason="shared samples absent"),
]
EXTRACT = dt.date(2025, 6, 30)
CONTRACT = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "enhanced_service.yaml"
ARGS = {
    "omop": [str(SAMPLES["omop"])],
    "fhir": [str(SAMPLES["fhir"])],
    "synthea": [str(SAMPLES["synthea"])],
    "hes": ["--apc", str(HES_APC), "--ae", str(HES_AE)],
}


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err
    return captured.out


def _periods(last_admission: dt.date) -> tuple[str, str]:
    """The last financial year (April-March) ending by last_admission + 31 days, and the
    year before it."""
    limit = last_admission + dt.timedelta(days=31)
    end_year = limit.year if limit >= dt.date(limit.year, 3, 31) else limit.year - 1
    label = lambda y: f"{y - 1}/{str(y)[2:]}"  # noqa: E731  FY ending March of year y
    return label(end_year - 1), label(end_year)


@pytest.mark.parametrize("fmt", ["omop", "fhir", "synthea", "hes"])
def test_ingest_then_run_completes(
    tmp_path: Path, fmt: str, duck: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _cli(["ingest", fmt, *ARGS[fmt], "--out", str(data)], capsys)
    _cli(["validate", str(data), "--out", str(tmp_path / "checks"),
          "--extract-date", EXTRACT.isoformat()], capsys)  # fmt: skip
    span = data_span(load_dataset(duck, data, extract_date=EXTRACT).tables)
    assert span.last_admission is not None
    baseline, performance = _periods(span.last_admission)
    config = tmp_path / "scheme.yaml"
    config.write_text(
        f"""name: careis ingest {fmt} end to end
data: {{path: {data}, extract_date: {EXTRACT.isoformat()}}}
engine: {{backend: duckdb}}
periods: {{baseline: "{baseline}", performance: "{performance}"}}
risk: {{method: points, register_percent: 2, min_age: 18}}
contract: {CONTRACT}
output: {{dir: {tmp_path / "out"}}}
""",
        encoding="utf-8",
    )
    if fmt == "hes":
        # Hospital extracts alone carry no GP events: the care-plan component cannot be
        # assessed, and the run says so in one line rather than paying £0 (issue 15 item 7).
        with pytest.raises(SystemExit) as info:
            main(["run", str(config)])
        err = capsys.readouterr().err
        assert info.value.code == 2
        assert "the events table has no accepted rows" in err and "'care_plans'" in err
        assert not (tmp_path / "out").exists()
        return
    out = _cli(["run", str(config)], capsys)
    assert "Finished in" in out
    report = tmp_path / "out" / "report.html"
    assert report.exists() and report.stat().st_size > 1000
    assert (tmp_path / "out" / "manifest.json").exists()
