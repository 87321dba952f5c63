"""A practice's statement in the web app, rendered by the static statement's own template.

Why the report's template and not the app's own table: the statement a practice accepts in the
app must read exactly as the statement.html and statement.pdf in its folder (the same words
for each line, the same test, the same payment dates, the same run reference), so there is
one statement to query, not two. The context is the report's `statement_context`, built
from the run folder's files (statement.csv, ledger.csv and the manifest's resolved contract)
instead of the pipeline's objects; `StatementLine.from_row` and `LedgerEntry.from_row` are the
inverses of the rows the pipeline wrote.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup
from pydantic import ValidationError

from careis import layout
from careis.contracts.schema import Contract
from careis.errors import DataError
from careis.payments.ledger import LedgerEntry, PaymentRun
from careis.payments.lines import StatementLine
from careis.periods import Period
from careis.report.html import environment, scrollable_tables
from careis.report.statements import Party, StatementRun, schedule, statement_context
from careis.serve.measures import shipped_catalogue
from careis.serve.runs import RunFolder


@cache
def _environment() -> Environment:
    """The report's Jinja environment (its filters and templates), compiled once."""
    return environment()


def statement_run(folder: RunFolder) -> StatementRun:
    """What every statement of the run shares, read back from the run folder."""
    manifest = folder.manifest
    config = manifest.get("config") or {}
    try:
        contract = Contract.model_validate(folder.contract)
        perf = Period.model_validate((config.get("periods") or {}).get("performance"))
        ledger = [LedgerEntry.from_row(r) for r in folder.ledger()]
    except (ValidationError, ValueError, KeyError) as exc:
        raise DataError(
            f"the run {folder.name} has an unreadable contract, performance period or "
            f"{layout.LEDGER}: {_first_line(exc)}"
        ) from exc
    return StatementRun(
        contract=contract,
        pay_run=PaymentRun(lines=[], ledger=ledger),
        measure_names={},
        digest=str(manifest.get("inputs_sha256", "")),
        period=f"{perf.name} ({perf.start} to {perf.end})",
        careis_version=str(manifest.get("careis_version", "")),
    )


def statement_html(
    folder: RunFolder, code: str, name: str, after: dict[str, Markup],
    run: StatementRun | None = None,
) -> Markup:  # fmt: skip
    """The statement of practice `code` as statement_body.html.j2 renders it (headings one
    level down, for a page that has its own), its tables in labelled scroll regions, each
    followed by `after[table]` (the page's download links: `lines`, `when`). `run` is
    `statement_run(folder)`, which the app keeps once per registered run (`Folders`)."""
    run = run or statement_run(folder)
    try:
        lines = [StatementLine.from_row(r) for r in folder.practice_statement(code)]
    except (ValueError, KeyError) as exc:
        raise DataError(
            f"practices/{code}/statement.csv of run {folder.name} has a row that is not a "
            f"statement line: {_first_line(exc)}"
        ) from exc
    shipped = shipped_catalogue()  # a measure of the run's own library: named as the report does
    names = {m: shipped[m].name for m in {line.measure_id for line in lines} if m in shipped}
    run = replace(run, measure_names=names)
    party = Party(code, name or code, "practice", Path())
    context = statement_context(run, party, lines)
    body = _environment().get_template("statement_body.html.j2").render(**context, embedded=after)
    return Markup(scrollable_tables(body))


SCHEDULE_FIELDS = ["payment_date", "amount"]


def schedule_rows(
    folder: RunFolder, code: str, run: StatementRun | None = None
) -> list[dict[str, str]]:
    """The statement's "When it is paid" table as download rows: net money to the practice
    by payment date, from the run's ledger (the rows sum to the statement's total)."""
    ledger = (run or statement_run(folder)).pay_run.ledger
    return [
        {"payment_date": d.isoformat(), "amount": f"{a:.2f}"} for d, a in schedule(ledger, code)
    ]


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
