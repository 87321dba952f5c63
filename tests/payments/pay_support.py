"""Small hand-made measure results and contracts for payment tests (no measure engine needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from careis.contracts.schema import LoadedContract, load_contract
from careis.measures.results import RESULT_SCHEMA, MeasureInfo, MeasureResults

CATALOGUE = {
    m.id: m
    for m in (
        MeasureInfo("list_size", "Registered patients", "count", "patients", ""),
        MeasureInfo("register", "Register", "proportion", "% of adults", ""),
        MeasureInfo("care_plan", "Care plans", "proportion", "% of register", ""),
        MeasureInfo("emergency_admissions", "Admissions", "rate", "per 1,000", ""),
        MeasureInfo("emergency_admissions_change", "Change", "change", "% change", ""),
        MeasureInfo("asthma_review", "Asthma review", "proportion", "%", ""),
        MeasureInfo("asthma_prevalence", "Asthma prevalence", "proportion", "%", ""),
    )
}

Row = tuple[str, str, str, float | None, float | None, float | None]


def results(rows: list[Row], period: str = "performance") -> MeasureResults:
    """rows: (measure_id, level, org_code, numerator, denominator, value) for one period.

    A measure id written 'id@period' sets the period of that row.
    """
    out = []
    for measure, level, org, num, den, value in rows:
        mid, _, per = measure.partition("@")
        out.append(
            {
                "measure_id": mid,
                "period": per or period,
                "period_start": dt.date(2024, 4, 1),
                "period_end": dt.date(2025, 3, 31),
                "level": level,
                "org_code": org,
                "numerator": num,
                "denominator": den,
                "value": value,
                "unit": "",
            }
        )
    return MeasureResults(pa.Table.from_pylist(out, schema=RESULT_SCHEMA), CATALOGUE)


def lists(sizes: dict[str, int]) -> list[Row]:
    return [("list_size", "practice", p, float(n), None, float(n)) for p, n in sizes.items()]


def change(values: dict[tuple[str, str], float]) -> list[Row]:
    """{(level, org): % change} for emergency_admissions_change."""
    return [
        ("emergency_admissions_change", level, org, None, None, v)
        for (level, org), v in values.items()
    ]


def contract(tmp_path: Path, text: str, name: str = "contract.yaml") -> LoadedContract:
    path = tmp_path / name
    path.write_text(text)
    return load_contract(path)


HEAD = """\
id: T-1
name: Test
model: {model}
commissioner: {{code: S1, name: Sub-ICB One}}
term: {{start: 2024-04-01, end: 2025-03-31}}
"""


def head(model: str = "enhanced_service") -> str:
    return HEAD.format(model=model)
