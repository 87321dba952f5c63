"""Helpers for the fuzz suite: write a table ourselves, count its rows ourselves, and judge
the outcome of a load or a CLI call.

Why count ourselves: read = accepted + quarantined is checked inside careis on every load; a
test that trusts careis's own `read` would not notice a row lost before counting (a reader
that skips a line it cannot parse). Here `read` is the number of rows the test wrote, and the
quarantine is counted from the Parquet file careis wrote, with pyarrow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from careis.cli import main
from careis.data.load import LoadResult, load_dataset
from careis.engine import Engine
from careis.errors import CareisError
from careis_testdata import EXTRACT

Value = str | bytes | None  # a CSV field: text, raw bytes (e.g. latin-1), or empty


def csv_field(value: Value) -> bytes:
    """One field, always quoted (so commas, quotes and line breaks stay inside it)."""
    if value is None:
        return b""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return b'"' + raw.replace(b'"', b'""') + b'"'


def write_csv_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Value]]) -> int:
    """Write a CSV byte for byte; returns the number of data rows written."""
    lines = [b",".join(h.encode() for h in header)]
    lines += [b",".join(csv_field(v) for v in row) for row in rows]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(rows)


@dataclass(frozen=True)
class Counted:
    """One table after a load: what the test wrote and what careis says happened."""

    written: int
    read: int
    accepted: int  # rows of the accepted table, counted by the engine
    quarantined: int  # rows of quarantine/<table>.parquet, counted by pyarrow
    reasons: dict[str, int]


def load_and_count(folder: Path, out: Path, written: Mapping[str, int]) -> dict[str, Counted]:
    """Load `folder`, write its quarantine under `out`, and count every table independently."""
    with Engine.duckdb() as engine:
        result = load_dataset(engine, folder, extract_date=EXTRACT)
        result.write_quarantine(engine, out)
        accepted = {name: engine.count(t) for name, t in result.tables.items()}
    return {s.table: _counted(s.table, result, accepted, out, written) for s in result.summary}


def _counted(
    table: str, result: LoadResult, accepted: dict[str, int], out: Path, written: Mapping[str, int]
) -> Counted:
    summary = next(s for s in result.summary if s.table == table)
    return Counted(
        written=written[table],
        read=summary.read,
        accepted=accepted[table],
        quarantined=quarantine_rows(out, table),
        reasons=summary.reasons,
    )


def quarantine_rows(out: Path, table: str) -> int:
    """Rows in the quarantine file careis wrote for `table` (0 when it wrote none), checking
    that each names a distinct row of the source."""
    path = out / "quarantine" / f"{table}.parquet"
    if not path.exists():
        return 0
    data = pq.read_table(path)
    rows = list(zip(data["_file"].to_pylist(), data["_row"].to_pylist(), strict=True))
    assert len(set(rows)) == len(rows), f"{table}: a row quarantined twice"
    assert all(r is not None and r >= 1 for _, r in rows), f"{table}: a row with no number"
    return data.num_rows


def assert_reconciles(counts: Mapping[str, Counted]) -> None:
    """Every row the test wrote was read, and is accepted or quarantined, exactly once."""
    for table, c in counts.items():
        assert c.read == c.written, f"{table}: wrote {c.written} rows, careis read {c.read}"
        assert c.accepted + c.quarantined == c.written, f"{table}: {c}"


def assert_one_line(exc: CareisError, *names: str) -> None:
    """A careis error is one line naming the file (and row or field where given)."""
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message, message
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"


def attempt(call: Callable[[], object]) -> CareisError | None:
    """The careis error `call` raises, or None when it succeeds. Any other exception
    propagates: that is a traceback, which the suite exists to find."""
    try:
        call()
    except CareisError as exc:
        return exc
    return None


def outcome(call: Callable[[], object], *names: str) -> str:
    """'ok', or 'refused' after checking the careis error is one line naming `names`. Any
    other exception propagates: that is a traceback, which the suite exists to find."""
    error = attempt(call)
    if error is None:
        return "ok"
    assert_one_line(error, *names)
    return "refused"


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr). An exception other than the
    CLI's own exit is a traceback and fails the test."""
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def one_error_line(stderr: str, *names: str) -> str:
    """The CLI's error: exactly one non-empty line on stderr, naming each of `names`."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for name in names:
        assert name in lines[0], f"{name!r} not in {lines[0]!r}"
    return lines[0]


def clean_out(path: Path) -> Path:
    """An empty output folder (Hypothesis reuses the test's tmp_path across examples)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    return path


def fuzz_settings(examples: int) -> Any:
    """Hypothesis settings for one fuzz test: `examples` by default (the suite must stay
    under 90 s on a 2-core machine), scaled by CAREIS_FUZZ_SCALE for a deeper run
    (e.g. CAREIS_FUZZ_SCALE=20 before a release)."""
    import os

    from hypothesis import HealthCheck, settings

    scale = float(os.environ.get("CAREIS_FUZZ_SCALE", "1"))
    return settings(
        max_examples=max(1, int(examples * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
