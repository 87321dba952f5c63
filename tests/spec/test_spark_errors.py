"""Spark at scale fails in one line naming the setting to change, and starts sized to the machine.

The translation is checked on the messages Spark really gives (copied from failed runs: the
Java heap running out in the driver, a worker's executor lost, the gateway when Java is
missing); one test starts careis with no Java to see the line end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from careis.engine.spark import default_conf, default_driver_memory, local_cores, translate
from careis.errors import EngineError
from careis.synth import SynthConfig, generate

GIB = 1024**3


class Py4JJavaError(Exception):
    """Stands in for py4j's error (same name; careis matches on the message)."""


Py4JJavaError.__module__ = "py4j.protocol"

HEAP = (
    "An error occurred while calling o123.getResult.\n: org.apache.spark.SparkException: "
    "Job aborted due to stage failure: ... java.lang.OutOfMemoryError: Java heap space\n\tat ..."
)
LOST = (
    "An error occurred while calling o77.collectToPython.\n: org.apache.spark.SparkException: "
    "Job aborted due to stage failure: Task 3 in stage 9.0 failed 4 times, most recent failure: "
    "Lost task 3.3 in stage 9.0 (TID 40) (127.0.0.1 executor 1): ExecutorLostFailure (executor "
    "1 exited caused by one of the running tasks) Reason: Remote RPC client disassociated."
)
NO_JAVA = "[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number."


def test_out_of_memory_names_driver_memory_and_a_bigger_value() -> None:
    err = translate(Py4JJavaError(HEAP), {"spark.driver.memory": "4g"})
    assert isinstance(err, EngineError)
    assert "out of memory" in str(err)
    assert "engine.spark_conf" in str(err) and "spark.driver.memory: 8g" in str(err)
    assert "\n" not in str(err) and "at ..." not in str(err)


def test_a_lost_worker_names_executor_memory() -> None:
    err = translate(Py4JJavaError(LOST), {})
    assert err is not None and "worker was lost" in str(err)
    assert "spark.executor.memory" in str(err)


def test_missing_java_says_install_java() -> None:
    err = translate(RuntimeError(NO_JAVA), {})
    assert err is not None and "Java" in str(err) and "JAVA_HOME" in str(err)


def test_an_unknown_spark_error_is_one_line_and_other_errors_pass() -> None:
    err = translate(Py4JJavaError("An error occurred while calling o1.x.\n: boom\n\tat y"), {})
    assert err is not None and str(err).startswith("Spark failed: An error occurred")
    assert translate(ValueError("a careis bug"), {}) is None


def test_defaults_sized_from_the_machine() -> None:
    assert default_driver_memory(24 * GIB) == "12g"
    assert default_driver_memory(1 * GIB) == "1g"  # never below Spark's own
    assert default_driver_memory(512 * GIB) == "64g"  # capped: a JVM heap that big stalls
    assert local_cores("local[2]") == 2 and local_cores("local") == 1
    assert local_cores("spark://127.0.0.1:7077") is None
    local = default_conf("local[2]", 16 * GIB)
    assert local["spark.driver.memory"] == "8g"
    assert local["spark.sql.shuffle.partitions"] == "8"
    assert local["spark.sql.adaptive.coalescePartitions.enabled"] == "true"
    cluster = default_conf("spark://h:7077", 16 * GIB)
    # the driver runs here in client mode against a cluster too: sized from this machine
    assert cluster["spark.driver.memory"] == "8g"
    assert cluster["spark.sql.shuffle.partitions"] == "200"


@pytest.mark.spark
def test_no_java_is_one_line_from_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    generate(SynthConfig(practices=["P82001"], scale=0.01, seed=1, years=2), tmp_path / "d")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"name: no java\ndata: {{path: {tmp_path / 'd'}, extract_date: 2025-06-30}}\n"
        "periods: {baseline: 2023/24, performance: 2024/25}\n"
        f"contract: {Path(__file__).parents[2] / 'examples/contracts/enhanced_service.yaml'}\n"
        f"output: {{dir: {tmp_path / 'out'}}}\nengine: {{backend: pyspark}}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    done = subprocess.run(
        [sys.executable, "-m", "careis", "run", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "Java" in done.stderr, done.stderr[-2000:]
