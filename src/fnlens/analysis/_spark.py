"""Run the canned queries on Apache Spark over the fnlens Parquet layout.

The SQL is the same ``queries/*.sql`` the DuckDB engine runs, translated by
:mod:`fnlens.analysis._dialects`; values are bound as Spark named parameters
(``spark.sql(text, args=...)``), never pasted into the text. Tables are read with the
layout's documented schema (:mod:`fnlens.analysis._parquet`), not an inferred one, so a
partition value never changes a column's type.

pyspark is an optional dependency (``pip install 'fnlens[spark]'``) and needs a Java
runtime (17 or newer); both are checked up front with one clear message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fnlens.analysis._parquet import check_layout, columns, table_dir
from fnlens.analysis._schema import TABLES
from fnlens.analysis.catalog import Query
from fnlens.exceptions import SparkUnavailableError

__all__ = [
    "DEFAULT_MASTER",
    "bind_spark_params",
    "check_java",
    "register_views",
    "run_query",
    "session_for_command",
    "spark_schema",
    "spark_session",
]

DEFAULT_MASTER = "local[2]"
MIN_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def check_java() -> str:
    """The Java runtime Spark will start (``$JAVA_HOME/bin/java``, else ``java`` on PATH).

    Raises :class:`SparkUnavailableError` when there is none or it is older than Java 17.
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={home!r} has no bin/java" if home else "no `java` on PATH"
        raise SparkUnavailableError(
            f"Spark needs a Java runtime ({MIN_JAVA} or newer) and {where}; install one "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
        )
    try:
        proc = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkUnavailableError(f"cannot run {java} -version: {exc}") from None
    match = _JAVA_VERSION.search(proc.stderr + proc.stdout)
    if match is None:
        raise SparkUnavailableError(
            f"cannot tell the Java version of {java}: {proc.stderr.strip()!r}"
        )
    major = int(match[1]) if match[1] != "1" else int(match[2] or 0)
    if major < MIN_JAVA:
        raise SparkUnavailableError(f"{java} is Java {major}; Spark needs Java {MIN_JAVA} or newer")
    return java


def spark_session(
    master: str = DEFAULT_MASTER,
    *,
    app_name: str = "fnlens",
    shuffle_partitions: int | None = None,
    conf: Mapping[str, str] | None = None,
) -> Any:
    """A SparkSession set up the way fnlens's translated SQL expects.

    The session time zone is UTC (the layout's timestamps are UTC wall time), the web UI
    is off, partition values are never type-inferred, and a local master binds to
    ``SPARK_LOCAL_IP`` (127.0.0.1 unless set). An existing session is reused by Spark's
    builder with these settings applied.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the Spark engine needs pyspark: pip install 'fnlens[spark]'"
        ) from None
    check_java()
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if shuffle_partitions is None:
        shuffle_partitions = 4 if local else 200
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.parquet.int96RebaseModeInWrite", "CORRECTED")
        .config("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
    )
    if local:
        builder = builder.config("spark.driver.host", os.environ["SPARK_LOCAL_IP"]).config(
            "spark.driver.bindAddress", os.environ["SPARK_LOCAL_IP"]
        )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def session_for_command(master: str = DEFAULT_MASTER) -> Iterator[Any]:
    """A session for one CLI command: stopped at the end unless it was already running."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the Spark engine needs pyspark: pip install 'fnlens[spark]'"
        ) from None
    running = SparkSession.getActiveSession()
    spark = spark_session(master)
    try:
        yield spark
    finally:
        if running is None:
            spark.stop()


def spark_schema(table: str) -> Any:
    """The Spark StructType of one table's data columns, from the layout's schema."""
    from pyspark.sql import types as T  # noqa: N812 (Spark's documented idiom)

    simple = {
        "TIMESTAMP": T.TimestampNTZType(),
        "VARCHAR": T.StringType(),
        "JSON": T.StringType(),
        "BOOLEAN": T.BooleanType(),
        "DOUBLE": T.DoubleType(),
        "INTEGER": T.IntegerType(),
        "BIGINT": T.LongType(),
        "MAP(VARCHAR, VARCHAR)": T.MapType(T.StringType(), T.StringType()),
    }
    return T.StructType([T.StructField(c.name, simple[c.sql_type], True) for c in columns(table)])


def register_views(spark: Any, root: str | os.PathLike[str]) -> dict[str, bool]:
    """Temp views ``invocations``/``spans``/``logs`` over the layout at ``root``.

    Returns, per table, whether it has files; a table without any is an empty view of the
    right schema, so every query runs.
    """
    check_layout(root)
    present: dict[str, bool] = {}
    for table in TABLES:
        schema = spark_schema(table)
        folder = table_dir(root, table)
        has_files = folder.is_dir() and any(folder.rglob("*.parquet"))
        present[table] = has_files
        if has_files:
            frame = (
                spark.read.schema(schema)
                .option("recursiveFileLookup", "true")
                .option("pathGlobFilter", "*.parquet")
                .parquet(str(folder))
            )
        else:
            frame = spark.createDataFrame([], schema)
        frame.createOrReplaceTempView(table)
    return present


def bind_spark_params(query: Query, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The query's bound values shaped for the translated Spark SQL.

    Timestamps travel as ISO text (cast to TIMESTAMP_NTZ in the SQL, so no Python or JVM
    time zone touches them); intervals as whole microseconds (the time-bucket width).
    """
    bound = query.bind(values)
    out: dict[str, Any] = {}
    for param in query.params:
        value = bound[param.name]
        if value is None:
            out[param.name] = None
        elif param.type == "TIMESTAMP":
            assert isinstance(value, datetime)
            out[param.name] = value.isoformat(sep=" ")
        elif param.type == "INTERVAL":
            assert isinstance(value, timedelta)
            out[param.name] = value // timedelta(microseconds=1)
        else:
            out[param.name] = value
    return out


def run_query(
    spark: Any, query: Query, values: Mapping[str, Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a canned query on ``spark`` (views registered); column names and rows."""
    from fnlens.analysis._dialects import translate

    translation = translate(query, "spark")
    frame = spark.sql(translation.sql, args=bind_spark_params(query, values))
    names = list(frame.columns)
    rows = [tuple(_plain(v) for v in row) for row in frame.collect()]
    return names, rows


def _plain(value: Any) -> Any:
    """Spark Row values as the DuckDB engine returns them (lists, dicts, scalars)."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value
