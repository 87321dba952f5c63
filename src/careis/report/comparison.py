"""The contract-model comparison of a finished run, as CSVs and an HTML page.

Why in report/: `careis contracts compare` pays candidate contracts from one run's results
(`payments.compare`) and lays the outcome out for a commissioner (the page and its chart); the
page is the report layer's, and the CLI only passes its options here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from careis.contracts.schema import Contract
from careis.errors import ConfigError
from careis.payments.compare import Comparison

DEFAULT_SCENARIOS = (-10.0, -5.0, 0.0, 5.0, 10.0)


@dataclass(frozen=True)
class CompareSettings:
    """Scenarios (admissions vs observed, %) and the Monte-Carlo range's draws, seed and sds."""

    scenarios: tuple[float, ...] = DEFAULT_SCENARIOS
    draws: int = 200
    seed: int = 1
    sd_common: float = 5.0
    sd_practice: float = 5.0


def compare_contracts(
    run: Path, contract_files: list[Path], out: Path, settings: CompareSettings
) -> Comparison:
    """Pay each contract from `run`'s results; write scenarios.csv, ranges.csv, report.html."""
    from careis.contracts.schema import load_contract
    from careis.payments.compare import compare, read_run, write_rows

    inputs = read_run(run)
    loaded = [load_contract(path) for path in contract_files]
    ids = [c.contract.id for c in loaded]
    if len(set(ids)) != len(ids):
        raise ConfigError("two contracts share an id.", fix="give each contract its own 'id'.")
    result = compare(
        loaded, inputs, list(settings.scenarios), settings.draws, settings.seed,
        settings.sd_common, settings.sd_practice,
    )  # fmt: skip
    write_rows(result.scenario_rows, out / "scenarios.csv")
    write_rows(result.range_rows, out / "ranges.csv")
    names = compared_party_names([c.contract for c in loaded])
    contracts = {c.contract.id: c.contract.name for c in loaded}
    page = render_comparison(run, result, settings, names, contracts)
    (out / "report.html").write_text(page, encoding="utf-8")
    return result


def compared_party_names(contracts: list[Contract]) -> dict[str, str]:
    """Code -> name of every party named by any of the compared contracts."""
    from careis.payments.outputs import party_names

    names: dict[str, str] = {}
    for contract in contracts:
        for code, name in party_names(contract, {}).items():
            names.setdefault(code, name)
    return names


def render_comparison(
    run: Path,
    result: Comparison,
    settings: CompareSettings,
    names: dict[str, str] | None = None,
    contracts: dict[str, str] | None = None,
) -> str:
    """The comparison page: each party's range, the scenario table and the surplus chart.

    Parties, contracts and models are shown by name (code or id beside them), as a
    commissioner reads them; the CSVs keep the codes."""
    from careis.report.charts import surplus_by_scenario
    from careis.report.headline import MODEL_NAMES
    from careis.report.html import render

    def party(code: str) -> str:
        name = (names or {}).get(code)
        return f"{name} ({code})" if name and name != code else code

    def contract(cid: str) -> str:
        name = (contracts or {}).get(cid)
        return f"{name} ({cid})" if name and name != cid else cid

    def readable(row: Mapping[str, str]) -> dict[str, str]:
        out = dict(row)
        out["party"] = party(str(row["party"]))
        out["contract"] = contract(str(row["contract"]))
        if "model" in row:
            model = str(row["model"])
            out["model"] = MODEL_NAMES.get(model, model.replace("_", " "))
        return out

    return render(
        "compare.html.j2",
        {
            "run": str(run),
            "ranges": [readable(r) for r in result.range_rows],
            "scenarios": [readable(r) for r in result.scenario_rows],
            "chart": surplus_by_scenario(result.scenario_rows, names),
            "draws": settings.draws,
            "seed": settings.seed,
            "sd_common": settings.sd_common,
            "sd_practice": settings.sd_practice,
        },
    )
