"""A statement line, and the helpers every component kind uses to fill one in.

Why a module of its own: the component kinds (careis.payments.components), the evaluation
(careis.payments.calculate) and the ledger (careis.payments.ledger) all need the line, and the
ledger is below the evaluation. With the line here, nothing in payments imports upwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal, TypeVar, get_args

from careis.measures import exact
from careis.money import to_decimal

#: What a line is: earned (a payment for a component); management_fee / fee_retained (the
#: holder's cut, negative on the subcontractor, positive on the holder); withhold / release;
#: pool (a share of a gain or, negative, of a loss); on_account / recovery (aspiration).
LineKind = Literal[
    "earned",
    "management_fee",
    "fee_retained",
    "withhold",
    "release",
    "pool",
    "on_account",
    "recovery",
]
#: Whether the line's test was met: yes / part (a share earned) / no; gain / loss / nil for a
#: gain or risk share; not_assessable where the practice cannot be judged at all (e.g. it is
#: in no group at the level a performance component is judged at: not a miss, and paid
#: nothing); "" where the line has no test.
Met = Literal["yes", "no", "part", "gain", "loss", "nil", "not_assessable", ""]
#: When the line is paid: in_year (by the schedule's instalments), year_end (at
#: reconciliation) or on_day (on `paid_on`, e.g. the day a milestone was reached).
Paid = Literal["in_year", "year_end", "on_day"]


@dataclass(frozen=True, kw_only=True)
class StatementLine:
    """One line of a practice's payment statement (built with keywords: 16 fields)."""

    provider: str
    component_id: str
    component_type: str
    description: str
    measure_id: str = ""
    measure_level: str = ""
    measure_org: str = ""
    measure_value: str = ""
    test: str = ""
    met: Met = ""
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    evidence: str
    kind: LineKind = "earned"
    paid: Paid = "year_end"
    paid_on: dt.date | None = None  # only (and always) when paid is on_day

    def __post_init__(self) -> None:
        if (self.paid == "on_day") != (self.paid_on is not None):
            raise ValueError("a line is paid on_day exactly when it has a paid_on date")

    @property
    def paid_text(self) -> str:
        """The statement's `paid` column: in_year, year_end or the ISO date it is paid on."""
        return self.paid_on.isoformat() if self.paid_on is not None else self.paid

    def as_row(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "component_id": self.component_id,
            "component_type": self.component_type,
            "description": self.description,
            "measure_id": self.measure_id,
            "measure_level": self.measure_level,
            "measure_org": self.measure_org,
            "measure_value": self.measure_value,
            "test": self.test,
            "met": self.met,
            "quantity": str(self.quantity),
            "rate": str(self.rate),
            "amount": f"{self.amount:.2f}",
            "evidence": self.evidence,
            "kind": self.kind,
            "paid": self.paid_text,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> StatementLine:
        """A line read back from statement.csv (the inverse of `as_row`; extra columns such
        as `pcn` are ignored). Why: the web app shows a finished run's statement with the
        static statement's own wording (careis.report.statements), from its files alone.
        Raises ValueError on a row that is not a statement line."""
        paid = row.get("paid", "year_end")
        on_day = paid not in ("in_year", "year_end")
        return cls(
            provider=row["provider"], component_id=row["component_id"],
            component_type=row["component_type"], description=row["description"],
            measure_id=row.get("measure_id", ""), measure_level=row.get("measure_level", ""),
            measure_org=row.get("measure_org", ""), measure_value=row.get("measure_value", ""),
            test=row.get("test", ""), met=_choice(row.get("met", ""), MET_VALUES),
            quantity=_decimal(row["quantity"]), rate=_decimal(row["rate"]),
            amount=_decimal(row["amount"]), evidence=row.get("evidence", ""),
            kind=_choice(row.get("kind", "earned"), KIND_VALUES),
            paid="on_day" if on_day else _choice(paid, PAID_VALUES),
            paid_on=dt.date.fromisoformat(paid) if on_day else None,
        )  # fmt: skip


MET_VALUES: tuple[Met, ...] = get_args(Met)
KIND_VALUES: tuple[LineKind, ...] = get_args(LineKind)
PAID_VALUES: tuple[Paid, ...] = get_args(Paid)


_T = TypeVar("_T", bound=str)


def _choice(value: str, allowed: tuple[_T, ...]) -> _T:
    for choice in allowed:
        if value == choice:
            return choice
    raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError as exc:
        raise ValueError(f"{text!r} is not a number") from exc


def fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def as_tested(value: object) -> Decimal | None:
    """A percentage as tested: rounded half up to 2 decimal places, exactly as printed.

    Thresholds are compared with the figure on the statement, so a practice shown at -10.00%
    against a 10% target has met it. A stored float is taken as the decimal results.csv
    prints (careis.measures.exact: the one rounding rule), a Fraction exactly.
    """
    if value is None:
        return None
    if isinstance(value, Fraction):
        return exact.tested(value)
    return exact.tested(to_decimal(float(value)))  # type: ignore[arg-type]


def quantity4(value: Decimal) -> Decimal:
    """A quantity as printed on the statement: 4 decimal places, half up."""
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def evidence(measure: str, level: str, org: str) -> str:
    """Where a line's figure comes from: the row of the run's exact measure results."""
    return f"measures/results.csv [{measure} / {level} / {org}]"


def patients(practice: str) -> str:
    """The patient-level evidence, which exists only in the practice's own folder."""
    return f"; patients: practices/{practice}/register.csv"


#: A level as a sentence names it ("in no PCN", "judged at sub-ICB level").
LEVEL_WORDS = {"pcn": "PCN", "federation": "federation", "sub_icb": "sub-ICB", "icb": "ICB"}


def level_words(level: str) -> str:
    return LEVEL_WORDS.get(level, level.replace("_", " "))


def show(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
