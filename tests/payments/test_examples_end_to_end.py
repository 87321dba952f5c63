"""Every example contract, end to end, on a small synthetic area.

One `careis pay` run (the module's `paid` fixture: the prime contractor, with the report and
its model comparison) is checked from the files a finance officer would open: the ledger
balances to zero, holding accounts close, each provider's statement total equals its net
receipts, patient-level data stay in practice folders, a re-run is byte-identical and a
changed contract shows up in `careis pay diff`. Every example contract is then paid from that
run's measure results and memberships with the public payments API (as `careis contracts
compare` does), and its money checked the same way; paying the run's own contract so must
give the run's statement and ledger rows exactly, which is what lets one run stand for eight.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from careis.cli import main
from careis.contracts.schema import load_contract
from careis.measures.compile import catalogue_of
from careis.measures.definitions import load_measures, shipped_library
from careis.measures.results import RESULT_SCHEMA, MeasureResults
from careis.payments.calculate import evaluate
from careis.payments.compare import RunInputs, read_run
from careis.payments.ledger import PaymentRun, balances
from careis.synth import SynthConfig, generate

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
PRACTICES = ["P82001", "P82002", "P82003", "P82004"]
RUN_CONTRACT = EXAMPLES / "prime_contractor.yaml"  # the one whose non-practice providers show
LIST_DATE = dt.date(2024, 4, 1)

# movements each model must show in its ledger
FLOWS = {
    "enhanced_service.yaml": {"payment"},
    "enhanced_service_pot.yaml": {"payment", "withhold"},
    "prime_contractor.yaml": {"payment", "subcontract", "management_fee"},
    "prime_provider.yaml": {"payment", "subcontract", "management_fee"},
    "alliance.yaml": {"payment", "pool_in", "pool_out"},
    "aco_virtual.yaml": {"payment", "pool_in", "pool_out"},
    "aco_partial.yaml": {"payment", "subcontract"},
    "aco_full.yaml": {"payment"},
}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pay-small")
    generate(SynthConfig(practices=PRACTICES, scale=0.1, seed=3), out)
    return out


def config(folder: Path, data: Path, out: Path, report: bool = True, extra: str = "") -> Path:
    path = folder / "run.yaml"
    path.write_text(
        f"""name: Small payment run
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {EXAMPLES / "enhanced_service.yaml"}
output: {{dir: {out}, report: {str(report).lower()}}}
"""
        + extra
    )
    return path


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class PaidRun:
    """The module's one `careis pay` run, and how to repeat it into the same output path."""

    folder: Path  # the run's outputs (renamed from `out`, so a re-run can use `out` again)
    out: Path  # the output path in the config (it is part of the manifest, so reruns reuse it)
    config: Path


def pay_into(run: PaidRun, contract: Path, name: str) -> Path:
    """`careis pay` the run's config with `contract`; the outputs end up in folder `name`."""
    with pytest.raises(SystemExit) as info:
        main(["pay", str(run.config), "--contract", str(contract)])
    assert info.value.code in (0, None)
    return run.out.rename(run.out.parent / name)


@pytest.fixture(scope="module")
def paid(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> PaidRun:
    base = tmp_path_factory.mktemp("paid")
    # the report's model comparison (seeded Monte Carlo) is part of what must not change
    compare = f"compare: {{contracts: [{EXAMPLES / 'alliance.yaml'}], draws: 10, seed: 3}}\n"
    cfg = config(base, small_data, base / "out", report=True, extra=compare)
    run = PaidRun(folder=base / "a", out=base / "out", config=cfg)
    pay_into(run, RUN_CONTRACT, "a")
    return run


@pytest.fixture(scope="module")
def run_results(paid: PaidRun, small_data: Path) -> tuple[MeasureResults, RunInputs]:
    """The run's measure results and memberships, as `careis contracts compare` reads them.

    Every example's list-size date is 1 April 2024 and no membership in the data starts after
    it, so the run's memberships are the ones a run of any example would have used.
    """
    members = pq.read_table(small_data / "memberships.parquet").to_pylist()
    assert max(m["valid_from"] for m in members) <= LIST_DATE
    inputs = read_run(paid.folder)
    catalogue = catalogue_of(load_measures([shipped_library()]))
    table = pa.Table.from_pylist(inputs.rows, schema=RESULT_SCHEMA)
    return MeasureResults(table, MappingProxyType(catalogue)), inputs  # type: ignore[arg-type]


def pay_example(name: str, run_results: tuple[MeasureResults, RunInputs]) -> PaymentRun:
    results, inputs = run_results
    loaded = load_contract(EXAMPLES / name)
    assert (loaded.contract.list_size_date or loaded.contract.term.start) == LIST_DATE
    return evaluate(loaded, results, inputs.practices, inputs.membership, inputs.joined)


def test_examples_are_documented_and_covered() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert names == sorted(FLOWS)
    for name in names:
        assert (EXAMPLES / name).read_text().startswith("# "), f"{name} needs a header comment"


def test_the_run_files_balance_and_patient_data_stay_in_practice_folders(paid: PaidRun) -> None:
    out = paid.folder
    ledger = rows(out / "payments" / "ledger.csv")
    summary = {r["account"]: r for r in rows(out / "payments" / "ledger_summary.csv")}
    assert summary.pop("TOTAL")["net"] == "0.00"
    for account, r in summary.items():
        if r["role"] == "holding":
            assert r["net"] == "0.00", account
    totals: dict[str, Decimal] = {}
    for r in rows(out / "payments" / "statements.csv"):
        totals[r["provider"]] = totals.get(r["provider"], Decimal(0)) + Decimal(r["amount"])
    for provider, total in totals.items():
        assert Decimal(summary.get(provider, {"net": "0"})["net"]) == total, provider
    assert FLOWS[RUN_CONTRACT.name] <= {r["movement"] for r in ledger}
    assert set(totals) - set(PRACTICES), "the prime contractor's holder is a provider too"
    for provider in totals:
        folder = "practices" if provider in PRACTICES else "payments/providers"
        assert (out / folder / provider / "statement.csv").is_file()
    assert all(Decimal(r["amount"]) > 0 for r in ledger)


def test_paying_from_the_run_results_reproduces_the_run(
    paid: PaidRun, run_results: tuple[MeasureResults, RunInputs]
) -> None:
    pay = pay_example(RUN_CONTRACT.name, run_results)
    written = rows(paid.folder / "payments" / "statements.csv")
    for r in written:
        del r["pcn"], r["federation"]
    assert [line.as_row() for line in pay.lines] == written
    assert [e.as_row() for e in pay.ledger] == rows(paid.folder / "payments" / "ledger.csv")


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_example_contract_pays_and_balances(
    name: str, run_results: tuple[MeasureResults, RunInputs]
) -> None:
    pay = pay_example(name, run_results)
    net = balances(pay.ledger)
    assert sum(net.values(), Decimal(0)) == 0
    for account, value in net.items():
        if account.startswith(("POOL:", "WITHHOLD:")):  # holding accounts close
            assert value == 0, account
    totals: dict[str, Decimal] = {}
    for line in pay.lines:
        totals[line.provider] = totals.get(line.provider, Decimal(0)) + line.amount
    assert totals
    for provider, total in totals.items():
        assert net.get(provider, Decimal(0)) == total, provider
    assert FLOWS[name] <= {e.movement for e in pay.ledger}
    assert all(e.amount > 0 for e in pay.ledger)


@pytest.mark.slow  # two more full `careis pay` runs
def test_pay_is_byte_identical_and_diff_shows_a_changed_contract(
    paid: PaidRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = tmp_path / "changed.yaml"
    changed.write_text(RUN_CONTRACT.read_text().replace('rate: "0.75"', 'rate: "0.80"'))
    runs = [paid.folder, pay_into(paid, RUN_CONTRACT, "b"), pay_into(paid, changed, "c")]

    def digest(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "run_log.json"
        }

    assert digest(runs[0]) == digest(runs[1])
    html = (runs[0] / "report.html").read_text()
    assert "Money flows and ledger" in html and "BOLFED" in html
    assert "Contract models compared" in html and (runs[0] / "compare" / "ranges.csv").is_file()
    code, stdout, _ = cli(["pay", "diff", str(runs[0]), str(runs[1])], capsys)
    assert code == 0 and "No differences" in stdout
    report = tmp_path / "diff.csv"
    code, stdout, _ = cli(["pay", "diff", str(runs[0]), str(runs[2]), "--out", str(report)], capsys)
    assert code == 1
    diffs = rows(report)
    # inputs are keyed by role (manifest), so the contract is named as the run's contract
    assert {"table": "input", "key": "contract", "difference": "content changed"}.items() <= next(
        d for d in diffs if d["table"] == "input" and d["key"] == "contract"
    ).items()
    # P82001's engagement rises by 5p a patient: the diff shows its new total and the delta
    eng = [
        d
        for d in diffs
        if d["table"] == "statement" and d["key"].startswith("P82001 | engagement | earned")
    ]
    assert len(eng) == 1 and Decimal(eng[0]["difference"]) > 0


def test_bad_contract_on_the_command_line_is_one_line(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLES / "alliance.yaml").read_text().replace("share_percent: 15", "share_percent: 20")
    )
    cfg = config(tmp_path, small_data, tmp_path / "out")
    code, _, stderr = cli(["pay", str(cfg), "--contract", str(bad)], capsys)
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "alliance shares sum to 105%, not 100%" in stderr
    code, _, stderr = cli(["demo", "--contract", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "missing.yaml" in stderr and "does not exist" in stderr


def test_contracts_compare_is_seeded_and_shows_who_carries_risk(
    paid: PaidRun, tmp_path: Path
) -> None:
    out = paid.folder
    flat = tmp_path / "flat.yaml"
    flat.write_text(
        "id: FLAT\nname: Flat fee\nmodel: enhanced_service\ncommissioner: {code: '00T'}\n"
        "term: {start: 2024-04-01, end: 2025-03-31}\n"
        "components: [{id: fee, type: engagement, basis: fixed, rate: '100'}]\n"
    )
    contracts = [str(flat), str(EXAMPLES / "alliance.yaml"), str(EXAMPLES / "aco_full.yaml")]
    outputs = []
    for name in ("c1", "c2"):
        args = ["contracts", "compare", str(out), *contracts, "--out", str(tmp_path / name)]
        args += ["--draws", "20", "--seed", "7"]
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code in (0, None)
        outputs.append(
            [
                (tmp_path / name / f).read_bytes()
                for f in ("scenarios.csv", "ranges.csv", "report.html")
            ]
        )
    assert outputs[0] == outputs[1]  # same seed, same figures
    # the page names contracts, models and parties as a commissioner reads them
    page = (tmp_path / "c1" / "report.html").read_text()
    assert "Flat fee (FLAT)" in page and "Accountable care (fully integrated)" in page
    assert "<td>BOLACO</td>" not in page and "(BOLACO)</td>" in page
    ranges = {(r["contract"], r["party"]): r for r in rows(tmp_path / "c1" / "ranges.csv")}
    # a flat fee: £100 to each of 4 practices whatever happens; nobody carries outcome risk
    assert ranges[("FLAT", "practices")]["expected_net"] == "400.00"
    assert {ranges[("FLAT", p)]["carries_risk"] for p in ("practices", "00T")} == {"no"}
    # the alliance members and the fully integrated ACO carry the admissions risk
    assert ranges[("AL-00T-2024", "RMC")]["carries_risk"] == "yes"
    assert ranges[("ACOF-00T-2024", "BOLACO")]["carries_risk"] == "yes"
    scen = rows(tmp_path / "c1" / "scenarios.csv")
    # 10% fewer admissions than observed: the ACO gains exactly what the commissioner saves
    aco = {
        r["party"]: Decimal(r["surplus_vs_expected"])
        for r in scen
        if r["contract"] == "ACOF-00T-2024" and r["scenario_admissions_percent"] == "-10"
    }
    assert aco["BOLACO"] > 0 and aco["BOLACO"] == -aco["00T"]
    assert all(
        Decimal(r["surplus_vs_expected"]) == 0
        for r in scen
        if r["scenario_admissions_percent"] == "+0"
    )


# ------------------------------------------------------------------ the report's headline
def _summary_section(report: Path) -> str:
    """The report's Summary section (from its heading to the contents list), as text."""
    html = report.read_text(encoding="utf-8")
    start = html.index('id="summary"')
    return html[start : html.index('aria-label="Contents"', start)]


def _totals(path: Path) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r in rows(path):
        out[r["provider"]] = out.get(r["provider"], Decimal(0)) + Decimal(r["amount"])
    return out


def test_report_headline_is_every_statement_and_names_every_party_paid(paid: PaidRun) -> None:
    """The prime contractor pays a holder and a subcontractor as well as the practices: the
    headline total is the sum of *all* statements and each party paid is named in it."""
    from careis.money import format_gbp

    totals = _totals(paid.folder / "payments" / "statements.csv")
    summary = _summary_section(paid.folder / "report.html")
    assert f"In total <strong>{format_gbp(sum(totals.values()))}</strong>" in summary
    contract = load_contract(RUN_CONTRACT).contract
    named = {contract.holder.party.code: contract.holder.party.name} if contract.holder else {}
    named |= {s.party.code: s.party.name for s in contract.subcontractors}
    assert named, "the prime contractor example names its holder and subcontractors"
    for code, name in named.items():
        if totals.get(code, Decimal(0)) != 0:
            assert name in summary and code in summary, code
    practices_paid = sum(1 for c, t in totals.items() if t != 0 and c not in named)
    assert f"{practices_paid} practices" in summary


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_headline_of_every_example_is_the_sum_of_its_statements(
    name: str, run_results: tuple[MeasureResults, RunInputs]
) -> None:
    """Every model: the headline's total is all statements' and every party paid is a
    recipient, named as the contract names it (a practice by its data name)."""
    from careis.report.headline import build_headline, party_roles

    pay_run = pay_example(name, run_results)
    contract = load_contract(EXAMPLES / name).contract
    practices = set(run_results[1].practices)
    headline = build_headline(contract, pay_run.lines, {}, practices)
    by_provider: dict[str, Decimal] = {}
    for line in pay_run.lines:
        by_provider[line.provider] = by_provider.get(line.provider, Decimal(0)) + line.amount
    assert headline.total == sum(by_provider.values())
    paid_to = {c for c, t in by_provider.items() if t != 0}
    assert {r.code for r in headline.recipients} == paid_to
    roles = party_roles(contract)
    for r in headline.others:
        if r.code in roles and roles[r.code][0]:
            assert r.name == roles[r.code][0]
    assert sum((r.amount for r in headline.recipients), Decimal(0)) == headline.total
