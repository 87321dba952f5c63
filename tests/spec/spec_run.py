"""A whole `pipeline.run` on a tiny synthetic dataset, and how to compare two runs' outputs."""

from __future__ import annotations

from pathlib import Path

from careis.config import load_run_config
from careis.pipeline import run

EXAMPLES = Path(__file__).parents[2] / "examples"
#: Files that legitimately differ between engines: the manifest records the engine, timings and
#: package versions; the report names the engine that ran it.
#: run_log.json holds wall-clock timings.
ENGINE_SPECIFIC = ("manifest.json", "report", "run_log.json")
#: Statement documents print the run reference (inputs_sha256), which hashes the settings file,
#: and each engine's run has its own settings file (it names the engine). Their figures are the
#: statement lines, which statement.csv carries and which are compared.
ENGINE_SPECIFIC_NAMES = ("statement.html", "statement.pdf", "statements.html")


def write_config(folder: Path, data: Path, out: Path, engine: str) -> Path:
    path = folder / f"{out.name}.yaml"
    path.write_text(
        f"""name: Spec run
data: {{path: {data}, extract_date: 2025-06-30}}
periods: {{baseline: 2023/24, performance: 2024/25}}
contract: {EXAMPLES / "contracts" / "enhanced_service.yaml"}
output: {{dir: {out}, report: false, documents: false}}
{engine}
""",
        encoding="utf-8",
    )
    return path


def run_on(folder: Path, data: Path, out: Path, engine: str) -> Path:
    run(load_run_config(write_config(folder, data, out, engine)))
    return out


def outputs(root: Path) -> dict[str, bytes]:
    """Every output file's bytes by relative path, less the engine-specific ones."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not str(p.relative_to(root)).startswith(ENGINE_SPECIFIC)
        and p.name not in ENGINE_SPECIFIC_NAMES
    }


def differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """Files that differ: CSV/HTML/JSON byte for byte; Parquet by schema and rows, because
    each engine's writer (DuckDB's, Arrow's) lays out the same table in different bytes."""
    names = sorted(set(a) | set(b))
    return [n for n in names if not _same(n, a.get(n), b.get(n))]


def _same(name: str, x: bytes | None, y: bytes | None) -> bool:
    if x is None or y is None or not name.endswith(".parquet"):
        return x == y
    import io

    import pyarrow.parquet as pq

    tx, ty = pq.read_table(io.BytesIO(x)), pq.read_table(io.BytesIO(y))
    return tx.schema.remove_metadata() == ty.schema.remove_metadata() and tx.equals(ty)
