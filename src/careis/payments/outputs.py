"""Writing the payments stage's outputs: every statement line, one statement per provider (a
practice's in its own folder), per-provider totals, the ledger and its balances, and the
memberships each practice was judged with.

Why here: `careis run` and `careis pay` write the same files, `careis contracts compare` and
`careis pay diff` read them back (through `careis.layout`), and the columns of a statement
are the payments layer's to define.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from careis.contracts.schema import Contract
from careis.csvio import write_rows
from careis.layout import (
    LEDGER,
    LEDGER_SUMMARY,
    MEMBERSHIPS,
    PAYMENT_FILE,
    PAYMENT_SUMMARY,
    STATEMENTS,
    RunLayout,
)
from careis.money import ZERO
from careis.payments.calculate import StatementLine
from careis.payments.ledger import LEDGER_FIELDS, LedgerEntry, PaymentRun, balances

STATEMENT_FIELDS = [
    "provider", "pcn", "federation", "component_id", "component_type", "description", "measure_id",
    "measure_level", "measure_org", "measure_value", "test", "met", "quantity", "rate", "amount", "evidence",
    "kind", "paid",
]  # fmt: skip
MEMBERSHIP_FIELDS = ["practice_code", "level", "group_code", "joined"]
LEDGER_SUMMARY_FIELDS = ["account", "role", "received", "paid", "net"]
PAYMENT_FILE_FIELDS = [
    "provider", "name", "payment_date", "amount", "paid_by", "paid_to", "contract", "period_start",
    "period_end",
]  # fmt: skip

Membership = dict[tuple[str, str], str]


def statement_rows(lines: Iterable[StatementLine], membership: Membership) -> list[dict[str, str]]:
    """Each line as a row, with the PCN and federation its provider was judged with."""
    rows = []
    for line in lines:
        row = line.as_row()
        row["pcn"] = membership.get((line.provider, "pcn"), "")
        row["federation"] = membership.get((line.provider, "federation"), "")
        rows.append(row)
    return rows


def _summary_entry(provider: str, rows: list[dict[str, str]]) -> dict[str, str]:
    """One provider's totals by component, and overall."""
    entry = {"provider": provider, "pcn": rows[0]["pcn"], "federation": rows[0]["federation"]}
    total = ZERO
    for r in rows:
        amount = Decimal(r["amount"])
        entry[r["component_id"]] = f"{Decimal(entry.get(r['component_id'], '0')) + amount:.2f}"
        total += amount
    entry["total"] = f"{total:.2f}"
    return entry


def write_statements(
    lines: list[StatementLine],
    membership: Membership,
    layout: RunLayout,
    practices: set[str] | None = None,
) -> None:
    """Every line in one file; one statement per provider (a practice's in its own folder)."""
    rows = statement_rows(lines, membership)
    write_rows(rows, STATEMENT_FIELDS, layout.file(STATEMENTS))
    by_provider: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_provider.setdefault(row["provider"], []).append(row)
    summary = []
    for provider, prow in sorted(by_provider.items()):
        if practices is None or provider in practices:
            folder = layout.practice_dir(provider)
        else:  # a holder, subcontractor or alliance member that is not a practice
            folder = layout.provider_dir(provider)
        write_rows(prow, STATEMENT_FIELDS, folder / "statement.csv")
        summary.append(_summary_entry(provider, prow))
    comp_ids = list(dict.fromkeys(line.component_id for line in lines))
    fields = ["provider", "pcn", "federation", *comp_ids, "total"]
    write_rows(summary, fields, layout.file(PAYMENT_SUMMARY))


def _role(account: str, commissioner: str) -> str:
    if account == commissioner:
        return "commissioner"
    return "holding" if ":" in account else "provider"


def ledger_summary(ledger: list[LedgerEntry], commissioner: str) -> list[dict[str, str]]:
    """Per-account received, paid and net, and a TOTAL row that shows the ledger balances."""
    received: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    for e in ledger:
        paid[e.payer] = paid.get(e.payer, ZERO) + e.amount
        received[e.payee] = received.get(e.payee, ZERO) + e.amount
    net = balances(ledger)
    rows = [
        {
            "account": acc,
            "role": _role(acc, commissioner),
            "received": f"{received.get(acc, Decimal(0)):.2f}",
            "paid": f"{paid.get(acc, Decimal(0)):.2f}",
            "net": f"{value:.2f}",
        }
        for acc, value in net.items()
    ]
    total = {
        "account": "TOTAL",
        "role": "check",
        "received": f"{sum(received.values(), Decimal(0)):.2f}",
        "paid": f"{sum(paid.values(), Decimal(0)):.2f}",
        "net": f"{sum(net.values(), Decimal(0)):.2f}",
    }
    return [*rows, total]


def write_ledger(run: PaymentRun, commissioner: str, layout: RunLayout) -> None:
    """The ledger of movements, and per-account totals that show it balances to zero."""
    write_rows([e.as_row() for e in run.ledger], LEDGER_FIELDS, layout.file(LEDGER))
    rows = ledger_summary(run.ledger, commissioner)
    write_rows(rows, LEDGER_SUMMARY_FIELDS, layout.file(LEDGER_SUMMARY))


def write_memberships(
    membership: Membership, joined: dict[tuple[str, str], dt.date], layout: RunLayout
) -> None:
    """The group each practice was judged with at each level, and when a joiner joined."""
    rows = [
        {
            "practice_code": practice,
            "level": level,
            "group_code": group,
            "joined": joined[(practice, level)].isoformat() if (practice, level) in joined else "",
        }
        for (practice, level), group in sorted(membership.items())
    ]
    write_rows(rows, MEMBERSHIP_FIELDS, layout.file(MEMBERSHIPS))


def party_names(contract: Contract, org_names: Mapping[str, str]) -> dict[str, str]:
    """Code -> name for every party a run can pay or be paid by: the data's organisations
    (practices, PCNs, federations), then the contract's own parties (commissioner, holder,
    subcontractors, alliance members), whose names the data may not hold."""
    names = dict(org_names)
    parties = [(contract.commissioner.code, contract.commissioner.name)]
    if contract.holder is not None:
        parties.append((contract.holder.party.code, contract.holder.party.name))
    parties += [(s.party.code, s.party.name) for s in contract.subcontractors]
    if contract.alliance is not None:
        parties += [(m.party.code, m.party.name) for m in contract.alliance.members]
    for code, name in parties:
        if name and not names.get(code):
            names[code] = name
    return names


def payment_file_rows(
    ledger: list[LedgerEntry], contract: Contract, names: Mapping[str, str]
) -> list[dict[str, str]]:
    """What each provider nets on each payment date: every movement of its account that day
    (received, less what it passes on, has withheld, pays as a fee or into a pool), with the
    accounts that paid it (`paid_by`) and those it paid (`paid_to`). A negative amount is
    money the provider pays (an alliance member's share of a loss, a claw-back).

    A provider's rows sum to its ledger net, which every run checks equals its statement total
    (`ledger.reconcile`). The commissioner and holding accounts (`POOL:`, `WITHHOLD:`) are not
    providers and have no rows; in holder models the holder's row is what it keeps, and
    ledger.csv shows the money it passes on.
    """
    commissioner = contract.commissioner.code
    net: dict[tuple[str, dt.date], Decimal] = {}
    payers: dict[tuple[str, dt.date], set[str]] = {}
    payees: dict[tuple[str, dt.date], set[str]] = {}
    for e in ledger:
        if _role(e.payee, commissioner) == "provider":
            key = (e.payee, e.date)
            net[key] = net.get(key, ZERO) + e.amount
            payers.setdefault(key, set()).add(e.payer)
        if _role(e.payer, commissioner) == "provider":
            key = (e.payer, e.date)
            net[key] = net.get(key, ZERO) - e.amount
            payees.setdefault(key, set()).add(e.payee)
    return [
        {
            "provider": provider,
            "name": names.get(provider, ""),
            "payment_date": day.isoformat(),
            "amount": f"{amount:.2f}",
            "paid_by": ";".join(sorted(payers.get((provider, day), ()))),
            "paid_to": ";".join(sorted(payees.get((provider, day), ()))),
            "contract": contract.id,
            "period_start": contract.term.start.isoformat(),
            "period_end": contract.term.end.isoformat(),
        }
        for (provider, day), amount in sorted(net.items())
    ]


def write_payment_file(
    run: PaymentRun, contract: Contract, names: Mapping[str, str], layout: RunLayout
) -> None:
    """payments/payment_file.csv: one row per provider and payment date, named, for finance."""
    rows = payment_file_rows(run.ledger, contract, names)
    write_rows(rows, PAYMENT_FILE_FIELDS, layout.file(PAYMENT_FILE))
