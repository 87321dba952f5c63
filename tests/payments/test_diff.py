"""`careis pay diff` on hand-made run folders: inputs, totals, lines and ledger moves compared."""

from __future__ import annotations

import json
from pathlib import Path

from careis.payments.diff import diff_runs


def make_run(folder: Path, sha: str, statements: str, ledger: str | None) -> Path:
    (folder / "payments").mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps({"inputs": [{"path": "data/patients.parquet", "sha256": sha, "bytes": 1}]})
    )
    (folder / "payments" / "statements.csv").write_text(statements)
    if ledger is not None:
        (folder / "payments" / "ledger.csv").write_text(ledger)
    return folder


def test_diff_names_the_changed_input_and_every_changed_amount(tmp_path: Path) -> None:
    # run A predates the ledger (no kind column, no ledger.csv): it still compares
    a = make_run(
        tmp_path / "a",
        "aaaa" * 16,
        "provider,component_id,description,amount\nP1,eng,Engagement,10.00\nP2,eng,Engagement,5.00\n",
        None,
    )
    b = make_run(
        tmp_path / "b",
        "bbbb" * 16,
        "provider,component_id,description,amount,kind\nP1,eng,Engagement,10.00,earned\n"
        "P2,eng,Engagement,7.50,earned\n",
        "seq,date,payer,payee,amount,component_id,movement,memo\n"
        "1,2025-03-31,S1,P2,7.50,eng,payment,x\n",
    )
    diffs = [(d.table, d.key, d.run_a, d.run_b, d.difference) for d in diff_runs(a, b)]
    assert (
        "input",
        "data/patients.parquet",
        "aaaaaaaaaaaa",
        "bbbbbbbbbbbb",
        "content changed",
    ) in diffs
    assert ("provider_total", "P2", "5.00", "7.50", "+2.50") in diffs
    assert ("ledger", "2025-03-31 | S1 | P2 | eng | payment", "", "7.50", "+7.50") in diffs
    assert not any(d[0] == "provider_total" and d[1] == "P1" for d in diffs)
    assert diff_runs(b, b) == []


def test_damaged_manifest_is_one_line(tmp_path: Path) -> None:
    """Issue 15 item 8: a corrupt manifest ended `careis pay diff` in a JSONDecodeError."""
    import pytest

    from careis.errors import CareisError

    stmt = "provider,component_id,description,amount\nP1,eng,Engagement,10.00\n"
    a = make_run(tmp_path / "a", "aaaa" * 16, stmt, None)
    b = make_run(tmp_path / "b", "aaaa" * 16, stmt, None)
    for text in ("{not json", "[1, 2]", '{"inputs": [{"path": "x"}]}'):
        (b / "manifest.json").write_text(text)
        with pytest.raises(CareisError) as err:
            diff_runs(a, b)
        assert str(err.value).startswith(f"{b / 'manifest.json'}: the manifest cannot be read")


def test_non_numeric_amount_names_file_and_line(tmp_path: Path) -> None:
    import pytest

    from careis.errors import CareisError

    good = "provider,component_id,description,amount\nP1,eng,Engagement,10.00\n"
    a = make_run(tmp_path / "a", "aaaa" * 16, good, None)
    for bad in ("ten", "NaN", ""):
        b = make_run(
            tmp_path / f"b{bad or 'empty'}", "aaaa" * 16, good + f"P2,eng,Engagement,{bad}\n", None
        )
        with pytest.raises(CareisError) as err:
            diff_runs(a, b)
        path = b / "payments" / "statements.csv"
        assert str(err.value).startswith(f"{path}, line 3: amount {bad!r} is not a number.")
