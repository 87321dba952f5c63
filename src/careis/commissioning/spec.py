"""The enhanced-service specification, generated from the contract and the measures.

Why generate it: the specification a practice signs must say exactly what the contract pays
for and how each measure is defined. Written by hand it drifts from the contract; generated
from the same contract file careis pays from, it cannot.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from careis.contracts.schema import Contract
from careis.measures.results import MeasureInfo
from careis.money import format_gbp
from careis.payments.components import requirement_text


def _shipped_catalogue() -> dict[str, MeasureInfo]:
    """The shipped measure library's catalogue (names, units, definitions) for the spec."""
    from careis.measures.compile import catalogue_of
    from careis.measures.definitions import load_measures, shipped_library

    return catalogue_of(load_measures([shipped_library()]))


_BASIS = {
    "per_registered_patient": "per registered patient",
    "fixed": "per practice",
    "per_patient": "per patient in the measure's numerator",
}
_SHOWN = {"id", "name", "type", "description", "basis", "rate", "measure"}


@dataclass(frozen=True)
class PaymentLine:
    id: str
    name: str
    kind: str
    description: str
    rate: str
    basis: str
    measure: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    contract: Contract
    aims: tuple[str, ...]
    eligible_population: str
    requirements: tuple[str, ...]
    measures: tuple[MeasureInfo, ...]
    payments: tuple[PaymentLine, ...]
    contract_file: str
    version: str = "0.1 (draft)"
    issued: dt.date | None = None
    sign_off: tuple[str, ...] = ("Commissioner", "Provider")

    @property
    def schedule(self) -> list[tuple[dt.date, str]]:
        """When money is paid, in words: each instalment, then the year-end reconciliation."""
        c = self.contract
        in_year = [p.name for p in self.payments if "paid: in year" in p.conditions]
        rows = [
            (
                i.date,
                f"{i.percent}% of the in-year payments"
                + (f" ({', '.join(in_year)})" if in_year else ""),
            )
            for i in c.schedule.instalments
        ]
        end = c.schedule.reconciliation_date or c.term.end
        if end is not None:
            rows.append(
                (end, "Year-end reconciliation: outcome and year-end payments, and any balance")
            )
        return rows


def _words(key: str) -> str:
    return key.replace("_", " ")


def _value_words(value: object) -> str:
    """A setting's value as a reader writes it: lists joined, ids in words, no Python syntax."""
    if isinstance(value, list | tuple):
        return ", ".join(_value_words(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(
            f"{_words(str(k))} {_value_words(v)}"
            for k, v in value.items()
            if v not in (None, "", [], {})
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _words(str(value))


def build_spec(
    contract: Contract,
    contract_file: str,
    aims: list[str] | None = None,
    eligible_population: str | None = None,
    extra_requirements: list[str] | None = None,
    register_percent: float | None = None,
    min_age: int | None = None,
    catalogue: dict[str, MeasureInfo] | None = None,
) -> ServiceSpec:
    """Assemble the specification's content from the contract (and the run's risk settings)."""
    catalogue = catalogue if catalogue is not None else _shipped_catalogue()
    used: list[str] = []
    payments: list[PaymentLine] = []
    for comp in contract.components:
        data = comp.model_dump(mode="python")
        measure = data.get("measure") or ""
        if measure and measure not in used:
            used.append(measure)
        conditions = tuple(
            f"{_words(k)}: {_value_words(v)}"
            for k, v in data.items()
            if k not in _SHOWN and v not in (None, "", [], {})
        )
        rate = data.get("rate")
        payments.append(
            PaymentLine(
                id=comp.id,
                name=comp.display_name,
                kind=comp.type,
                description=comp.description,
                rate=format_gbp(rate) if isinstance(rate, Decimal) else str(rate or ""),
                basis=_BASIS.get(str(data.get("basis", "")), _words(str(data.get("basis", "")))),
                measure=measure,
                conditions=conditions,
            )
        )
    # the register's own definition is part of every proactive-care specification
    for extra in ("register", "list_size"):
        if extra in catalogue and extra not in used:
            used.append(extra)
    if eligible_population is None:
        who = f"patients aged {min_age}+" if min_age is not None else "adult patients"
        share = (
            f"in the top {register_percent:g}% of the practice's adults"
            if register_percent is not None
            else "in the share of the practice's adults agreed with the commissioner,"
        )
        eligible_population = (
            f"Registered {who} {share} by risk "
            "of an unplanned admission (careis risk score), drawn up on the index date; "
            "ties broken by recent emergency admissions, age, then pseudonym."
        )
    requirements = [requirement_text(c, catalogue) for c in contract.components]
    requirements += extra_requirements or []
    return ServiceSpec(
        contract=contract,
        aims=tuple(
            aims
            or [
                "Identify the patients most at risk of an unplanned admission.",
                "Agree and review a personalised care plan with each of them.",
                "Reduce avoidable emergency admissions across the practice group.",
            ]
        ),
        eligible_population=eligible_population,
        requirements=tuple(requirements),
        measures=tuple(catalogue[m] for m in used if m in catalogue),
        payments=tuple(payments),
        contract_file=contract_file,
    )


_MD_SPECIAL = re.compile(r"([\\`\[\]|<>&])")
_MD_LINE_START = re.compile(r"^([#+\-=>]|\d+(?=[.)](?:\s|$)))")


def md_escape(value: object) -> str:
    """Text from a contract, inert in Markdown: characters that make markup, links or table cells (or the HTML a renderer
    passes through) acts on anywhere are backslash-escaped, and so is a start that would make
    a heading or a list; newlines become spaces so a value cannot break a table row."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    match = _MD_LINE_START.match(text)
    if match and match.group(1).isdigit():
        end = match.end()
        return text[:end] + "\\" + text[end:]
    return _MD_LINE_START.sub(r"\\\1", text, count=1)


def md_code(value: object) -> str:
    """Text for inside a `code span`: backticks cannot close it early."""
    return " ".join(str(value).split()).replace("`", "'")


def render_spec(spec: ServiceSpec, out_dir: Path) -> tuple[Path, Path, Path]:
    """Write service_specification.html, .pdf and .md; returns their paths."""
    from careis.commissioning.report import template_env
    from careis.report.html import scrollable_tables
    from careis.report.statements import write_pdf_document

    env = template_env()
    env.filters["md"] = md_escape
    env.filters["md_code"] = md_code
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / "service_specification.html"
    md = out_dir / "service_specification.md"
    page = env.get_template("service_spec.html.j2").render(s=spec)
    html.write_text(scrollable_tables(page), encoding="utf-8")
    body = env.get_template("service_spec_body.html.j2").render(s=spec)
    pdf = write_pdf_document(body, out_dir / "service_specification.pdf")
    # the Markdown template is not autoescaped (its name does not end in .j2 or .html)
    md.write_text(env.get_template("service_spec.md").render(s=spec), encoding="utf-8")
    return html, pdf, md
