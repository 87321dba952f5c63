"""Payment statements as documents: one HTML page and one PDF per provider paid, and an index.

Why documents as well as statement.csv: a practice manager files, forwards and prints a
statement; it must name the practice, say in plain English what each line measured, the
result, the test and the money, give the total and when it is paid, and carry the run's input
digest so that a query can be matched to exactly the run that produced it. The figures are the
same StatementLine objects that statement.csv is written from: nothing is recomputed here.
The PDF is made by WeasyPrint from the same page with a small print stylesheet (the full
NHS.UK stylesheet is for screens and is slow to lay out 50 times).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from careis.contracts.schema import Contract, readable_id
from careis.layout import STATEMENTS_INDEX, RunLayout
from careis.money import ZERO
from careis.payments.ledger import LedgerEntry, PaymentRun
from careis.payments.lines import StatementLine
from careis.report import pdf_pages
from careis.report.cores import available_cores
from careis.report.headline import MODEL_WORDS, party_roles, performance_why
from careis.report.html import environment, scrollable_tables

_ANCHOR = re.compile(r' id="[^"]*"')

MET_WORDS = {
    "yes": "Met",
    "no": "Not met",
    "part": "Partly met",
    "gain": "Gain shared",
    "loss": "Loss shared",
    "nil": "No gain or loss",
    "not_assessable": "Not assessable",
    "": "",
}

KIND_WORDS = {
    "earned": "",
    "management_fee": "Management fee (kept by the holder)",
    "fee_retained": "Management fee retained",
    "withhold": "Withheld pending the quality test",
    "release": "Withheld sum released",
    "pool": "Share of the pool",
    "on_account": "Paid on account",
    "recovery": "Recovered",
}


@dataclass(frozen=True)
class Party:
    """Who a statement is addressed to."""

    code: str
    name: str
    role: str
    folder: Path


def _measured(line: StatementLine, measure_names: dict[str, str]) -> str:
    if not line.measure_id:
        return ""
    name = measure_names.get(line.measure_id, line.measure_id.replace("_", " "))
    where = f" ({line.measure_level} {line.measure_org})" if line.measure_org else ""
    if line.component_type == "performance" and line.measure_org not in ("", line.provider):
        # A group target with a practice floor: the CSV's level and org are the group's, its
        # value the practice's own (the group's figure is in the test); say which is which.
        where = f" (this practice; the target is on {line.measure_level} {line.measure_org})"
    return f"{name}{where}: {line.measure_value}" if line.measure_value else f"{name}{where}"


def line_view(
    line: StatementLine, measure_names: dict[str, str], component_names: dict[str, str]
) -> dict[str, Any]:
    """One statement line in words, with its money exactly as in statement.csv."""
    met = performance_why(line) if line.component_type == "performance" else MET_WORDS[line.met]
    return {
        "component": component_names.get(line.component_id) or readable_id(line.component_id),
        "what": line.description,
        "kind": KIND_WORDS.get(line.kind, line.kind.replace("_", " ")),
        "measured": _measured(line, measure_names),
        "test": line.test.replace(" <= ", " ≤ ").replace(" >= ", " ≥ "),
        "met": met,
        "quantity": f"{line.quantity:,}",  # 10,443 as finance writes it; the CSV keeps 10443
        "rate": f"{line.rate:,}",
        "amount": line.amount,
        "evidence": line.evidence,
    }


def schedule(ledger: list[LedgerEntry], code: str) -> list[tuple[dt.date, Decimal]]:
    """Net money to `code` by payment date, from the ledger (sums to the statement total)."""
    by_date: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for e in ledger:
        if e.payee == code:
            by_date[e.date] += e.amount
        if e.payer == code:
            by_date[e.date] -= e.amount
    return sorted((d, a) for d, a in by_date.items() if a != ZERO)


@dataclass(frozen=True)
class StatementRun:
    """What every statement of a run shares."""

    contract: Contract
    pay_run: PaymentRun
    measure_names: dict[str, str]
    digest: str
    period: str
    careis_version: str


def statement_context(
    run: StatementRun, party: Party, lines: list[StatementLine]
) -> dict[str, Any]:
    """What statement_body.html.j2 shows for one party: the static page, its PDF and the web
    app's practice page all render the statement from this one context."""
    c = run.contract
    when = schedule(run.pay_run.ledger, party.code)
    names = c.component_names()
    return {
        "party": party,
        "contract": c,
        "model_words": MODEL_WORDS.get(c.model, c.model),
        "period": run.period,
        "lines": [line_view(line, run.measure_names, names) for line in lines],
        "total": sum((line.amount for line in lines), ZERO),
        "schedule": when,
        "scheduled_total": sum((a for _, a in when), ZERO),
        "digest": run.digest,
        "contact": c.commissioner.contact or c.commissioner.name or c.commissioner.code,
        "careis_version": run.careis_version,
    }


def write_statement_documents(
    run: StatementRun, parties: list[Party], *, pdf: bool = True
) -> list[Path]:
    """statement.html (and statement.pdf) in each party's folder; returns the files written."""
    env = environment()
    page = env.get_template("statement.html.j2")
    by_provider: dict[str, list[StatementLine]] = defaultdict(list)
    for line in run.pay_run.lines:
        by_provider[line.provider].append(line)
    written: list[Path] = []
    printed: list[tuple[Party, str]] = []
    for party in parties:
        ctx = statement_context(run, party, by_provider[party.code])
        party.folder.mkdir(parents=True, exist_ok=True)
        html_path = party.folder / "statement.html"
        html_path.write_text(scrollable_tables(page.render(**ctx)), encoding="utf-8")
        written.append(html_path)
        body = env.get_template("statement_body.html.j2").render(**ctx)
        printed.append((party, _ANCHOR.sub("", body)))  # one PDF layout: ids must be unique
    if pdf and printed:
        written += _pdfs(printed)
    return written


def write_pdf_document(body: str, path: Path) -> Path:
    """One document (its body HTML) as an A4 PDF with the print stylesheet; no dates inside."""
    return pdf_pages.write_document(body, path)


def _pdfs(printed: list[tuple[Party, str]]) -> list[Path]:
    """statement.pdf for every party: WeasyPrint lays statements out a batch at a time as one
    document and splits it; with many statements the batches run in parallel processes.

    Why one document per batch: WeasyPrint's cost is partly per document (the stylesheet, the
    fonts), so laying out 50 statements together and writing each one's pages is 2-3 times
    faster than 50 separate documents. Why batches in processes: the layout itself (about
    0.1 s of CPU a statement) is single-threaded Python, and 174 statements of an ICB took
    15-30 s on one core. Each statement starts a page and carries an id that depends only on
    its place in `printed`, so a statement's PDF is the same bytes whichever batch laid it out
    (tests/report/test_statement_pdfs.py checks this); the PDF has no creation date.
    """
    jobs = [(str(party.folder / "statement.pdf"), body) for party, body in printed]
    workers = _pdf_workers(len(jobs))
    if workers <= 1:
        return [Path(f) for f in pdf_pages.write_batch(jobs, 0)]
    size = -(-len(jobs) // workers)
    batches = [(jobs[s : s + size], s, s + size >= len(jobs)) for s in range(0, len(jobs), size)]
    return [Path(f) for f in pdf_pages.write_batches_in_processes(batches)]


#: Fewer statements than this are laid out in this process (a worker's start-up, about a
#: second, is more than their layout); more are shared among the machine's cores.
PARALLEL_MIN = 24


def _pdf_workers(n: int) -> int:
    """How many processes lay out `n` statements: 1 for fewer than PARALLEL_MIN, else one per
    core available, at most 4, each with at least PARALLEL_MIN / 2 statements."""
    if n < PARALLEL_MIN:
        return 1
    cores = available_cores()
    return max(1, min(cores, 4, n // (PARALLEL_MIN // 2)))


def statement_parties(
    contract: Contract, pay_run: PaymentRun, names: dict[str, str], layout: RunLayout
) -> list[Party]:
    """Every provider with statement lines, named, with its role and its folder."""
    roles = party_roles(contract)
    practices = set(pay_run.practices)
    out = []
    for code in sorted({line.provider for line in pay_run.lines}):
        if code in practices:
            name = names.get(code, code).title()
            out.append(Party(code, name, "practice", layout.practice_dir(code)))
        else:
            name, role = roles.get(code, (names.get(code, ""), "provider"))
            out.append(Party(code, name or code, role, layout.provider_dir(code)))
    return out


def write_statement_index(run: StatementRun, parties: list[Party], layout: RunLayout) -> Path:
    """payments/statements.html: every statement, its party and total, linked."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in run.pay_run.lines:
        totals[line.provider] += line.amount
    index = layout.file(STATEMENTS_INDEX)
    rows = [
        {
            "party": p,
            "total": totals[p.code],
            "href": Path(os.path.relpath(p.folder / "statement.html", index.parent)).as_posix(),
        }
        for p in parties
    ]
    html = (
        environment()
        .get_template("statements_index.html.j2")
        .render(
            rows=rows,
            contract=run.contract,
            period=run.period,
            total=sum(totals.values(), ZERO),
            digest=run.digest,
            careis_version=run.careis_version,
        )
    )
    index.write_text(scrollable_tables(html), encoding="utf-8")
    return index
