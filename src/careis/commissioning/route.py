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

from careis.commissioning.decision_inputs import RecordFacts, Representations
from careis.commissioning.workdays import after_review, holidays_between, standstill
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
    regulation: str = Field(min_length=1, description="Where the law asks this question.")


class ConditionalNotice(_Model):
    """A notice a route needs only when a condition holds (a modification of £500,000+)."""

    notice: str
    when: Condition


class RouteSpec(_Model):
    process: str
    name: str
    obligation: Literal["must", "may", "default"]
    regulation: str = Field(min_length=1)
    reason: str
    when: Condition
    notices: tuple[str, ...]
    notices_if: tuple[ConditionalNotice, ...] = ()
    standstill_working_days: int | None = None


class KeyCriteria(_Model):
    regulation: str = Field(min_length=1)
    note: str
    criteria: tuple[str, ...]


class NoticeSpec(_Model):
    """A notice the regime requires: what to do, where the law says so, what it must contain."""

    text: str
    regulation: str = Field(min_length=1)
    content: tuple[str, ...] = ()


class Timing(_Model):
    award_notice_days: int
    representations_extra_working_days: int
    regulation: str = Field(min_length=1)


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
    notices: dict[str, NoticeSpec]
    timing: Timing


RULE_FILES = {"award": "rules/psr-2023.yaml", "modification": "rules/psr-2023-modifications.yaml"}
DERIVED_OPS = (
    "subtract", "abs_subtract", "percent_change", "abs_percent_change", "all", "any", "not",
    "fact",
)  # fmt: skip
_ARITHMETIC = ("subtract", "abs_subtract", "percent_change", "abs_percent_change")


def default_rules_path(question: str = "award") -> Path:
    """The shipped decision table for an award question or a modification question."""
    return Path(str(resources.files("careis.commissioning").joinpath(RULE_FILES[question])))


def load_rules(path: str | Path | None = None) -> DecisionTable:
    """Load and check a decision table: every fact and notice it names must be declared, and
    every derived fact must cite its regulation (facts, routes and notices are checked by the
    schema)."""
    path = Path(path) if path is not None else default_rules_path()
    data, lines = load_yaml(path)
    try:
        table = DecisionTable.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None
    known = set(table.facts) | set(table.derived)
    for name, spec in table.derived.items():
        _check_derived(name, spec, known, path)
    for route in table.routes:
        _check_route(route, table, known, path)
    return table


def _check_derived(name: str, spec: dict[str, Any], known: set[str], path: Path) -> None:
    if not str(spec.get("regulation", "")).strip():
        raise ConfigError(
            f"derived fact '{name}' has no 'regulation:'.",
            file=path,
            fix="cite the regulation the rule comes from.",
        )
    ops = [k for k in DERIVED_OPS if k in spec]
    if len(ops) != 1:
        raise ConfigError(
            f"derived fact '{name}' must have exactly one of {', '.join(DERIVED_OPS)}.",
            file=path,
        )
    names = spec[ops[0]] if ops[0] in _ARITHMETIC else _facts_in(spec)
    for used in names:
        if used not in known:
            raise ConfigError(f"derived fact '{name}' uses undeclared fact '{used}'.", file=path)


def _check_route(route: RouteSpec, table: DecisionTable, known: set[str], path: Path) -> None:
    conditions = [route.when, *(c.when for c in route.notices_if)]
    for name in (n for cond in conditions for n in _facts_in(cond)):
        if name not in known:
            raise ConfigError(
                f"route '{route.process}' tests undeclared fact '{name}'.",
                file=path,
                fix="declare it under 'facts:' or 'derived:'.",
            )
    for notice in (*route.notices, *(c.notice for c in route.notices_if)):
        if notice not in table.notices:
            raise ConfigError(
                f"route '{route.process}' names undeclared notice '{notice}'.", file=path
            )


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


def _arithmetic(op: str, new: Decimal, old: Decimal) -> Decimal:
    """subtract: new - old; percent_change: (new - old) / old in %; abs_*: the size of the
    change either way (reg 13(2)(b) speaks of the cumulative *change* in lifetime value)."""
    diff = new - old
    if op.startswith("abs_"):
        diff = abs(diff)
    if op.endswith("subtract"):
        return diff
    if old == 0:
        return Decimal("Infinity") if diff != 0 else Decimal(0)
    return diff / old * 100


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
        for op in _ARITHMETIC:
            if op in spec:
                new, old = (self.value(n) for n in spec[op])
                return _arithmetic(op, new, old)
        cond = {k: v for k, v in spec.items() if k in ("all", "any", "not", "fact")}
        return self.holds(cond)

    def show(self, name: str, value: Any) -> str:
        """A value as a person reads it: yes/no, £1,234.00, 15.79%."""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, Decimal):
            if {"percent_change", "abs_percent_change"} & set(self.table.derived.get(name, {})):
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
        test = Test(name, text, value, bool(held), self.show(name, value))
        if test not in self.trail:  # a fact two routes test is reported once
            self.trail.append(test)
        return bool(held)


@dataclass(frozen=True)
class Standstill:
    """The standstill of one award (reg 12), and what representations did to it."""

    published: dt.date  # intention-to-award notice
    first_day: dt.date  # the day after publication: the standstill begins
    last_day: dt.date  # midnight at its end: the 8th working day after the first day
    earliest_award: dt.date  # the day after the last day, if no representations are made
    bank_holidays: tuple[tuple[dt.date, str], ...]
    if_representations: str
    representations: Representations | None = None
    review_last_day: dt.date | None = None  # last of the further working days after review
    award_after_review: dt.date | None = None
    open_until: str = ""  # in words, when representations leave it open with no date yet


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
    question: str = "award"
    notice_ids: tuple[str, ...] = ()


class RouteRequest(_Model):
    """A route question as the commissioner writes it (YAML)."""

    service: str = Field(description="The services being arranged, in words.")
    question: Literal["award", "modification"] = Field(
        default="award",
        description="award: which process to follow; modification: may the contract be "
        "changed during its term (reg 13).",
    )
    decision_date: dt.date = Field(
        description="The day the decision is made (and the intention notice published, unless "
        "'notice_published' says otherwise)."
    )
    notice_published: dt.date | None = Field(
        default=None,
        description="The day the notice of intention to award is (to be) published, if not the "
        "decision date (a competition decided now awards later); the standstill counts from it.",
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
    representations: Representations | None = Field(
        default=None, description="Representations made during the standstill, if any."
    )
    record: RecordFacts = Field(
        default_factory=RecordFacts, description="Facts for the decision record and notices."
    )


def load_request(path: str | Path) -> RouteRequest:
    data, lines = load_yaml(path)
    try:
        return RouteRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, path) from None


def rules_for(request: RouteRequest, source: str | Path) -> DecisionTable:
    """The decision table a route question names (relative to its file), or the default."""
    if request.rules is None:
        return load_rules(default_rules_path(request.question))
    return load_rules(Path(source).resolve().parent / request.rules)


def _check_known(request: RouteRequest, table: DecisionTable, source: str) -> None:
    unknown = sorted(set(request.facts) - set(table.facts))
    if unknown:
        import difflib

        guess = difflib.get_close_matches(unknown[0], list(table.facts), n=1)
        raise ConfigError(
            f"unknown fact '{unknown[0]}'.",
            file=source,
            fix=f"did you mean '{guess[0]}'?" if guess else "see the decision table's facts.",
        )


def _older_regime(request: RouteRequest, table: DecisionTable, notes: list[str]) -> RouteDecision:
    return RouteDecision(
        service=request.service, decision_date=request.decision_date,
        rules=f"{table.id} (version {table.version})", process="older_regime",
        name="Older regime (PPCCR 2013 / PCR 2015 light-touch)", obligation="", regulation="",
        reason=table.older_regime, trail=(), rejected=(), key_criteria=(), key_criteria_note="",
        notices=(), standstill=None, award_notice_by=None, notes=tuple(notes),
        question=request.question,
    )  # fmt: skip


def _standstill(
    request: RouteRequest, working_days: int, table: DecisionTable, source: str
) -> Standstill:
    """Reg 12 dates, and the further wait NHS England's flowchart sets after representations."""
    dates = standstill(request.notice_published or request.decision_date, working_days)
    extra = table.timing.representations_extra_working_days
    reps = request.representations
    review_last = award_after = None
    open_until = ""
    if reps is not None:
        if not dates.begins <= reps.received <= dates.last_day:
            raise ConfigError(
                f"representations received on {reps.received} fall outside the standstill "
                f"({dates.begins} to {dates.last_day}).",
                file=source,
                where="representations.received",
                fix="representations count only if made before midnight at the end of the "
                "last day of the standstill (reg 12); correct the date or remove the block.",
            )
        if reps.decision_communicated is None:
            open_until = (
                "the standstill stays open: review the decision, tell the provider the further "
                f"decision, then wait {extra} working days before awarding"
            )
        else:
            review_last, award_after = after_review(reps.decision_communicated, extra)
        if reps.panel_requested:
            open_until = (open_until + "; " if open_until else "") + (
                "the provider has asked the Independent Patient Choice and Procurement Panel: "
                "do not award until the Panel has said whether it accepts the case and any "
                "advice it gives has been considered (careis does not date the Panel's steps)"
            )
    return Standstill(
        published=dates.published,
        first_day=dates.begins,
        last_day=dates.last_day,
        earliest_award=dates.award_from,
        bank_holidays=tuple(holidays_between(dates.begins, dates.last_day)),
        if_representations=(
            f"if representations are made, the authority reviews its decision, tells the "
            f"provider, and then waits {extra} more working days before awarding; the provider "
            "may ask the Independent Patient Choice and Procurement Panel for advice"
        ),
        representations=reps,
        review_last_day=review_last,
        award_after_review=award_after,
        open_until=open_until,
    )


def _walk_routes(walk: _Walk, table: DecisionTable) -> tuple[RouteSpec, list[tuple[str, str]]]:
    rejected: list[tuple[str, str]] = []
    for route in table.routes:
        walk.failed = ""
        if walk.holds(route.when):
            return route, rejected
        rejected.append((route.name, f"needs {walk.failed or describe(route.when)}"))
    # the table must end with a route that always applies
    raise ConfigError("no route applies; the decision table needs a default route.")


def decide(
    request: RouteRequest, table: DecisionTable | None = None, source: str = "<route>"
) -> RouteDecision:
    """Walk the decision table in order; the first route whose conditions hold is the route.

    A missing fact raises `MissingFactError` naming it (only facts a test reaches are needed).
    """
    table = table or load_rules(default_rules_path(request.question))
    _check_known(request, table, source)
    notes: list[str] = []
    if request.existing_contract_awarded and request.existing_contract_awarded < table.in_force:
        notes.append(
            f"The existing contract was awarded on {request.existing_contract_awarded} under the "
            f"older regime. {table.older_regime}"
        )
    if request.decision_date < table.in_force:
        return _older_regime(request, table, notes)
    walk = _Walk(table, dict(request.facts), source)
    route, rejected = _walk_routes(walk, table)
    notice_ids = list(route.notices)
    notice_ids += [c.notice for c in route.notices_if if walk.holds(c.when)]
    standstill_ = None
    award_by = None
    if route.standstill_working_days:
        standstill_ = _standstill(request, route.standstill_working_days, table, source)
    elif notice_ids:
        award_by = request.decision_date + dt.timedelta(days=table.timing.award_notice_days)
    return RouteDecision(
        service=request.service,
        decision_date=request.decision_date,
        rules=f"{table.id} (version {table.version})",
        process=route.process,
        name=route.name,
        obligation=route.obligation,
        regulation=route.regulation,
        reason=route.reason,
        trail=tuple(walk.trail),
        rejected=tuple(rejected),
        key_criteria=table.key_criteria.criteria,
        key_criteria_note=f"{table.key_criteria.note} ({table.key_criteria.regulation})",
        notices=tuple(table.notices[n].text for n in notice_ids),
        standstill=standstill_,
        award_notice_by=award_by,
        notes=tuple(notes),
        question=request.question,
        notice_ids=tuple(notice_ids),
    )


def fact_question(name: str, table: DecisionTable | None = None) -> str:
    table = table or load_rules()
    return table.facts[name].question
