"""DuckDB side of ingest: tables, staging, and the set-based merge.

Rows are appended to TEMP staging tables in Arrow batches (or straight from
DuckDB's ``read_json`` on the fast path). One merge at the end of a run then:

* invocations: request ids seen once and not yet stored are inserted as they are;
  the rest (several sources, or already stored) are merged with one GROUP BY in which
  every column takes the value of the highest-precedence source that has it
  (fnlens > Powertools > OTLP > Lambda platform JSON > REPORT text > EMF);
* spans: one row per (trace_id, span_id), new ones only;
* logs: one row per content key hash(source_file, source_line, ts, message).

Everything runs in one transaction, so a failed run leaves the database unchanged.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from fnlens.analysis.formats import fnlens_jsonl
from fnlens.analysis.schema import INVOCATIONS_COLUMNS, TABLES, create_table_sql
from fnlens.analysis.sink import RANK, STAGE_COLUMNS

# New database files are written in a storage format DuckDB 1.1 and newer read (the DuckDB
# CLI, the Python package, Grafana's DuckDB plugin), not in this DuckDB's newest format.
STORAGE_COMPATIBILITY = "v1.1.0"

_EVENT_ONLY = "{'event': 'VARCHAR'}"
_LOG_KEY = "hash(source_file, source_line, ts, message)"
# outcome precedence within one source: timeout > error > success
_SEVERITY = "CASE outcome WHEN 'timeout' THEN 0 WHEN 'error' THEN 1 ELSE 2 END"
# rows already stored win ties against the same kind of source arriving again
_EXISTING_RANK = (
    "CASE "
    + " ".join(
        f"WHEN list_contains(string_split(source, '+'), '{name}') THEN {rank}"
        for name, rank in sorted(RANK.items(), key=lambda item: item[1])
    )
    + " ELSE 90 END - 5"
)


def connect(
    db: str | Path = "fnlens.duckdb", *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) an fnlens database with the three tables.

    A file created here is readable by DuckDB 1.1+ (:data:`STORAGE_COMPATIBILITY`);
    an existing file keeps the storage version it was created with.
    """
    config = {} if read_only else {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    con = duckdb.connect(str(db), read_only=read_only, config=config)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        for table in TABLES:
            con.execute(create_table_sql(table))
    return con


class Loader:
    """Staging tables for one ingest run, and the merge into the real tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        con.execute("SET enable_progress_bar = false")
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
        inserted = self.con.execute(
            "INSERT INTO _stage_invocations "
            f"SELECT {fnlens_jsonl.fast_select_sql()} FROM {source} "
            "WHERE event = 'invocation' AND request_id IS NOT NULL",
            [str(path)],
        ).fetchall()[0][0]
        # a second, cheap scan (one column) tells whether there are log lines to parse
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
        con = self.con
        cols = list(INVOCATIONS_COLUMNS)
        col_list = ", ".join(cols)
        if con.execute("SELECT count(*) FROM (SELECT 1 FROM invocations LIMIT 1)").fetchall()[0][0]:
            # rows identical to what is stored change nothing: drop them before the merge,
            # so re-ingesting a file costs one join instead of a GROUP BY over everything
            same = " AND ".join(
                f"s.{c} IS NOT DISTINCT FROM i.{c}" for c in cols if c != "request_id"
            )
            con.execute(
                "DELETE FROM _stage_invocations s USING invocations i "
                f"WHERE s.request_id = i.request_id AND {same}"
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _merge_keys AS "
            "SELECT request_id FROM _stage_invocations GROUP BY request_id HAVING count(*) > 1 "
            "UNION SELECT request_id FROM invocations "
            "WHERE request_id IN (SELECT request_id FROM _stage_invocations)"
        )
        con.execute(
            f"INSERT INTO invocations SELECT {col_list} FROM _stage_invocations s "
            "ANTI JOIN _merge_keys k ON s.request_id = k.request_id"
        )
        existing = con.execute(
            "SELECT count(*) FROM invocations "
            "WHERE request_id IN (SELECT request_id FROM _merge_keys)"
        ).fetchall()[0][0]
        aggs = []
        for col in cols:
            if col == "request_id":
                aggs.append("request_id")
            elif col == "source":
                aggs.append(
                    "array_to_string(list_sort(list_distinct("
                    "flatten(list(string_split(source, '+'))))), '+')"
                    " AS source"
                )
            elif col == "version":
                aggs.append(
                    "coalesce(nullif(arg_min(service_version, _rank), ''), "
                    "arg_min(function_version, _rank))"
                    " AS version"
                )
            elif col == "outcome":
                aggs.append(
                    f"arg_min(outcome, _rank * 10 + {_SEVERITY}) "
                    "FILTER (WHERE outcome IS NOT NULL) AS outcome"
                )
            elif col in ("error_type", "error_message"):
                aggs.append(
                    f"arg_min_null({col}, _rank * 10 + {_SEVERITY}) "
                    "FILTER (WHERE outcome IS NOT NULL)"
                    f" AS {col}"
                )
            else:
                aggs.append(f"arg_min({col}, _rank) AS {col}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _merged AS "
            f"WITH rows AS ("
            f"  SELECT {col_list}, _rank FROM _stage_invocations "
            f"    WHERE request_id IN (SELECT request_id FROM _merge_keys)"
            f"  UNION ALL"
            f"  SELECT {col_list}, {_EXISTING_RANK} AS _rank FROM invocations "
            f"    WHERE request_id IN (SELECT request_id FROM _merge_keys)"
            f") SELECT {', '.join(aggs)} FROM rows GROUP BY request_id"
        )
        con.execute(
            "DELETE FROM invocations WHERE request_id IN (SELECT request_id FROM _merge_keys)"
        )
        con.execute(f"INSERT INTO invocations SELECT {col_list} FROM _merged")
        con.execute("DROP TABLE _merged")
        con.execute("DROP TABLE _merge_keys")
        return int(existing)

    def _merge_spans(self) -> None:
        cols = ", ".join(STAGE_COLUMNS["spans"])
        self.con.execute(
            f"INSERT INTO spans SELECT {cols} FROM ("
            f"  SELECT DISTINCT ON (trace_id, span_id) * FROM _stage_spans"
            ") s ANTI JOIN spans USING (trace_id, span_id)"
        )

    def _merge_logs(self) -> None:
        cols = ", ".join(STAGE_COLUMNS["logs"])
        self.con.execute(
            f"INSERT INTO logs SELECT {cols} FROM ("
            f"  SELECT DISTINCT ON (_k) *, {_LOG_KEY} AS _k FROM _stage_logs"
            f") s WHERE _k NOT IN (SELECT {_LOG_KEY} FROM logs)"
        )

    def drop(self) -> None:
        for table in STAGE_COLUMNS:
            self.con.execute(f"DROP TABLE IF EXISTS _stage_{table}")
