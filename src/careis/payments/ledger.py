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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from careis.money import ZERO, allocate

if TYPE_CHECKING:
    from careis.contracts.schema import Contract
    from careis.payments.lines import Paid, StatementLine

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

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> LedgerEntry:
        """An entry read back from ledger.csv (the inverse of `as_row`); ValueError if not one."""
        try:
            amount = Decimal(row["amount"])
        except ArithmeticError as exc:
            raise ValueError(f"{row['amount']!r} is not an amount") from exc
        return cls(
            int(row["seq"]),
            dt.date.fromisoformat(row["date"]),
            row["payer"],
            row["payee"],
            amount,
            row["component_id"],
            row["movement"],
            row.get("memo", ""),
        )


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


def payment_dates(
    contract: Contract, paid: Paid, paid_on: dt.date | None = None
) -> list[tuple[dt.date, Decimal]]:
    """(date, weight) pairs for a line paid in year, at year end or on one day."""
    reconciliation = contract.schedule.reconciliation_date or contract.term.end
    if paid_on is not None:  # a line paid on one day (a milestone reached)
        return [(paid_on, Decimal(100))]
    if paid == "in_year" and contract.schedule.instalments:
        return [(i.date, i.percent) for i in contract.schedule.instalments]
    return [(reconciliation, Decimal(100))]


def _split(contract: Contract, line: StatementLine) -> list[tuple[dt.date, Decimal]]:
    dates = payment_dates(contract, line.paid, line.paid_on)
    if len(dates) == 1 or line.amount == 0:
        return [(dates[0][0], line.amount)]
    weights = {i: w for i, (_, w) in enumerate(dates)}
    parts = allocate(line.amount, weights, list(range(len(dates))))
    return [(dates[i][0], parts[i]) for i in range(len(dates))]


_Key = tuple[dt.date, str, str, str, str]


class _Book:
    """Movements aggregated by (date, payer, payee, component, movement), each with a memo."""

    def __init__(self, contract: Contract) -> None:
        self.commissioner = contract.commissioner.code
        self.holder = contract.holder.party.code if contract.holder is not None else None
        self.moves: dict[_Key, Decimal] = {}
        self.memos: dict[_Key, str] = {}
        self.withheld: dict[tuple[str, str], Decimal] = {}  # (component, provider) -> held

    def transfer(
        self,
        day: dt.date,
        payer: str,
        payee: str,
        amount: Decimal,
        cid: str,
        movement: str,
        memo: str,
    ) -> None:
        if amount == 0:
            return
        if amount < 0:
            payer, payee, amount = payee, payer, -amount
        key = (day, payer, payee, cid, movement)
        self.moves[key] = self.moves.get(key, ZERO) + amount
        self.memos.setdefault(key, memo)

    def payment(self, day: dt.date, who: str, part: Decimal, cid: str, kind: str) -> None:
        """An earned, on-account or recovery line: via the holder to a subcontractor."""
        what = "payment" if kind == "earned" else kind
        if self.holder is not None and who != self.holder:
            self.transfer(
                day,
                self.commissioner,
                self.holder,
                part,
                cid,
                what,
                "to the holder for its subcontractors",
            )
            self.transfer(
                day,
                self.holder,
                who,
                part,
                cid,
                "subcontract" if what == "payment" else what,
                "holder pays the subcontractor",
            )
        else:
            self.transfer(
                day, self.commissioner, who, part, cid, what, "commissioner pays the provider"
            )

    def withhold(self, day: dt.date, who: str, part: Decimal, cid: str, release: bool) -> None:
        """A sum withheld in year (negative) or released at reconciliation (positive)."""
        if release:
            self.transfer(
                day,
                withhold_account(cid),
                who,
                part,
                cid,
                "release",
                "withhold released: target met",
            )
        else:
            self.transfer(
                day,
                who,
                withhold_account(cid),
                -part,
                cid,
                "withhold",
                "withheld until reconciliation",
            )
        self.withheld[(cid, who)] = self.withheld.get((cid, who), ZERO) - part

    def pool(self, day: dt.date, who: str, part: Decimal, cid: str) -> None:
        """A gain share through the pool to the member, or a loss share back to the commissioner."""
        pool = pool_account(cid)
        if part > 0:
            self.transfer(
                day, self.commissioner, pool, part, cid, "pool_in", "gain share into the pool"
            )
            self.transfer(day, pool, who, part, cid, "pool_out", "pool paid out by agreed share")
        else:
            self.transfer(
                day,
                who,
                pool,
                -part,
                cid,
                "pool_in",
                "risk share: member pays its share of the loss",
            )
            self.transfer(
                day,
                pool,
                self.commissioner,
                -part,
                cid,
                "pool_out",
                "loss share returned to the commissioner",
            )

    def post(self, line: StatementLine, day: dt.date, part: Decimal) -> None:
        """The movements one part of a statement line implies."""
        cid, who = line.component_id, line.provider
        if line.kind in ("earned", "on_account", "recovery"):
            self.payment(day, who, part, cid, line.kind)
        elif line.kind == "management_fee":
            assert self.holder is not None
            self.transfer(
                day, who, self.holder, -part, cid, "management_fee", "fee kept by the holder"
            )
        elif line.kind in ("withhold", "release"):
            self.withhold(day, who, part, cid, release=line.kind == "release")
        elif line.kind == "pool":
            self.pool(day, who, part, cid)
        elif line.kind != "fee_retained":  # fee_retained: the holder already holds its fees
            raise ValueError(f"no money flow for statement line kind '{line.kind}'")

    def entries(self) -> list[LedgerEntry]:
        out = []
        for seq, key in enumerate(sorted(self.moves), start=1):
            day, payer, payee, cid, movement = key
            out.append(
                LedgerEntry(seq, day, payer, payee, self.moves[key], cid, movement, self.memos[key])
            )
        return out


def build_ledger(contract: Contract, lines: Iterable[StatementLine]) -> list[LedgerEntry]:
    """Every movement implied by the statement lines, aggregated and numbered."""
    book = _Book(contract)
    for line in lines:
        for day, part in _split(contract, line):
            book.post(line, day, part)
    reconciliation = contract.schedule.reconciliation_date or contract.term.end
    for (cid, who), left in sorted(book.withheld.items()):
        book.transfer(
            reconciliation,
            withhold_account(cid),
            book.commissioner,
            left,
            cid,
            "clawback",
            f"withhold from {who} not released",
        )
    return book.entries()


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
