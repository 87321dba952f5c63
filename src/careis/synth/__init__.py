"""The synthetic population generator: careis's embedded default data source.

For any real sub-ICB, ICB or list of practices it generates a registered population and its
GP and hospital records over several NHS financial years, written as the canonical tables of
`careis.data.schema` (Parquet), plus `truth/practices.parquet` (what the simulated scheme
actually did at each practice) and `generation.json` (config, seed, version, row counts and
realised rates).

    from careis.synth import SynthConfig, generate
    summary = generate(SynthConfig(sub_icb=["00T"]), Path("out/data"))

Modules: `config` (what to generate), `params` (the epidemiology, with sources), `model`
(patients' conditions, frailty and risk), `orgs` (practices, groupings, federations, moves),
`practice` (one practice, vectorised), `generator` (the run), `writer` (streamed Parquet),
`ids` (pseudonyms and dates), `codes` (code lists as arrays).
"""

from __future__ import annotations

from .config import FederationSpec, InterventionConfig, RatesConfig, SynthConfig
from .generator import GenerationSummary, expected_patients, generate

__all__ = [
    "FederationSpec",
    "GenerationSummary",
    "InterventionConfig",
    "RatesConfig",
    "SynthConfig",
    "expected_patients",
    "generate",
]
