"""Small-number suppression for aggregate outputs that leave the commissioner.

Why: a count of 1-7 patients at a small practice can identify people. NHS Digital's usual rule
is applied by default: counts from `low` to `high` (1-7) are suppressed and every other count
is rounded to the nearest `round_to` (5). A value (percentage, rate, confidence limit)
computed from a suppressed count is suppressed too, since the count could be recovered from
it. Zero is not disclosive and is shown. Suppression never applies to a practice's own
patient-level view.

Not calculated: a directly standardised rate on fewer than 10 events is not published (OHID's
minimum count; the results row's `note` says so): its value and limits are blanked and the
reason given, while its counts follow the rules above. It is not a disclosure risk, so it
does not trigger secondary suppression.

Secondary suppression: when exactly one practice in a group (a PCN, federation, sub-ICB or
ICB) is suppressed for a measure and period, the group's total minus the other practices
would give it back. So the next-smallest practice in that group (ties broken by code) is
suppressed as well, and the check repeats until no group has a lone suppressed practice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import pyarrow as pa

from careis.config import SuppressionConfig
from careis.measures.results import MeasureInfo

SUPPRESSED = "*"
DERIVED = ("value", "lower_ci", "upper_ci", "crude_value", "lower_ci_998", "upper_ci_998")
NOT_CALCULATED = "not calculated: DSR on fewer than 10 events (OHID minimum count)"


def _not_calculated(row: dict[str, object]) -> bool:
    return str(row.get("note") or "").startswith("DSR not calculated")


def suppress_count(value: float | None, config: SuppressionConfig) -> float | None:
    """The published form of one count: None if suppressed, else rounded (half up)."""
    if value is None:
        return None
    if config.low <= value <= config.high:
        return None
    step = config.round_to
    return float(int((value + step / 2) // step) * step)


def _small(value: object, config: SuppressionConfig) -> bool:
    return isinstance(value, int | float) and config.low <= value <= config.high


def suppress_results(
    table: pa.Table,
    catalogue: dict[str, MeasureInfo],
    config: SuppressionConfig,
    groups: Mapping[tuple[str, str], str] | None = None,
) -> pa.Table:
    """Published copy of a results table: counts suppressed/rounded, dependent values suppressed.

    `groups` maps (practice_code, group_type) to the group the practice belongs to, for
    secondary suppression (without it only primary suppression is applied). Adds a
    `suppressed` boolean and a `suppression` reason ('small count', 'secondary' or '').
    """
    rows = table.to_pylist()
    reason: dict[int, str] = {}
    for i, row in enumerate(rows):
        info = catalogue.get(str(row["measure_id"]))
        count_cols = info.count_columns if info else ("numerator", "denominator")
        if any(_small(row.get(c), config) for c in (*count_cols, "exclusions") if c in row):
            reason[i] = "small count"
    if groups:
        _secondary(rows, reason, catalogue, groups)
    for i, row in enumerate(rows):
        info = catalogue.get(str(row["measure_id"]))
        count_cols = info.count_columns if info else ("numerator", "denominator")
        hidden = i in reason
        for col in (*count_cols, "exclusions"):
            if col in row:
                row[col] = None if hidden else suppress_count(row[col], config)
        if info is not None and info.kind == "count":
            row["value"] = row["numerator"]
        elif hidden or _not_calculated(row):
            for col in DERIVED:
                if col in row:
                    row[col] = None
        row["suppressed"] = hidden or _not_calculated(row)
        row["suppression"] = reason.get(i, NOT_CALCULATED if _not_calculated(row) else "")
    schema = table.schema.append(pa.field("suppressed", pa.bool_())).append(
        pa.field("suppression", pa.string())
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _secondary(
    rows: list[dict[str, object]],
    reason: dict[int, str],
    catalogue: dict[str, MeasureInfo],
    groups: Mapping[tuple[str, str], str],
) -> None:
    """Suppress a second practice wherever a group would otherwise reveal a lone one."""
    by_practice: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (practice, group_type), group in sorted(groups.items()):
        by_practice[practice].append((group_type, group))
    members: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        info = catalogue.get(str(row["measure_id"]))
        if row["level"] != "practice" or (info is not None and not info.count_columns):
            continue
        for group_type, group in by_practice.get(str(row["org_code"]), []):
            members[(str(row["measure_id"]), str(row["period"]), group_type, group)].append(i)
    changed = True
    while changed:
        changed = False
        for key in sorted(members):
            idx = members[key]
            hidden = [i for i in idx if i in reason]
            if len(hidden) != 1 or len(idx) < 2:
                continue
            shown = [i for i in idx if i not in reason]
            pick = min(shown, key=lambda i: (_size(rows[i]), str(rows[i]["org_code"])))
            reason[pick] = "secondary"
            changed = True


def _size(row: dict[str, object]) -> float:
    value = row.get("numerator")
    return float(value) if isinstance(value, int | float) else float("inf")
