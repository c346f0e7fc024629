"""Refuse the statements ``fnlens sql`` must never run, with a message saying why.

DuckDB's sandbox settings (see :func:`fnlens.analysis.db.open_sandboxed`) are the real
guard; this check comes first so the user gets a clear reason, and it still refuses
file writes when ``--allow-files`` turns external access on for reads.
"""

from __future__ import annotations

import duckdb

from fnlens.exceptions import SqlRefusedError

__all__ = ["REFUSED", "check_statements"]

# statement type name -> why it is refused
REFUSED: dict[str, str] = {
    "COPY": "COPY reads or writes files; to read one, use read_csv('…') with --allow-files",
    "COPY_DATABASE": "COPY FROM DATABASE writes another database",
    "EXPORT": "EXPORT DATABASE writes files",
    "ATTACH": "ATTACH opens or creates other database files",
    "DETACH": "DETACH changes the attached databases",
    "LOAD": "INSTALL / LOAD fetch or run extensions",
}


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`SqlRefusedError` for the first statement of a refused type."""
    for statement in con.extract_statements(sql):
        name = statement.type.name
        if name in REFUSED:
            text = " ".join(statement.query.split())
            short = text if len(text) <= 60 else text[:57] + "..."
            raise SqlRefusedError(f"fnlens sql is read-only: refused {short!r}: {REFUSED[name]}")
