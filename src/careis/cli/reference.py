"""`careis orgs` and `careis schema`: what careis knows before any data arrive.

`orgs` prints `data.reference.organisations` (the real practice -> PCN -> sub-ICB -> ICB map);
`schema` prints `data.schema` (the canonical tables). Both only format tables.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table as RichTable

from careis.cli._common import console
from careis.data.reference import OrgLevel
from careis.data.schema import TABLES, Column, TableSpec

# The table names as a choice, so a typo is a one-line usage error listing the real ones.
TableName = StrEnum("TableName", {name: name for name in TABLES})  # type: ignore[misc]


def orgs(
    level: Annotated[OrgLevel, typer.Option(help="Organisation level listed.")] = "sub_icb",
    within: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="Only those inside this ICB or sub-ICB code."),
    ] = None,
) -> None:
    """List the real organisations careis knows (for choosing what to generate)."""
    from careis.data.reference import organisations

    out = RichTable(f"{level} code", "name", "practices", "list size (2016)")
    for row in organisations(level, within).itertuples(index=False):
        out.add_row(str(row.code), str(row.name), str(row.practices), f"{int(row.list_size):,}")
    console.print(out)


def schema(
    table: Annotated[
        TableName | None,
        typer.Argument(metavar="TABLE", help=f"One of: {', '.join(TABLES)} (default: all)."),
    ] = None,
) -> None:
    """Show the canonical data model: tables, columns, types and rules."""
    specs = [TABLES[table.value]] if table else list(TABLES.values())
    for spec in specs:
        console.print(_spec_table(spec))


def _spec_table(spec: TableSpec) -> RichTable:
    t = RichTable(
        "column", "type", "null?", "rule", "meaning",
        title=f"{spec.name} — {spec.description}", title_justify="left",
    )  # fmt: skip
    for col in spec.columns:
        t.add_row(col.name, col.dtype, "yes" if col.nullable else "no", _rule(col), col.description)
    for col in spec.derived:
        t.add_row(col.name, col.dtype, "yes" if col.nullable else "no", "derived by careis",
                  col.description)  # fmt: skip
    if spec.key:
        t.caption = f"unique key: {', '.join(spec.key)}"
    return t


def _rule(col: Column) -> str:
    if col.allowed:
        return "one of " + ", ".join(col.allowed)
    if col.pattern:
        return f"matches {col.pattern}"
    if col.minimum is not None:
        return f"{col.minimum:g}..{col.maximum:g}"
    return ""
