"""Payments benchmark: every example contract paid for every practice in England.

Why synthetic results rather than a generated population: the payment layer's cost depends on
the number of practices and groups, not patients, so this builds measure results for all ~6,700
real practices (with their real PCNs, sub-ICBs and ICBs, and a made-up federation of each
sub-ICB) in seconds and times `evaluate` (statements + ledger + reconciliation) for each
example contract, then `contracts compare`'s Monte Carlo on a sample of draws.

Prints (and writes to the path given, if any) one JSON object: practices, seconds per contract, lines and ledger movements.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from careis.contracts.schema import load_contract
from careis.data.reference import practices as reference_practices
from careis.measures.results import RESULT_SCHEMA, MeasureInfo, MeasureResults
from careis.payments.calculate import evaluate
from careis.payments.compare import RunInputs, compare
from careis.payments.ledger import reconcile

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "contracts"


def build() -> tuple[list[dict[str, object]], dict[tuple[str, str], str], list[str]]:
    ref = reference_practices()
    ref = ref.dropna(subset=["pcn_code", "sub_icb_code", "icb_code"])
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    membership: dict[tuple[str, str], str] = {}
    codes = sorted(ref["practice_code"].astype(str))
    by_code = ref.set_index("practice_code")
    base = dt.date(2024, 4, 1), dt.date(2025, 3, 31)

    def row(
        measure: str, period: str, level: str, org: str, num: float, den: float | None, value: float
    ) -> None:
        rows.append({"measure_id": measure, "period": period, "period_start": base[0], "period_end": base[1],
                     "level": level, "org_code": org, "numerator": num, "denominator": den, "value": value, "unit": ""})  # fmt: skip

    groups: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for code in codes:
        rec = by_code.loc[code]
        size = float(rng.integers(2000, 20000))
        reg = float(np.ceil(size * 0.8 * 0.02))
        plans = float(rng.integers(0, int(reg) + 1))
        b_adm = float(rng.poisson(size * 0.1))
        p_adm = float(rng.poisson(size * 0.1 * rng.uniform(0.8, 1.1)))
        membership[(code, "pcn")] = str(rec["pcn_code"])
        membership[(code, "sub_icb")] = str(rec["sub_icb_code"])
        membership[(code, "icb")] = str(rec["icb_code"])
        membership[(code, "federation")] = f"FED{rec['sub_icb_code']}"
        row("list_size", "performance", "practice", code, size, None, size)
        row("register", "performance", "practice", code, reg, size * 0.8, 100 * reg / (size * 0.8))
        row("care_plan", "performance", "practice", code, plans, reg, 100 * plans / reg)
        row("emergency_admissions", "baseline", "practice", code, b_adm, size, 1000 * b_adm / size)
        row(
            "emergency_admissions",
            "performance",
            "practice",
            code,
            p_adm,
            size,
            1000 * p_adm / size,
        )
        row(
            "emergency_admissions_change",
            "performance",
            "practice",
            code,
            0,
            0,
            100 * (p_adm / max(b_adm, 1) - 1),
        )
        for level in ("pcn", "federation", "sub_icb", "icb"):
            groups.setdefault((level, membership[(code, level)]), []).append((size, b_adm, p_adm))
    for (level, org), members in groups.items():
        size = sum(m[0] for m in members)
        b = sum(m[1] for m in members)
        p = sum(m[2] for m in members)
        row("list_size", "performance", level, org, size, None, size)
        row("emergency_admissions", "baseline", level, org, b, size, 1000 * b / size)
        row("emergency_admissions", "performance", level, org, p, size, 1000 * p / size)
        row(
            "emergency_admissions_change",
            "performance",
            level,
            org,
            0,
            0,
            100 * (p / max(b, 1) - 1),
        )
    return rows, membership, codes


def main() -> None:
    rows, membership, codes = build()
    catalogue = {
        m: MeasureInfo(m, m, "count", "", "") for m in {str(r["measure_id"]) for r in rows}
    }
    results = MeasureResults(pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), catalogue)
    out: dict[str, object] = {"practices": len(codes), "contracts": {}}
    loaded_all = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        loaded = load_contract(path)
        if loaded.contract.providers.select == "listed":
            continue  # names four Bolton practices only
        loaded_all.append(loaded)
        start = time.perf_counter()
        run = evaluate(loaded, results, codes, membership)
        problems = reconcile(run, loaded.contract.commissioner.code)
        secs = time.perf_counter() - start
        assert not problems, problems
        out["contracts"][path.stem] = {  # type: ignore[index]
            "seconds": round(secs, 2),
            "lines": len(run.lines),
            "ledger": len(run.ledger),
        }
    start = time.perf_counter()
    compare(loaded_all[:2], RunInputs(rows, membership, {}, codes), [-5.0, 5.0], 5, 1, 5.0, 5.0)
    out["compare_2_contracts_2_scenarios_5_draws_s"] = round(time.perf_counter() - start, 2)
    text = json.dumps(out, indent=2) + "\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
