"""Issue 13 item 9: QOF pounds use the component's own figures first, the shipped national
figures (contracts/qof_national.csv, each with its source) next, and a contract that cannot
be priced is refused when it is loaded, in one line naming the component and the fix."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from careis.contracts.schema import QOF_FILE, QOF_NATIONAL, load_contract
from careis.errors import ConfigError

TEXT = """\
id: Q-1
name: QOF test
model: enhanced_service
commissioner: {{code: S1, name: Sub-ICB One}}
term: {{start: {year}-04-01, end: {next}-03-31}}
components:
  - id: asthma
    type: concordance
    basis: qof_points
    measure: asthma_review
    max_points: 20
    lower_threshold_percent: 40
    upper_threshold_percent: 70
{extra}"""


def write(tmp_path: Path, year: int, extra: str = "") -> Path:
    path = tmp_path / f"q{year}.yaml"
    path.write_text(TEXT.format(year=year, next=year + 1, extra=extra))
    return path


def test_a_year_without_published_figures_loads_when_the_component_states_them(
    tmp_path: Path,
) -> None:
    # 2019/20 is not in the shipped table; the component's own figures are enough.
    extra = "    point_value: '187.74'\n    average_list_size: 8682\n"
    loaded = load_contract(write(tmp_path, 2019, extra))
    comp = loaded.contract.components[0]
    assert loaded.contract.qof_figures(comp) == (Decimal("187.74"), 8682)  # type: ignore[arg-type]


def test_the_components_own_figures_come_before_the_national_ones(tmp_path: Path) -> None:
    extra = "    point_value: '100.00'\n"
    loaded = load_contract(write(tmp_path, 2022, extra))
    comp = loaded.contract.components[0]
    # own £100.00, the 2022/23 national average list 9,374
    assert loaded.contract.qof_figures(comp) == (Decimal("100.00"), 9374)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("year", "missing"),
    [
        (2019, "point_value or average_list_size"),
        (2020, "average_list_size"),
        (2025, "average_list_size"),
    ],
)
def test_an_unpriceable_contract_is_refused_at_load_time(
    tmp_path: Path, year: int, missing: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_contract(write(tmp_path, year))
    message = str(info.value)
    assert "\n" not in message and "component 'asthma'" in message
    assert missing in message and "qof_national" in message
    assert f"{year}/{(year + 1) % 100:02d}" in message


def test_2025_26_point_value_is_shipped_and_the_list_can_be_stated(tmp_path: Path) -> None:
    loaded = load_contract(write(tmp_path, 2025, "    average_list_size: 10000\n"))
    comp = loaded.contract.components[0]
    assert loaded.contract.qof_figures(comp) == (Decimal("225.49"), 10000)  # type: ignore[arg-type]


def test_every_shipped_figure_names_its_source() -> None:
    with QOF_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        start = int(row["financial_year"][:4])
        assert 2016 <= start <= 2025 and row["financial_year"] == f"{start}/{(start + 1) % 100:02d}"
        if row["point_value"]:
            assert row["point_value_source"].strip()
        if row["average_list_size"]:
            assert row["average_list_size_source"].strip()
    assert set(QOF_NATIONAL) == {int(r["financial_year"][:4]) for r in rows}
