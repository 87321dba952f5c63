"""Small-number suppression for aggregate outputs that leave the commissioner.

Why: a count of 1-7 patients at a small practice can identify people. NHS Digital's usual rule
is applied by default: counts from `low` to `high` (1-7) are suppressed and every other count
is rounded to the nearest `round_to` (5). A value (percentage, rate) computed from a
suppressed count is suppressed too, since the count could be recovered from it. Zero is not
disclosive and is shown. Suppression never applies to a practice's own patient-level view.
"""

from __future__ import annotations

import pyarrow as pa

from careis.config import SuppressionConfig
from careis.measures.results import MeasureInfo

SUPPRESSED = "*"


def suppress_count(value: float | None, config: SuppressionConfig) -> float | None:
    """The published form of one count: None if suppressed, else rounded (half up)."""
    if value is None:
        return None
    if config.low <= value <= config.high:
        return None
    step = config.round_to
    return float(int((value + step / 2) // step) * step)


def suppress_results(
    table: pa.Table, catalogue: dict[str, MeasureInfo], config: SuppressionConfig
) -> pa.Table:
    """Published copy of a results table: counts suppressed/rounded, dependent values suppressed.

    Adds a `suppressed` boolean column so readers can tell "suppressed" from "no data".
    """
    rows = table.to_pylist()
    for row in rows:
        info = catalogue.get(str(row["measure_id"]))
        count_cols = info.count_columns if info else ("numerator", "denominator")
        hidden = False
        for col in count_cols:
            raw = row[col]
            if raw is not None and config.low <= raw <= config.high:
                hidden = True
            row[col] = suppress_count(raw, config)
        if info is not None and info.kind == "count":
            row["value"] = row["numerator"]
        elif hidden:
            row["value"] = None
        row["suppressed"] = hidden
    schema = table.schema.append(pa.field("suppressed", pa.bool_()))
    return pa.Table.from_pylist(rows, schema=schema)
