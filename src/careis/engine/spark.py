"""Spark specifics: defaults sized from the machine, and Spark failures as one line.

Why: Spark's own defaults (a 1 GB driver, 200 shuffle partitions) fail or crawl on real
data, and its failures arrive as 200-line Java stack traces. An analyst needs to be told which
`engine.spark_conf` setting to change, in one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from careis.errors import EngineError

#: The share of the machine's memory the driver JVM gets in local mode (it runs the executors
#: too); the rest is left to Python, Arrow and the operating system.
DRIVER_MEMORY_SHARE = 0.5
_GIB = 1024**3


def total_memory_bytes() -> int | None:
    """Physical memory of this machine, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def default_driver_memory(total: int | None) -> str:
    """Half the machine, in whole GiB, between 1g and 64g (Spark's own default is 1g)."""
    if not total:
        return "2g"
    gib = int(total * DRIVER_MEMORY_SHARE // _GIB)
    return f"{max(1, min(gib, 64))}g"


def local_cores(master: str) -> int | None:
    """Cores of a `local[N]` / `local[*]` / `local` master; None for a cluster."""
    match = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\d+)?\])?", master.strip())
    if not match:
        return None
    cores = match.group(1)
    if cores in (None, ""):
        return 1
    return os.cpu_count() or 1 if cores == "*" else int(cores)


def default_conf(master: str, total_memory: int | None = None) -> dict[str, str]:
    """Settings careis applies unless `engine.spark_conf` names them.

    Shuffle partitions start at a few per core and adaptive query execution coalesces them
    from the data's size at run time (64 MB each), so a small run is not cut into hundreds of
    empty tasks and a big one is not crammed into four.
    """
    cores = local_cores(master)
    conf = {
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64m",
        "spark.sql.shuffle.partitions": str(4 * cores if cores else 200),
    }
    # careis always runs the driver itself, on this machine (client mode, also against a
    # cluster), and the driver plans every stage and receives every aggregate: Spark's 1g
    # default ran out of heap on a standalone cluster even on a tiny dataset (issue 17).
    # In local mode the driver is also the whole engine.
    conf["spark.driver.memory"] = default_driver_memory(
        total_memory if total_memory is not None else total_memory_bytes()
    )
    return conf


_RULES: tuple[tuple[str, str, str], ...] = (
    (
        r"JAVA_GATEWAY_EXITED|Java gateway process exited|JAVA_HOME is not set|No such file or "
        r"directory: 'java'|Unable to locate a Java Runtime",
        "Spark could not start Java.",
        "install Java 17 and set JAVA_HOME (or use engine.backend: duckdb).",
    ),
    (
        r"OutOfMemoryError|Java heap space|GC overhead limit|Answer from Java side is empty|"
        r"Connection refused|Error while receiving|Py4JNetworkError|Container killed.*memory",
        "Spark ran out of memory (or its JVM exited).",
        "give it more: engine.spark_conf: {{spark.driver.memory: {bigger}}} on one machine, "
        "spark.executor.memory on a cluster (docs/performance.md).",
    ),
    (
        r"ExecutorLostFailure|Lost executor|Worker lost|worker .* removed|"
        r"Remote RPC client disassociated|executor .* exited",
        "a Spark worker was lost during the run.",
        "check the workers are running and have memory to spare; raise "
        "engine.spark_conf spark.executor.memory or spark.task.maxFailures.",
    ),
    (
        r"All masters are unresponsive|Failed to connect to master|Could not connect to master|"
        r"Cannot call methods on a stopped SparkContext",
        "cannot reach the Spark master.",
        "check engine.spark_master (e.g. spark://host:7077) and that the master is running.",
    ),
)


def _bigger(conf: dict[str, str]) -> str:
    current = conf.get("spark.driver.memory", "1g")
    match = re.fullmatch(r"(\d+)([gGmM])", current.strip())
    if not match:
        return "16g"
    size = int(match.group(1)) * (1 if match.group(2).lower() == "g" else 1 / 1024)
    return f"{max(2, int(size * 2))}g"


def translate(exc: BaseException, conf: dict[str, str]) -> EngineError | None:
    """The one-line error for a Spark failure, or None when `exc` is not one careis knows."""
    text = f"{type(exc).__name__}: {exc}"
    for pattern, problem, fix in _RULES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return EngineError(problem, fix=fix.format(bigger=_bigger(conf)))
    if _is_spark_failure(exc):
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        return EngineError(
            f"Spark failed: {first.strip()[:300]}",
            fix="see docs/performance.md for engine.spark_conf settings, or rerun with "
            "engine.backend: duckdb to check the inputs.",
        )
    return None


def _is_spark_failure(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("py4j", "pyspark"))


@contextmanager
def spark_errors(conf: dict[str, str]) -> Iterator[None]:
    """Turn a known Spark failure raised inside the block into one `EngineError` line."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        err = translate(exc, conf)
        if err is None:
            raise
        raise err from None
