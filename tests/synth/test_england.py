"""`careis generate --england`: every practice in England with an ICB in the shipped reference
(issue 17, "England on paper and in miniature"), as one selector among the others."""

from __future__ import annotations

import pytest

from careis.data import reference
from careis.synth import SynthConfig
from careis.synth.refdata import select


def test_england_is_every_practice_with_an_icb() -> None:
    table = select(SynthConfig(england=True, scale=0.01))
    shipped = reference.practices()
    with_icb = shipped[shipped["icb_code"].notna()]
    assert sorted(table["practice_code"]) == sorted(with_icb["practice_code"])
    # the real organisation of England in the reference: 42 ICBs
    assert table["icb_code"].nunique() == 42
    assert len(table) > 6000


def test_england_is_one_selector_among_the_others() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        SynthConfig(england=True, icb=["QOP"])
