"""Can each component of a contract be assessed on the data supplied? If not, stop.

Why before any money is computed: a component whose measure counts rows of an empty table
(no events, so no care plans; no memberships, so no federation to judge) would pay £0 as if
it were a result - a practice told it earned nothing for care it gave. An empty input is
unknown, not zero: the run stops with one line naming the component, the table and the fix.

One practice that cannot be judged (in no group at a performance component's level) does not
stop the run: its line is marked not assessable (careis.payments.components.performance) and
`not_assessable_note` says how many, and why, in the run's log and the report's summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from careis.contracts.schema import LoadedContract
from careis.errors import DataError
from careis.measures.definitions import MeasureSet
from careis.payments.lines import StatementLine, level_words

MEASURE_FIELDS = ("measure", "prevalence_measure", "rate_measure")
# Aggregate levels judged from the memberships table (the alliance is every practice in scope).
MEMBERSHIP_LEVELS = frozenset({"pcn", "federation", "sub_icb", "icb"})


@dataclass(frozen=True)
class TableRows:
    """What validation kept of one input table."""

    file: str
    read: int
    accepted: int


@dataclass(frozen=True)
class Unassessable:
    component: str
    table: str
    why: str


def unassessable(
    loaded: LoadedContract, measures: MeasureSet, tables: Mapping[str, TableRows]
) -> list[Unassessable]:
    """Every (component, table) pair where the table the component depends on has no rows."""
    contract = loaded.contract
    grouped = {g.level for g in contract.groups}
    out: list[Unassessable] = []
    for comp in contract.components:
        needed: set[str] = set()
        for attr in MEASURE_FIELDS:
            measure = getattr(comp, attr, None)
            if measure is not None and measure in measures.by_id:
                needed |= measures.tables_needed(measure)
        level = getattr(comp, "aggregate_level", None) or getattr(comp, "level", None)
        if level in MEMBERSHIP_LEVELS and level not in grouped:
            needed.add("memberships")
        for table in sorted(needed):
            rows = tables.get(table)
            if rows is not None and rows.accepted == 0:
                why = f"measure {getattr(comp, 'measure', '?')}"
                if table == "memberships":
                    why = f"judged at {level} level"
                out.append(Unassessable(comp.id, table, why))
    return out


def require_assessable(
    loaded: LoadedContract, measures: MeasureSet, tables: Mapping[str, TableRows]
) -> None:
    """Raise one DataError naming every component that cannot be assessed, and why."""
    found = unassessable(loaded, measures, tables)
    if not found:
        return
    by_table: dict[str, list[Unassessable]] = {}
    for u in found:
        by_table.setdefault(u.table, []).append(u)
    table, items = next(iter(sorted(by_table.items())))
    rows = tables[table]
    parts = _describe(items)
    others = sorted(set(by_table) - {table})
    more = f" (also empty for other components: {', '.join(others)})" if others else ""
    raise DataError(
        f"the {table} table has no accepted rows ({rows.read:,} read, "
        f"{rows.read - rows.accepted:,} quarantined), so component{'s' if len(items) > 1 else ''} "
        f"{parts} cannot be assessed: careis would pay £0 as if it were a result{more}.",
        file=rows.file or None,
        fix=f"supply the {table} rows (`careis validate DATA --out DIR` lists why rows were rejected)"
        + (", or state the groups in the contract's 'groups:'" if table == "memberships" else "")
        + ".",
    )


def _describe(items: Sequence[Unassessable]) -> str:
    return ", ".join(f"'{u.component}' ({u.why})" for u in items)


#: Practices named in the note before "and N more".
NAMED = 5


def not_assessable_practices(lines: Iterable[StatementLine]) -> set[str]:
    """The practices with a line that could not be judged (`met` not_assessable)."""
    return {line.provider for line in lines if line.met == "not_assessable"}


def not_assessable_note(lines: Iterable[StatementLine]) -> str:
    """One sentence per component on the practices whose lines could not be judged ("" when
    none), for the run's log and the report's summary. Why: a component as a whole that
    cannot be assessed stops the run (above); a practice that cannot be judged on its own
    (in no group at the level a performance component is judged at) gets a line marked
    not_assessable and £0, and a commissioner must not find that out from the statements."""
    by: dict[tuple[str, str, bool], list[str]] = {}
    for line in lines:
        if line.met == "not_assessable":  # in no group (no measure_org), or a figure missing
            key = (line.component_id, line.measure_level, bool(line.measure_org))
            by.setdefault(key, []).append(line.provider)
    out = []
    for (component, level, grouped), practices in sorted(by.items()):
        codes = sorted(set(practices))
        named = ", ".join(codes[:NAMED]) + (
            f" and {len(codes) - NAMED} more" if len(codes) > NAMED else ""
        )
        one = len(codes) == 1
        why = (
            f"{'has' if one else 'have'} no figure to test (its own or its {level_words(level)}'s)"
            if grouped
            else f"{'is' if one else 'are'} in no {level_words(level)}"
        )
        out.append(
            f"{len(codes)} practice{'' if one else 's'} {why}, so {'its' if one else 'their'} "
            f"'{component}' line{'' if one else 's'} {'is' if one else 'are'} not assessable "
            f"(paid nothing, not counted as missing the target): {named}"
        )
    return "; ".join(out)
