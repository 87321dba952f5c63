"""Example run configs, contracts and measures (also visible as examples/ at the repo root).

Why they ship inside the package: someone who ran `pip install careis` has no repository, yet
every command in the README names an `examples/...` file. `careis examples copy DIR` puts the
same files on disk; their paths are relative to each other, so the copy runs as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from careis.errors import ConfigError

_NOT_EXAMPLES = {"__init__.py", "__pycache__"}


def example_path(name: str) -> Path:
    """A shipped example file, e.g. `demo.yaml` or `contracts/alliance.yaml`."""
    return Path(str(resources.files(__name__))) / name


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name in _NOT_EXAMPLES or entry.name.endswith(".pyc"):
            continue
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _walk(entry, f"{name}/")
        else:
            yield name, entry


def list_examples() -> list[str]:
    """Every shipped example file, as a path relative to the examples folder, sorted."""
    return [name for name, _ in _walk(resources.files(__name__))]


def copy_examples(dest: Path, *, force: bool = False) -> list[Path]:
    """Copy every shipped example under `dest`; returns the files written, in order.

    An existing non-empty `dest` is refused unless `force` (then files of the same name are
    overwritten and any others left alone), so a user's edited copy is never lost by accident.
    """
    if dest.exists() and not dest.is_dir():
        raise ConfigError("is a file, not a folder.", file=dest, fix="give a folder to copy into.")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise ConfigError(
            "the folder is not empty.",
            file=dest,
            fix="give a new or empty folder, or add --force to overwrite the examples in it.",
        )
    written: list[Path] = []
    for name, source in _walk(resources.files(__name__)):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        written.append(target)
    return written
