"""Fuzz the loaders byte by byte: corrupted CSV, Parquet-named junk and YAML text never end
in a traceback.

Property (issue 15, "bad input never crashes and never vanishes"): whatever bytes a table file
holds, `load_dataset` either raises a careis error (one line, naming the file) or loads, and
then every table reconciles: read = accepted + quarantined. (Byte edits can merge or split
rows, so here careis's own count is checked; test_tables_csv.py writes whole rows and counts
them itself.) A YAML text likewise either parses or raises a ConfigError naming the file.
Examples are few and small so the suite stays fast (CAREIS_FUZZ_SCALE runs more).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careis.data.load import load_dataset
from careis.data.schema import LOAD_ORDER
from careis.engine import Engine
from careis.errors import CareisError
from careis.yamlio import parse_yaml
from careis_testdata import EXTRACT, base_tables, write_dataset

from .support import fuzz_settings

TABLES = list(LOAD_ORDER)  # every canonical table


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("fuzz") / "clean", base_tables(), "csv")


def _mutate(data: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(data)
    for pos, chunk in edits:
        at = pos % (len(out) + 1)
        out[at : at + len(chunk)] = chunk
    return bytes(out)


def _check(folder: Path) -> None:
    try:
        with Engine.duckdb() as engine:
            result = load_dataset(engine, folder, extract_date=EXTRACT)
    except CareisError as exc:
        assert "\n" not in str(exc)  # noqa: PT017 - either outcome is allowed; this checks the error
        return
    for s in result.summary:
        assert s.read == s.accepted + s.quarantined, s


@fuzz_settings(6)
@given(
    table=st.sampled_from(TABLES),
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2_000),
            st.binary(min_size=1, max_size=6)
            | st.sampled_from([b",", b'"', b"\n", b"\r\n", b"\xff\xfe", b"\x00", b"=1+1", b";"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_corrupted_csv_is_an_error_or_reconciles(
    clean: Path, tmp_path: Path, table: str, edits: list[tuple[int, bytes]]
) -> None:
    folder = tmp_path / "d"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(clean, folder)
    path = folder / f"{table}.csv"
    path.write_bytes(_mutate(path.read_bytes(), edits))
    _check(folder)


@fuzz_settings(4)
@given(junk=st.binary(max_size=200))
def test_junk_parquet_is_one_error(clean: Path, tmp_path: Path, junk: bytes) -> None:
    folder = tmp_path / "p"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(clean, folder)
    (folder / "events.csv").unlink()
    (folder / "events.parquet").write_bytes(junk)
    with pytest.raises(CareisError) as err, Engine.duckdb() as engine:
        load_dataset(engine, folder, extract_date=EXTRACT)
    assert "events.parquet" in str(err.value)


@fuzz_settings(60)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n  \t0123.,?%@`")), max_size=80)
)
def test_yaml_parses_or_is_one_config_error(text: str) -> None:
    try:
        parse_yaml(text, "fuzz.yaml")
    except CareisError as exc:
        assert "fuzz.yaml" in str(exc) and "\n" not in str(exc)  # noqa: PT017 - either outcome
