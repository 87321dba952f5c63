"""Statement PDFs are the same bytes however the statements are batched between processes.

`careis.report.statements._pdfs` lays statements out in batches, in parallel processes when
there are many; a statement's PDF must not depend on which batch it was in nor on how many
processes there were (the demo's outputs are compared byte for byte).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from careis.report import pdf_pages, statements
from careis.report.statements import Party


def _body(i: int) -> str:
    rows = "".join(f"<tr><td>line {j}</td><td>£{j * 17 + i}.00</td></tr>" for j in range(i * 9))
    return (
        f'<p class="lede"><strong>Practice {i}</strong></p>'
        f"<table><thead><tr><th>What</th><th>Amount</th></tr></thead>{rows}</table>"
    )


def _parties(root: Path, n: int) -> list[tuple[Party, str]]:
    return [
        (Party(f"P{i}", f"Practice {i}", "practice", root / f"P{i}"), _body(i)) for i in range(n)
    ]


def _bytes(paths: list[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


def test_a_statement_pdf_does_not_depend_on_its_batch(tmp_path: Path) -> None:
    printed = _parties(tmp_path / "one", 7)  # statement 6 runs over several pages
    whole = pdf_pages.write_batch([(str(p.folder / "s.pdf"), b) for p, b in printed], 0)
    split = [
        *pdf_pages.write_batch(
            [(str(tmp_path / "two" / f"{i}.pdf"), printed[i][1]) for i in range(3)], 0, last=False
        ),
        *pdf_pages.write_batch(
            [(str(tmp_path / "two" / f"{i}.pdf"), printed[i][1]) for i in range(3, 7)], 3
        ),
    ]
    assert _bytes([Path(f) for f in whole]) == _bytes([Path(f) for f in split])


def test_statements_laid_out_in_parallel_processes_are_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = statements._pdfs(_parties(tmp_path / "serial", 5))
    monkeypatch.setattr(statements, "_pdf_workers", lambda n: 2)
    parallel = statements._pdfs(_parties(tmp_path / "parallel", 5))
    assert [p.relative_to(tmp_path / "parallel") for p in parallel] == [
        p.relative_to(tmp_path / "serial") for p in serial
    ]
    assert _bytes(parallel) == _bytes(serial)


def test_few_statements_are_laid_out_in_this_process() -> None:
    assert statements._pdf_workers(statements.PARALLEL_MIN - 1) == 1
    assert statements._pdf_workers(1000) <= 4


def test_party_folders_are_created_by_the_batch(tmp_path: Path) -> None:
    ((party, body),) = _parties(tmp_path, 1)
    party = dataclasses.replace(party, folder=tmp_path / "new" / "P0")
    [path] = statements._pdfs([(party, body)])
    assert path == tmp_path / "new" / "P0" / "statement.pdf" and path.read_bytes()[:5] == b"%PDF-"


def test_a_failing_worker_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where a folder should be")
    jobs = [(str(tmp_path / "taken" / "statement.pdf"), _body(1))]
    with pytest.raises(RuntimeError, match=r"statement PDFs failed: .*Error") as caught:
        pdf_pages.write_batches_in_processes([(jobs, 0, True)])
    assert "\n" not in str(caught.value)
