"""Fixtures for the generator tests: a small code-list folder and small generated datasets.

Why our own code lists: the shipped lists are being written by someone else and may change;
these tests pin the generator's behaviour, so they feed it small lists of pattern-valid codes
made up here (SNOMED-shaped identifiers that are not real concepts) and check that every code
written comes from the named list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from careis.codelists import CodelistLibrary
from careis.synth import SynthConfig, generate

from .support import write_codelists


@pytest.fixture(scope="session")
def codelist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("codelists")
    write_codelists(folder)
    return folder


@pytest.fixture(scope="session")
def library(codelist_dir: Path) -> CodelistLibrary:
    return CodelistLibrary(user_dir=codelist_dir)


Generate = Callable[..., Path]


@pytest.fixture(scope="session")
def make_dataset(tmp_path_factory: pytest.TempPathFactory, codelist_dir: Path) -> Generate:
    """Generate a dataset for a config (cached per config within the session)."""
    cache: dict[str, Path] = {}

    def make(**settings: object) -> Path:
        config = SynthConfig.parse(settings)
        key = config.model_dump_json()
        if key not in cache:
            out = tmp_path_factory.mktemp("synth")
            generate(config, out, codelists=CodelistLibrary(user_dir=codelist_dir))
            cache[key] = out
        return cache[key]

    return make
