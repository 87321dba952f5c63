"""The procurement route under the Provider Selection Regime, walked from a decision table.

Why a table, not code: the regulations and their statutory guidance change (the guidance was
revised for the Procurement Act 2023 in April 2025). Every test, threshold, regulation
reference and notice lives in `rules/psr-2023.yaml`; this module only evaluates conditions,
asks for missing facts by name (with the question to put to the commissioner), and records the
trail of every test it made, so the decision can be published and defended (reg 24 records).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careis.commissioning.workdays import add_working_days, holidays_between, next_working_day
from careis.errors import ConfigError, MissingFactError
from careis.yamlio import load_yaml, validation_error

Condition = dict[str, Any]


class MissingRouteFact(MissingFactError):
    """A fact the route walk reached but the commissioner has not answered."""

    def __init__(self, fact: str, question: str, source: str) -> None:
        self.fact = fact
        self.question = question
        super().__init__(
            f"the route decision needs the fact '{fact}': {question}",
            file=source,
            fix=f"add '{fact}:' under 'facts:' and run again.",
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactSpec(_Model):
    question: str
    kind: Literal["bool", "money"]


class RouteSpec(_Model):
    process: str
    name: str
    obligation: Literal["must", "may", "default"]
    regulation: str
    reason: str
    when: Condition
    notices: tuple[str, ...]
    standstill_working_days: int | None = None


class KeyCriteria(_Model):
    regulation: str
    note: str
    criteria: tuple[str, ...]


class Timing(_Model):
    award_notice_days: int
    representations_extra_working_days: int


class DecisionTable(_Model):
    id: str
    version: str
    title: str
    in_force: dt.date
    older_regime: str
    facts: dict[str, FactSpec]
    derived: dict[str, dict[str, Any]]
    routes: tuple[RouteSpec, ...] = Field(min_length=1)
    key_criteria: KeyCriteria
    notices: dict[str, str]
    timing: Timing


def default_rules_path() -> Path:
    return Path(str(resources.files("careis.commissioning").joinpath("rules/psr-2023.yaml")))


def load_rules(path: str | Path | None = None) -> DecisionTable:
    """Load and check a decision table: every fact and notice it names must be declared."""
    path = Path(path) if path is not None else default_rules_path()
    data, lines = load_yaml(path)
    try:
        table = DecisionTable.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None
    known = set(table.facts) | set(table.derived)
    for name, spec in table.derived.items():
        ops = [k for k in ("subtract", "percent_change", "all", "any", "not", "fact") if k in spec]
        if len(ops) != 1:
            raise ConfigError(
                f"derived fact '{name}' must have exactly one of subtract, percent_change, all, "
                "any, not, fact.",
                file=path,
            )
        names = spec[ops[0]] if ops[0] in ("subtract", "percent_change") else _facts_in(spec)
        for used in names:
            if used not in known:
                raise ConfigError(
                    f"derived fact '{name}' uses undeclared fact '{used}'.", file=path
                )
    for route in table.routes:
        for name in _facts_in(route.when):
            if name not in known:
                raise ConfigError(
                    f"route '{route.process}' tests undeclared fact '{name}'.",
                    file=path,
                    fix="declare it under 'facts:' or 'derived:'.",
                )
        for notice in route.notices:
            if notice not in table.notices:
                raise ConfigError(
                    f"route '{route.process}' names undeclared notice '{notice}'.", file=path
                )
    return table


def _facts_in(cond: Condition) -> list[str]:
    if "fact" in cond:
        return [str(cond["fact"])]
    out: list[str] = []
    for key in ("all", "any"):
        for sub in cond.get(key, []):
            out += _facts_in(sub)
    if "not" in cond:
        out += _facts_in(cond["not"])
    return out


def describe(cond: Condition) -> str:
    """A condition in words: 'existing_provider is true', 'not (considerable_change is true)'."""
    if "all" in cond:
        return " and ".join(describe(c) for c in cond["all"]) or "nothing"
    if "any" in cond:
        return "(" + " or ".join(describe(c) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"not ({describe(cond['not'])})"
    for key, word in (("is", "is"), ("at_least", ">="), ("below", "<")):
        if key in cond:
            value = str(cond[key]).lower() if key == "is" else f"{cond[key]:,}"
            return f"{cond['fact']} {word} {value}"
    return str(cond.get("fact", "?"))


@dataclass(frozen=True)
class Test:
    """One test the walk made: the fact, its value and whether the condition held."""

    fact: str
    condition: str
    value: Any
    held: bool
    shown: str = ""  # the value as a person reads it: yes/no, £1,234.00, 15.79%


@dataclass
class _Walk:
    table: DecisionTable
    answers: dict[str, Any]
    source: str
    trail: list[Test] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    failed: str = ""

    def value(self, name: str) -> Any:
        if name in self.cache:
            return self.cache[name]
        if name in self.table.derived:
            value = self._derive(name, self.table.derived[name])
        elif name in self.table.facts:
            value = self._answer(name, self.table.facts[name])
        else:  # checked when the table is loaded
            raise ConfigError(f"unknown fact '{name}'.", file=self.source)
        self.cache[name] = value
        return value

    def _answer(self, name: str, spec: FactSpec) -> Any:
        if name not in self.answers or self.answers[name] is None:
            raise MissingRouteFact(name, spec.question, self.source)
        raw = self.answers[name]
        if spec.kind == "bool":
            if not isinstance(raw, bool):
                raise ConfigError(
                    f"fact '{name}' must be true or false (got {raw!r}).", file=self.source
                )
            return raw
        try:
            money = Decimal(str(raw).replace(",", "").replace("£", ""))
        except InvalidOperation:
            raise ConfigError(
                f"fact '{name}' must be an amount in £ (got {raw!r}).", file=self.source
            ) from None
        if money < 0:
            raise ConfigError(f"fact '{name}' must not be negative.", file=self.source)
        return money

    def _derive(self, name: str, spec: dict[str, Any]) -> Any:
        if "subtract" in spec:
            a, b = (self.value(n) for n in spec["subtract"])
            return a - b
        if "percent_change" in spec:
            new, old = (self.value(n) for n in spec["percent_change"])
            if old == 0:
                return Decimal("Infinity") if new > 0 else Decimal(0)
            return (new - old) / old * 100
        cond = {k: v for k, v in spec.items() if k in ("all", "any", "not", "fact")}
        return self.holds(cond)

    def show(self, name: str, value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, Decimal):
            if "percent_change" in self.table.derived.get(name, {}):
                if not value.is_finite():
                    return "no existing value"
                # six places, so a value just under a threshold never prints as the threshold
                return f"{value.quantize(Decimal('0.000001')).normalize():f}%"
            return f"£{value:,.2f}"
        return str(value)

    def holds(self, cond: Condition) -> bool:
        if "all" in cond:
            for sub in cond["all"]:
                if not self.holds(sub):
                    self.failed = describe(sub)
                    return False
            return True
        if "any" in cond:
            return any(self.holds(c) for c in cond["any"])
        if "not" in cond:
            return not self.holds(cond["not"])
        name = str(cond["fact"])
        value = self.value(name)
        if "is" in cond:
            held, text = value == cond["is"], f"is {str(cond['is']).lower()}"
        elif "at_least" in cond:
            held, text = value >= Decimal(str(cond["at_least"])), f">= {cond['at_least']:,}"
        elif "below" in cond:
            held, text = value < Decimal(str(cond["below"])), f"< {cond['below']:,}"
        else:
            raise ConfigError(f"condition on '{name}' has no test.", file=self.source)
        self.trail.append(Test(name, text, value, bool(held), self.show(name, value)))
        return bool(held)


@dataclass(frozen=True)
class Standstill:
    published: dt.date  # intention-to-award notice
    first_day: dt.date
    last_day: dt.date  # the 8th working day
    earliest_award: dt.date  # next working day after the standstill
    bank_holidays: tuple[tuple[dt.date, str], ...]
    if_representations: str


@dataclass(frozen=True)
class RouteDecision:
    """The route, its reasons, what must be weighed and published, and when."""

    service: str
    decision_date: dt.date
    rules: str  # "psr-2023 (version 2025-04)"
    process: str
    name: str
    obligation: str
    regulation: str
    reason: str
    trail: tuple[Test, ...]
    rejected: tuple[tuple[str, str], ...]  # (route name, the test that failed)
    key_criteria: tuple[str, ...]
    key_criteria_note: str
    notices: tuple[str, ...]
    standstill: Standstill | None
    award_notice_by: dt.date | None
    notes: tuple[str, ...]


class RouteRequest(_Model):
    """A route question as the commissioner writes it (YAML)."""

    service: str = Field(description="The services being arranged, in words.")
    decision_date: dt.date = Field(
        description="The day the decision is made and any intention notice published."
    )
    existing_contract: str | None = Field(
        default=None, description="Register id of the contract being replaced (fills its facts)."
    )
    existing_contract_awarded: dt.date | None = Field(
        default=None, description="When the existing contract was awarded (older regime note)."
    )
    rules: str | None = Field(
        default=None,
        description="Decision table to use, relative to this file (default: the shipped PSR table).",
    )
    facts: dict[str, bool | int | float | str | None] = Field(default_factory=dict)


def load_request(path: str | Path) -> RouteRequest:
    data, lines = load_yaml(path)
    try:
        return RouteRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None


def rules_for(request: RouteRequest, source: str | Path) -> DecisionTable:
    """The decision table a route question names (relative to its file), or the default."""
    if request.rules is None:
        return load_rules()
    return load_rules(Path(source).resolve().parent / request.rules)


def decide(
    request: RouteRequest, table: DecisionTable | None = None, source: str = "<route>"
) -> RouteDecision:
    """Walk the decision table in order; the first route whose conditions hold is the route.

    A missing fact raises `MissingFactError` naming it (only facts a test reaches are needed).
    """
    table = table or load_rules()
    unknown = sorted(set(request.facts) - set(table.facts))
    if unknown:
        import difflib

        guess = difflib.get_close_matches(unknown[0], list(table.facts), n=1)
        raise ConfigError(
            f"unknown fact '{unknown[0]}'.",
            file=source,
            fix=f"did you mean '{guess[0]}'?" if guess else "see the decision table's facts.",
        )
    rules = f"{table.id} (version {table.version})"
    notes: list[str] = []
    if request.existing_contract_awarded and request.existing_contract_awarded < table.in_force:
        notes.append(
            f"The existing contract was awarded on {request.existing_contract_awarded} under the "
            f"older regime. {table.older_regime}"
        )
    if request.decision_date < table.in_force:
        return RouteDecision(
            service=request.service, decision_date=request.decision_date, rules=rules,
            process="older_regime", name="Older regime (PPCCR 2013 / PCR 2015 light-touch)",
            obligation="", regulation="", reason=table.older_regime, trail=(), rejected=(),
            key_criteria=(), key_criteria_note="", notices=(), standstill=None,
            award_notice_by=None, notes=tuple(notes),
        )  # fmt: skip
    walk = _Walk(table, dict(request.facts), source)
    rejected: list[tuple[str, str]] = []
    for route in table.routes:
        walk.failed = ""
        if walk.holds(route.when):
            break
        rejected.append((route.name, f"needs {walk.failed or 'its conditions'}"))
    else:  # the table must end with a route that always applies
        raise ConfigError("no route applies; the decision table needs a default route.")
    standstill = None
    award_by = None
    if route.standstill_working_days:
        published = request.decision_date
        last = add_working_days(published, route.standstill_working_days)
        extra = table.timing.representations_extra_working_days
        standstill = Standstill(
            published=published,
            first_day=next_working_day(published),
            last_day=last,
            earliest_award=next_working_day(last),
            bank_holidays=tuple(holidays_between(published, last)),
            if_representations=(
                f"if representations are made, the authority reviews its decision and then "
                f"waits {extra} more working days before awarding"
            ),
        )
    else:
        award_by = request.decision_date + dt.timedelta(days=table.timing.award_notice_days)
    return RouteDecision(
        service=request.service,
        decision_date=request.decision_date,
        rules=rules,
        process=route.process,
        name=route.name,
        obligation=route.obligation,
        regulation=route.regulation,
        reason=route.reason,
        trail=tuple(walk.trail),
        rejected=tuple(rejected),
        key_criteria=table.key_criteria.criteria,
        key_criteria_note=f"{table.key_criteria.note} ({table.key_criteria.regulation})",
        notices=tuple(table.notices[n] for n in route.notices),
        standstill=standstill,
        award_notice_by=award_by,
        notes=tuple(notes),
    )


def fact_question(name: str, table: DecisionTable | None = None) -> str:
    table = table or load_rules()
    return table.facts[name].question
