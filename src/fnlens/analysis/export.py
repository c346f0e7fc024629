"""Parquet export of the three tables, Hive-partitioned by date and function.

Layout: ``DIR/<table>/date=YYYY-MM-DD/function=<name>/*.parquet`` so Spark, DuckDB and
Athena prune partitions by day and function. Spans have no function column; their
function is the ``faas.name`` resource attribute, else the service name. Rows with
no time or function go to ``date=unknown`` / ``function=unknown``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fnlens.analysis.loader import connect

_PARTITIONS = {
    "invocations": ("CAST(ts AS DATE)", "function_name"),
    "logs": ("CAST(ts AS DATE)", "function_name"),
    "spans": (
        "CAST(start_ts AS DATE)",
        "coalesce(map_extract(resource_attributes, 'faas.name')[1], service)",
    ),
}


def export_parquet(db: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Write every table under ``out_dir``; returns rows written per table."""
    con = connect(db, read_only=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    try:
        for table, (date_expr, fn_col) in _PARTITIONS.items():
            n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            counts[table] = n
            if n == 0:
                continue
            target = str(out / table).replace("'", "''")
            con.execute(
                f"COPY (SELECT *, coalesce(strftime({date_expr}, '%Y-%m-%d'), 'unknown') AS date, "
                f"coalesce({fn_col}, 'unknown') AS function FROM {table}) "
                f"TO '{target}' "
                "(FORMAT parquet, PARTITION_BY (date, function), OVERWRITE_OR_IGNORE)"
            )
    finally:
        con.close()
    return counts
