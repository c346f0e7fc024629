"""What several analysis commands share: the ``--db`` option and one-line errors."""

from __future__ import annotations

from typing import Any

import click

db_option = click.option(
    "--db",
    "db_path",
    default="fnlens.duckdb",
    show_default=True,
    envvar="FNLENS_DB",
    type=click.Path(dir_okay=False),
    help="DuckDB file written by `fnlens ingest` (env FNLENS_DB).",
)


def guard(func: Any, *args: Any) -> Any:
    """Call ``func``; expected failures become one-line ClickExceptions (unless --debug)."""
    import duckdb

    from fnlens.analysis._parquet import LayoutError
    from fnlens.analysis.catalog import QueryError
    from fnlens.analysis.db import DatabaseError

    try:
        return func(*args)
    except (QueryError, DatabaseError, LayoutError, duckdb.Error) as exc:
        if debug_enabled():
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(message) from exc


def debug_enabled() -> bool:
    """True when the root command was given ``--debug``."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))
