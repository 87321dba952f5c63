"""A Spark standalone cluster on this machine: one master and two workers on 127.0.0.1.

Started with the pyspark package's own `bin/spark-class` (no separate Spark install), each JVM
tagged with a token so the test can prove that nothing it started is left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def tagged(token: str) -> list[int]:
    """Ids of live processes whose command line carries `token` (master, workers, executors)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


@dataclass
class Cluster:
    url: str
    token: str
    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _start(cluster: Cluster, name: str, *args: str) -> None:
    log = (cluster.logs / f"{name}.log").open("wb")
    cluster.procs.append(
        subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=cluster.env,
            start_new_session=True,  # its own process group: stopped as one below
        )
    )


def _wait_for_workers(cluster: Cluster, count: int, timeout: float) -> None:
    log = cluster.logs / "master.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count("Registering worker") >= count:
            return
        if any(p.poll() is not None for p in cluster.procs):
            break
        time.sleep(0.5)
    raise RuntimeError(f"the cluster did not start: see {cluster.logs}")


def _stop(cluster: Cluster) -> None:
    for proc in reversed(cluster.procs):  # workers first, so they stop their executors
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in cluster.procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while tagged(cluster.token) and time.monotonic() < deadline:
        time.sleep(0.5)


@contextmanager
def standalone_cluster(logs: Path, workers: int = 2) -> Iterator[Cluster]:
    """A master and `workers` workers (1 core, 1 GB each), stopped on exit, whatever happens."""
    token = f"careis-test-cluster-{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_JAVA_OPTS": f"-Dcareis.tag={token}",
        "SPARK_WORKER_DIR": str(logs / "work"),
        "PYSPARK_PYTHON": sys.executable,
    }
    logs.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(f"spark://127.0.0.1:{port}", token, env, logs)
    master = "org.apache.spark.deploy.master.Master"
    worker = "org.apache.spark.deploy.worker.Worker"
    try:
        _start(cluster, "master", master, "--host", "127.0.0.1", "--port", str(port),
               "--webui-port", str(free_port()))  # fmt: skip
        for i in range(workers):
            _start(cluster, f"worker{i}", worker, "--host", "127.0.0.1", "--cores", "1",
                   "--memory", "1g", "--webui-port", str(free_port()), cluster.url)  # fmt: skip
        _wait_for_workers(cluster, workers, timeout=90)
        yield cluster
    finally:
        _stop(cluster)
