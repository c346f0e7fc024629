"""The fnlens Parquet layout: the contract between ``fnlens export``, Spark, Athena and DuckDB.

Layout (version :data:`LAYOUT_VERSION`)::

    DIR/_fnlens_layout.json                      # this layout's version and schema
    DIR/<table>/date=YYYY-MM-DD/function=<name>/*.parquet

``<table>`` is ``invocations``, ``spans`` or ``logs``; each table folder is one Hive-
partitioned data set that Spark (``spark.read.parquet``), Athena/Trino (an external table
``PARTITIONED BY (date, function)``) and DuckDB (``read_parquet(..., hive_partitioning =
true)``) read as is. The partition columns are derived, never new data: ``date`` is the UTC
day of ``ts`` (``start_ts`` for spans), ``function`` the ``function_name`` (for spans the
``faas.name`` resource attribute, else the service); a missing value is ``unknown``.
Files and folders whose names start with ``_`` are skipped by all three readers, so the
manifest never shows up as data.

Column types are the analysis schema's (:mod:`fnlens.analysis._schema`) in Parquet terms:
timestamps are INT64 ``TIMESTAMP(MICROS, isAdjustedToUTC=false)`` holding UTC wall time,
maps are Parquet MAPs of strings, the logs' JSON attributes are strings.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnlens.analysis._schema import TABLES
from fnlens.exceptions import LayoutError

__all__ = [
    "LAYOUT_FILE",
    "LAYOUT_VERSION",
    "NOT_NULL",
    "PARTITION_COLUMNS",
    "Column",
    "LayoutError",
    "check_layout",
    "columns",
    "duckdb_views",
    "export_parquet",
    "layout_manifest",
    "table_dir",
    "write_manifest",
]

LAYOUT_VERSION = 1
LAYOUT_FILE = "_fnlens_layout.json"
PARTITION_COLUMNS = ("date", "function")
UNKNOWN_PARTITION = "unknown"

# columns that are never NULL in a layout fnlens wrote (merge keys)
NOT_NULL: dict[str, frozenset[str]] = {
    "invocations": frozenset({"request_id"}),
    "spans": frozenset(),
    "logs": frozenset(),
}

_PARQUET_TYPES = {
    "TIMESTAMP": "INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false)",
    "VARCHAR": "BYTE_ARRAY STRING",
    "JSON": "BYTE_ARRAY STRING (JSON text)",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
    "INTEGER": "INT32",
    "BIGINT": "INT64",
    "MAP(VARCHAR, VARCHAR)": "MAP<STRING, STRING>",
}

# per table: (date expression, function expression) in DuckDB SQL over the table's columns
_PARTITION_EXPRS = {
    "invocations": ("ts", "function_name"),
    "logs": ("ts", "function_name"),
    "spans": ("start_ts", "coalesce(resource_attributes['faas.name'], service)"),
}


@dataclass(frozen=True)
class Column:
    """One column of a table in the layout."""

    name: str
    sql_type: str  # the analysis schema's type (DuckDB spelling)
    parquet_type: str
    nullable: bool


def columns(table: str) -> list[Column]:
    """The data columns of ``table`` (partition columns excluded), in file order."""
    return [
        Column(name, sql_type, _PARQUET_TYPES[sql_type], name not in NOT_NULL[table])
        for name, sql_type in TABLES[table].items()
    ]


def layout_manifest() -> dict[str, Any]:
    """What ``_fnlens_layout.json`` holds: version, partitioning and every column."""
    return {
        "format": "fnlens-parquet",
        "version": LAYOUT_VERSION,
        "partitioning": list(PARTITION_COLUMNS),
        "unknown_partition": UNKNOWN_PARTITION,
        "tables": {
            table: [
                {
                    "name": c.name,
                    "type": c.sql_type,
                    "parquet": c.parquet_type,
                    "nullable": c.nullable,
                }
                for c in columns(table)
            ]
            for table in TABLES
        },
    }


def table_dir(root: str | os.PathLike[str], table: str) -> Path:
    """The folder holding one table's partitions."""
    return Path(root) / table


def write_manifest(root: str | os.PathLike[str]) -> Path:
    """Write ``_fnlens_layout.json`` into ``root`` (created if needed)."""
    path = Path(root) / LAYOUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(layout_manifest(), indent=2) + "\n", encoding="utf-8")
    return path


def check_layout(root: str | os.PathLike[str], *, for_writing: bool = False) -> bool:
    """Is ``root`` a layout this fnlens reads? Returns False for a folder to be created.

    Reading needs the manifest; writing accepts a missing or empty folder too, but never a
    folder with other files in it (an export replaces the table folders it writes).
    """
    path = Path(root)
    manifest = path / LAYOUT_FILE
    if not path.exists():
        if for_writing:
            return False
        raise LayoutError(f"{str(path)!r}: no such folder; write it with `fnlens export --parquet`")
    if not path.is_dir():
        raise LayoutError(f"{str(path)!r} is not a folder")
    if not manifest.is_file():
        if for_writing and not any(path.iterdir()):
            return False
        what = "is not empty and" if for_writing else ""
        raise LayoutError(
            f"{str(path)!r} {what} has no {LAYOUT_FILE}: not an fnlens Parquet layout "
            "(write one with `fnlens export --parquet DIR`)".replace("  ", " ")
        )
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayoutError(f"{manifest}: unreadable layout manifest: {exc}") from None
    version = data.get("version") if isinstance(data, dict) else None
    if data.get("format") != "fnlens-parquet" or not isinstance(version, int):
        raise LayoutError(f"{manifest}: not an fnlens layout manifest")
    if version > LAYOUT_VERSION:
        raise LayoutError(
            f"{manifest}: layout version {version} is newer than this fnlens reads "
            f"({LAYOUT_VERSION}); upgrade fnlens"
        )
    return True


def partition_sql(table: str) -> tuple[str, str]:
    """DuckDB expressions for the ``date`` and ``function`` partition values of a row."""
    ts_expr, fn_expr = _PARTITION_EXPRS[table]
    return (
        f"coalesce(strftime(CAST({ts_expr} AS DATE), '%Y-%m-%d'), '{UNKNOWN_PARTITION}')",
        f"coalesce({fn_expr}, '{UNKNOWN_PARTITION}')",
    )


def export_parquet(db: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Write every table of the DuckDB file ``db`` under ``out_dir``; rows written per table.

    Table folders already in ``out_dir`` are replaced, so exporting twice gives the same
    files, never duplicated rows.
    """
    from fnlens.analysis.db import connect

    check_layout(out_dir, for_writing=True)
    con = connect(db, read_only=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    try:
        for table in TABLES:
            target = table_dir(out, table)
            if target.exists():
                shutil.rmtree(target)
            counts[table] = n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            if n == 0:
                continue
            date_expr, fn_expr = partition_sql(table)
            select = ", ".join(_cast_for_parquet(c) for c in columns(table))
            quoted = str(target).replace("'", "''")
            con.execute(
                f"COPY (SELECT {select}, {date_expr} AS date, {fn_expr} AS function "
                f"FROM {table}) TO '{quoted}' "
                "(FORMAT parquet, PARTITION_BY (date, function), COMPRESSION zstd, "
                f"KV_METADATA {{fnlens_layout_version: '{LAYOUT_VERSION}'}})"
            )
    finally:
        con.close()
    write_manifest(out)
    return counts


def _cast_for_parquet(column: Column) -> str:
    if column.sql_type == "JSON":
        return f"CAST({column.name} AS VARCHAR) AS {column.name}"
    return f"CAST({column.name} AS {column.sql_type}) AS {column.name}"


def duckdb_views(con: Any, root: str | os.PathLike[str]) -> None:
    """Create ``invocations``/``spans``/``logs`` views over the layout on a DuckDB connection.

    A table with no files yet is an empty view of the right shape, so every canned query
    runs on a layout that only has invocations.
    """
    check_layout(root)
    for table in TABLES:
        folder = table_dir(root, table)
        cols = columns(table)
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            glob = str(folder / "**" / "*.parquet").replace("'", "''")
            select = ", ".join(f"CAST({c.name} AS {c.sql_type}) AS {c.name}" for c in cols)
            source = f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
        else:
            select = ", ".join(f"CAST(NULL AS {c.sql_type}) AS {c.name}" for c in cols)
            source = "(SELECT 1) AS _empty WHERE false"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {select} FROM {source}")
