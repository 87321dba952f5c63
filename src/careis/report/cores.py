"""How many cores this process may use: the one answer the report's worker pools share
(statement PDFs, chart rendering), so both size themselves from the same figure."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity on Linux, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
