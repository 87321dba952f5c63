"""The ledger: every money movement a payment run implies, balancing to zero.

Why a ledger as well as statements: a statement says what a provider is owed; finance needs to
know who pays whom, when, and through whom. Under a prime contractor the commissioner pays the
prime, which pays each subcontractor less its fee; a withhold sits in a holding account until
reconciliation; an alliance pool is filled by the commissioner (a gain) or by the members (a
loss) and emptied by the agreed shares. Every movement is a transfer between two accounts, so
the accounts sum to zero; holding accounts (pools, withholds) must also end at zero, and each
provider's net receipts must equal its statement total. `reconcile` checks all three.

Dates: in-year lines are split over the schedule's instalments by largest remainder (so the
instalments sum exactly to the line); year-end lines move on the reconciliation date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from careis.money import ZERO, allocate

if TYPE_CHECKING:
    from careis.contracts.schema import Contract
    from careis.payments.calculate import StatementLine

LEDGER_FIELDS = ["seq", "date", "payer", "payee", "amount", "component_id", "movement", "memo"]


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of money from `payer` to `payee` (amount always positive)."""

    seq: int
    date: dt.date
    payer: str
    payee: str
    amount: Decimal
    component_id: str
    movement: str
    memo: str

    def as_row(self) -> dict[str, str]:
        return {
            "seq": str(self.seq),
            "date": self.date.isoformat(),
            "payer": self.payer,
            "payee": self.payee,
            "amount": f"{self.amount:.2f}",
            "component_id": self.component_id,
            "movement": self.movement,
            "memo": self.memo,
        }


@dataclass
class PaymentRun:
    """What a payment run produces: statement lines and the ledger that pays them."""

    lines: list[StatementLine]
    ledger: list[LedgerEntry] = field(default_factory=list)
    practices: list[str] = field(default_factory=list)  # the practices party to the contract


def pool_account(component_id: str) -> str:
    return f"POOL:{component_id}"


def withhold_account(component_id: str) -> str:
    return f"WITHHOLD:{component_id}"


def payment_dates(contract: Contract, paid: str) -> list[tuple[dt.date, Decimal]]:
    """(date, weight) pairs for a line paid in year or at year end."""
    reconciliation = contract.schedule.reconciliation_date or contract.term.end
    if paid not in ("in_year", "year_end"):  # a line paid on one day (a milestone reached)
        return [(dt.date.fromisoformat(paid), Decimal(100))]
    if paid == "in_year" and contract.schedule.instalments:
        return [(i.date, i.percent) for i in contract.schedule.instalments]
    return [(reconciliation, Decimal(100))]


def _split(contract: Contract, paid: str, amount: Decimal) -> list[tuple[dt.date, Decimal]]:
    dates = payment_dates(contract, paid)
    if len(dates) == 1 or amount == 0:
        return [(dates[0][0], amount)]
    weights = {i: w for i, (_, w) in enumerate(dates)}
    parts = allocate(amount, weights, list(range(len(dates))))
    return [(dates[i][0], parts[i]) for i in range(len(dates))]


def build_ledger(contract: Contract, lines: Iterable[StatementLine]) -> list[LedgerEntry]:
    """Every movement implied by the statement lines, aggregated and numbered."""
    commissioner = contract.commissioner.code
    holder = contract.holder.party.code if contract.holder is not None else None
    reconciliation = contract.schedule.reconciliation_date or contract.term.end
    moves: dict[tuple[dt.date, str, str, str, str], Decimal] = {}
    memos: dict[tuple[dt.date, str, str, str, str], str] = {}

    def transfer(
        day: dt.date, payer: str, payee: str, amount: Decimal, cid: str, movement: str, memo: str
    ) -> None:
        if amount == 0:
            return
        if amount < 0:
            payer, payee, amount = payee, payer, -amount
        key = (day, payer, payee, cid, movement)
        moves[key] = moves.get(key, ZERO) + amount
        memos.setdefault(key, memo)

    withheld: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        cid, who = line.component_id, line.provider
        for day, part in _split(contract, line.paid, line.amount):
            if line.kind in ("earned", "on_account", "recovery"):
                what = "payment" if line.kind == "earned" else line.kind
                if holder is not None and who != holder:
                    transfer(
                        day,
                        commissioner,
                        holder,
                        part,
                        cid,
                        what,
                        "to the holder for its subcontractors",
                    )
                    transfer(
                        day,
                        holder,
                        who,
                        part,
                        cid,
                        "subcontract" if what == "payment" else what,
                        "holder pays the subcontractor",
                    )
                else:
                    transfer(day, commissioner, who, part, cid, what,
                             "commissioner pays the provider")  # fmt: skip
            elif line.kind == "management_fee":
                assert holder is not None
                transfer(day, who, holder, -part, cid, "management_fee", "fee kept by the holder")
            elif line.kind == "withhold":
                transfer(
                    day,
                    who,
                    withhold_account(cid),
                    -part,
                    cid,
                    "withhold",
                    "withheld until reconciliation",
                )
                withheld[(cid, who)] = withheld.get((cid, who), ZERO) - part
            elif line.kind == "release":
                transfer(
                    day,
                    withhold_account(cid),
                    who,
                    part,
                    cid,
                    "release",
                    "withhold released: target met",
                )
                withheld[(cid, who)] = withheld.get((cid, who), ZERO) - part
            elif line.kind == "pool":
                if part > 0:
                    transfer(
                        day,
                        commissioner,
                        pool_account(cid),
                        part,
                        cid,
                        "pool_in",
                        "gain share into the pool",
                    )
                    transfer(
                        day,
                        pool_account(cid),
                        who,
                        part,
                        cid,
                        "pool_out",
                        "pool paid out by agreed share",
                    )
                else:
                    transfer(
                        day,
                        who,
                        pool_account(cid),
                        -part,
                        cid,
                        "pool_in",
                        "risk share: member pays its share of the loss",
                    )
                    transfer(
                        day,
                        pool_account(cid),
                        commissioner,
                        -part,
                        cid,
                        "pool_out",
                        "loss share returned to the commissioner",
                    )
            elif line.kind != "fee_retained":  # fee_retained: the holder already holds its fees
                raise ValueError(f"no money flow for statement line kind '{line.kind}'")
    for (cid, who), left in sorted(withheld.items()):
        transfer(
            reconciliation,
            withhold_account(cid),
            commissioner,
            left,
            cid,
            "clawback",
            f"withhold from {who} not released",
        )
    out = []
    for seq, key in enumerate(sorted(moves), start=1):
        day, payer, payee, cid, movement = key
        out.append(LedgerEntry(seq, day, payer, payee, moves[key], cid, movement, memos[key]))
    return out  # fmt: skip


def balances(ledger: Iterable[LedgerEntry]) -> dict[str, Decimal]:
    """Net receipts per account (received minus paid)."""
    out: dict[str, Decimal] = {}
    for e in ledger:
        out[e.payer] = out.get(e.payer, ZERO) - e.amount
        out[e.payee] = out.get(e.payee, ZERO) + e.amount
    return dict(sorted(out.items()))


def reconcile(run: PaymentRun, commissioner: str) -> list[str]:
    """Problems with a run's money (empty when it balances). Used by the pipeline and tests."""
    problems = []
    bal = balances(run.ledger)
    if sum(bal.values(), ZERO) != 0:
        problems.append(f"the ledger does not sum to zero ({sum(bal.values(), ZERO)})")
    for account, value in bal.items():
        if account.startswith(("POOL:", "WITHHOLD:")) and value != 0:
            problems.append(f"holding account {account} ends at {value}, not zero")
    stated: dict[str, Decimal] = {}
    for line in run.lines:
        stated[line.provider] = stated.get(line.provider, ZERO) + line.amount
    for provider, total in stated.items():
        if bal.get(provider, ZERO) != total:
            problems.append(
                f"{provider}: statement total {total} but ledger net {bal.get(provider, ZERO)}"
            )
    if bal.get(commissioner, ZERO) != -sum(stated.values(), ZERO):
        problems.append("the commissioner's net outflow differs from the sum of the statements")
    return problems
