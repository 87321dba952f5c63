"""Atomic output folders: a run is built beside its target and swapped in only when complete.

Why: a run re-written in place and interrupted (Ctrl-C, SIGTERM, a full disk, an error in the
last stage) left new measures beside old payments and the old manifest, so `careis pay diff`
against the first run said "no differences" although the data had changed. Now the run writes
into `.<name>.staging-*` in the same parent folder (same filesystem, so the swap is a rename),
and the old folder is replaced only after every output and the manifest are written. An
interrupted or failed run removes its staging folder and leaves the old folder untouched.

The swap is two renames (old aside, new in) with SIGINT/SIGTERM held off between them; only a
hard kill (SIGKILL, power loss) in that instant can leave the target missing, with the old run
still beside it as `.<name>.old-*`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from careis.errors import CareisError, DataError

MANIFEST = "manifest.json"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Errors that mean the output folder cannot be written (full, read-only, no permission).
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


class RunInterrupted(CareisError):
    """The run was stopped by a signal; the output folder is as it was before the run."""


def _check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is not a careis run (it could hold the user's data)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise DataError("the output path exists and is not a folder.", file=target,
                        fix="choose a folder for output.dir / --out.")  # fmt: skip
    if any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise DataError(
            "the output folder is not empty and holds no careis run (no manifest.json), so "
            "careis will not replace it.",
            file=target,
            fix="choose a new or empty output folder, or the folder of an earlier careis run.",
        )


def _interrupted(target: Path, name: str) -> RunInterrupted:
    return RunInterrupted(
        f"run interrupted ({name}); the output folder was left as it was before the run.",
        file=target,
    )


def _raise_interrupted(target: Path, received: list[str]) -> object:
    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        received.append(name)
        raise _interrupted(target, name)

    return handler


@contextlib.contextmanager
def _signals_raise(target: Path, received: list[str]) -> Iterator[None]:
    """SIGINT and SIGTERM raise RunInterrupted while the run writes (main thread only).

    Each signal's name is also appended to `received`: a library that checks for signals
    itself (DuckDB turns one arriving mid-query into ``RuntimeError: Query interrupted``)
    swallows the RunInterrupted, so the caller needs the record to say what happened."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _raise_interrupted(target, received)
    previous = {s: signal.signal(s, handler) for s in _SIGNALS}  # type: ignore[arg-type]
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM during the swap so it cannot stop half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _sibling(target: Path, kind: str) -> Path:
    """A new hidden name beside `target` (same filesystem, so renames are atomic)."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _swap(staging: Path, target: Path) -> None:
    with _signals_held():
        aside = None
        if target.exists():
            aside = _sibling(target, "old")
            target.rename(aside)
        staging.rename(target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _disk_error(exc: OSError, target: Path) -> CareisError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free space on that disk or choose an output folder on another disk."
    else:
        fix = "choose an output folder you can write to."
    return DataError(f"cannot write the run's outputs: {reason}.", file=target, fix=fix)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it replaces `target`."""
    target = target.absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _check_replaceable(target)
        staging = _sibling(target, "staging")
        staging.mkdir()
    except OSError as exc:
        raise _disk_error(exc, target) from None
    received: list[str] = []
    try:
        with _signals_raise(target, received):
            yield staging
        _swap(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if received:
            raise _interrupted(target, received[0]) from None
        if exc.errno in _WRITE_ERRORS:
            raise _disk_error(exc, target) from None
        raise
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if received and not isinstance(exc, RunInterrupted):
            raise _interrupted(target, received[0]) from None
        raise
