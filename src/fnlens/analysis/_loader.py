"""DuckDB side of ingest: staging, and the set-based merge (the database: ``db.py``).

Rows are appended to TEMP staging tables in Arrow batches (or straight from
DuckDB's ``read_json`` on the fast path). One merge at the end of a run then:

* invocations: one row per request id and attempt, see :mod:`fnlens.analysis._merge`
  for the rule (order-independent, idempotent, retries are their own rows);
* spans: one row per (trace_id, span_id), new ones only;
* logs: one row per key hash(source_file, source_line, source_index, ts, message).

Everything runs in one transaction, so a failed run leaves the database unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from fnlens.analysis._formats import fnlens_jsonl
from fnlens.analysis._merge import combine_line_pairs, merge_invocations
from fnlens.analysis._schema import TABLES
from fnlens.analysis._sink import STAGE_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

_EVENT_ONLY = "{'event': 'VARCHAR'}"
_LOG_KEY = "hash(source_file, source_line, coalesce(source_index, 0), ts, message)"


class Loader:
    """Staging tables for one ingest run, and the merge into the real tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        con.execute("SET enable_progress_bar = false")
        # row order of staged and merged rows means nothing; not keeping it lets big
        # inserts and the merge stream and spill within memory_limit
        con.execute("SET preserve_insertion_order = false")
        for table, columns in STAGE_COLUMNS.items():
            body = ", ".join(f"{n} {t}" for n, t in columns.items())
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_{table} ({body})")

    def append(self, table: str, batch: pa.Table) -> None:
        self.con.register("_fnlens_batch", batch)
        try:
            self.con.execute(f"INSERT INTO _stage_{table} SELECT * FROM _fnlens_batch")
        finally:
            self.con.unregister("_fnlens_batch")

    def stage_fnlens_fast(self, path: Path, gzip: bool) -> tuple[int, int]:
        """Load a clean fnlens JSONL file with read_json; returns (invocations, other lines).

        Raises duckdb.Error when any line does not fit; the caller then falls back to
        the line parser, which reports every bad line with its number.
        """
        columns = (
            "{" + ", ".join(f"'{k}': '{v}'" for k, v in fnlens_jsonl.FAST_COLUMNS.items()) + "}"
        )
        source = (
            f"read_json(?, format='newline_delimited', columns={columns}, "
            f"compression='{'gzip' if gzip else 'uncompressed'}', maximum_object_size=16777216)"
        )
        # an empty or blank request id is no id (the merge keeps such records one by one)
        inserted = self.con.execute(
            "INSERT INTO _stage_invocations "
            "SELECT * REPLACE (nullif(trim(request_id), '') AS request_id) FROM ("
            f"  SELECT {fnlens_jsonl.fast_select_sql()} FROM {source} "
            "  WHERE event = 'invocation')",
            [str(path)],
        ).fetchall()[0][0]
        if not gzip and _count_lines(path) == inserted:
            return int(inserted), 0  # every line was an invocation record: nothing else to read
        # else a second scan (one column) tells whether there are log lines to parse
        other = self.con.execute(
            f"SELECT count(*) FROM {source.replace(columns, _EVENT_ONLY)} "
            "WHERE event IS DISTINCT FROM 'invocation'",
            [str(path)],
        ).fetchall()[0][0]
        return int(inserted), int(other)

    def merge(self) -> dict[str, int]:
        """Merge staging into the tables; returns rows added (or merged) per table."""
        con = self.con
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        merged_existing = self._merge_invocations()
        self._merge_spans()
        self._merge_logs()
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        added = {t: after[t] - before[t] for t in TABLES}
        added["invocations_updated"] = merged_existing
        return added

    def _merge_invocations(self) -> int:
        combine_line_pairs(self.con, "_stage_invocations")
        return merge_invocations(self.con, "_stage_invocations")

    def _merge_spans(self) -> None:
        cols = ", ".join(STAGE_COLUMNS["spans"])
        self.con.execute(
            f"INSERT INTO spans ({cols}) SELECT {cols} FROM ("
            f"  SELECT DISTINCT ON (trace_id, span_id) * FROM _stage_spans"
            "   WHERE trace_id IS NOT NULL AND span_id IS NOT NULL"
            ") s ANTI JOIN spans USING (trace_id, span_id)"
        )
        # spans without ids (kept with a warning) are keyed by what they say instead
        key = "hash(trace_id, span_id, name, start_ts, end_ts, source, attributes::VARCHAR)"
        self.con.execute(
            f"INSERT INTO spans ({cols}) SELECT {cols} FROM ("
            f"  SELECT DISTINCT ON (_k) *, {key} AS _k FROM _stage_spans"
            "   WHERE trace_id IS NULL OR span_id IS NULL"
            f") s WHERE _k NOT IN (SELECT {key} FROM spans "
            "   WHERE trace_id IS NULL OR span_id IS NULL)"
        )

    def _merge_logs(self) -> None:
        cols = ", ".join(STAGE_COLUMNS["logs"])
        # the same row staged twice (a file given twice) is stored once; looking for
        # such rows costs a count, removing them a hash of every row's columns
        repeated = self.con.execute(
            f"SELECT count(*) - count(DISTINCT {_LOG_KEY}) FROM _stage_logs"
        ).fetchall()[0][0]
        rows = (
            f"SELECT DISTINCT ON (_k) *, {_LOG_KEY} AS _k FROM _stage_logs"
            if repeated
            else f"SELECT *, {_LOG_KEY} AS _k FROM _stage_logs"
        )
        self.con.execute(
            f"INSERT INTO logs ({cols}) SELECT {cols} FROM ({rows}) s "
            f"WHERE _k NOT IN (SELECT {_LOG_KEY} FROM logs)"
        )

    def drop(self) -> None:
        for table in STAGE_COLUMNS:
            self.con.execute(f"DROP TABLE IF EXISTS _stage_{table}")


def _count_lines(path: Path) -> int:
    """Lines in a plain file, a last one without a newline included (blank ones too).

    Counting newlines in 16 MiB blocks reads a 1 GB file in well under a second, a
    fraction of what a second ``read_json`` scan of it costs.
    """
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(16 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")
