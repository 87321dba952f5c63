"""Hand-written cases through the CLI, one per class of bad input the issue names.

Row-level cases (a latin-1 byte, a 3 MB value, 1e400, a uint64 beyond int64, NaN, a living
patient born in 1890, a ragged row, a formula in a name, a path in a code) share one dataset
and one `careis validate`: each must land in the quarantine at the row written, with its
reason, or be accepted; the table counts in `quarantine/summary.csv` must equal the rows the
test wrote. Whole-file cases (a reserved or unnamed header column, a latin-1 header, a
truncated .csv.gz, junk or nested Parquet, NHS numbers as ids) must exit 2 with one line on
stderr naming the file and the row or column. Hand-made YAML and CSV inputs go through their
own commands the same way.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from careis.data.schema import TABLES
from careis.engine.csv_source import MAX_VALUE_BYTES
from careis.layout import SAFE_CODE_PATTERN
from careis_testdata import EXTRACT, base_tables, write_dataset

from .support import Value, cli, one_error_line, quarantine_rows, write_csv_rows

EXAMPLES = Path(__file__).parents[2] / "src" / "careis" / "examples"


@dataclass(frozen=True)
class RowCase:
    """One extra row: `changes` applied to the table's first base row; `check` is the label
    it must be quarantined under (None: accepted)."""

    name: str
    table: str
    changes: dict[str, Value]
    check: str | None
    ragged: bool = False


ROW_CASES = [
    RowCase("latin-1 byte in an organisation name", "organisations",
            {"org_code": "A81003", "name": b"Caf\xe9 Surgery"}, "value is not UTF-8 text"),
    RowCase("latin-1 byte in an event code", "events", {"code": b"19596\xe9"},
            "value is not UTF-8 text"),
    RowCase("value of 3 MB in events", "events", {"code": "1" * (3 << 20)},
            f"value longer than {MAX_VALUE_BYTES:,} bytes"),
    RowCase("1e400 as a number", "events", {"value": "1e400"}, "value is not a number"),
    RowCase("text NaN as a number", "events", {"value": "NaN"}, None),
    RowCase("uint64 beyond int64 as text", "patients",
            {"patient_id": "p9", "imd_decile": "18446744073709551616"},
            "imd_decile is not a whole number"),
    RowCase("text NaN in a nullable integer", "patients", {"patient_id": "p8", "imd_decile": "NaN"},
            None),
    RowCase("living patient born in 1890", "patients",
            {"patient_id": "p7", "birth_month": "1890-01-01"}, "living patient older than 117"),
    RowCase("ragged row", "admissions", {"spell_id": "s9"}, "row has the wrong number of fields",
            ragged=True),
    RowCase("formula in a name", "organisations",
            {"org_code": "A81004", "name": '=HYPERLINK("http://x","y")'}, None),
    RowCase("path in an organisation code", "organisations", {"org_code": "../../x"},
            f"org_code is not in the format {SAFE_CODE_PATTERN}"),
]  # fmt: skip


def _write_row_cases(folder: Path) -> tuple[dict[str, int], dict[str, int]]:
    """The base dataset plus one row per case; returns (rows written per table, each case's
    data row number)."""
    tables = base_tables()
    rows: dict[str, list[list[Value]]] = {}
    where: dict[str, int] = {}
    for name, spec in TABLES.items():
        rows[name] = [[r.get(h) or None for h in spec.column_names] for r in tables[name]]
    for case in ROW_CASES:
        header = TABLES[case.table].column_names
        row = list(rows[case.table][0])
        for column, value in case.changes.items():
            row[header.index(column)] = value
        rows[case.table].append([*row, "extra"] if case.ragged else row)
        where[case.name] = len(rows[case.table])
    folder.mkdir(parents=True)
    written = {
        name: write_csv_rows(folder / f"{name}.csv", TABLES[name].column_names, table_rows)
        for name, table_rows in rows.items()
    }
    return written, where


def _summary(out: Path) -> dict[str, tuple[int, int, int]]:
    with (out / "quarantine" / "summary.csv").open(encoding="utf-8") as handle:
        return {
            r["table"]: (int(r["read"]), int(r["accepted"]), int(r["quarantined"]))
            for r in csv.DictReader(handle)
        }


def _checks(out: Path, table: str) -> dict[int, str]:
    path = out / "quarantine" / f"{table}.parquet"
    if not path.exists():
        return {}
    data = pq.read_table(path)
    return dict(zip(data["_row"].to_pylist(), data["_check"].to_pylist(), strict=True))


def test_row_level_cases_are_quarantined_or_accepted_and_reconcile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written, where = _write_row_cases(tmp_path / "data")
    out = tmp_path / "out"
    code, _, err = cli(
        ["validate", str(tmp_path / "data"), "--out", str(out), "--extract-date", str(EXTRACT)],
        capsys,
    )
    assert code == 0, err
    summary = _summary(out)
    for table, n in written.items():
        read, accepted, quarantined = summary[table]
        assert read == n and accepted + quarantined == n, (table, summary[table], n)
        assert quarantined == quarantine_rows(out, table)
    for case in ROW_CASES:
        got = _checks(out, case.table).get(where[case.name])
        assert got == case.check, f"{case.name}: {got!r}"


def _typed_patients(imd: pa.Array) -> pa.Table:
    rows = base_tables()["patients"]
    text = {c: pa.array([r[c] or None for r in rows]) for c in ("patient_id", "sex")}
    dates = {
        c: pa.array([r[c] or None for r in rows]).cast(pa.date32())
        for c in ("birth_month", "death_date")
    }
    return pa.table({**text, **dates, "imd_decile": imd})


def test_typed_parquet_cases_are_null_or_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pandas NaN in a nullable integer (a float column) is null; a uint64 beyond int64, an
    infinity and a fraction are that row's error; NaN in a float column is null."""
    folder = write_dataset(tmp_path / "data", base_tables())
    (folder / "patients.csv").unlink()
    for imd, rejected in (
        (pa.array([3, 2**64 - 1, None], pa.uint64()), {2}),
        (pa.array([float("inf"), 2.5, float("nan")]), {1, 2}),
    ):
        pq.write_table(_typed_patients(imd), folder / "patients.parquet")
        out = tmp_path / f"out{len(rejected)}"
        args = ["validate", str(folder), "--out", str(out), "--extract-date", str(EXTRACT)]
        code, _, err = cli(args, capsys)
        assert code == 0, err
        assert set(_checks(out, "patients")) == rejected
        assert set(_checks(out, "patients").values()) == {"imd_decile is not a whole number"}
        assert _summary(out)["patients"] == (3, 3 - len(rejected), len(rejected))


# ----------------------------------------------------------------- whole-file refusals
Breaker = Callable[[Path], None]


def _header(table: str, header: str) -> Breaker:
    def go(folder: Path) -> None:
        path = folder / f"{table}.csv"
        lines = path.read_bytes().split(b"\n", 1)
        path.write_bytes(header.encode("latin-1") + b"\n" + lines[1])

    return go


def _truncated_gz(folder: Path) -> None:
    data = gzip.compress((folder / "events.csv").read_bytes() * 50)
    (folder / "events.csv").unlink()
    (folder / "events.csv.gz").write_bytes(data[: len(data) // 2])


def _parquet(table: str, change: Callable[[pa.Table], pa.Table]) -> Breaker:
    def go(folder: Path) -> None:
        path = folder / f"{table}.csv"
        data = pa.table(
            {
                c.name: pa.array([r.get(c.name) or None for r in base_tables()[table]], pa.string())
                for c in TABLES[table].columns
            }
        )
        path.unlink()
        pq.write_table(change(data), folder / f"{table}.parquet")

    return go


def _junk_parquet(folder: Path) -> None:
    (folder / "events.csv").unlink()
    (folder / "events.parquet").write_bytes(b"PAR1 this is not parquet")


def _nhs_ids(folder: Path) -> None:
    path = folder / "patients.csv"
    path.write_text(path.read_text().replace("p1,", "9434765919,", 1))


def _nested(data: pa.Table) -> pa.Table:
    codes = pa.array([{"c": c} for c in data["code"].to_pylist()])
    return data.set_column(data.schema.get_field_index("code"), "code", codes)


def _filename_column(data: pa.Table) -> pa.Table:
    return data.append_column("filename", pa.array(["x"] * data.num_rows))


FILE_CASES: dict[str, tuple[Breaker, tuple[str, ...]]] = {
    "CSV column named _row": (
        _header("events", "patient_id,event_date,code_system,code,value,_row"),
        ("events.csv", "'_row'"),
    ),
    "trailing comma in a header": (
        _header("patients", "patient_id,sex,birth_month,death_date,imd_decile,"),
        ("patients.csv", "column 6 of the header has no name"),
    ),
    "latin-1 byte in a header": (
        _header("organisations", "org_code,org_type,nam\xe9"),
        ("organisations.csv", "row 1 (the header)", "UTF-8"),
    ),
    "columns differing only in case": (
        _header("events", "patient_id,event_date,code_system,code,value,VALUE"),
        ("events.csv", "differ only in case"),
    ),
    "truncated .csv.gz": (_truncated_gz, ("events.csv.gz", "truncated")),
    "junk Parquet": (_junk_parquet, ("events.parquet", "cannot read as Parquet")),
    "Parquet column named filename": (
        _parquet("events", _filename_column),
        ("events.parquet", "'filename'"),
    ),
    "nested Parquet code": (
        _parquet("events", _nested),
        ("events.parquet", "column 'code'", "struct<c: string>", "text (string)"),
    ),
    "NHS numbers as patient_id": (_nhs_ids, ("patients.csv", "column 'patient_id'", "NHS")),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_whole_file_refusals_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    breaker, names = FILE_CASES[case]
    folder = write_dataset(tmp_path / "data", base_tables())
    breaker(folder)
    code, out, err = cli(["validate", str(folder), "--extract-date", str(EXTRACT)], capsys)
    assert code == 2, out + err
    one_error_line(err, *names)


# ----------------------------------------------------------------- hand-made YAML and CSV
def _bad_measure(folder: Path) -> list[str]:
    path = folder / "measures.yaml"
    path.write_text("measures:\n  - id: m1\n    kind: rate\n    numerator: [1, 2]\n")
    return ["measures", "check", str(path)]


def _bad_register(folder: Path) -> list[str]:
    source = EXAMPLES / "commissioning" / "register.csv"
    lines = source.read_text(encoding="utf-8").splitlines()
    lines[1] = ",".join(["" for _ in lines[1].split(",")])
    path = folder / "register.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["commission", "register", str(path)]


def _path_in_provider_code(folder: Path) -> list[str]:
    shutil.copytree(EXAMPLES / "contracts", folder / "contracts")
    contract = folder / "contracts" / "enhanced_service.yaml"
    contract.write_text(contract.read_text().replace('code: "00T"', 'code: "../../x"', 1))
    config = folder / "run.yaml"
    config.write_text(
        "name: x\ndata: {path: nowhere, extract_date: 2025-06-30}\n"
        "periods: {baseline: 2023/24, performance: 2024/25}\n"
        "contract: contracts/enhanced_service.yaml\noutput: {dir: out}\n"
    )
    return ["run", str(config)]


YAML_CASES: dict[str, tuple[Callable[[Path], list[str]], tuple[str, ...]]] = {
    "measure with a list for a numerator": (_bad_measure, ("measures.yaml",)),
    "path in a provider code": (_path_in_provider_code, ("enhanced_service.yaml",)),
}


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_hand_made_files_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    make, names = YAML_CASES[case]
    code, out, err = cli(make(tmp_path), capsys)
    assert code == 2, out + err
    one_error_line(err, *names)


def test_a_bad_register_row_is_named_with_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`commission register` lists every bad row (its purpose), each on one line naming the
    file and the row, then a count."""
    code, out, err = cli(_bad_register(tmp_path), capsys)
    assert code == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors and all("register.csv, row " in line for line in errors), err
