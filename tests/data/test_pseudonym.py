"""NHS numbers: checked in the engine (cross-checked with the nhs-number package),
pseudonymised with a key, masked in quarantine, and never written anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nhs_number
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careis.data import pseudonym
from careis.data.load import LoadOptions, LoadResult, load_dataset
from careis.engine import Engine
from careis.errors import ConfigError, DataError
from careis_testdata import EXTRACT, base_tables, write_dataset

KEY = "test-key-not-secret-but-long-enough-0123456789"
VALID = ["9434765919", "9434765870", "4010232137", "6541234566"]
# 9434765918: wrong check digit; 1234567890: remainder 10, never valid; short and long.
INVALID = ["9434765918", "1234567890", "943476591", "94347659190", "94347659I9"]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    e = Engine.duckdb()
    yield e
    e.close()


def engine_check(engine: Engine, values: list[str | None]) -> list[bool]:
    t = engine.from_arrow(pa.table({"v": pa.array(values, pa.string())}))
    return list(t.select(ok=pseudonym.nhs_number_is_valid(t.v)).to_pyarrow()["ok"].to_pylist())


def expected_checksum(number: str) -> bool:
    """The modulus 11 rule, via the package's own checksum function."""
    digits = nhs_number.standardise_format(number)
    return bool(digits) and nhs_number.calculate_checksum(digits[:9]) == int(digits[9])


def test_known_numbers(engine: Engine) -> None:
    for number in VALID:
        assert nhs_number.is_valid(number)
    assert engine_check(engine, VALID) == [True] * len(VALID)
    assert engine_check(engine, [*INVALID, None, ""]) == [False] * (len(INVALID) + 2)


def test_layouts(engine: Engine) -> None:
    layouts = ["943 476 5919", "943-476-5919", " 9434765919 ", "943 4765919", "943-476 5919"]
    assert engine_check(engine, layouts) == [nhs_number.is_valid(x) for x in layouts]
    assert engine_check(engine, layouts) == [True, True, True, False, False]


ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)
near_numbers = st.one_of(
    ten_digits,
    st.text(alphabet="0123456789", min_size=8, max_size=12),
    st.text(alphabet="0123456789 -x", min_size=9, max_size=13),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(near_numbers, min_size=1, max_size=60))
def test_engine_agrees_with_the_package(engine: Engine, numbers: list[str]) -> None:
    got = engine_check(engine, numbers)
    for number, ok in zip(numbers, got, strict=True):
        assert ok == expected_checksum(number), number
        # The package also rejects Scottish CHI numbers whose first six digits are not a
        # date; outside that range the two must agree exactly.
        digits = nhs_number.standardise_format(number)
        if not digits or not (100_000_000 <= int(digits) <= 3_112_999_999):
            assert ok == nhs_number.is_valid(number), number


def test_pseudonym_in_engine_matches_python(engine: Engine) -> None:
    t = engine.from_arrow(pa.table({"v": VALID}))
    digits = pseudonym.normalise_nhs_number(t.v)
    got = t.select(p=pseudonym.pseudonymise(digits, KEY)).to_pyarrow()["p"].to_pylist()
    assert got == [pseudonym.pseudonym(v, KEY) for v in VALID]
    assert all(len(p) == pseudonym.PSEUDONYM_LENGTH for p in got)
    assert pseudonym.pseudonym("943 476 5919", KEY) == pseudonym.pseudonym("9434765919", KEY)
    assert pseudonym.pseudonym("9434765919", KEY) != pseudonym.pseudonym("9434765919", KEY + "x")


def test_mask(engine: Engine) -> None:
    t = engine.from_arrow(pa.table({"v": ["9434765919", "12", "943 476 5919"]}))
    got = t.select(m=pseudonym.mask_nhs_number(t.v)).to_pyarrow()["m"].to_pylist()
    assert got == ["943*******", "12", "943*********"]


# ----------------------------------------------------------------- in a load
def nhs_tables() -> dict[str, list[dict[str, Any]]]:
    """The base dataset with NHS numbers instead of patient ids, plus bad numbers."""
    numbers = {"p1": VALID[0], "p2": "943-476-5870", "p3": VALID[2]}
    tables = base_tables()
    for name in ("patients", "registrations", "events", "admissions", "ae_attendances"):
        for row in tables[name]:
            row["nhs_number"] = numbers[row.pop("patient_id")]
    tables["patients"] += [
        {"nhs_number": "9434765918", "sex": "F", "birth_month": "1970-01-01"},  # bad check digit
        {"nhs_number": "", "sex": "F", "birth_month": "1970-01-01"},  # missing
        {"nhs_number": VALID[0], "sex": "F", "birth_month": "1970-01-01"},  # duplicate
    ]
    tables["events"].append(
        {
            "nhs_number": "9434765918",
            "event_date": "2020-01-01",
            "code_system": "snomed",
            "code": "1",
        }
    )
    return tables


def write_nhs_dataset(folder: Path) -> Path:
    tables = nhs_tables()
    headers = {
        name: ["nhs_number" if c == "patient_id" else c for c in cols]
        for name, cols in {
            "patients": ["patient_id", "sex", "birth_month", "death_date", "imd_decile"],
            "registrations": ["patient_id", "practice_code", "start_date", "end_date"],
            "events": ["patient_id", "event_date", "code_system", "code", "value"],
            "admissions": ["spell_id", "patient_id", "admission_date", "discharge_date",
                           "admission_method", "primary_diagnosis", "provider_code"],
            "ae_attendances": ["attendance_id", "patient_id", "arrival_date",
                               "department_type", "provider_code"],
        }.items()
    }  # fmt: skip
    return write_dataset(folder, tables, "csv", headers)


@pytest.fixture(scope="module")
def nhs_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoadResult, Engine, Path]]:
    folder = write_nhs_dataset(tmp_path_factory.mktemp("nhs") / "data")
    engine = Engine.duckdb()
    options = LoadOptions(pseudonym_key=KEY)  # type: ignore[arg-type]
    result = load_dataset(engine, folder, extract_date=EXTRACT, options=options)
    out = tmp_path_factory.mktemp("nhs_out")
    result.write_quarantine(engine, out)
    yield result, engine, out
    engine.close()


def test_valid_numbers_are_pseudonymised_and_joined(
    nhs_run: tuple[LoadResult, Engine, Path],
) -> None:
    result, _, _ = nhs_run
    ids = sorted(result.tables["patients"].patient_id.to_pyarrow().to_pylist())
    assert ids == sorted(pseudonym.pseudonym(n, KEY) for n in (VALID[0], VALID[1], VALID[2]))
    # Children carry the same pseudonyms, so every reference resolved.
    for name in ("registrations", "admissions", "ae_attendances"):
        s = next(s for s in result.summary if s.table == name)
        assert s.quarantined == 0, name


def test_invalid_numbers_are_quarantined_masked(nhs_run: tuple[LoadResult, Engine, Path]) -> None:
    result, _, _ = nhs_run
    rows = result.quarantine["patients"].to_pyarrow().to_pylist()
    assert [(r["_row"], r["_reason"], r["nhs_number"], r["patient_id"]) for r in rows] == [
        (4, "nhs_number: '943*******' is not a valid NHS number (10 digits ending in a modulus 11 "
            "check digit)", "943*******", None),
        (5, "nhs_number is empty (required)", None, None),
        (6, f"duplicate patient_id {pseudonym.pseudonym(VALID[0], KEY)} (first seen at row 1)",
         "943*******", pseudonym.pseudonym(VALID[0], KEY)),
    ]  # fmt: skip
    events = result.quarantine["events"].to_pyarrow().to_pylist()
    assert [r["_check"] for r in events] == ["nhs_number is not a valid NHS number"]


def test_numbers_never_leak(nhs_run: tuple[LoadResult, Engine, Path]) -> None:
    result, _, out = nhs_run
    secrets = {n.replace("-", "") for n in [*VALID, "9434765918"]} | {"943-476-5870"}
    texts = [str(result)]
    for table in [*result.tables.values(), *result.quarantine.values()]:
        texts.append(str(table.to_pyarrow().to_pylist()))
    for path in (out / "quarantine").iterdir():
        texts.append(path.read_bytes().decode("latin-1"))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob
    assert "nhs_number" not in result.tables["patients"].columns


def test_no_key_refuses_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pseudonym.ENV_KEY, raising=False)
    folder = write_nhs_dataset(tmp_path / "data")
    with Engine.duckdb() as engine, pytest.raises(ConfigError) as err:
        load_dataset(engine, folder, extract_date=EXTRACT)
    message = str(err.value)
    assert "\n" not in message
    assert "no pseudonym key is set" in message
    assert pseudonym.ENV_KEY in message
    assert "patients.csv" in message


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pseudonym.ENV_KEY, "from-env")
    assert pseudonym.resolve_key(None) == "from-env"
    assert pseudonym.resolve_key("explicit") == "explicit"
    monkeypatch.delenv(pseudonym.ENV_KEY)
    assert pseudonym.resolve_key(None) is None
    assert "from-env" not in repr(LoadOptions(pseudonym_key="from-env"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "weak", ["Z", "short-but-varied-1234", "a" * 40, "abababababababababababababababab"]
)
def test_weak_keys_are_refused(tmp_path: Path, weak: str) -> None:
    """Issue 15 item 6: a one-character key was accepted; anyone could try every short key."""
    folder = write_nhs_dataset(tmp_path / "data")
    options = LoadOptions(pseudonym_key=weak)  # type: ignore[arg-type]
    with Engine.duckdb() as engine, pytest.raises(ConfigError) as err:
        load_dataset(engine, folder, extract_date=EXTRACT, options=options)
    message = str(err.value)
    assert "too weak" in message and "\n" not in message
    assert weak not in message  # the key itself is never printed
    assert "secrets.token_urlsafe" in message


def test_nhs_numbers_as_patient_ids_are_refused(tmp_path: Path) -> None:
    """Issue 15 item 6: NHS numbers in `patient_id` went verbatim into register.csv."""
    tables = base_tables()
    numbers = {"p1": VALID[0], "p2": VALID[1], "p3": VALID[2]}
    for name in ("patients", "registrations", "events", "admissions", "ae_attendances"):
        for row in tables[name]:
            row["patient_id"] = numbers[row["patient_id"]]
    folder = write_dataset(tmp_path / "data", tables, "csv")
    with Engine.duckdb() as engine, pytest.raises(DataError) as err:
        load_dataset(engine, folder, extract_date=EXTRACT)
    message = str(err.value)
    assert "3 patient_id value(s) are NHS numbers" in message
    assert "patients.csv" in message and "nhs_number" in message
    assert not any(n in message for n in VALID)


def test_ten_digit_ids_failing_modulus_11_are_not_nhs_numbers(tmp_path: Path) -> None:
    tables = base_tables()
    numbers = {"p1": "9434765918", "p2": "1234567890", "p3": "p3"}  # both fail the check digit
    for name in ("patients", "registrations", "events", "admissions", "ae_attendances"):
        for row in tables[name]:
            row["patient_id"] = numbers[row["patient_id"]]
    folder = write_dataset(tmp_path / "data", tables, "csv")
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
    assert next(s for s in result.summary if s.table == "patients").accepted == 3
