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
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
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
