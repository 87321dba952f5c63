"""The worklist's rules as data: what puts a patient on a practice's worklist, and why.

Why data: which patients a practice should act on first (the post-discharge contact, a care
plan not yet agreed, a review due, the newly registered) is the commissioner's and the
practice's choice, not careis'; each rule names the measure or flag it comes from so the
practice sees why a patient is listed. The shipped rules are `worklist_rules.yaml` beside this
module; a run may name its own file (`worklist: {rules: ...}` in the run config).

A rule file is checked when it is loaded, before any data is read: a wrong field, an unknown
measure, flag or code list is one line naming the file, the line, the rule and the field.
"""

from __future__ import annotations

import difflib
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careis.errors import ConfigError
from careis.yamlio import Loc, line_of, load_yaml, validation_error

ID_PATTERN = r"^[a-z][a-z0-9_]*$"

#: The flags the risk stage computes that a rule can come from, in words.
FLAGS: dict[str, str] = {
    "register": "on the case-finding register",
    "register_entered": "entered the case-finding register at this refresh",
    "efi": "electronic Frailty Index category (65+)",
    "emergency_discharge": "discharged from an emergency admission",
}
#: The parameters each source takes ('measure' for a rule from a measure).
PARAMS: dict[str, set[str]] = {
    "register": set(),
    "register_entered": set(),
    "efi": {"categories"},
    "emergency_discharge": {"within_days", "contact_codes"},
    "measure": {"period"},
}
REQUIRED: dict[str, set[str]] = {"emergency_discharge": {"within_days"}}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleParams(_Model):
    """A rule's parameters; which ones a rule may set depends on its source (PARAMS)."""

    within_days: int | None = Field(
        default=None,
        ge=0,
        le=366,
        description="emergency_discharge: discharged this many days before the index date or fewer.",
    )
    contact_codes: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="emergency_discharge: a code list; only events with these codes are a GP "
        "contact (default: any event in the GP record).",
    )
    categories: list[Literal["fit", "mild", "moderate", "severe"]] | None = Field(
        default=None, min_length=1, description="efi: the eFI categories listed."
    )
    period: Literal["baseline", "performance"] | None = Field(
        default=None, description="measure: the period whose flags are read (performance)."
    )


class Rule(_Model):
    """One worklist rule."""

    id: str = Field(pattern=ID_PATTERN, description="Lower-case id, unique in the file.")
    reason: str = Field(min_length=1, description="Plain English shown to the practice.")
    measure: str | None = Field(default=None, description="An indicator of the measure library.")
    flag: Literal["register", "register_entered", "efi", "emergency_discharge"] | None = Field(
        default=None, description="A flag the risk stage computes (FLAGS)."
    )
    priority: int = Field(ge=1, description="Sort order: 1 first.")
    among: list[Literal["register", "frail"]] | None = Field(
        default=None,
        min_length=1,
        description="Only patients on the register and/or the frailty list (default: all).",
    )
    params: RuleParams = Field(default_factory=RuleParams)

    @property
    def source_kind(self) -> str:
        """'measure' or the flag's name."""
        return "measure" if self.measure is not None else str(self.flag)

    @property
    def source(self) -> str:
        """'measure care_plan' or 'flag efi'."""
        return f"measure {self.measure}" if self.measure is not None else f"flag {self.flag}"

    @property
    def text(self) -> str:
        """The reason with its parameters filled in, on one line."""
        values = {k: v for k, v in self.params.model_dump().items() if v is not None}
        return " ".join(self.reason.format(**values).split())

    @property
    def period(self) -> str:
        return self.params.period or "performance"


class RuleFile(_Model):
    rules: list[Rule] = Field(min_length=1)


class WorklistRules:
    """The rules of one file, checked against the run's measures and code lists."""

    def __init__(self, rules: list[Rule], path: Path, lines: dict[Loc, int]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.priority, r.id))
        self.path = path
        self._lines = lines
        self._index = {r.id: i for i, r in enumerate(rules)}
        self.left_out: list[str] = []  # shipped rules whose measure the run lacks (`check`)

    def error(self, rule: Rule, field: str, problem: str, fix: str | None = None) -> ConfigError:
        loc: Loc = ("rules", self._index[rule.id], field)
        line = line_of(self._lines, loc)
        where = ", ".join(filter(None, [f"line {line}" if line else None, f"rule '{rule.id}'"]))
        return ConfigError(f"field '{field}': {problem}", file=self.path, where=where, fix=fix)

    def check(
        self, measures: dict[str, Any], codelist_names: list[str], *, strict: bool = True
    ) -> list[str]:
        """Every measure a rule names exists and writes patient flags; every code list exists.

        `strict=False` (the shipped rules, which a run did not choose): a rule whose measure is
        not among the run's measures is left out instead, and its id returned, so a run with
        its own measure library still gets the other rules' worklist."""
        left_out = []
        for rule in self.rules:
            if rule.measure is not None and rule.measure not in measures and not strict:
                left_out.append(rule.id)
                continue
            self._check_rule(rule, measures, codelist_names)
        self.rules = [r for r in self.rules if r.id not in left_out]
        self.left_out = left_out
        return left_out

    def _check_rule(self, rule: Rule, measures: dict[str, Any], codelist_names: list[str]) -> None:
        if rule.measure is not None:
            m = measures.get(rule.measure)
            if m is None:
                close = difflib.get_close_matches(rule.measure, list(measures), n=1)
                raise self.error(
                    rule, "measure", f"no measure '{rule.measure}' in the run's measures.",
                    f"did you mean '{close[0]}'?" if close else "name a measure id of the library.",
                )  # fmt: skip
            if m.kind != "indicator" or not m.patient_flags:
                raise self.error(
                    rule, "measure",
                    f"'{rule.measure}' is a {m.kind} measure without patient flags; a rule "
                    "reads which patients count towards a measure and have not met it.",
                    "name an indicator with patient_flags (the default).",
                )  # fmt: skip
        codes = rule.params.contact_codes
        if codes is not None and codes not in codelist_names:
            raise self.error(
                rule, "params.contact_codes", f"no code list called '{codes}'.",
                "add a code,term CSV of that name to your code list folder, or correct it.",
            )  # fmt: skip


def shipped_rules() -> Path:
    """The rules file shipped with careis."""
    return Path(__file__).with_name("worklist_rules.yaml")


def load_rules(path: Path | None = None) -> WorklistRules:
    """Read and validate a rules file (default: the shipped one); errors are one line."""
    path = path or shipped_rules()
    data, lines = load_yaml(path)
    if data is None:
        raise ConfigError("the file is empty.", file=path, fix="write 'rules:' and a list.")
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise _named(validation_error(exc, data, lines, path), exc, data) from None
    seen: set[str] = set()
    for i, rule in enumerate(parsed.rules):
        if rule.id in seen:
            line = line_of(lines, ("rules", i, "id"))
            raise ConfigError(
                f"rule id '{rule.id}' is used twice.",
                file=path,
                where=f"line {line}" if line else None,
                fix="give each rule its own id.",
            )
        seen.add(rule.id)
    rules = WorklistRules(parsed.rules, path, lines)
    for rule in parsed.rules:
        _check_rule(rules, rule)
    return rules


def _check_rule(rules: WorklistRules, rule: Rule) -> None:
    """What pydantic cannot say field by field: one source, its parameters, the reason's."""
    if (rule.measure is None) == (rule.flag is None):
        raise rules.error(
            rule, "measure" if rule.measure is not None else "flag",
            "give exactly one of 'measure:' or 'flag:' (where the rule comes from).",
            f"flags: {', '.join(FLAGS)}; or the id of an indicator in the measure library.",
        )  # fmt: skip
    allowed = PARAMS[rule.source_kind]
    given = {k for k, v in rule.params.model_dump().items() if v is not None}
    for name in sorted(given - allowed):
        takes = ", ".join(sorted(allowed)) or "no parameters"
        raise rules.error(
            rule, f"params.{name}", f"does not apply to {rule.source}.", f"it takes: {takes}."
        )
    for name in sorted(REQUIRED.get(rule.source_kind, set()) - given):
        raise rules.error(
            rule, "params", f"{rule.source} needs the parameter '{name}'.", f"add '{name}:'."
        )
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(rule.reason) if f is not None}
    except ValueError as exc:
        raise rules.error(rule, "reason", f"{exc}.", "write {{ and }} for a brace.") from None
    for name in sorted(fields - given):
        raise rules.error(
            rule, "reason", f"names {{{name}}}, which is not a parameter of this rule.",
            f"use one of its params ({', '.join(sorted(given)) or 'none'}), or remove it.",
        )  # fmt: skip


def _named(err: ConfigError, exc: ValidationError, data: Any) -> ConfigError:
    """The pydantic error with the rule's id beside its line (the first error reported)."""
    errors = sorted(exc.errors(), key=lambda e: 0 if e.get("type") == "extra_forbidden" else 1)
    loc = tuple(errors[0].get("loc", ())) if errors else ()
    rules = data.get("rules") if isinstance(data, dict) else None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(rules, list):
        item = rules[loc[1]] if loc[1] < len(rules) else None
        rid = item.get("id") if isinstance(item, dict) else None
        name = f"rule '{rid}'" if rid else f"rule {loc[1] + 1}"
        where = ", ".join(filter(None, [err.where, name]))
        return ConfigError(err.problem, file=err.file, where=where, fix=err.fix)
    return err
