"""The commissioner's register of existing contracts (CSV or YAML), validated row by row.

Why reuse `careis.contracts.common`: a GMS contract in the register and the contract a scheme
sits beside are the same thing, so the register's records are built from the shared
`ContractType`, `Party`, `Term`, `ContractValue` and `FundingStream` (one schema, not two).
What only the register needs (how a contract can be ended or varied, its services, its parent
for a subcontract) lives here.

Every bad row is reported (file, row, field, fix), not just the first, so an analyst can fix a
whole spreadsheet in one pass.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from careis.contracts.common import (
    ContractType,
    ContractValue,
    FundingStream,
    Party,
    PartyKind,
    Term,
)
from careis.errors import ConfigError
from careis.yamlio import format_loc, line_of, load_yaml


class Service(StrEnum):
    """Service areas a contract covers and a care model brings into scope."""

    PRIMARY_CARE = "primary_care"
    COMMUNITY = "community"
    MENTAL_HEALTH = "mental_health"
    ACUTE = "acute"
    SOCIAL_CARE = "social_care"
    PROACTIVE_CARE = "proactive_care"  # case finding and care planning (enhanced services)
    OTHER = "other"


class Termination(StrEnum):
    """How a contract can be ended, which decides whether the provider must consent."""

    BREACH_OR_AGREEMENT = "breach_or_agreement"  # GMS/PMS: no no-fault termination
    NOTICE = "notice"  # either party may end it on notice (needs notice_months)
    EXPIRY = "expiry"  # runs to its end date; no early no-fault termination
    EXPIRY_OR_NOTICE = "expiry_or_notice"  # time-limited, and ends early on notice


class Variation(StrEnum):
    """How a contract can be varied."""

    AGREEMENT = "agreement"  # both parties must agree (e.g. NHS Standard Contract GC13)
    COMMISSIONER_NOTICE = "commissioner_notice"  # the commissioner may vary on notice
    NATIONAL = "national"  # set nationally (GMS regulations, DES specifications)


# Defaults that follow from the kind of contract (DOMAIN.md section 5).
DEFAULT_TERMINATION: dict[ContractType, Termination] = {
    ContractType.GMS: Termination.BREACH_OR_AGREEMENT,
    ContractType.PMS: Termination.BREACH_OR_AGREEMENT,
    ContractType.APMS: Termination.EXPIRY_OR_NOTICE,
    ContractType.DES: Termination.EXPIRY,
    ContractType.NHS_STANDARD: Termination.EXPIRY_OR_NOTICE,
}
DEFAULT_VARIATION: dict[ContractType, Variation] = {
    ContractType.GMS: Variation.NATIONAL,
    ContractType.PMS: Variation.AGREEMENT,
    ContractType.DES: Variation.NATIONAL,
}


class RegisteredContract(BaseModel):
    """One existing contract in the commissioner's register."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="The commissioner's reference for the contract.")
    type: ContractType = Field(description="Kind of contract (gms, pms, apms, des, ...).")
    name: str = Field(default="", description="What the contract is for, in words.")
    provider: Party = Field(description="Who holds the contract.")
    services: tuple[Service, ...] = Field(min_length=1, description="Service areas covered.")
    funding_stream: FundingStream = Field(description="core, additional, enhanced, ...")
    value: ContractValue = Field(default_factory=ContractValue)
    term: Term
    termination: Termination | None = Field(
        default=None, description="How it can be ended; defaults by contract type."
    )
    variation: Variation = Field(
        default=Variation.AGREEMENT, description="How it can be varied; defaults by type."
    )
    parent: str | None = Field(
        default=None, description="For a subcontract: the id of the contract it sits under."
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_by_type(cls, data: Any) -> Any:
        if isinstance(data, dict):
            try:
                kind = ContractType(str(data.get("type")))
            except ValueError:
                return data
            data = dict(data)
            if data.get("termination") in (None, ""):
                data["termination"] = DEFAULT_TERMINATION.get(kind, Termination.EXPIRY_OR_NOTICE)
            if data.get("variation") in (None, ""):
                data["variation"] = DEFAULT_VARIATION.get(kind, Variation.AGREEMENT)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kind = self.type
        if kind in (ContractType.GMS, ContractType.PMS) and self.term.end is not None:
            raise ValueError(
                f"a {kind.value.upper()} contract has no end date (it ends only by breach or "
                "agreement); leave 'end' empty"
            )
        if kind == ContractType.APMS and self.term.end is None:
            raise ValueError("an APMS contract is time-limited; give its 'end' date")
        if self.termination == Termination.EXPIRY and self.term.end is None:
            raise ValueError("termination 'expiry' needs an 'end' date")
        if self.termination == Termination.NOTICE and self.term.notice_months is None:
            raise ValueError("termination 'notice' needs 'notice_months'")
        if kind == ContractType.SUBCONTRACT and not self.parent:
            raise ValueError("a subcontract needs 'parent': the id of the contract it sits under")
        return self

    @property
    def core_gp(self) -> bool:
        return self.type in (ContractType.GMS, ContractType.PMS, ContractType.APMS)

    @property
    def enhanced(self) -> bool:
        return self.type in (
            ContractType.DES,
            ContractType.LES,
            ContractType.LIS,
            ContractType.ENHANCED_SERVICE,
        )


@dataclass(frozen=True)
class RowProblem:
    """One bad row: where it is and what is wrong, in words."""

    where: str  # "row 4" (CSV) or "line 12" (YAML)
    contract_id: str
    field: str
    problem: str

    def message(self, file: str | Path) -> str:
        return ConfigError(
            f"contract '{self.contract_id}' field '{self.field}': {self.problem}.",
            file=file,
            where=self.where,
        ).message


@dataclass(frozen=True)
class Register:
    """A validated register, and where it came from."""

    contracts: tuple[RegisteredContract, ...]
    source: str

    def by_id(self) -> dict[str, RegisteredContract]:
        return {c.id: c for c in self.contracts}


CSV_COLUMNS = (
    "id",
    "type",
    "name",
    "provider_code",
    "provider_name",
    "provider_kind",
    "services",
    "funding_stream",
    "annual_value",
    "lifetime_value",
    "start",
    "end",
    "notice_months",
    "termination",
    "variation",
    "parent",
)
_REQUIRED_CSV = ("id", "type", "provider_code", "provider_kind", "services", "funding_stream")


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row (flat) as the nested record the model validates. Empty cells are absent."""

    def cell(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return value or None

    term: dict[str, Any] = {"start": cell("start"), "end": cell("end")}
    if cell("notice_months") is not None:
        term["notice_months"] = cell("notice_months")

    def money(name: str) -> str | None:
        # spreadsheets write £1,250,000: accept the symbol and thousands separators
        text = cell(name)
        return None if text is None else text.replace(",", "").replace("£", "").strip()

    value: dict[str, Any] = {}
    if money("annual_value") is not None:
        value["annual"] = money("annual_value")
    if money("lifetime_value") is not None:
        value["lifetime"] = money("lifetime_value")
    record: dict[str, Any] = {
        "id": cell("id"),
        "type": cell("type"),
        "name": cell("name") or "",
        "provider": {
            "code": cell("provider_code"),
            "name": cell("provider_name") or "",
            "kind": cell("provider_kind"),
        },
        "services": [s.strip() for s in (cell("services") or "").split(";") if s.strip()],
        "funding_stream": cell("funding_stream"),
        "value": value,
        "term": term,
        "termination": cell("termination"),
        "variation": cell("variation"),
        "parent": cell("parent"),
    }
    return record


_CSV_FIELD = {
    ("provider", "code"): "provider_code",
    ("provider", "name"): "provider_name",
    ("provider", "kind"): "provider_kind",
    ("value", "annual"): "annual_value",
    ("value", "lifetime"): "lifetime_value",
    ("term", "start"): "start",
    ("term", "end"): "end",
    ("term", "notice_months"): "notice_months",
}


def _problem_text(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    first = exc.errors(include_url=False)[0]
    loc = tuple(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first.get("type") == "missing":
        msg = "is missing"
    elif first.get("type") == "enum":
        allowed = (first.get("ctx") or {}).get("expected", "")
        msg = f"'{first.get('input')}' is not a known value (expected {allowed})"
    elif first.get("input") is not None and not isinstance(first.get("input"), dict | list):
        msg = f"{msg} (got {first.get('input')!r})"
    return loc, msg


def _validate_records(
    records: Iterable[tuple[str, dict[str, Any], tuple[Any, ...] | None]],
    field_name: Any,
) -> tuple[list[RegisteredContract], list[RowProblem]]:
    contracts: list[RegisteredContract] = []
    problems: list[RowProblem] = []
    seen: dict[str, str] = {}
    for where, record, _ in records:
        cid = str(record.get("id") or "?")
        try:
            contract = RegisteredContract.model_validate(record)
        except ValidationError as exc:
            loc, msg = _problem_text(exc)
            problems.append(RowProblem(where, cid, field_name(loc), msg))
            continue
        if contract.id in seen:
            problems.append(
                RowProblem(where, cid, "id", f"duplicate id (first used at {seen[contract.id]})")
            )
            continue
        seen[contract.id] = where
        contracts.append(contract)
    ids = {c.id for c in contracts}
    orphans = {c.id for c in contracts if c.parent is not None and c.parent not in ids}
    for c in contracts:
        if c.id in orphans:
            problems.append(
                RowProblem(
                    seen[c.id],
                    c.id,
                    "parent",
                    f"parent contract '{c.parent}' is not in the register",
                )
            )
    problems.sort(key=lambda p: int(p.where.split()[-1]) if p.where.split()[-1].isdigit() else 0)
    return [c for c in contracts if c.id not in orphans], problems


def _read_csv(path: Path) -> tuple[list[RegisteredContract], list[RowProblem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError("file not found.", file=path, fix="check the path.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "the file is not UTF-8 text.", file=path, fix="save it as CSV UTF-8."
        ) from exc
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in _REQUIRED_CSV if c not in header]
    if missing:
        raise ConfigError(
            f"the header lacks column(s) {', '.join(missing)}.",
            file=path,
            where="row 1",
            fix=f"the columns are: {','.join(CSV_COLUMNS)}.",
        )
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ConfigError(
            f"unknown column(s) {', '.join(unknown)}.",
            file=path,
            where="row 1",
            fix=f"the columns are: {','.join(CSV_COLUMNS)}.",
        )
    records = [(f"row {i}", _csv_record(row), None) for i, row in enumerate(reader, start=2)]

    def field_name(loc: tuple[Any, ...]) -> str:
        if loc[:2] in _CSV_FIELD:
            return _CSV_FIELD[loc[:2]]
        return str(loc[0]) if loc else "(row)"

    return _validate_records(records, field_name)


def _read_yaml(path: Path) -> tuple[list[RegisteredContract], list[RowProblem]]:
    data, lines = load_yaml(path)
    items = data.get("contracts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(
            "expected a top-level 'contracts:' list.", file=path, fix="see docs/commissioning.md."
        )
    records = []
    for i, item in enumerate(items):
        line = line_of(lines, ("contracts", i))
        records.append((f"line {line}", item if isinstance(item, dict) else {}, None))
    return _validate_records(records, lambda loc: format_loc(tuple(loc)))


def check_register(path: str | Path) -> tuple[Register, list[RowProblem]]:
    """Read a register and return the good contracts and a problem for every bad row."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        contracts, problems = _read_csv(path)
    elif path.suffix.lower() in (".yaml", ".yml"):
        contracts, problems = _read_yaml(path)
    else:
        raise ConfigError(
            "a contract register must be a .csv or .yaml file.",
            file=path,
            fix="rename or convert it.",
        )
    return Register(tuple(contracts), str(path)), problems


def load_register(path: str | Path) -> Register:
    """Read a register; refuse it (one line, first bad row, count of the rest) if any row is bad."""
    register, problems = check_register(path)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more bad row(s))" if len(problems) > 1 else ""
        raise ConfigError(
            f"contract '{first.contract_id}' field '{first.field}': {first.problem}{more}.",
            file=path,
            where=first.where,
            fix="run 'careis commission register' to list every bad row.",
        )
    if not register.contracts:
        raise ConfigError("the register has no contracts.", file=path)
    return register


__all__ = [
    "CSV_COLUMNS",
    "ContractType",
    "PartyKind",
    "Register",
    "RegisteredContract",
    "RowProblem",
    "Service",
    "Termination",
    "Variation",
    "check_register",
    "load_register",
]
