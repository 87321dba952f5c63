"""One family of user-facing errors.

Why: a commissioner's analyst who feeds careis a bad file must be told, in one line, which
file, which row or field, and what to do about it, and must never see a Python traceback.
Everything the CLI catches as a `CareisError` is printed as that one line; anything else is a
bug in careis and is allowed to show its traceback.
"""

from __future__ import annotations

from pathlib import Path


class CareisError(Exception):
    """A problem the user can fix. `str(err)` is the whole message, one line."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.where:
            parts.append(self.where)
        head = ", ".join(parts)
        text = f"{head}: {self.problem}" if head else self.problem
        if self.fix:
            text = f"{text} Fix: {self.fix}"
        # One line, always: collapse any newline a caller let through.
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.message


class ConfigError(CareisError):
    """A run config, contract, measure or model file is wrong."""


class DataError(CareisError):
    """An input data file cannot be read at all (as opposed to bad rows, which are quarantined)."""


class SchemaMismatchError(CareisError):
    """A saved artefact (e.g. a risk model) does not match the data it is applied to."""


class MissingFactError(CareisError):
    """A decision needs a fact the user has not supplied; the message names the fact."""


class EngineError(CareisError):
    """The query engine failed for a reason the user can fix by configuration (Spark out of
    memory, a lost worker, no Java): the message names the `engine.*` setting to change."""
