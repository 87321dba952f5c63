"""Compare contract models on the same locality and the same outcomes.

Why: choosing between an enhanced service, a prime contractor, an alliance or an accountable
care organisation is a choice about who receives the money and who carries the risk. The
clearest way to show that is to pay every candidate contract from the same measure results,
then move the outcome (emergency admissions) up and down and watch each party's net position
change. A party whose net moves with outcomes carries risk; one whose net does not, does not.

Method (documented in docs/payments.md):
- Inputs: the exact measure results and practice memberships of a finished run
  (`measures/results.csv`, `payments/memberships.csv`), so every contract sees the same data.
- Scenarios: performance-period admissions scaled by (1 + s/100) for each s (e.g. -10 = 10%
  fewer admissions than observed), at every level; the change measure follows
  (new change = (1 + old/100) x (1 + s/100) - 1).
- Monte Carlo: each draw scales each practice's admissions by 1 + c + e_p, with c ~ N(0, sd
  common) shared by all practices and e_p ~ N(0, sd practice) its own; group rows scale by the
  admissions-weighted mean of their practices' factors. A seeded generator makes the range
  reproducible: same inputs, same seed, same figures.
- A party's surplus (+) or deficit (-) in a scenario is its net receipts minus its net receipts
  with outcomes as observed.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from careis import csvio
from careis.contracts.schema import LoadedContract, load_contract
from careis.errors import CareisError, ConfigError
from careis.layout import COMPARE_RANGES, COMPARE_SCENARIOS, MEMBERSHIPS, RESULTS, RunLayout
from careis.measures.results import RESULT_SCHEMA, MeasureInfo, MeasureResults
from careis.money import ZERO
from careis.payments.calculate import evaluate
from careis.payments.ledger import balances

PRACTICES = "practices"


@dataclass(frozen=True)
class RunInputs:
    """What a finished run holds that every compared contract is paid from."""

    rows: list[dict[str, Any]]
    membership: dict[tuple[str, str], str]
    joined: dict[tuple[str, str], dt.date]
    practices: list[str]


def read_run(run: Path) -> RunInputs:
    layout = RunLayout(run)
    results_csv, members_csv = layout.file(RESULTS), layout.file(MEMBERSHIPS)
    for path in (results_csv, members_csv):
        if not path.is_file():
            raise CareisError(
                f"{path} not found: not the output folder of a payment run.",
                fix="run `careis pay CONFIG` (or `careis run`) first and give its output folder.",
            )
    rows: list[dict[str, Any]] = []
    with results_csv.open(encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            rows.append(
                {
                    "measure_id": r["measure_id"],
                    "period": r["period"],
                    "period_start": dt.date.fromisoformat(r["period_start"]),
                    "period_end": dt.date.fromisoformat(r["period_end"]),
                    "level": r["level"],
                    "org_code": r["org_code"],
                    "numerator": float(r["numerator"]) if r["numerator"] else None,
                    "denominator": float(r["denominator"]) if r["denominator"] else None,
                    "value": float(r["value"]) if r["value"] else None,
                    "unit": r["unit"],
                }
            )
    membership: dict[tuple[str, str], str] = {}
    joined: dict[tuple[str, str], dt.date] = {}
    with members_csv.open(encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            membership[(r["practice_code"], r["level"])] = r["group_code"]
            if r["joined"]:
                joined[(r["practice_code"], r["level"])] = dt.date.fromisoformat(r["joined"])
    practices = sorted(
        {r["org_code"] for r in rows if r["measure_id"] == "list_size" and r["level"] == "practice"}
    )
    return RunInputs(rows, membership, joined, practices)


def catalogue_of(rows: list[dict[str, Any]]) -> dict[str, MeasureInfo]:
    """What a run's results.csv says of its measures: ids and units only."""
    units = {r["measure_id"]: r["unit"] for r in rows}
    return {m: MeasureInfo(m, m, "count", unit, "") for m, unit in units.items()}


def results_of(
    rows: list[dict[str, Any]], catalogue: dict[str, MeasureInfo] | None = None
) -> MeasureResults:
    """Results read back from a run's results.csv (the catalogue knows only ids and units)."""
    typed = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA).to_pylist()
    return MeasureResults.from_rows(typed, catalogue or catalogue_of(rows))


def scaled(
    inputs: RunInputs,
    factors: dict[str, float],
    measure: str = "emergency_admissions",
    *,
    base: MeasureResults | None = None,
) -> MeasureResults:
    """Results with each practice's performance-period `measure` scaled by its factor.

    `base` is `results_of(inputs.rows)` where the caller already has it: its typed rows and
    catalogue are shared by every scaled copy (see `MeasureResults.from_rows`)."""
    base = base if base is not None else results_of(inputs.rows)
    change_id = f"{measure}_change"
    perf = {
        r["org_code"]: r["numerator"] or 0.0
        for r in inputs.rows
        if r["measure_id"] == measure and r["period"] == "performance" and r["level"] == "practice"
    }
    members: dict[tuple[str, str], list[str]] = {}
    for (p, level), g in inputs.membership.items():
        members.setdefault((level, g), []).append(p)
    mean = float(np.mean(list(factors.values()))) if factors else 1.0

    cache: dict[tuple[str, str], float] = {}

    def factor(level: str, org: str) -> float:
        if level == "practice":
            return factors.get(org, 1.0)
        if (level, org) not in cache:
            group = [p for p in members.get((level, org), []) if p in factors]
            weight = sum(perf.get(p, 0.0) for p in group)
            cache[(level, org)] = (
                mean
                if not group or weight == 0
                else sum(perf.get(p, 0.0) * factors[p] for p in group) / weight
            )
        return cache[(level, org)]

    out = []
    for r in base.rows():
        row = dict(r)
        if r["measure_id"] == measure and r["period"] == "performance":
            f = factor(r["level"], r["org_code"])
            row["numerator"] = None if r["numerator"] is None else r["numerator"] * f
            row["value"] = None if r["value"] is None else r["value"] * f
        elif r["measure_id"] == change_id and r["value"] is not None:
            f = factor(r["level"], r["org_code"])
            row["value"] = ((1 + r["value"] / 100) * f - 1) * 100
        out.append(row)
    return MeasureResults.from_rows(out, base.catalogue)


def party_nets(
    loaded: LoadedContract, results: MeasureResults, inputs: RunInputs
) -> dict[str, Decimal]:
    """Net receipts per party, practices summed together; holding accounts left out."""
    run = evaluate(loaded, results, inputs.practices, inputs.membership, inputs.joined)
    out: dict[str, Decimal] = {}
    practice_set = set(inputs.practices)
    for account, net in balances(run.ledger).items():
        if ":" in account:
            continue
        key = PRACTICES if account in practice_set else account
        out[key] = out.get(key, ZERO) + net
    commissioner = loaded.contract.commissioner.code
    out.setdefault(commissioner, ZERO)
    out.setdefault(PRACTICES, ZERO)
    return out


@dataclass
class Comparison:
    scenario_rows: list[dict[str, str]]
    range_rows: list[dict[str, str]]


def compare(
    contracts: list[LoadedContract],
    inputs: RunInputs,
    scenarios: list[float],
    draws: int,
    seed: int,
    sd_common: float,
    sd_practice: float,
) -> Comparison:
    """Scenario table and Monte-Carlo range for every contract (see the module docstring)."""
    base = results_of(inputs.rows)
    scenario_rows: list[dict[str, str]] = []
    range_rows: list[dict[str, str]] = []
    rng = np.random.default_rng(seed)
    # the same draws for every contract, so differences are the contracts', not the dice's
    common = rng.normal(0.0, sd_common / 100, size=draws)
    own = rng.normal(0.0, sd_practice / 100, size=(draws, len(inputs.practices)))
    # The scaled results depend on the scenario or draw, not on the contract: built once each
    # and shared by every contract (they were rebuilt for each contract).
    by_scenario = [
        scaled(inputs, dict.fromkeys(inputs.practices, 1 + s / 100), base=base) for s in scenarios
    ]
    by_draw = [
        scaled(
            inputs,
            {
                p: max(0.0, 1 + float(common[d]) + float(own[d, i]))
                for i, p in enumerate(inputs.practices)
            },
            base=base,
        )
        for d in range(draws)
    ]
    for loaded in contracts:
        c = loaded.contract
        expected = party_nets(loaded, base, inputs)
        for s, results in zip(scenarios, by_scenario, strict=True):
            nets = party_nets(loaded, results, inputs)
            for party in sorted(set(expected) | set(nets)):
                got = nets.get(party, ZERO)
                scenario_rows.append(
                    {
                        "contract": c.id,
                        "model": c.model,
                        "scenario_admissions_percent": f"{s:+g}",
                        "party": party,
                        "net": f"{got:.2f}",
                        "surplus_vs_expected": f"{got - expected.get(party, ZERO):.2f}",
                    }
                )
        samples: dict[str, list[float]] = {p: [] for p in expected}
        for results in by_draw:
            nets = party_nets(loaded, results, inputs)
            for party, values in samples.items():
                values.append(float(nets.get(party, ZERO) - expected[party]))
        for party, values in sorted(samples.items()):
            arr = np.array(values) if values else np.zeros(1)
            p5, p50, p95 = np.percentile(arr, [5, 50, 95])
            range_rows.append(
                {
                    "contract": c.id,
                    "model": c.model,
                    "party": party,
                    "expected_net": f"{expected[party]:.2f}",
                    "surplus_p5": f"{p5:.2f}",
                    "surplus_p50": f"{p50:.2f}",
                    "surplus_p95": f"{p95:.2f}",
                    "carries_risk": "yes" if p95 - p5 >= 0.01 else "no",
                }
            )
    return Comparison(scenario_rows, range_rows)


def write_rows(rows: list[dict[str, str]], path: Path) -> None:
    """A scenario or range table (no file content when there are no rows, as before)."""
    if not rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        return
    csvio.write_rows(rows, list(rows[0]), path)


def load_alternatives(
    run_contract: LoadedContract,
    run_contract_path: Path,
    paths: list[Path],
    source: Path | None,
) -> list[LoadedContract]:
    """The run's own contract, then each other contract in `paths` (already resolved).

    A path that is the run's own contract is skipped (e.g. `careis demo --contract` one of the
    list); two contracts with one id are refused, naming `compare.contracts[i]` in `source`.
    """
    contracts = [run_contract]
    seen = {run_contract.contract.id: run_contract_path}
    for i, path in enumerate(paths):
        if path.resolve() == run_contract_path.resolve():
            continue
        other = load_contract(path)
        if other.contract.id in seen:
            raise ConfigError(
                f"contract id '{other.contract.id}' is used by {seen[other.contract.id]} too.",
                file=source,
                where=f"compare.contracts[{i}]",
                fix="compare contracts with different ids (the run's own contract is included).",
            )
        seen[other.contract.id] = path
        contracts.append(other)
    return contracts


def write_comparison(result: Comparison, layout: RunLayout) -> None:
    """compare/scenarios.csv and compare/ranges.csv."""
    write_rows(result.scenario_rows, layout.file(COMPARE_SCENARIOS))
    write_rows(result.range_rows, layout.file(COMPARE_RANGES))
