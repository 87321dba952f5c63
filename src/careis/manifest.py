"""Run manifests: what went in (hashes), how (config, code version) and what came out.

Why: a payment may be challenged a year later. With the manifest, anyone can check that the
inputs they hold are the ones that were used (SHA-256), re-run the same code version and config,
and compare outputs byte for byte. The manifest itself holds no timestamps, so re-running the
same inputs gives a byte-identical manifest too; wall-clock timings go in `run_log.json`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from careis import __version__

KEY_PACKAGES = ("ibis-framework", "duckdb", "pyarrow", "pandas", "numpy", "pydantic", "pyspark")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def describe_files(paths: Iterable[Path], root: Path | None = None) -> list[dict[str, Any]]:
    """Path (relative to `root` where possible), size and SHA-256 of each file, sorted by path."""
    out = []
    for path in sorted(set(paths)):
        shown = path
        if root is not None:
            try:
                shown = path.resolve().relative_to(root.resolve())
            except ValueError:
                shown = path
        out.append(
            {"path": shown.as_posix(), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
        )
    return out


def describe_inputs(
    role: str, paths: Iterable[Path], root: Path | None = None, *, single: bool = False
) -> list[dict[str, Any]]:
    """Inputs keyed by role and name, so the same content in another folder is the same input.

    `name` is the path relative to `root` (the data folder, the code list folder...), or the
    file name; with `single` (the run's one contract, model or config) it is empty, so a
    contract renamed but unchanged is no difference. `path` (relative to the working folder)
    is kept for people; `pay diff` compares `role:name` -> sha256.
    """
    out = []
    for entry, path in zip(describe_files(paths, Path.cwd()), sorted(set(paths)), strict=True):
        if single:
            name = ""
        elif root is not None and path.resolve().is_relative_to(root.resolve()):
            name = path.resolve().relative_to(root.resolve()).as_posix()
        else:
            name = path.name
        out.append({"role": role, "name": name, **entry})
    return out


def input_key(entry: dict[str, Any]) -> str:
    """How two manifests' inputs are matched: `role:name`, or the path in older manifests."""
    if "role" not in entry:
        return str(entry["path"])
    return f"{entry['role']}:{entry['name']}" if entry["name"] else str(entry["role"])


def inputs_digest(inputs: list[dict[str, Any]]) -> str:
    """One SHA-256 over every input (role:name and content hash), the run's reference.

    Why: a statement cannot carry the hash of the manifest that lists the statement itself;
    this digest is known before any output is written, is printed on every statement and is
    recorded as `inputs_sha256` in manifest.json, so a statement is tied to exactly its inputs.
    """
    lines = sorted(f"{input_key(e)}={e['sha256']}" for e in inputs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def git_commit() -> str | None:
    """The commit of the source tree careis runs from, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def package_versions() -> dict[str, str]:
    out = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def build(
    config: dict[str, Any], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "careis_version": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "config": config,
        "inputs": inputs,
        "inputs_sha256": inputs_digest(inputs),
        "outputs": outputs,
    }


def write(manifest: dict[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
