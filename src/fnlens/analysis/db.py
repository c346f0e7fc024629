"""Open the fnlens DuckDB database for reading queries.

Queries must never crash on a database that lacks a table (an ingest that only
saw REPORT lines has no spans): missing tables are created empty as temporary
tables, so the file itself is never written by a read.

``fnlens sql`` runs whatever SQL it is given, so :func:`open_sandboxed` opens the
file read-only with DuckDB's own guards on: no file system or network access
(``enable_external_access = false``), no extension installed or loaded behind the
user's back, and a locked configuration so a statement cannot turn them back on.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fnlens.analysis._schema import TABLES, create_table_sql
from fnlens.exceptions import DatabaseError

DEFAULT_DB = "fnlens.duckdb"

__all__ = [
    "DEFAULT_DB",
    "DatabaseError",
    "ensure_tables",
    "memory_db",
    "open_db",
    "open_sandboxed",
]

# DuckDB settings of a connection that runs untrusted SQL; every key exists since DuckDB 1.1
_SANDBOX: dict[str, object] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,  # no scans of Python variables in scope
    "lock_configuration": True,
}


def open_db(
    path: str | Path = DEFAULT_DB,
    *,
    read_only: bool = True,
    config: dict[str, object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to an existing database file, with every fnlens table present.

    A missing file is an error telling the user to run ``fnlens ingest`` first:
    creating an empty database silently would hide a wrong ``--db`` path.
    ``config`` holds DuckDB settings applied when the connection opens.
    """
    db_path = Path(path)
    if not db_path.is_file():
        raise DatabaseError(
            f"no fnlens database at {str(db_path)!r}; run `fnlens ingest PATH... --db {db_path}` "
            "first, or pass --db"
        )
    try:
        con = duckdb.connect(str(db_path), read_only=read_only, config=dict(config or {}))
    except duckdb.IOException as exc:
        message = str(exc).splitlines()[0]
        if "lock" in message.lower():
            raise DatabaseError(
                f"{str(db_path)!r} is locked by another process (is `fnlens ingest` still running?)"
            ) from exc
        raise DatabaseError(f"cannot open {str(db_path)!r}: {message}") from exc
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise DatabaseError(f"{str(db_path)!r} is not a DuckDB database: {first}") from exc
    ensure_tables(con, temporary=read_only)
    return con


def open_sandboxed(
    path: str | Path = DEFAULT_DB, *, allow_files: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the database read-only for untrusted SQL (``fnlens sql``).

    Without ``allow_files`` nothing outside the database file can be reached: no
    ``read_csv``, ``COPY``, ``EXPORT DATABASE``, ``ATTACH``, ``INSTALL`` or URL. With it,
    file and URL *reads* work (the caller still refuses statements that write files,
    see :func:`fnlens.analysis.sqlguard.check_statements`); extensions are still never
    installed or loaded automatically.
    """
    config = dict(_SANDBOX)
    config["enable_external_access"] = allow_files
    return open_db(path, read_only=True, config=config)


def memory_db() -> duckdb.DuckDBPyConnection:
    """An in-memory database with the three empty tables (tests, demos)."""
    con = duckdb.connect(":memory:")
    ensure_tables(con, temporary=False)
    return con


def ensure_tables(con: duckdb.DuckDBPyConnection, *, temporary: bool) -> list[str]:
    """Create the tables the connection lacks; returns their names.

    Only missing tables are created, so a temporary table never shadows a real one.
    """
    existing = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
        ).fetchall()
    }
    created = []
    for table in TABLES:
        if table in existing:
            _add_missing_columns(con, table, temporary=temporary)
            continue
        ddl = create_table_sql(table)
        if temporary:
            ddl = ddl.replace("CREATE TABLE", "CREATE TEMPORARY TABLE", 1)
        con.execute(ddl)
        created.append(table)
    return created


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str, *, temporary: bool) -> None:
    """A table written by an older fnlens lacks newer columns: queries still see them (NULL).

    Writable: ALTER TABLE. Read-only: a temporary view of the same name over the stored
    table with the missing columns as NULLs, so the file itself is never written.
    """
    from fnlens.analysis._schema import upgrade_sql

    have = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND table_name = ? AND database_name = current_database()",
            [table],
        ).fetchall()
    }
    missing = {n: t for n, t in TABLES[table].items() if n not in have}
    if not missing or not have:
        return
    if not temporary:
        for statement in upgrade_sql(table, have):
            con.execute(statement)
        return
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    extra = ", ".join(f"NULL::{t} AS {n}" for n, t in missing.items())
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW {table} AS SELECT *, {extra} FROM "{catalog}".main.{table}'
    )
