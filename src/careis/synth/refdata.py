"""Access to the shipped reference data for the generator (practices, ONS population).

A thin layer over `careis.data.reference` (the one owner of the files) that fixes the order
practices are generated in, so output does not depend on the order codes were given.
"""

from __future__ import annotations

import pandas as pd

from careis.data import reference

from .config import SynthConfig


def practices_table() -> pd.DataFrame:
    """All shipped practices (see `careis.data.reference.practices`)."""
    return reference.practices()


def population_table() -> pd.DataFrame:
    """ONS mid-2023 England population by single year of age and sex."""
    return reference.population_2023()


def select(config: SynthConfig) -> pd.DataFrame:
    """The configured practices, sorted by practice code; unknown codes are a ConfigError."""
    icb = config.icb
    if config.england:  # exactly one selector: SynthConfig checks it
        icb = sorted(set(reference.practices()["icb_code"].dropna()))
    table = reference.select_practices(
        sub_icb=config.sub_icb, icb=icb, practice_codes=config.practices
    )
    return table.sort_values("practice_code", kind="stable").reset_index(drop=True)
