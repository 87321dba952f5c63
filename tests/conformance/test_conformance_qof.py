"""QOF points -> pounds (Statement of Financial Entitlements arithmetic) against published
worked examples.

The SFE pays a QOF indicator as points x £ per point x CPI x APDF, where CPI (Contractor
Population Index) = practice list / national average practice list, and APDF (adjusted
practice disease factor) = practice prevalence / national prevalence for prevalence-weighted
indicators. References, each a worked example published for practices:

- Lincs LMC, "QOF Point value and Prevalence" (lincslmc.co.uk/qofpointvalueandprevalence),
  2022/23: a 16,000-patient practice, AF register prevalence 3.05% against 2.1% nationally,
  all 29 AF points: 29 x £207.56 x 1.71 x 1.45 = £14,924.71 (CPI 16,000 / 9,374 and APDF
  3.05 / 2.1, each shown rounded to 2 decimals).
- Pulse Intelligence, "QOF: how payments are calculated - and why prevalence matters"
  (pulse-intelligence.co.uk), 2021/22: an average practice (9,103 patients) earning all 74
  Quality Improvement points (not prevalence-weighted) receives £201.16 x 74 = £14,885.84.
- Caradoc Group / Insight Solutions, "The importance of maximising your QOF income", 2016/17:
  average list 7,460, £165.18 a point, so a 9,500-patient practice gets £210.35 a point.

What differs, and why: careis multiplies the exact CPI and APDF and rounds once, to the
penny, on the line; the Lincs LMC example rounds CPI and APDF to 2 decimals first. With its
rounded factors careis gives its £14,924.71 exactly; with the exact factors it pays £14,921.66
(docs/conformance.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from careis.contracts.schema import load_contract
from careis.measures.results import RESULT_SCHEMA, MeasureInfo, MeasureResults
from careis.payments.calculate import evaluate

CONTRACT = """\
id: QOF-REF
name: QOF reference
model: enhanced_service
commissioner: {{code: S1, name: Sub-ICB One}}
term: {{start: {start}, end: {end}}}
components:
  - id: qof
    type: concordance
    basis: qof_points
    measure: indicator
    max_points: {points}
    lower_threshold_percent: 40
    upper_threshold_percent: 70
    point_value: "{value}"
    average_list_size: {average}
{prevalence}"""

CATALOGUE = {
    "list_size": MeasureInfo("list_size", "List", "count", "patients", ""),
    "indicator": MeasureInfo("indicator", "Indicator", "proportion", "%", ""),
    "prevalence": MeasureInfo("prevalence", "Prevalence", "proportion", "%", ""),
}


def pounds(
    tmp_path: Path,
    *,
    points: int,
    value: str,
    average: int,
    size: int,
    prevalence: tuple[str, str] | None = None,
    year: int = 2022,
) -> Decimal:
    """The QOF line careis pays one practice achieving every point (90 of 100 >= 70%)."""
    prev_yaml = (
        f"    prevalence_measure: prevalence\n    national_prevalence_percent: {prevalence[1]}\n"
        if prevalence
        else ""
    )
    text = CONTRACT.format(
        start=f"{year}-04-01", end=f"{year + 1}-03-31", points=points, value=value,
        average=average, prevalence=prev_yaml,
    )  # fmt: skip
    path = tmp_path / f"qof-{points}-{size}.yaml"
    path.write_text(text)
    rows = [("list_size", size, None, float(size)), ("indicator", 90, 100, 90.0)]
    if prevalence:
        rows.append(("prevalence", None, None, float(prevalence[0])))
    table = pa.Table.from_pylist(
        [
            {
                "measure_id": m,
                "period": "performance",
                "period_start": dt.date(year, 4, 1),
                "period_end": dt.date(year + 1, 3, 31),
                "level": "practice",
                "org_code": "A",
                "numerator": num,
                "denominator": den,
                "value": v,
                "unit": "",
            }
            for m, num, den, v in rows
        ],
        schema=RESULT_SCHEMA,
    )
    run = evaluate(load_contract(path), MeasureResults(table, CATALOGUE), ["A"], {})
    (line,) = run.lines
    return line.amount


def test_lincs_lmc_af_example_with_its_rounded_factors(tmp_path: Path) -> None:
    # CPI 1.71 (list 171 / average 100) and APDF 1.45 (1.45% / 1%): 29 x 207.56 x 1.71 x 1.45
    # = 14,924.7056 -> £14,924.71, the published figure.
    got = pounds(
        tmp_path, points=29, value="207.56", average=100, size=171, prevalence=("1.45", "1")
    )
    assert got == Decimal("14924.71")


def test_lincs_lmc_af_example_with_exact_factors(tmp_path: Path) -> None:
    # careis's own rule: 29 x 207.56 x (16000 / 9374) x (3.05 / 2.1), rounded once:
    # 6019.24 x 1.70684873... x 1.45238095... = 14,921.6634 -> £14,921.66 (the published
    # £14,924.71 rounds CPI and APDF to 2 decimals first; £3.05 apart).
    got = pounds(
        tmp_path, points=29, value="207.56", average=9374, size=16000, prevalence=("3.05", "2.1")
    )
    assert got == Decimal("14921.66")


def test_pulse_intelligence_quality_improvement_example(tmp_path: Path) -> None:
    # 2021/22: an average-sized practice (9,103 = the national average) earning all 74 QI
    # points: £201.16 x 74 = £14,885.84.
    got = pounds(tmp_path, points=74, value="201.16", average=9103, size=9103, year=2021)
    assert got == Decimal("14885.84")


@pytest.mark.parametrize(("size", "per_point"), [(9500, "210.35"), (7460, "165.18")])
def test_caradoc_cpi_example(tmp_path: Path, size: int, per_point: str) -> None:
    # 2016/17: £165.18 x 9,500 / 7,460 = 210.3497.. -> £210.35 a point (one point).
    got = pounds(tmp_path, points=1, value="165.18", average=7460, size=size, year=2016)
    assert got == Decimal(per_point)


def test_the_shipped_national_figures_price_the_same_examples(tmp_path: Path) -> None:
    # With no figures on the component, the shipped national table (qof_national.csv) must
    # give the same pounds as the published examples for 2016/17 and 2022/23.
    from careis.contracts.schema import QOF_NATIONAL

    assert QOF_NATIONAL[2016] == (Decimal("165.18"), 7460)
    assert QOF_NATIONAL[2022] == (Decimal("207.56"), 9374)
    assert QOF_NATIONAL[2021] == (Decimal("201.16"), 9085)


def test_the_shipped_figures_hold_the_value_per_patient() -> None:
    """Since 2016/17 the point value has moved with the national average list (Pulse, 'QOF
    point value to rise by 3.6% from April': the 2017/18 deal raised it 'in line with the
    contractor population index'; Dr Gavin Jamie in Pulse, 'Tips to maximise income from QOF
    in 2025/26': 'the effective cash value of points ... has been frozen since at least
    2018'), so every year's £ per point / average list is the same 2.2142p per patient. A
    shipped pair off that value is a transcription error or a wrong source (2021/22's 9,103
    from one secondary page gives 2.2098p; the 9,085 of another gives 2.2142p)."""
    from careis.contracts.schema import QOF_NATIONAL

    pairs = {y: (v, n) for y, (v, n) in QOF_NATIONAL.items() if v is not None and n is not None}
    assert len(pairs) >= 6
    for year, (value, average) in pairs.items():
        per_patient = value / average
        assert abs(per_patient - Decimal("0.022142")) < Decimal("0.0000006"), year
