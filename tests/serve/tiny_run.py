"""A small run folder with the shape `careis run` writes, for the web app's tests.

Why hand-built: the web app only reads a run's files (statements, summary, ledger,
memberships, practice folders, manifest); building them directly keeps tests/serve to
seconds, while the file shapes follow out/demo (same columns).
"""

from __future__ import annotations

import csv
import hashlib
import json
from decimal import Decimal
from pathlib import Path

STATEMENT_COLUMNS = [
    "provider", "pcn", "federation", "component_id", "component_type", "description",
    "measure_id", "measure_level", "measure_org", "measure_value", "test", "met", "quantity",
    "rate", "amount", "evidence", "kind", "paid",
]  # fmt: skip
REGISTER_COLUMNS = [
    "register_rank", "patient_id", "age", "sex", "risk_score", "top_factors", "efi_score",
    "efi_category", "prior_emergency_admissions", "prior_ae_attendances", "n_conditions",
    "care_home", "housebound",
]  # fmt: skip
#: practice -> (PCN, federation, list size, admissions change %)
PRACTICES = {
    "A00001": ("U00001", "FEDA", 1000, "-12.00"),
    "A00002": ("U00001", "FEDA", 2000, "-3.00"),
    "A00003": ("U00002", "FEDB", 1500, "-11.00"),
    "A00004": ("U00002", "FEDB", 500, "-9.00"),
}
COMMISSIONER = "00T"
#: The bytes standing for the first practice's statement.pdf (the app serves the file as is).
STATEMENT_PDF = b"%PDF-1.7\n% tiny run statement\n%%EOF\n"
#: HTML in a name the pages show: it must come out escaped.
COMMISSIONER_NAME = 'Tiny <script>alert("x")</script> ICB'


def _write(path: Path, columns: list[str], rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _lines(code: str, sizes: dict[str, int]) -> list[dict[str, object]]:
    pcn, fed, size, change = PRACTICES[code]
    size = sizes.get(code, size)
    met = "yes" if Decimal(change) <= -5 else "no"
    earned = Decimal(size) * 2 if met == "yes" else Decimal("0")
    base = {"provider": code, "pcn": pcn, "federation": fed, "kind": "earned"}
    return [
        {**base, "component_id": "engagement", "component_type": "engagement",
         "description": "Taking part", "measure_id": "list_size", "measure_level": "practice",
         "measure_org": code, "measure_value": size, "test": "", "met": "", "quantity": size,
         "rate": "0.75", "amount": f"{Decimal(size) * Decimal('0.75'):.2f}",
         "evidence": "measures/results.csv", "paid": "in_year"},
        {**base, "component_id": "admissions_reduction", "component_type": "performance",
         "description": "Fewer emergency admissions", "measure_id": "emergency_admissions_change",
         "measure_level": "federation", "measure_org": fed, "measure_value": change,
         "test": f"practice change {change}% <= -5.00%", "met": met, "quantity": size,
         "rate": "2.00", "amount": f"{earned:.2f}", "evidence": "measures/results.csv",
         "paid": "year_end"},
    ]  # fmt: skip


def _register(code: str) -> list[dict[str, object]]:
    return [
        {"register_rank": i, "patient_id": f"pid-{code}-{i}", "age": 70 + i, "sex": "F",
         "risk_score": "0.5", "top_factors": "frailty (eFI) (0.3)", "efi_score": "0.3",
         "efi_category": "moderate", "prior_emergency_admissions": 1, "prior_ae_attendances": 0,
         "n_conditions": 3, "care_home": 0, "housebound": 0}
        for i in (1, 2, 3)
    ]  # fmt: skip


def _manifest(name: str, scheme: str, data: str) -> dict[str, object]:
    contract = {  # a contract careis.contracts.schema.Contract reads, as a run resolves it
        "id": "TINY-" + hashlib.sha256(scheme.encode()).hexdigest()[:8], "name": scheme,
        "model": "enhanced_service",
        "term": {"start": "2024-04-01", "end": "2025-03-31"},
        "commissioner": {"code": COMMISSIONER, "kind": "sub_icb", "name": COMMISSIONER_NAME},
        "components": [
            {"id": "engagement", "type": "engagement", "name": "Engagement payment",
             "basis": "per_registered_patient", "rate": "0.75"},
            {"id": "admissions_reduction", "type": "performance",
             "name": "Fewer emergency admissions", "basis": "per_registered_patient",
             "rate": "2.00", "aggregate_level": "federation",
             "measure": "emergency_admissions_change", "target_reduction_percent": "10",
             "practice_floor_reduction_percent": "5"},
        ],
    }  # fmt: skip
    inputs = [
        {"role": "contract", "name": "", "sha256": hashlib.sha256(scheme.encode()).hexdigest()},
        {"role": "gp_data", "name": "events.csv", "sha256": hashlib.sha256(data.encode()).hexdigest()},
    ]  # fmt: skip
    config = {
        "name": name, "contract_resolved": contract,
        "periods": {"baseline": {"start": "2023-04-01", "end": "2024-03-31", "label": "2023/24"},
                    "performance": {"start": "2024-04-01", "end": "2025-03-31",
                                    "label": "2024/25"}},
        "suppression": {"low": 1, "high": 7, "round_to": 5},
    }  # fmt: skip
    return {"careis_version": "test", "config": config, "inputs": inputs}


MONTHLY_COLUMNS = ["measure_id", "period", "level", "org_code", "month_start", "numerator",
                   "denominator"]  # fmt: skip
#: A00002's admissions are 1-7 a month: its series is suppressed (not charted), as in the report.
SMALL_PRACTICE = "A00002"


def _practice_months() -> dict[str, list[tuple[int, int]]]:
    """Each practice's 24 months of (emergency admissions, person-days); FEDA's practices fall
    by a third in the performance year (special cause)."""
    per_practice: dict[str, list[tuple[int, int]]] = {}
    for code, (_, fed, size, _) in PRACTICES.items():
        series = []
        for i in range(24):
            base = 3 + i % 4 if code == SMALL_PRACTICE else size // 10 + (i * 7) % 11
            if fed == "FEDA" and i >= 12 and code != SMALL_PRACTICE:
                base = base * 2 // 3
            series.append((base, size * 30))
        per_practice[code] = series
    return per_practice


def _groups() -> dict[tuple[str, str], list[str]]:
    """(level, organisation) -> its practices: the sub-ICB, each federation, PCN and practice."""
    groups: dict[tuple[str, str], list[str]] = {("sub_icb", COMMISSIONER): list(PRACTICES)}
    for code, (pcn, fed, _, _) in PRACTICES.items():
        groups.setdefault(("federation", fed), []).append(code)
        groups.setdefault(("pcn", pcn), []).append(code)
        groups[("practice", code)] = [code]
    return groups


def _monthly() -> list[dict[str, object]]:
    """24 months of emergency admissions per practice, rolled up to PCN, federation and the
    sub-ICB."""
    per_practice = _practice_months()
    rows: list[dict[str, object]] = []
    for (level, org), codes in sorted(_groups().items()):
        for i in range(24):
            year, month = 2023 + (i + 3) // 12, (i + 3) % 12 + 1
            rows.append(
                {"measure_id": "emergency_admissions",
                 "period": "baseline" if i < 12 else "performance", "level": level,
                 "org_code": org, "month_start": f"{year}-{month:02d}-01",
                 "numerator": sum(per_practice[c][i][0] for c in codes),
                 "denominator": sum(per_practice[c][i][1] for c in codes)}
            )  # fmt: skip
    return rows


PUBLISHED_COLUMNS = [
    "measure_id", "period", "period_start", "period_end", "level", "org_code", "numerator",
    "denominator", "value", "unit", "exclusions", "lower_ci", "upper_ci", "crude_value",
    "lower_ci_998", "upper_ci_998", "ci_method", "note", "suppressed", "suppression",
]  # fmt: skip
#: The practice whose performance-year admissions `build_run(..., hidden=True)` hides in
#: published.csv, as secondary suppression would hide a cell (the fixture does not model the
#: sums that would force it): its exact count is in results.csv only, and no page or download
#: may show it.
HIDDEN_PRACTICE = "A00004"


def exact_performance() -> dict[tuple[str, str], tuple[int, float]]:
    """(level, organisation) -> exact performance-year admissions and person-years."""
    months = _practice_months()
    return {
        key: (sum(months[c][i][0] for c in codes for i in range(12, 24)),
              sum(months[c][i][1] for c in codes for i in range(12, 24)) / 365.25)
        for key, codes in _groups().items()
    }  # fmt: skip


def _published(hide: bool) -> list[dict[str, object]]:
    """The performance year's emergency admissions as published.csv holds them: counts and
    person-years rounded to 5, the rate from those; with `hide`, HIDDEN_PRACTICE's count
    hidden."""
    from careis.measures.suppression import SuppressionConfig, suppress_count

    rows: list[dict[str, object]] = []
    for (level, org), (events, years) in sorted(exact_performance().items()):
        num, den = (suppress_count(x, SuppressionConfig()) for x in (events, years))
        assert num is not None and den is not None
        hidden = hide and org == HIDDEN_PRACTICE
        rows.append(
            {"measure_id": "emergency_admissions", "period": "performance",
             "period_start": "2024-04-01", "period_end": "2025-03-31", "level": level,
             "org_code": org, "numerator": "" if hidden else f"{num:g}",
             "denominator": f"{den:g}", "value": "" if hidden else f"{num / den * 1000:.6f}",
             "unit": "per 1,000 person-years", "ci_method": "Byar", "suppressed": hidden,
             "suppression": "numerator: secondary" if hidden else ""}
        )  # fmt: skip
    return rows + _care_plans()


#: A measure with no monthly series (a proportion for the year): its page has no chart.
YEARLY_MEASURE = "care_plan"


def _care_plans() -> list[dict[str, object]]:
    """The performance year's care-plan proportion as published.csv holds it, per practice
    and group: every practice's register has 40 patients, 30 of them with a plan (each count
    a multiple of 5, so published as is)."""
    from careis.measures.stats import wilson

    rows: list[dict[str, object]] = []
    for level, org in sorted(exact_performance()):
        n = len(_groups()[(level, org)])
        num, den = 30 * n, 40 * n
        lo, hi = wilson(num, den) or (0.0, 0.0)
        rows.append(
            {"measure_id": YEARLY_MEASURE, "period": "performance", "period_start": "2024-04-01",
             "period_end": "2025-03-31", "level": level, "org_code": org, "numerator": num,
             "denominator": den, "value": f"{num / den * 100:.6f}", "unit": "%",
             "lower_ci": f"{lo * 100:.6f}", "upper_ci": f"{hi * 100:.6f}", "ci_method": "Wilson",
             "suppressed": False, "suppression": ""}
        )  # fmt: skip
    return rows


def _results() -> list[dict[str, object]]:
    """results.csv: the federations' change (what statements pay on) and the exact
    performance-year admissions behind published.csv (never shown to peers)."""
    rows: list[dict[str, object]] = [
        {"measure_id": "emergency_admissions_change", "period": "performance",
         "level": "federation", "org_code": f, "value": v}
        for f, v in (("FEDA", "-7.5"), ("FEDB", "-10.5"))
    ]  # fmt: skip
    for (level, org), (events, years) in sorted(exact_performance().items()):
        rows.append(
            {"measure_id": "emergency_admissions", "period": "performance", "level": level,
             "org_code": org, "numerator": events, "denominator": f"{years:.6f}",
             "value": f"{events / years * 1000:.6f}"}
        )  # fmt: skip
    return rows


def build_run(
    root: Path, scheme: str = "", sizes: dict[str, int] | None = None, *, hidden: bool = False
) -> Path:
    """Write one small run folder at `root` (its folder name is the run's name).

    `scheme`: the contract's name (by default "Tiny scheme <run name>", a scheme of its own);
    runs with the same scheme are re-runs of each other. `sizes`: practice list sizes that
    differ from PRACTICES (a re-run on corrected data: its data input's hash differs too).
    `hidden`: HIDDEN_PRACTICE's performance-year count is suppressed in published.csv.
    """
    sizes = sizes or {}
    lines = [line for code in PRACTICES for line in _lines(code, sizes)]
    _write(root / "payments" / "statements.csv", STATEMENT_COLUMNS, lines)
    summary = []
    for code, (pcn, fed, _, _) in PRACTICES.items():
        amount = sum(Decimal(str(x["amount"])) for x in _lines(code, sizes))
        summary.append({"provider": code, "pcn": pcn, "federation": fed, "total": f"{amount:.2f}"})
        _write(root / "practices" / code / "statement.csv", STATEMENT_COLUMNS, _lines(code, sizes))
        _write(root / "practices" / code / "register.csv", REGISTER_COLUMNS, _register(code))
        if code == next(iter(PRACTICES)):  # one practice with the run's worklist, the rest without
            from careis.risk.worklist import COLUMNS, build_worklist

            folder = root / "practices" / code
            _write(folder / "worklist.csv", COLUMNS, build_worklist(folder, {}))  # type: ignore[arg-type]
            (folder / "statement.pdf").write_bytes(STATEMENT_PDF)  # as the run's documents stage
    _write(root / "payments" / "summary.csv", ["provider", "pcn", "federation", "total"], summary)
    ledger = [
        {"seq": i, "date": "2025-03-31", "payer": COMMISSIONER, "payee": x["provider"],
         "amount": x["amount"], "component_id": x["component_id"], "movement": "payment",
         "memo": "=HYPERLINK(\"x\")" if i == 1 else "commissioner pays the provider"}
        for i, x in enumerate(lines, start=1)
    ]  # fmt: skip
    _write(root / "payments" / "ledger.csv", list(ledger[0]), ledger)
    members = [
        {"practice_code": code, "level": level, "group_code": group, "joined": ""}
        for code, (pcn, fed, _, _) in PRACTICES.items()
        for level, group in (("federation", fed), ("pcn", pcn), ("sub_icb", COMMISSIONER))
    ]
    _write(root / "payments" / "memberships.csv", list(members[0]), members)
    results_columns = ["measure_id", "period", "level", "org_code", "numerator", "denominator",
                       "value"]  # fmt: skip
    _write(root / "measures" / "results.csv", results_columns, _results())
    _write(root / "measures" / "published.csv", PUBLISHED_COLUMNS, _published(hidden))
    _write(root / "measures" / "monthly.csv", MONTHLY_COLUMNS, _monthly())
    manifest = _manifest(root.name, scheme or f"Tiny scheme {root.name}", json.dumps(sizes))
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return root
