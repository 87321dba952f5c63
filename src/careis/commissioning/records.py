"""The records the Provider Selection Regime requires: the decision record (SI 2023/1348 reg 24),
the content of each notice (the Schedules), and the annual summary (reg 25).

Why generated, and why gaps are named rather than filled: the Independent Patient Choice and
Procurement Panel examines exactly these records, and found record-keeping breaches in 9 of
its first 21 reviews. A record built from the same route file and workbench inputs as the
decision cannot drift from it, and a fact nobody gave is listed as missing - never invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from careis.commissioning.conflicts import Conflict, ConflictsRegister
from careis.commissioning.decision_inputs import Exclusions, RecordFacts
from careis.commissioning.register import Register
from careis.commissioning.route import DecisionTable, RouteDecision, RouteRequest
from careis.errors import ConfigError

# reg 24(e)-(f): how the key criteria were taken into account and the basic selection criteria
# assessed must be recorded where Direct Award Process C, the Most Suitable Provider Process or
# the Competitive Process was followed (careis adds the processes built on a competition).
WEIGHED = frozenset({
    "direct_award_c", "most_suitable_provider", "competitive", "competitive_framework",
    "framework_call_off_competition",
})  # fmt: skip
URGENT = frozenset({"urgent_award", "urgent_modification"})
NO_AWARD = frozenset({"outside_psr", "older_regime", "not_permitted",
                      "not_permitted_direct_award_a_b"})  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One item of a record or notice: its label, the value (None: missing) and its source."""

    label: str
    value: str | None
    source: str = ""


@dataclass(frozen=True)
class Notice:
    id: str
    text: str
    regulation: str
    items: tuple[Line, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(i.label for i in self.items if i.value is None)


@dataclass(frozen=True)
class DecisionRecord:
    """Everything reg 24 and the statutory guidance ask an authority to keep for one decision."""

    file: str
    request: RouteRequest
    decision: RouteDecision
    sections: tuple[tuple[str, tuple[Line, ...]], ...]
    conflicts: tuple[Conflict, ...]
    notices: tuple[Notice, ...]
    problems: tuple[str, ...]  # breaches the record shows (an excluded provider awarded...)

    @property
    def missing(self) -> tuple[str, ...]:
        out: list[str] = []
        for title, lines in self.sections:
            out += [f"{title}: {x.label}" for x in lines if x.value is None]
        for n in self.notices:
            out += [f"notice '{n.id}': {m}" for m in n.missing]
        return tuple(out)


def _join(*parts: str | None, sep: str = ", ") -> str | None:
    if any(p is None or p == "" for p in parts):
        return None
    return sep.join(p for p in parts if p)


def _conflicts_text(conflicts: tuple[Conflict, ...], rec: RecordFacts) -> str | None:
    if conflicts:
        return "; ".join(f"{c.person} ({c.role}): {c.interest} [{c.kind.value}]" for c in conflicts)
    return "none declared" if rec.no_conflicts_declared else None


def _managed_text(conflicts: tuple[Conflict, ...], rec: RecordFacts) -> str | None:
    if conflicts:
        return "; ".join(f"{c.person}: {c.management}" for c in conflicts)
    return "not applicable (none declared)" if rec.no_conflicts_declared else None


Filler = Callable[["_Context"], str | None]


@dataclass(frozen=True)
class _Context:
    request: RouteRequest
    decision: RouteDecision
    conflicts: tuple[Conflict, ...]

    @property
    def rec(self) -> RecordFacts:
        return self.request.record

    def process(self) -> str:
        return f"{self.decision.name} ({self.decision.regulation})"

    def key_criteria(self) -> str | None:
        notes = self.rec.key_criteria
        if not notes:
            return None
        return "; ".join(f"{k}: {v}" for k, v in notes.items())


def _lifetime_and_length(x: _Context) -> str | None:
    r = x.rec
    term = _join(str(r.contract_start or ""), str(r.contract_end or ""), sep=" to ")
    return _join(r.lifetime_value and f"£{r.lifetime_value}", term, sep="; ")


# Each notice item careis can fill, by the label the decision table gives it.
FILL: dict[str, Filler] = {
    "statement of the process followed": lambda x: x.process(),
    "statement of the process followed and the intention to award": lambda x: (
        f"the authority intends to award the contract following {x.process()}"
    ),
    "statement that the authority intends to award to an existing provider following Direct "
    "Award Process C": lambda x: (
        "the authority intends to award a contract to the existing provider following Direct "
        "Award Process C"
    ),
    "statement that in the authority's view the award was urgent": lambda x: (
        "in the authority's view the award was urgent (reg 14)"
    ),
    "statement that in the authority's view the modification was urgent": lambda x: (
        "in the authority's view the modification was urgent (reg 14)"
    ),
    "contract title and reference": lambda x: _join(x.rec.contract_title, x.rec.contract_reference),
    "provider name and registered address": lambda x: _join(x.rec.provider_name,
                                                            x.rec.provider_address),
    "services and most relevant CPV code": lambda x: _join(x.request.service, x.rec.cpv_code),
    "approximate lifetime value": lambda x: x.rec.lifetime_value and f"£{x.rec.lifetime_value}",
    "lifetime value": lambda x: x.rec.lifetime_value and f"£{x.rec.lifetime_value}",
    "approximate lifetime value and length": _lifetime_and_length,
    "details of the award decision-makers": lambda x: "; ".join(x.rec.decision_makers) or None,
    "details of the decision-makers": lambda x: "; ".join(x.rec.decision_makers) or None,
    "reasons for selecting the provider with reference to the key criteria": lambda x: (
        x.rec.reasons
    ),
    "declared conflicts or potential conflicts of interest": lambda x: _conflicts_text(
        x.conflicts, x.rec),
    "how conflicts were managed": lambda x: _managed_text(x.conflicts, x.rec),
    "the reasons why regulation 14 applied": lambda x: x.rec.urgency_reasons,
    "key criteria and their relative importance": lambda x: x.key_criteria(),
    "basic selection criteria": lambda x: x.rec.basic_selection_criteria,
    "how and by when to respond": lambda x: x.rec.response_deadline,
    "date the contract was entered into": lambda x: (
        str(x.rec.contract_entered_into) if x.rec.contract_entered_into else None
    ),
    "effective date of the modification": lambda x: (
        str(x.rec.modification_effective) if x.rec.modification_effective else None
    ),
    "nature of the modification including any change in value or length": lambda x: (
        x.rec.modification
    ),
    "nature of the modification including any change in contract value or length": lambda x: (
        x.rec.modification
    ),
    "the permitted case relied on": lambda x: x.process(),
}  # fmt: skip


def unknown_items(table: DecisionTable) -> list[str]:
    """Notice items in a decision table that careis does not know how to fill."""
    return sorted({i for n in table.notices.values() for i in n.content if i not in FILL})


def _notices(x: _Context, table: DecisionTable) -> tuple[Notice, ...]:
    out = []
    for nid in x.decision.notice_ids:
        spec = table.notices[nid]
        items = tuple(Line(item, FILL[item](x) if item in FILL else None) for item in spec.content)
        out.append(Notice(nid, spec.text, spec.regulation, items))
    return tuple(out)


def _dates(d: RouteDecision) -> tuple[Line, ...]:
    lines = [Line("decision made", str(d.decision_date))]
    s = d.standstill
    if s is not None:
        lines += [
            Line("notice of intention published", str(s.published), "reg 12(2)"),
            Line("standstill begins", str(s.first_day), "reg 12(2): the day after publication"),
            Line("representations close (midnight at the end of)", str(s.last_day),
                 "reg 12(3): the 8th working day after the standstill begins"),
            Line("contract may be entered into from", str(s.earliest_award),
                 "reg 12(1), if no representations are made"),
        ]  # fmt: skip
        reps = s.representations
        if reps is not None:
            lines.append(
                Line(
                    "representations received",
                    f"{reps.received}" + (f" from {reps.provider}" if reps.provider else ""),
                    "reg 12(3)",
                )
            )
            lines.append(Line("further decision communicated",
                              str(reps.decision_communicated) if reps.decision_communicated else None,
                              "reg 12(4)(d)"))  # fmt: skip
            if s.award_after_review:
                lines.append(Line("contract may be entered into from (after review)",
                                  str(s.award_after_review), "NHS England flowchart: 5 working days"))  # fmt: skip
    elif d.award_notice_by is not None:
        lines.append(Line("notice to be published by", str(d.award_notice_by),
                          "within 30 days of the award (reg 7-8; reg 14)"))  # fmt: skip
    return tuple(lines)


EXCLUSION_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("provider_excluded", "is the provider an excluded provider?", "reg 20 (as amended 2025)"),
    ("provider_excludable", "is the provider an excludable provider?", "reg 20 (as amended 2025)"),
    ("debarment_list_checked", "provider checked against the debarment list",
     "regs 20-20D; Procurement Act 2023 s62"),
    ("subcontracting_asked", "provider asked whether it intends to subcontract", "reg 20A"),
    ("subcontractors_checked", "intended subcontractors checked against the debarment list",
     "reg 20A"),
)  # fmt: skip


def _yes_no(v: bool | None) -> str | None:
    return None if v is None else ("yes" if v else "no")


def _exclusions(ex: Exclusions | None, process: str) -> tuple[tuple[Line, ...], list[str]]:
    if process in NO_AWARD:
        return (), []
    ex = ex or Exclusions()
    lines = [Line(label, _yes_no(getattr(ex, name)), reg) for name, label, reg in EXCLUSION_CHECKS]
    problems = []
    if ex.provider_excluded and not ex.overriding_public_interest:
        problems.append(
            "the provider is an excluded provider: reg 20 forbids the award unless there are "
            "overriding reasons of public interest (record them under "
            "record.exclusions.overriding_public_interest)"
        )
    if ex.provider_excludable and not ex.excludable_decision:
        problems.append(
            "the provider is excludable: record whether it was excluded and why "
            "(record.exclusions.excludable_decision; reg 20)"
        )
    return tuple(lines), problems


def _criteria(x: _Context, table: DecisionTable) -> tuple[Line, ...]:
    if x.decision.process not in WEIGHED:
        return ()
    notes = x.rec.key_criteria
    lines = [Line(c, notes.get(c), "reg 5; reg 24(e)-(f)") for c in table.key_criteria.criteria]
    lines.append(Line("basic selection criteria assessed", x.rec.basic_selection_criteria,
                      "reg 19; reg 24(e)-(f)"))  # fmt: skip
    return tuple(lines)


def _conflict_entries(request: RouteRequest, register: ConflictsRegister | None,
                      source: str) -> tuple[Conflict, ...]:  # fmt: skip
    ids = request.record.conflicts
    if not ids:
        return ()
    if register is None:
        raise ConfigError(
            f"the decision cites conflicts ({', '.join(ids)}) but no conflicts register was given.",
            file=source,
            fix="name the register under 'conflicts:' in the workbench file.",
        )
    known = register.by_id()
    for cid in ids:
        if cid not in known:
            raise ConfigError(
                f"record.conflicts names '{cid}', which is not in the conflicts register.",
                file=source,
                fix=f"add it to {register.source} or correct the id.",
            )
    return tuple(known[c] for c in ids)


def build_record(
    file: str,
    request: RouteRequest,
    decision: RouteDecision,
    table: DecisionTable,
    register: ConflictsRegister | None = None,
) -> DecisionRecord:
    """The decision record for one route decision; facts not given are listed as missing."""
    conflicts = _conflict_entries(request, register, file)
    x = _Context(request, decision, conflicts)
    rec = request.record
    why = tuple(
        Line(t.fact.replace("_", " "),
             f"{t.shown} (test '{t.condition}': {'met' if t.held else 'not met'})")
        for t in decision.trail
    )  # fmt: skip
    sections: list[tuple[str, tuple[Line, ...]]] = [
        ("Decision", (
            Line("services", request.service),
            Line("route", x.process(), decision.rules),
            Line("why", decision.reason),
            Line("contract title", rec.contract_title),
            Line("contract reference", rec.contract_reference),
            Line("provider", rec.provider_name, "reg 24(a)") if decision.process not in NO_AWARD
            else Line("provider", "not applicable"),
            Line("provider's registered address", rec.provider_address, "reg 24(c)")
            if decision.process not in NO_AWARD else Line("provider's registered address", "n/a"),
            Line("decision-makers", "; ".join(rec.decision_makers) or None, "reg 24(d)"),
        )),
        ("Tests made", why),
        ("Key criteria and basic selection criteria", _criteria(x, table)),
        ("Conflicts of interest", (
            Line("declared", _conflicts_text(conflicts, rec), "reg 21"),
            Line("how each was managed", _managed_text(conflicts, rec), "reg 21"),
        )),
        ("Dates", _dates(decision)),
    ]  # fmt: skip
    if decision.process in URGENT:
        sections.insert(
            1, ("Urgency", (Line("why reg 14 applied", rec.urgency_reasons, "reg 14"),))
        )
    excl, problems = (
        _exclusions(rec.exclusions, decision.process) if decision.question == "award" else ((), [])
    )
    if excl:
        sections.insert(4, ("Exclusion checks", excl))
    return DecisionRecord(file, request, decision, tuple((t, s) for t, s in sections if s),
                          conflicts, _notices(x, table), tuple(problems))  # fmt: skip


def record_text(r: DecisionRecord) -> str:
    """The plain text a notice system or a file note needs: one 'label: value' line per item."""
    out = [f"DECISION RECORD - {r.request.service}", f"(careis; source {r.file})", ""]
    for title, lines in r.sections:
        out.append(title.upper())
        out += [f"  {x.label}: {x.value if x.value is not None else 'MISSING'}"
                + (f"  [{x.source}]" if x.source else "") for x in lines]  # fmt: skip
        out.append("")
    for p in r.problems:
        out.append(f"PROBLEM: {p}")
    if r.missing:
        out.append("MISSING (give these in the route file's 'record:' block):")
        out += [f"  - {m}" for m in r.missing]
    return "\n".join(out).rstrip() + "\n"


def notices_text(r: DecisionRecord) -> str:
    """Each notice's content, item by item, for pasting into the notice system."""
    out: list[str] = []
    for n in r.notices:
        out += [f"NOTICE: {n.id} ({n.regulation})", n.text]
        out += [f"  {i.label}: {i.value if i.value is not None else 'MISSING'}" for i in n.items]
        out.append("")
    return ("\n".join(out).rstrip() + "\n") if out else "No notice is required.\n"


# --- annual summary (reg 25) -----------------------------------------------------------------

REG25 = (
    ("a", "contracts awarded following Direct Award Process A, B or C",
     {"direct_award_a", "direct_award_b", "direct_award_c"}),
    ("b", "contracts awarded following the Most Suitable Provider Process",
     {"most_suitable_provider"}),
    ("c", "contracts awarded following the Competitive Process", {"competitive"}),
    ("d", "framework agreements concluded", {"competitive_framework"}),
    ("e", "contracts awarded based on a framework agreement",
     {"framework_call_off_competition", "framework_call_off_direct"}),
    ("f", "contracts awarded and modifications made in reliance on regulation 14",
     {"urgent_award", "urgent_modification"}),
)  # fmt: skip


@dataclass
class AnnualSummary:
    """reg 25(2)(a)-(i) for one year (careis: the financial year 1 April to 31 March)."""

    first_day: dt.date
    last_day: dt.date
    counts: dict[str, tuple[str, int]] = field(default_factory=dict)
    representations: list[str] = field(default_factory=list)
    new_providers: int | None = None
    not_counted: list[str] = field(default_factory=list)


def _in(day: dt.date, first: dt.date, last: dt.date) -> bool:
    return first <= day <= last


def annual_summary(
    decisions: list[tuple[str, RouteRequest, RouteDecision]], year: int,
    previous_providers: set[str] | None = None,
) -> AnnualSummary:  # fmt: skip
    """Count a folder's decisions for the year starting 1 April `year` (reg 25(2)).

    A decision counts in the year of its decision date (the award date is not in the route
    file); modifications other than urgent ones are not counted (reg 25 does not ask for them).
    (g) needs the ODS codes of providers holding contracts before the year (the register)."""
    first, last = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    s = AnnualSummary(first, last)
    dated = [(f, q, d) for f, q, d in decisions if _in(d.decision_date, first, last)]
    for key, label, processes in REG25:
        s.counts[key] = (label, sum(d.process in processes for _, _, d in dated))
    for f, _, d in decisions:
        st = d.standstill
        if st and st.representations and _in(st.last_day, first, last):
            s.representations.append(f"{f}: {st.representations.provider or 'a provider'} "
                                     f"({st.representations.outcome or 'outcome not recorded'})")  # fmt: skip
    awards = [(f, q) for f, q, d in dated if d.question == "award" and d.process not in NO_AWARD]
    awarded = {q.record.provider_code for _, q in awards if q.record.provider_code}
    unnamed = [f for f, q in awards if not q.record.provider_code]
    if previous_providers is None:
        s.not_counted.append("(g) new providers and (h) providers no longer holding a contract: "
                             "give the contract register (--register)")  # fmt: skip
    else:
        s.new_providers = len(awarded - previous_providers)
        s.not_counted.append("(h) providers no longer holding any contract: needs every "
                             "contract held in the year, not only the year's awards")  # fmt: skip
    if unnamed:
        s.not_counted.append(f"(g) awards with no provider code (record.provider_code), not "
                             f"counted as new or existing: {', '.join(unnamed)}")  # fmt: skip
    return s


def summary_text(s: AnnualSummary) -> str:
    out = [f"PROVIDER SELECTION REGIME ANNUAL SUMMARY (reg 25), {s.first_day} to {s.last_day}", ""]
    out += [f"  ({k}) {label}: {n}" for k, (label, n) in s.counts.items()]
    out.append("  (g) new providers awarded a contract: "
               + ("not counted" if s.new_providers is None else str(s.new_providers)))  # fmt: skip
    out.append("  (h) providers no longer holding any contract: not counted")
    out.append(f"  (i) written representations received in standstills ending in the year: "
               f"{len(s.representations)}")  # fmt: skip
    out += [f"      - {r}" for r in s.representations]
    if s.not_counted:
        out += ["", "NOT COUNTED:"] + [f"  - {x}" for x in s.not_counted]
    return "\n".join(out) + "\n"


def load_decisions(
    folder: Path, register: Register | None = None
) -> list[tuple[str, RouteRequest, RouteDecision]]:
    """Every route file (*.yaml) in `folder` with its decision; a file still missing a fact
    stops with that fact named (an undecided case cannot be counted). The register fills what
    it knows for files naming an `existing_contract`."""
    from careis.commissioning.report import with_register  # report imports this module
    from careis.commissioning.route import decide, load_request, rules_for

    if not folder.is_dir():
        raise ConfigError("folder not found.", file=folder, fix="give a folder of route files.")
    out = []
    for path in sorted(folder.glob("*.yaml")):
        request = load_request(path)
        if request.existing_contract is not None:
            request = with_register(request, register, str(path))
        out.append((path.name, request, decide(request, rules_for(request, path), str(path))))
    return out
