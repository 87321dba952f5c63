"""Assemble the scheme view: practices grouped by federation and PCN, with their measures and pay.

Why separate from the template: the same rows feed the HTML report and the CSV summary, and a
test can check the arithmetic (group totals = sums of practice lines) without parsing HTML.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from careis.measures import exact
from careis.measures.results import MeasureResults
from careis.money import ZERO
from careis.payments.calculate import StatementLine
from careis.report.headline import performance_why


@dataclass
class Row:
    """Measures and payments for one organisation (a practice or a group)."""

    level: str
    code: str
    name: str
    list_size: float | None = None
    adults: float | None = None
    register_n: float | None = None
    register_pct: float | None = None
    care_plan_n: float | None = None
    care_plan_pct: float | None = None
    base_admissions: float | None = None
    base_rate: float | None = None
    perf_admissions: float | None = None
    perf_rate: float | None = None
    change: float | None = None
    payments: dict[str, Decimal] = field(default_factory=dict)
    performance_met: str = ""
    performance_why: str = ""  # "Met", "Missed: own floor", "Missed: group target", ...

    @property
    def total(self) -> Decimal:
        return sum(self.payments.values(), ZERO)

    @property
    def change_tested(self) -> Decimal | None:
        """The change as the statement tests it (careis.measures.exact: half up to 2 dp), so
        the report's "met" agrees with the statement's to the last half-way case."""
        return exact.tested(self.change)


@dataclass
class PcnBlock:
    row: Row
    practices: list[Row]


#: The block of the practices in no federation (not a federation: never judged, never counted).
NO_FEDERATION = "(no federation)"


@dataclass
class FederationBlock:
    row: Row
    pcns: list[PcnBlock]

    @property
    def is_federation(self) -> bool:
        """False for the practices in no federation, shown together under NO_FEDERATION."""
        return self.row.code != NO_FEDERATION


@dataclass
class SchemeView:
    components: list[tuple[str, str]]  # (component id, type)
    federations: list[FederationBlock]
    sub_icbs: list[Row]
    icbs: list[Row]
    practices: list[Row]


def _fill(row: Row, results: MeasureResults) -> Row:
    def get(measure: str, period: str = "performance") -> dict[str, Any] | None:
        return results.lookup(measure, row.level, row.code, period)

    if (r := get("list_size")) is not None:
        row.list_size = r["numerator"]
    if (r := get("adults")) is not None:
        row.adults = r["numerator"]
    if (r := get("register")) is not None:
        row.register_n, row.register_pct = r["numerator"], r["value"]
    if (r := get("care_plan")) is not None:
        row.care_plan_n, row.care_plan_pct = r["numerator"], r["value"]
    if (r := get("emergency_admissions", "baseline")) is not None:
        row.base_admissions, row.base_rate = r["numerator"], r["value"]
    if (r := get("emergency_admissions", "performance")) is not None:
        row.perf_admissions, row.perf_rate = r["numerator"], r["value"]
    if (r := get("emergency_admissions_change")) is not None:
        row.change = r["value"]
    return row


def build_view(
    results: MeasureResults,
    lines: Iterable[StatementLine],
    names: Mapping[str, str],
    membership: Mapping[tuple[str, str], str],
    component_types: list[tuple[str, str]],
    practices_in_scope: Iterable[str] = (),
) -> SchemeView:
    """Group practices by (federation, PCN) as on the contract's list-size date.

    `practices_in_scope` adds practices with no statement lines (e.g. under a fully integrated
    ACO, which is paid as a whole), so their measures still show.
    """
    lines = list(lines)
    pay: dict[str, dict[str, Decimal]] = defaultdict(dict)
    met: dict[str, str] = {}
    why: dict[str, str] = {}
    for line in lines:
        pay[line.provider][line.component_id] = (
            pay[line.provider].get(line.component_id, ZERO) + line.amount
        )
        if line.component_type == "performance" and line.kind == "earned":
            met[line.provider] = line.met
            why[line.provider] = performance_why(line)
    practices = sorted({line.provider for line in lines} | set(practices_in_scope))
    rows = {}
    for code in practices:
        row = _fill(Row("practice", code, names.get(code, code)), results)
        row.payments = dict(pay.get(code, {}))
        row.performance_met = met.get(code, "")
        row.performance_why = why.get(code, "")
        rows[code] = row

    def group_row(level: str, code: str, members: list[Row]) -> Row:
        row = _fill(Row(level, code, names.get(code, code)), results)
        totals: dict[str, Decimal] = {}
        for member in members:
            for comp, amount in member.payments.items():
                totals[comp] = totals.get(comp, ZERO) + amount
        row.payments = totals
        return row

    by_fed: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for code, row in rows.items():
        fed = membership.get((code, "federation"), NO_FEDERATION)
        pcn = membership.get((code, "pcn"), "(no PCN)")
        by_fed[fed][pcn].append(row)
    federations = []
    for fed in sorted(by_fed):
        pcns = []
        fed_members: list[Row] = []
        for pcn in sorted(by_fed[fed]):
            members = sorted(by_fed[fed][pcn], key=lambda r: r.code)
            fed_members.extend(members)
            pcns.append(PcnBlock(group_row("pcn", pcn, members), members))
        federations.append(FederationBlock(group_row("federation", fed, fed_members), pcns))

    def level_rows(level: str) -> list[Row]:
        groups: dict[str, list[Row]] = defaultdict(list)
        for code, row in rows.items():
            if (g := membership.get((code, level))) is not None:
                groups[g].append(row)
        return [group_row(level, g, groups[g]) for g in sorted(groups)]

    return SchemeView(
        components=component_types,
        federations=federations,
        sub_icbs=level_rows("sub_icb"),
        icbs=level_rows("icb"),
        practices=[rows[c] for c in practices],
    )
