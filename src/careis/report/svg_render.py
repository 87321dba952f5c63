"""Vega-Lite specs to SVG with vl-convert, many at once across the machine's cores.

Why: the report of an ICB has dozens of SPC charts and vl-convert takes 0.15-0.25 s of CPU
for each, one at a time (it runs one JavaScript engine; threads do not help), which made
charts most of the report stage. `render_all` shares the specs between this process and
worker processes (`python -m careis.report.svg_render`, the specs as JSON on stdin, like the
statement PDFs' workers): vl-convert draws the same SVG for the same spec in any process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from subprocess import PIPE
from typing import Any

from careis.report.cores import available_cores

#: Fewer charts than this are drawn here: a worker's start-up (about a second) is more.
PARALLEL_MIN = 12


def render(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    svg: str = vlc.vegalite_to_svg(spec)
    return svg


def _workers(n: int) -> int:
    """Processes besides this one: one per further core, at most 3, none for a few charts."""
    if n < PARALLEL_MIN:
        return 0
    cores = available_cores()
    return max(0, min(cores - 1, 3, n // (PARALLEL_MIN // 2) - 1))


def render_all(specs: list[dict[str, Any]]) -> list[str]:
    """The SVG of every spec, in order; this process draws the first share while the workers
    draw the others."""
    workers = _workers(len(specs))
    if workers == 0:
        return [render(s) for s in specs]
    size = -(-len(specs) // (workers + 1))
    shares = [specs[i : i + size] for i in range(0, len(specs), size)]
    with ExitStack() as stack:
        procs = []
        for share in shares[1:]:
            log = stack.enter_context(tempfile.TemporaryFile())  # a pipe could fill and block
            cmd = [sys.executable, "-m", "careis.report.svg_render"]
            proc = subprocess.Popen(cmd, stdin=PIPE, stdout=PIPE, stderr=log)
            assert proc.stdin is not None  # the worker reads all its input before it starts
            proc.stdin.write(json.dumps(share).encode("utf-8"))
            proc.stdin.close()
            procs.append((proc, log))
        out = [render(s) for s in shares[0]]
        for proc, log in procs:
            assert proc.stdout is not None
            text = proc.stdout.read()
            if proc.wait() != 0:
                log.seek(0)
                lines = log.read().decode("utf-8", "replace").strip().splitlines()
                raise RuntimeError(f"drawing charts failed: {(lines or ['no message'])[-1]}")
            out += json.loads(text)
    return out


def _main() -> None:
    specs = json.loads(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps([render(s) for s in specs]))


if __name__ == "__main__":
    _main()
