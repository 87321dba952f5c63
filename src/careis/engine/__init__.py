"""The query engine: the only place in careis that knows which backend runs the queries.

Everything above this layer builds Ibis expressions against tables the engine hands out, and
asks the engine to materialise or export them. DuckDB (in-process) is the default; PySpark
local or cluster mode is selected with `engine: {backend: pyspark}` in the run config. No
other module imports duckdb or pyspark.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from itertools import count
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.expr.types import Table
from pydantic import BaseModel, ConfigDict, Field

from careis.engine.csv_source import csv_header, read_csv_strings
from careis.engine.spark import default_conf, spark_errors
from careis.errors import ConfigError, DataError

Backend = Literal["duckdb", "pyspark"]


class EngineConfig(BaseModel):
    """How to open the query engine."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "duckdb"
    threads: int | None = Field(
        default=None, ge=1, description="DuckDB threads (default: all cores)."
    )
    memory_limit: str | None = Field(
        default="4GB", description="DuckDB memory limit before spilling to disk, e.g. '4GB'."
    )
    database: str | None = Field(
        default=None, description="DuckDB database file (default: in memory)."
    )
    spark_master: str = Field(default="local[2]", description="Spark master URL for pyspark.")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")


_names = count(1)


class Engine:
    """An open backend plus helpers to read, cache and export tables.

    Create with `Engine.open(config)` (or `Engine.duckdb()` in tests); close with `close()`
    or use as a context manager.
    """

    def __init__(self, con: ibis.BaseBackend, backend: Backend, owns_session: bool = True) -> None:
        self.con = con
        self.backend: Backend = backend
        self._owns_session = owns_session
        self._spill_dir: tempfile.TemporaryDirectory[str] | None = None
        self._spark_conf: dict[str, str] = {}

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(cls, config: EngineConfig | None = None) -> Engine:
        config = config or EngineConfig()
        if config.backend == "duckdb":
            return cls.duckdb(config)
        if config.backend == "pyspark":
            return cls.pyspark(config)
        raise ConfigError(
            f"unknown engine backend '{config.backend}'.", fix="use duckdb or pyspark."
        )

    @classmethod
    def duckdb(cls, config: EngineConfig | None = None) -> Engine:
        config = config or EngineConfig()
        kwargs: dict[str, Any] = {}
        if config.threads:
            kwargs["threads"] = config.threads
        if config.memory_limit:
            kwargs["memory_limit"] = config.memory_limit
        con = ibis.duckdb.connect(config.database or ":memory:", **kwargs)
        engine = cls(con, "duckdb")
        # Let DuckDB spill big joins to disk rather than fail when memory_limit is reached.
        engine._spill_dir = tempfile.TemporaryDirectory(prefix="careis-duckdb-")
        con.raw_sql(f"SET temp_directory = '{engine._spill_dir.name}'")
        con.raw_sql("SET preserve_insertion_order = true")
        return engine

    @classmethod
    def pyspark(cls, config: EngineConfig | None = None, session: Any | None = None) -> Engine:
        """Open Ibis on PySpark. Pass an existing SparkSession to share one (tests do)."""
        config = config or EngineConfig(backend="pyspark")
        owns = session is None
        if session is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigError(
                    "the pyspark backend is not installed.",
                    fix="pip install 'careis[spark]' (make test installs it).",
                ) from exc
            builder = (
                SparkSession.builder.master(config.spark_master)
                .appName("careis")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.ansi.enabled", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="careis-spark-"))
                # Ibis plans are deep and Spark writes each physical plan out as text even
                # without the UI: cap it so plan text cannot crowd out the data.
                .config("spark.sql.maxPlanStringLength", "100000")
                # Out of memory in Spark's Arrow-serving thread otherwise leaves careis waiting
                # for ever; exiting turns it into an error. (Applies when careis starts the JVM.)
                .config("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError")
            )
            conf = {**default_conf(config.spark_master), **config.spark_conf}
            for key, value in conf.items():
                builder = builder.config(key, value)
            # A session someone else started (a notebook, a test run) is theirs to stop.
            owns = SparkSession.getActiveSession() is None
            with spark_errors(conf):
                session = builder.getOrCreate()
                session.sparkContext.setLogLevel("ERROR")
        else:
            conf = dict(config.spark_conf)
        con = ibis.pyspark.connect(session)
        engine = cls(con, "pyspark", owns_session=owns)
        engine._spark_conf = conf
        return engine

    def close(self) -> None:
        if self.backend == "duckdb":
            self.con.disconnect()
        elif self._owns_session:
            # After a JVM died (out of memory) stopping it fails too: the error that killed it
            # is the one to report, not this.
            with suppress(Exception):
                self.con.disconnect()
        if self._spill_dir is not None:
            self._spill_dir.cleanup()
            self._spill_dir = None

    def errors(self) -> AbstractContextManager[None]:
        """A block in which a Spark failure (out of memory, a lost worker) becomes one line
        naming the `engine.spark_conf` setting to change; DuckDB errors pass through."""
        if self.backend == "pyspark":
            return spark_errors(self._spark_conf)
        return nullcontext()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- reading
    def read_parquet(self, path: str | Path, name: str | None = None) -> Table:
        """A lazy table over a Parquet file or a directory of Parquet files."""
        path = Path(path)
        if not path.exists():
            raise DataError("file not found.", file=path)
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        return self.con.read_parquet(target, table_name=name or self._fresh("parquet"))

    def from_arrow(self, data: pa.Table, name: str | None = None) -> Table:
        """Load an in-memory Arrow table into the backend (materialised)."""
        name = name or self._fresh("arrow")
        if self.backend == "pyspark":
            # A temp view, not a managed table: nothing is written to a spark-warehouse folder.
            session = self.con._session
            session.createDataFrame(data).createOrReplaceTempView(name)
            return self.con.table(name)
        # ibis 12 + sqlglot 30 break create_table(obj=pa.Table) on DuckDB; a memtable works.
        return self.con.create_table(name, ibis.memtable(data), overwrite=True)

    def read_raw(self, path: str | Path) -> Table:
        """Read a CSV or Parquet source for validation, without trusting its types.

        Returns the file's own columns plus `_row`, the 1-based data row in the file (row 1 is
        the first row after a CSV header), so a quarantine reason can point at the exact row.
        CSV columns all come back as strings, so a bad date is a value to report, not a
        crash; Parquet columns keep their stored types (the validator casts them). A folder
        of Parquet files is read as one table; `_row` then counts within each file and
        `_file` names it.
        """
        path = Path(path)
        if not path.exists():
            raise DataError("file not found.", file=path)
        name = path.name.lower()
        if path.is_file() and name.endswith((".csv", ".csv.gz", ".txt")):
            return self.from_arrow(_read_csv_strings(path), self._fresh("raw"))
        if not (path.is_dir() or name.endswith(".parquet")):
            raise DataError(
                f"unsupported file type '{path.suffix}'.",
                file=path,
                fix="give a .csv, .csv.gz or .parquet file (or a folder of Parquet files).",
            )
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if not files:
            raise DataError("the folder holds no .parquet files.", file=path)
        for file in files:
            try:
                schema = pq.read_schema(file)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(
                    f"cannot read as Parquet: {str(exc).splitlines()[0]}", file=file
                ) from exc
            check_column_names(schema.names, file, RESERVED_COLUMNS + PARQUET_RESERVED)
        if self.backend == "duckdb":
            raw = self.con.read_parquet(
                [str(f) for f in files],
                table_name=self._fresh("raw"),
                file_row_number=True,
                filename=True,
                union_by_name=True,
            )
            return raw.mutate(_row=raw.file_row_number.cast("int64") + 1, _file=raw.filename).drop(
                "file_row_number", "filename"
            )
        return self._spark_read_parquet(files)

    def _spark_read_parquet(self, files: list[Path]) -> Table:
        """Parquet read by Spark itself, on the executors, never through the driver: on a
        cluster the files sit in storage every node reads, and the driver's memory must not
        bound the data (issue 17). `_row` is Spark's row index within each file (+1) and
        `_file` the path as given, as DuckDB's reader gives them."""
        from pyspark.sql import functions as F

        session = self.con._session
        frame = None
        for file in files:
            part = session.read.parquet(str(file.resolve())).select(
                "*",
                (F.col("_metadata.row_index") + 1).cast("bigint").alias("_row"),
                F.lit(str(file)).alias("_file"),
            )
            frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
        assert frame is not None  # files is never empty here
        name = self._fresh("raw")
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    @property
    def shares_repeated_subplans(self) -> bool:
        """Whether a sub-plan a query reads more than once is computed once (DuckDB
        materialises it as a CTE; Spark recomputes it for each use)."""
        return self.backend == "duckdb"

    # ---------------------------------------------------------------- running
    def cache(self, expr: Table, name: str | None = None) -> Table:
        """Materialise an expression once so later queries reuse it (a temp table / cached DF)."""
        if self.backend == "duckdb":
            # One CREATE TEMP TABLE ... AS SELECT: Ibis's create_table runs CREATE then INSERT,
            # measurably slower on tens of millions of rows.
            name = name or self._fresh("cache")
            # Register any in-memory tables (memtables) the expression reads before compiling.
            self.con._run_pre_execute_hooks(expr)
            self.con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {self.con.compile(expr)}')
            return self.con.table(name)
        # Spark: register in-memory tables (memtables) the expression reads, as execute() would
        self.con._run_pre_execute_hooks(expr)
        return expr.cache()

    def to_arrow(self, expr: Table) -> pa.Table:
        return expr.to_pyarrow()

    def write_parquet(self, expr: Table, path: str | Path) -> Path:
        """Write an expression to one Parquet file (parent folders created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.backend == "duckdb":
            self.con.to_parquet(expr, str(path))
        else:
            pq.write_table(expr.to_pyarrow(), path)
        return path

    def count(self, expr: Table) -> int:
        """The number of rows of `expr`, counted in the backend."""
        return int(self.con.execute(expr.count()))

    def release(self, expr: Table) -> None:
        """Free a table or view this engine made for raw input (DuckDB holds it in memory).

        A no-op on Spark, and for anything careis did not create itself."""
        if self.backend != "duckdb":
            return
        try:
            name = expr.get_name()
        except (AttributeError, ValueError, TypeError):
            return
        if name.startswith("_careis_raw_") or name.startswith("_careis_arrow_"):
            for drop in (self.con.drop_table, self.con.drop_view):
                try:
                    drop(name, force=True)
                    return
                except Exception:
                    continue

    @contextmanager
    def session(self) -> Iterator[Engine]:
        try:
            yield self
        finally:
            self.close()

    @staticmethod
    def _fresh(prefix: str) -> str:
        return f"_careis_{prefix}_{os.getpid()}_{next(_names)}"


#: Columns careis adds to every raw table (row numbers, file names, ragged-row reasons) and,
#: for Parquet, the ones DuckDB adds while reading: a source column of the same name would
#: collide with them, so it is refused by name rather than failing deep inside the engine.
RESERVED_COLUMNS = ("_row", "_file", "_malformed")
PARQUET_RESERVED = ("filename", "file_row_number")


def check_column_names(names: list[str], path: Path, reserved: tuple[str, ...]) -> None:
    """One line for a header with an unnamed column or a name careis reserves."""
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise DataError(
                f"column {i} of the header has no name.",
                file=path,
                fix="remove the trailing or doubled comma in the header, or name the column.",
            )
        if name.lower() in reserved:
            raise DataError(
                f"column '{name}' has a name careis uses for its own bookkeeping.",
                file=path,
                fix=f"rename or drop the column (reserved: {', '.join(reserved)}).",
            )


def _read_csv_strings(path: Path) -> pa.Table:
    """Every column as a string with `_row` (and `_malformed` for rows that cannot be used),
    after the header checks that refuse a whole file."""
    header = csv_header(path)
    if not header:
        raise DataError(
            "the file is empty (no header row).",
            file=path,
            fix="add a header row naming the columns.",
        )
    # Backends (DuckDB) treat column names case-insensitively: two names that differ only in
    # case cannot both be loaded, so say so rather than crash.
    seen: dict[str, str] = {}
    for name in header:
        if name.lower() in seen:
            raise DataError(
                f"columns '{seen[name.lower()]}' and '{name}' differ only in case.",
                file=path,
                fix="rename or remove one of them (column names are not case-sensitive).",
            )
        seen[name.lower()] = name
    check_column_names(header, path, RESERVED_COLUMNS)
    return read_csv_strings(path, header)
