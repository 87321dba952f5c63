"""The shape of measure results: one long table that payments, reports and exports all read.

Why long, not wide: a payment component names a measure, a period and a level; a report
draws any measure at any level. One row per (measure, period, level, organisation) keeps the
numerator and denominator beside the value, so anyone can re-add them up the hierarchy
(sums of numerators over sums of denominators, never averages of percentages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

LEVELS: tuple[str, ...] = ("practice", "pcn", "federation", "sub_icb", "icb")
Level = Literal["practice", "pcn", "federation", "sub_icb", "icb"]

RESULT_SCHEMA = pa.schema(
    [
        ("measure_id", pa.string()),
        ("period", pa.string()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("level", pa.string()),
        ("org_code", pa.string()),
        ("numerator", pa.float64()),
        ("denominator", pa.float64()),
        ("value", pa.float64()),
        ("unit", pa.string()),
        # added by the declarative measures engine (issue 6); readers of the first ten columns
        # are unaffected
        ("exclusions", pa.float64()),  # indicators: personalised care adjustments removed
        ("lower_ci", pa.float64()),  # 95% confidence limits of `value`
        ("upper_ci", pa.float64()),
        ("crude_value", pa.float64()),  # rates: the crude rate when `value` is standardised
        # added by issue 13 (statistics as OHID publishes them)
        ("lower_ci_998", pa.float64()),  # 99.8% confidence limits of `value`
        ("upper_ci_998", pa.float64()),
        ("ci_method", pa.string()),  # Wilson / exact Poisson / Byar / Dobson (Byar) ...
        ("note", pa.string()),  # e.g. why OHID would not publish the figure
    ]
)

IBIS_RESULT_SCHEMA = {
    "measure_id": "string",
    "period": "string",
    "period_start": "date",
    "period_end": "date",
    "level": "string",
    "org_code": "string",
    "numerator": "float64",
    "denominator": "float64",
    "value": "float64",
    "unit": "string",
    "exclusions": "float64",
    "lower_ci": "float64",
    "upper_ci": "float64",
    "crude_value": "float64",
    "lower_ci_998": "float64",
    "upper_ci_998": "float64",
    "ci_method": "string",
    "note": "string",
}


@dataclass(frozen=True)
class MeasureInfo:
    """What a measure means, for reports and for checking contract references."""

    id: str
    name: str
    kind: Literal["count", "proportion", "rate", "change"]
    unit: str
    description: str
    higher_is_better: bool | None = None
    count_columns: tuple[str, ...] = ("numerator", "denominator")  # suppressed in published output
    lower_threshold: float | None = None  # indicators: QOF-style payment thresholds (%)
    upper_threshold: float | None = None
    # for disclosure control (suppression.py), which recomputes published figures from
    # published counts: a rate's multiplier and whether it is standardised; what a change
    # compares and how
    per: float | None = None
    standardised: bool = False
    of: str | None = None
    compare: str = "relative"


class AmbiguousPeriod(ValueError):
    """A result asked for without a period, for a measure held in several periods."""


class MeasureResults:
    """Measure results (a pyarrow table in RESULT_SCHEMA) plus what each measure means."""

    def __init__(self, table: pa.Table, catalogue: dict[str, MeasureInfo]) -> None:
        for f in RESULT_SCHEMA:
            if f.name not in table.column_names:  # tables written before the columns existed
                table = table.append_column(f, pa.nulls(table.num_rows, f.type))
        self._table: pa.Table | None = table.select(RESULT_SCHEMA.names).cast(RESULT_SCHEMA)
        self._rows: list[dict[str, Any]] | None = None
        self._idx: dict[tuple[str, str, str], dict[str, dict[str, object]]] | None = None
        self.catalogue = catalogue

    @classmethod
    def from_rows(
        cls, rows: list[dict[str, Any]], catalogue: dict[str, MeasureInfo]
    ) -> MeasureResults:
        """Results from rows already in RESULT_SCHEMA's columns and types (as `to_pylist`
        gives them), kept as they are; the Arrow table is built only if asked for.

        Why: the contract comparison pays every contract on some fifty scaled copies of a
        run's results, and each copy's trip through Arrow and back (from_pylist, cast,
        to_pylist for the index) cost more than paying on it. Rows with other columns go the
        Arrow way, which fills and orders them."""
        if rows and set(rows[0]) != set(RESULT_SCHEMA.names):
            return cls(pa.Table.from_pylist(rows), catalogue)
        self = cls.__new__(cls)
        self._table, self._rows, self._idx = None, rows, None
        self.catalogue = catalogue
        return self

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            self._table = pa.Table.from_pylist(self._rows or [], schema=RESULT_SCHEMA)
        return self._table

    def rows(self) -> list[dict[str, Any]]:
        """Every result row, in RESULT_SCHEMA's columns and types (shared: do not modify)."""
        if self._rows is None:
            self._rows = self.table.to_pylist()
        return self._rows

    def known(self, measure_id: str) -> bool:
        return measure_id in self.catalogue

    def lookup(
        self, measure_id: str, level: str, org_code: str, period: str | None = None
    ) -> dict[str, object] | None:
        """One result row as a dict (or None if absent).

        With a `period`, the row for that period; a change measure's single row
        ("performance vs baseline") answers for its first period. Without one, the measure's
        only row: where it has rows for several periods the question is ambiguous, and
        guessing (say, paying on the baseline year) is worse than refusing, so that raises
        `AmbiguousPeriod`.
        """
        rows = self._index().get((measure_id, level, org_code), {})
        if period is None:
            if len(rows) > 1:
                raise AmbiguousPeriod(
                    f"'{measure_id}' has results for {len(rows)} periods "
                    f"({', '.join(sorted(rows))}); say which one"
                )
            return next(iter(rows.values()), None)
        if period in rows:
            return rows[period]
        changes = [k for k in rows if k.startswith(f"{period} vs ")]
        return rows[changes[0]] if len(changes) == 1 else None

    def _index(self) -> dict[tuple[str, str, str], dict[str, dict[str, object]]]:
        cached = self._idx
        if cached is None:
            cached = {}
            for row in self.rows():
                key = (row["measure_id"], row["level"], row["org_code"])
                cached.setdefault(key, {})[row["period"]] = row
            self._idx = cached
        return cached

    def filter_rows(self, measure_id: str, level: str, org_code: str) -> list[dict[str, object]]:
        """Every period's row for one measure and organisation."""
        return list(self._index().get((measure_id, level, org_code), {}).values())

    def filter(
        self, *, measure_id: str | None = None, level: str | None = None, period: str | None = None
    ) -> list[dict[str, object]]:
        out = []
        for row in self.rows():
            if measure_id is not None and row["measure_id"] != measure_id:
                continue
            if level is not None and row["level"] != level:
                continue
            if period is not None and row["period"] != period:
                continue
            out.append(row)
        return out
