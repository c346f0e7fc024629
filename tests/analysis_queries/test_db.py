"""Opening the database: missing file, missing tables, locks, non-DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from fnlens.analysis._schema import create_table_sql
from fnlens.analysis.catalog import get_query
from fnlens.analysis.db import DatabaseError, open_db


def test_missing_file_says_to_run_ingest(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="fnlens ingest"):
        open_db(tmp_path / "nope.duckdb")
    assert not (tmp_path / "nope.duckdb").exists(), "a read must not create the file"


def test_missing_tables_are_empty_and_the_file_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "partial.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(create_table_sql("invocations"))
        con.execute(
            "INSERT INTO invocations (ts, function_name, version, duration_ms) "
            "VALUES ('2024-01-01', 'f', '1', 5)"
        )
    before = path.read_bytes()
    con = open_db(path)
    try:
        assert con.execute("SELECT count(*) FROM spans").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM logs").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM invocations").fetchone() == (1,)
        assert get_query("per_version").run(con).fetchall()[0][:3] == ("f", "1", 1)
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM invocations")
    finally:
        con.close()
    assert path.read_bytes() == before
    with duckdb.connect(str(path), read_only=True) as check:
        tables = {r[0] for r in check.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"invocations"}


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(DatabaseError):
        open_db(path)


def test_locked_by_a_writer_says_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "busy.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                "sys.stdin.read()"
            ),
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseError, match="locked by another process"):
            open_db(path)
    finally:
        holder.communicate(input="", timeout=30)


# The DDL of the previous schema (schema 1, before fnlens_meta), written out here as it
# was shipped: invocations without the SnapStart-restore and runtimeDone columns, no
# record table of the merge, no version anywhere.
_SCHEMA_1_INVOCATIONS = """
CREATE TABLE invocations (
  ts TIMESTAMP, service VARCHAR, function_name VARCHAR, function_version VARCHAR,
  function_alias VARCHAR, service_version VARCHAR, version VARCHAR, request_id VARCHAR,
  trace_id VARCHAR, cold_start BOOLEAN, init_type VARCHAR, init_duration_ms DOUBLE,
  duration_ms DOUBLE, billed_duration_ms DOUBLE, memory_size_mb INTEGER,
  max_memory_used_mb INTEGER, outcome VARCHAR, error_type VARCHAR, error_message VARCHAR,
  trigger VARCHAR, http_method VARCHAR, http_route VARCHAR, http_status_code INTEGER,
  region VARCHAR, log_stream VARCHAR, source VARCHAR
)
"""
_SCHEMA_1_ROWS = [
    ("2024-03-01 10:00:00", "orders", "7", "r-1", 120.5, "success"),
    ("2024-03-01 10:00:01", "orders", "7", "r-2", 80.0, "error"),
    ("2024-03-01 10:00:02", "billing", "3", "r-3", 9.25, "success"),
]


def _schema_1_db(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(_SCHEMA_1_INVOCATIONS)
        con.executemany(
            "INSERT INTO invocations (ts, function_name, version, request_id, duration_ms, "
            "outcome) VALUES (?, ?, ?, ?, ?, ?)",
            _SCHEMA_1_ROWS,
        )


def _invocation_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S'), function_name, version, request_id, "
        "duration_ms, outcome FROM invocations ORDER BY request_id"
    ).fetchall()


def test_a_previous_schema_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    from fnlens.analysis._schema import TABLES
    from fnlens.analysis.db import SCHEMA_VERSION, connect, schema_version

    path = tmp_path / "old.duckdb"
    _schema_1_db(path)
    with duckdb.connect(str(path), read_only=True) as check:
        assert schema_version(check) == 1
        old_columns = {r[0] for r in check.execute("DESCRIBE invocations").fetchall()}
    assert "produced_bytes" not in old_columns  # the fixture really is the old schema

    con = connect(path)
    try:
        assert schema_version(con) == SCHEMA_VERSION == 3
        assert _invocation_rows(con) == [tuple(r) for r in _SCHEMA_1_ROWS]
        for table, columns in TABLES.items():
            have = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            assert set(columns) <= set(have), table
        assert con.execute(
            "SELECT count(*) FROM invocations WHERE produced_bytes IS NULL"
        ).fetchone() == (len(_SCHEMA_1_ROWS),)
        assert con.execute(
            "SELECT value FROM fnlens_meta WHERE key = 'schema_version'"
        ).fetchone() == ("3",)
    finally:
        con.close()
    # opening again is a no-op: same version, same rows
    again = connect(path)
    try:
        assert schema_version(again) == 3
        assert _invocation_rows(again) == [tuple(r) for r in _SCHEMA_1_ROWS]
    finally:
        again.close()


def test_ingest_into_a_previous_schema_database_adds_to_its_rows(tmp_path: Path) -> None:
    import json

    from fnlens.analysis.db import schema_version
    from fnlens.analysis.ingest import ingest

    path = tmp_path / "old.duckdb"
    _schema_1_db(path)
    log = tmp_path / "new.jsonl"
    log.write_text(
        json.dumps(
            {
                "event": "invocation",
                "timestamp": "2024-03-02T00:00:00Z",
                "request_id": "r-4",
                "function_name": "orders",
                "duration_ms": 5.0,
                "outcome": "success",
            }
        )
        + "\n"
    )
    report = ingest([log], db=path)
    assert report.totals["invocations"] == len(_SCHEMA_1_ROWS) + 1
    with duckdb.connect(str(path), read_only=True) as check:
        assert schema_version(check) == 3
        ids = [
            r[0] for r in check.execute("SELECT request_id FROM invocations ORDER BY 1").fetchall()
        ]
    assert ids == ["r-1", "r-2", "r-3", "r-4"]


def test_reading_a_previous_schema_database_never_writes_it(tmp_path: Path) -> None:
    from fnlens.analysis.db import schema_version

    path = tmp_path / "old.duckdb"
    _schema_1_db(path)
    before = path.read_bytes()
    con = open_db(path)
    try:
        assert schema_version(con) == 1
        # the newer columns are there for queries (NULL), through a temporary view
        assert con.execute("SELECT count(produced_bytes) FROM invocations").fetchone() == (0,)
        assert get_query("per_version").run(con).fetchall()
    finally:
        con.close()
    assert path.read_bytes() == before


def test_a_new_database_is_created_at_the_current_version(tmp_path: Path) -> None:
    from fnlens.analysis.db import SCHEMA_VERSION, STORAGE_COMPATIBILITY, connect, schema_version

    path = tmp_path / "new.duckdb"
    con = connect(path, memory_limit="256MB", threads=1, temp_directory=tmp_path / "spill")
    try:
        assert schema_version(con) == SCHEMA_VERSION
        limit, threads, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()
        assert threads == 1 and temp == str(tmp_path / "spill")
        assert limit.endswith("MiB") and 200 < float(limit.split()[0]) <= 256, limit
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()
    # the storage format is the one DuckDB writes when asked for 1.1 compatibility
    reference = tmp_path / "reference.duckdb"
    duckdb.connect(str(reference), config={"storage_compatibility_version": "v1.1.0"}).close()
    assert STORAGE_COMPATIBILITY == "v1.1.0"
    assert _storage_tag(path) == _storage_tag(reference)


def _storage_tag(path: Path) -> object:
    with duckdb.connect(str(path), read_only=True) as check:
        row = check.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    return row[0] if row else None


def test_a_newer_schema_is_refused_for_writing(tmp_path: Path) -> None:
    from fnlens.analysis.db import connect

    path = tmp_path / "future.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE fnlens_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO fnlens_meta VALUES ('schema_version', '99')")
    with pytest.raises(DatabaseError, match="schema version 99, newer than this fnlens"):
        connect(path)


def test_a_table_dropped_from_a_current_database_comes_back_empty(tmp_path: Path) -> None:
    from fnlens.analysis.db import connect, schema_version

    path = tmp_path / "current.duckdb"
    connect(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE spans")
    con = connect(path)
    try:
        assert schema_version(con) == 3
        assert con.execute("SELECT count(*) FROM spans").fetchone() == (0,)
    finally:
        con.close()
