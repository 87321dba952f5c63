"""Real reference data shipped in the package: practices, their groupings and list sizes.

Why shipped: the synthetic generator must produce real practice codes, names, PCNs, sub-ICBs
and ICBs with their real age/sex list sizes on a machine with no network.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal, get_args

import pandas as pd

from careis.errors import ConfigError

OrgLevel = Literal["sub_icb", "icb", "pcn"]
ORG_LEVELS: tuple[str, ...] = get_args(OrgLevel)


def _open(name: str) -> str:
    # `reference` is a data folder, not a package: resolve it from its parent package.
    return str(resources.files("careis.data").joinpath("reference", name))


@cache
def practices() -> pd.DataFrame:
    """All 6,410 practices with PCN, sub-ICB, ICB and (where known) 2016 list size by band."""
    return pd.read_csv(_open("practices.csv.gz"), dtype={"practice_code": str, "sub_icb_code": str})


@cache
def population_2023() -> pd.DataFrame:
    """ONS mid-2023 England population by single year of age (0-90, 90 = 90+) and sex."""
    return pd.read_csv(_open("population_2023.csv"))


def select_practices(
    sub_icb: str | list[str] | None = None,
    icb: str | list[str] | None = None,
    practice_codes: list[str] | None = None,
) -> pd.DataFrame:
    """The practices of one or more sub-ICBs, ICBs or an explicit list (exactly one selector).

    Raises ConfigError naming the unknown code and suggesting how to list valid ones.
    """
    given = [s for s in (sub_icb, icb, practice_codes) if s]
    if len(given) != 1:
        raise ConfigError(
            "choose the population by exactly one of: sub-ICB, ICB or a list of practices.",
            fix="e.g. careis generate --sub-icb 00T (run `careis orgs` to list codes).",
        )
    table = practices()
    if sub_icb:
        codes = [sub_icb] if isinstance(sub_icb, str) else list(sub_icb)
        column, label = "sub_icb_code", "sub-ICB"
    elif icb:
        codes = [icb] if isinstance(icb, str) else list(icb)
        column, label = "icb_code", "ICB"
    else:
        codes = list(practice_codes or [])
        column, label = "practice_code", "practice"
    codes = [c.strip().upper() for c in codes]
    known = set(table[column])
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ConfigError(
            f"unknown {label} code{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
            fix=f"run `careis orgs --level {column.removesuffix('_code')}` to list the known codes.",
        )
    return table[table[column].isin(codes)].reset_index(drop=True)


def organisations(level: OrgLevel = "sub_icb", within: str | None = None) -> pd.DataFrame:
    """The organisations at `level` (inside ICB or sub-ICB `within`, if given), with counts.

    Columns: code, name, practices, list_size (the 2016 registered list, summed over the age
    and sex bands; 0 where no practice has a known size). Why: choosing what to generate needs
    real codes and a sense of size; `careis orgs` prints this table.
    """
    if level not in ORG_LEVELS:
        raise ConfigError(f"unknown level '{level}'.", fix=f"use one of: {', '.join(ORG_LEVELS)}.")
    table = practices()
    if within:
        table = table[(table["icb_code"] == within) | (table["sub_icb_code"] == within)]
    size_cols = [c for c in table.columns if c.startswith(("m_", "f_"))]
    table = table.assign(list_size=table[size_cols].sum(axis=1, min_count=1))
    grouped = (
        table.groupby([f"{level}_code", f"{level}_name"])
        .agg(practices=("practice_code", "size"), list_size=("list_size", "sum"))
        .reset_index()
    )
    grouped.columns = pd.Index(["code", "name", "practices", "list_size"])
    return grouped
