"""What several commands share: the ``--db`` option and how a failure is shown.

A failure fnlens expects (any :class:`fnlens.exceptions.FnlensError`, a DuckDB error,
a ``click.ClickException`` raised by a command) is one ``fnlens: error: <message>``
line on stderr and the command's error status; ``fnlens --debug`` shows the traceback
instead. The root group calls :func:`report_failure` for every subcommand, so no
command wraps its own calls.
"""

from __future__ import annotations

import sys

import click

from fnlens.exceptions import FnlensError

db_option = click.option(
    "--db",
    "db_path",
    default="fnlens.duckdb",
    show_default=True,
    envvar="FNLENS_DB",
    type=click.Path(dir_okay=False),
    help="DuckDB file written by `fnlens ingest` (env FNLENS_DB).",
)

# the exit status of a failed command, 1 unless listed: compare's 1 and 2 are verdicts
ERROR_EXIT: dict[str, int] = {"compare": 3}


def expected(exc: BaseException) -> bool:
    """A failure with a message meant for the user (no traceback needed)."""
    if isinstance(exc, FnlensError):
        return True
    duckdb = sys.modules.get("duckdb")  # never imported here: only a command that used it
    return duckdb is not None and isinstance(exc, duckdb.Error)


def one_line(exc: BaseException) -> str:
    """The first line of the message (DuckDB adds context lines), or the class name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fail(message: str, status: int) -> None:
    """Print ``fnlens: error: <message>`` on stderr and exit with ``status``."""
    click.echo(f"fnlens: error: {message}", err=True)
    raise click.exceptions.Exit(status)


def report_failure(exc: Exception, command: str | None) -> None:
    """Turn an expected failure of ``command`` into one line and its status; re-raise the rest.

    Called from an ``except`` block: a bare ``raise`` keeps the original traceback.
    """
    if isinstance(exc, click.UsageError):
        raise exc  # click shows the usage with it
    if isinstance(exc, click.ClickException):
        status = exc.exit_code if exc.exit_code != 1 else ERROR_EXIT.get(command or "", 1)
        fail(exc.format_message(), status)
    if expected(exc) and not debug_enabled():
        fail(one_line(exc), ERROR_EXIT.get(command or "", 1))
    raise exc


def debug_enabled() -> bool:
    """True when the root command was given ``--debug``."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))
