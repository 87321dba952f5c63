"""PDF documents laid out by WeasyPrint: the print page, one document, a batch of statements.

Why a module of its own with nothing but WeasyPrint behind it: `careis.report.statements`
hands batches of statements to worker processes, which import only this (a second or less to
start), not the contracts and payments the statements are drawn from.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from subprocess import PIPE

Batch = tuple[list[tuple[str, str]], int, bool]  # (pdf path, body) jobs, start, last


def print_page(body: str) -> str:
    """A document body in the page WeasyPrint lays out: the print stylesheet, nothing else."""
    css = resources.files("careis.report").joinpath("templates", "print_document.css")
    head = f'<head><meta charset="utf-8"><style>{css.read_text("utf-8")}</style></head>'
    return f'<html lang="en-GB">{head}<body>{body}</body></html>'


def write_document(body: str, path: Path) -> Path:
    """One document (its body HTML) as an A4 PDF with the print stylesheet; no dates inside."""
    from weasyprint import HTML

    HTML(string=print_page(body)).write_pdf(path)
    return path


#: An empty statement section: before a batch that is not the run's first, it takes the
#: document's first page (which alone carries the body's top margin); after a batch that is
#: not the last, it makes the batch's last statement end at a forced page break. Either way
#: every statement is laid out exactly as in one document of all statements.
_PAD = '<section class="statement" id="s-pad-{}"></section>'


def write_batch(jobs: list[tuple[str, str]], start: int, *, last: bool = True) -> list[str]:
    """Write each (pdf path, statement body) of `jobs`, laid out together as one document and
    split at each statement's first page; returns the paths written.

    `start` is the first job's place among all statements of the run and `last` says whether
    the batch ends the run: the section ids (`s-<place>`) end up in each PDF's named
    destinations, and a statement must be laid out (and so written) the same whichever batch
    it is in (see _PAD). Each body must have no ids of its own (they must be unique in the
    one document); the print stylesheet starts each section on a new page.
    """
    from weasyprint import HTML

    if not jobs:
        return []
    sections = "".join(
        f'<section class="statement" id="s-{start + i}">{body}</section>'
        for i, (_, body) in enumerate(jobs)
    )
    before = _PAD.format("before") if start else ""
    after = "" if last else _PAD.format("after")
    doc = HTML(string=print_page(before + sections + after)).render()
    anchors = {name: n for n, pg in reversed(list(enumerate(doc.pages))) for name in pg.anchors}
    firsts = [anchors[f"s-{start + i}"] for i in range(len(jobs))]
    ends = [*firsts[1:], anchors.get("s-pad-after", len(doc.pages))]
    for (path, _), first, end in zip(jobs, firsts, ends, strict=True):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        doc.copy(doc.pages[first:end]).write_pdf(path)
    return [path for path, _ in jobs]


def write_batches_in_processes(batches: list[Batch]) -> list[str]:
    """`write_batch` for each batch, each in its own Python process, all at once; the paths
    written, in order.

    Why plain subprocesses (`python -m careis.report.pdf_pages`, the batch as JSON on stdin)
    and not multiprocessing: a forked child would inherit the engine's threads mid-flight,
    and a spawned one re-imports the caller's main module, which a script without a
    `__main__` guard cannot survive; a fresh interpreter that reads its work from stdin has
    neither problem.
    """
    results: list[tuple[int, bytes, bytes]] = []
    with ExitStack() as stack:
        procs = []
        for jobs, start, last in batches:
            # WeasyPrint's warnings go to a file: a pipe could fill up and block the worker.
            log = stack.enter_context(tempfile.TemporaryFile())
            cmd = [sys.executable, "-m", "careis.report.pdf_pages"]
            proc = subprocess.Popen(cmd, stdin=PIPE, stdout=PIPE, stderr=log)
            assert proc.stdin is not None  # the worker reads all its input before it starts
            proc.stdin.write(json.dumps({"jobs": jobs, "start": start, "last": last}).encode())
            proc.stdin.close()
            procs.append((proc, log))
        for proc, log in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            code = proc.wait()
            log.seek(0)
            results.append((code, out, log.read()))
    written: list[str] = []
    for code, out, err in results:
        if code != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines() or [f"exit status {code}"]
            raise RuntimeError(f"laying out statement PDFs failed: {lines[-1]}")
        written += json.loads(out)
    return written


def _main() -> None:
    """A worker of `write_batches_in_processes`: one batch as JSON on stdin, paths on stdout."""
    batch = json.loads(sys.stdin.buffer.read())
    jobs = [(str(path), str(body)) for path, body in batch["jobs"]]
    paths = write_batch(jobs, int(batch["start"]), last=bool(batch["last"]))
    sys.stdout.write(json.dumps(paths))


if __name__ == "__main__":
    _main()
