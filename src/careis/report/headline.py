"""The report's summary: who was paid what under the contract actually run, in words.

Why its own module: the headline is what a commissioner reads first and quotes; it must come
from the statements of *every* provider (a prime, a trust, an alliance member, not only the
practices) and name each party, whatever the contract model. The test
tests/report/test_headline_every_contract.py holds it to the statements for every example.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from careis.contracts.schema import Contract
from careis.money import ZERO
from careis.payments.assessable import not_assessable_note
from careis.payments.lines import StatementLine

#: Each contract model in one sentence, for readers who did not write the contract.
#: A model's short name, for table cells (the comparison page).
MODEL_NAMES: dict[str, str] = {
    "enhanced_service": "Enhanced service",
    "prime_contractor": "Prime contractor",
    "prime_provider": "Prime provider",
    "alliance": "Alliance",
    "aco_virtual": "Accountable care (virtual)",
    "aco_partial": "Accountable care (partially integrated)",
    "aco_full": "Accountable care (fully integrated)",
}

MODEL_WORDS: dict[str, str] = {
    "enhanced_service": "a local enhanced service: the commissioner pays each practice directly",
    "prime_contractor": "a prime contractor: the commissioner pays the holder, which pays the "
    "practices and subcontractors and keeps a management fee",
    "prime_provider": "a prime provider: the holder delivers services itself and subcontracts "
    "the practices",
    "alliance": "an alliance: each member keeps its own contract and the members share a "
    "risk and gain pool by agreed shares",
    "aco_virtual": "a virtual accountable care organisation: practices keep their contracts and "
    "share outcome risk through the holder",
    "aco_partial": "a partially integrated accountable care organisation: the holder is paid "
    "for some services and subcontracts the practices",
    "aco_full": "a fully integrated accountable care organisation: the holder is paid for the "
    "whole population and pays the practices",
}

#: Why a practice did not receive a performance payment, in words, by the test's parts.
WHY_MISSED = {
    (False, True): "Missed: group target",
    (True, False): "Missed: own floor",
    (False, False): "Missed: group target and own floor",
}


@dataclass(frozen=True)
class Recipient:
    """One party receiving money, named, with its role in the contract."""

    code: str
    name: str
    role: str
    amount: Decimal


@dataclass
class Headline:
    """Total paid, to whom, and whether the target was met."""

    contract_name: str
    model_words: str
    total: Decimal
    practices_paid: int
    practices_total: Decimal
    others: list[Recipient] = field(default_factory=list)
    practice_recipients: list[Recipient] = field(default_factory=list)
    performance: dict[str, int] = field(default_factory=dict)
    #: the practices whose lines could not be judged, and why, in one sentence ("" if none)
    not_assessable: str = ""

    @property
    def recipients(self) -> list[Recipient]:
        """Every party receiving money (practices and the rest), for the contents check."""
        return [*self.others, *self.practice_recipients]

    @property
    def providers_paid(self) -> int:
        return len(self.recipients)


def party_roles(contract: Contract) -> dict[str, tuple[str, str]]:
    """(name, role) of every named party of the contract, by code."""
    roles: dict[str, tuple[str, str]] = {}
    if contract.holder is not None:
        roles[contract.holder.party.code] = (contract.holder.party.name, "holder")
    for sub in contract.subcontractors:
        roles[sub.party.code] = (sub.party.name, "subcontractor")
    if contract.alliance is not None:
        for m in contract.alliance.members:
            roles[m.party.code] = (m.party.name, f"alliance member ({m.share_percent}%)")
    return roles


def performance_why(line: StatementLine) -> str:
    """'Met', 'Not assessable' (a practice in no group at the level the component is judged
    at: it missed nothing), or which part of a group-target-with-floor test was missed, from
    its test text.

    The test reads e.g. "federation F change -8.91% <= -10.00% [not met]; practice change
    -10.91% <= -5.00% [met]"; a line with one part only is simply met or missed.
    """
    if line.met == "yes":
        return "Met"
    if line.met == "not_assessable":
        return "Not assessable"
    if line.met != "no":
        return line.met.capitalize() if line.met else ""
    parts = [p for p in line.test.split("; ") if p.endswith("]")]
    if len(parts) == 2:
        group_ok, own_ok = (not p.endswith("[not met]") for p in parts)
        return WHY_MISSED.get((group_ok, own_ok), "Missed")
    return "Missed"


def build_headline(
    contract: Contract, lines: list[StatementLine], names: dict[str, str], practices: set[str]
) -> Headline:
    """The summary of a payment run from all its statement lines."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.provider] += line.amount
    roles = party_roles(contract)
    others, practice_recipients = [], []
    for code in sorted(totals):
        if totals[code] == ZERO:
            continue
        if code in practices:
            practice_recipients.append(
                Recipient(code, names.get(code, code).title(), "practice", totals[code])
            )
        else:
            name, role = roles.get(code, (names.get(code, ""), "provider"))
            others.append(Recipient(code, name or code, role, totals[code]))
    why: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.component_type == "performance" and line.kind == "earned":
            why[performance_why(line)] += 1
    return Headline(
        contract_name=contract.name,
        model_words=MODEL_WORDS.get(contract.model, contract.model.replace("_", " ")),
        total=sum(totals.values(), ZERO),
        practices_paid=len(practice_recipients),
        practices_total=sum((r.amount for r in practice_recipients), ZERO),
        others=others,
        practice_recipients=practice_recipients,
        performance=dict(sorted(why.items())),
        not_assessable=not_assessable_note(lines),
    )


def mdc_summary(spc_rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many SPC charts show a special cause of improvement or concern, or none."""
    counts: dict[str, int] = defaultdict(int)
    for row in spc_rows:
        counts[str(row.get("variation", "")) or "not charted"] += 1
    return dict(sorted(counts.items()))
