"""The one place that opens or creates the fnlens DuckDB database, and keeps its schema current.

Writing (``fnlens ingest``, :func:`connect`): a new file is created in a storage format
DuckDB 1.1 and newer read (:data:`STORAGE_COMPATIBILITY`), and its schema is written
at :data:`SCHEMA_VERSION`, recorded in the ``fnlens_meta`` table. A database written
by an older fnlens is migrated forward when it is opened for writing (:func:`migrate`):
columns are only ever added, rows are kept.

Reading (queries, reports, ``fnlens sql``, :func:`open_db`): the file is never written.
Queries must not crash on a database that lacks a table (an ingest that only saw
REPORT lines has no spans) or a newer column: those are created empty as temporary
tables or views.

``fnlens sql`` runs whatever SQL it is given, so :func:`open_sandboxed` opens the
file read-only with DuckDB's own guards on: no file system or network access
(``enable_external_access = false``), no extension installed or loaded behind the
user's back, and a locked configuration so a statement cannot turn them back on.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fnlens.analysis._merge import ensure_parts
from fnlens.analysis._schema import TABLES, create_table_sql, upgrade_sql
from fnlens.exceptions import DatabaseError

DEFAULT_DB = "fnlens.duckdb"

__all__ = [
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "STORAGE_COMPATIBILITY",
    "DatabaseError",
    "connect",
    "ensure_tables",
    "memory_db",
    "migrate",
    "open_db",
    "open_sandboxed",
    "prepare",
    "schema_version",
]

# New files are written in a storage format DuckDB 1.1 and newer read (the DuckDB CLI,
# the Python package, Grafana's DuckDB plugin), not in this DuckDB's newest format.
STORAGE_COMPATIBILITY = "v1.1.0"

# 1: the three tables, before fnlens_meta (the later columns may be missing)
# 2: + restore/produced-bytes columns, the merge's record table, fnlens_meta
SCHEMA_VERSION = 3  # 3: invocations.cloud_provider
META_TABLE = "fnlens_meta"

# DuckDB settings of a connection that runs untrusted SQL; every key exists since DuckDB 1.1
_SANDBOX: dict[str, object] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,  # no scans of Python variables in scope
    "lock_configuration": True,
}


def connect(
    path: str | Path = DEFAULT_DB,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a database for loading, creating the file if needed, at the current schema.

    ``read_only=True`` opens an existing file without writing it (:func:`open_db`).
    ``memory_limit`` (e.g. ``"2GB"``), ``temp_directory`` (where DuckDB spills; by
    default ``<file>.tmp``) and ``threads`` are DuckDB settings of this connection.
    """
    if read_only:
        con = open_db(path, read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        return con
    config: dict[str, object] = {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    try:
        con = duckdb.connect(str(path), config=config)
    except duckdb.Error as exc:
        raise _open_error(Path(path), exc) from exc
    try:
        prepare(con, memory_limit=memory_limit, temp_directory=temp_directory, threads=threads)
    except BaseException:
        con.close()
        raise
    return con


def prepare(
    con: duckdb.DuckDBPyConnection,
    *,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> int:
    """Make a writable connection ready to load.

    The connection is one of :func:`connect`'s, or the caller's: UTC session time zone,
    the current schema (:func:`migrate`), the given limits.

    Returns the schema version the database had before (0 for a new one).
    """
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = {_literal(temp_directory)}")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return migrate(con)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The fnlens schema version of the connection's database.

    0 when it holds no fnlens table, 1 for a database an fnlens before ``fnlens_meta`` wrote.
    """
    tables = _main_tables(con)
    if META_TABLE in tables:
        row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
        if row is not None:
            return int(row[0])
    return 1 if tables & TABLES.keys() else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring a writable database to :data:`SCHEMA_VERSION`; returns the version it had.

    Each step only adds (tables, columns) and is safe to repeat, and the version is
    written last: a migration that stops half-way is finished by the next open.
    """
    before = schema_version(con)
    if before > SCHEMA_VERSION:
        raise DatabaseError(
            f"the database has fnlens schema version {before}, newer than this fnlens "
            f"({SCHEMA_VERSION}); upgrade fnlens to write to it"
        )
    # Versions 1 -> 2 -> 3 only added tables and columns, which _ensure_current adds; it runs
    # whatever the recorded version says (a table dropped by hand comes back empty) and
    # is cheap when everything is there. A later change that needs more than additions
    # (a backfill, a rename) runs its step here for `before` below its version.
    _ensure_current(con)
    if before != SCHEMA_VERSION:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)"
        )
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES ('schema_version', ?)",
            [str(SCHEMA_VERSION)],
        )
    return before


def _ensure_current(con: duckdb.DuckDBPyConnection) -> None:
    """Every table at this version's columns, and the merge's record table.

    New columns are NULL in old rows.
    """
    for table in TABLES:
        con.execute(create_table_sql(table))
        for statement in upgrade_sql(table, _columns(con, table)):
            con.execute(statement)
    ensure_parts(con)  # the merge's record table, with the columns added since


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
    except duckdb.Error as exc:
        raise _open_error(db_path, exc) from exc
    if not read_only:
        try:
            migrate(con)
        except BaseException:
            con.close()
            raise
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
    migrate(con)
    return con


def _open_error(path: Path, exc: duckdb.Error) -> DatabaseError:
    """What to tell the user when DuckDB cannot open ``path``."""
    message = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.IOException):
        if "lock" in message.lower():
            return DatabaseError(
                f"{str(path)!r} is locked by another process (is `fnlens ingest` still running?)"
            )
        return DatabaseError(f"cannot open {str(path)!r}: {message}")
    return DatabaseError(f"{str(path)!r} is not a DuckDB database: {message}")


def _literal(value: object) -> str:
    """A SQL string literal (SET takes no bound parameters on older DuckDB)."""
    return "'" + str(value).replace("'", "''") + "'"


def _main_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND database_name = current_database()"
        ).fetchall()
    }


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND table_name = ? AND database_name = current_database()",
            [table],
        ).fetchall()
    }


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
