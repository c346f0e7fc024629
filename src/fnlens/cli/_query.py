"""``fnlens queries``, ``fnlens query NAME`` and ``fnlens sql "..."``.

Results render as a rich table on a terminal, or as CSV, JSON or Markdown for
scripts and docs. Every failure is one line and a non-zero exit; ``fnlens
--debug`` re-raises the original exception for the traceback.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import click

from fnlens.cli._common import db_option, debug_enabled

FORMATS = ("table", "csv", "json", "markdown")
DIALECTS = ("duckdb", "spark", "trino", "athena")
WINDOW_PARAMS = ("since", "until", "function", "version")
_format_option = click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


@click.command("queries")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--format", "-f", "fmt", type=click.Choice(("table", "json")), default="table")
@click.option(
    "--dialect",
    type=click.Choice(DIALECTS),
    default=None,
    help="Print the SQL of NAME (default: every query) for this engine; "
    "trino/athena also print the table DDL.",
)
@click.option(
    "--location",
    default="s3://YOUR-BUCKET/fnlens",
    show_default=True,
    help="Where `fnlens export --parquet` wrote the layout (for the trino/athena DDL).",
)
def queries(names: Sequence[str], fmt: str, dialect: str | None, location: str) -> None:
    """List the canned queries with their descriptions, parameters and engines."""
    from fnlens.analysis.catalog import get_query, load_catalog

    catalog = load_catalog()
    if dialect is not None:
        selected = [get_query(n) for n in names] if names else list(catalog.values())
        click.echo(_dialect_text(selected, dialect, location), nl=False)
        return
    if names:
        raise click.UsageError("NAME is only taken with --dialect (to print that query's SQL)")
    engines = _engines(list(catalog.values()))
    if fmt == "json":
        payload = [
            {
                "name": q.name,
                "description": q.description,
                "params": [
                    {"name": p.name, "type": p.type, "default": p.default, "doc": p.doc}
                    for p in q.params
                ],
                "engines": engines[q.name],
            }
            for q in catalog.values()
        ]
        click.echo(json.dumps(payload, indent=2, default=_json_default))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="fnlens canned queries", show_lines=True, title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description", ratio=3)
    table.add_column("parameters", ratio=2)
    table.add_column("engines", no_wrap=True)
    for q in catalog.values():
        params = Text()
        names = [p.name for p in q.params]
        if all(n in names for n in WINDOW_PARAMS):
            params.append(", ".join(WINDOW_PARAMS), style="dim")
        for p in q.params:
            if p.name in WINDOW_PARAMS:
                continue
            params.append(("\n" if params else "") + p.describe())
            if p.doc:
                params.append(f"\n  {p.doc}", style="dim")
        table.add_row(Text(q.name), Text(q.description), params, _engines_text(engines[q.name]))
    console = _console()
    console.print(table)
    console.print("engines: ✓ same answer as DuckDB, ≈ approximate:", markup=False)
    for line in _engine_notes(engines):
        console.print(line, markup=False, soft_wrap=True)
    console.print(
        "since / until: time window, ISO 8601 UTC (until exclusive); function / version: "
        "filters.\nRun one with: fnlens query NAME [--param name=value ...] "
        "[--engine spark --parquet DIR]; its SQL for another engine: "
        "fnlens queries --dialect trino NAME",
        markup=False,
    )


@click.command("query")
@click.argument("name")
@db_option
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Bind a query parameter; repeat for several (see `fnlens queries`).",
)
@_format_option
@click.option(
    "--engine",
    type=click.Choice(("duckdb", "spark")),
    default="duckdb",
    show_default=True,
    help="Run on DuckDB, or on Apache Spark (needs --parquet and fnlens[spark]).",
)
@click.option(
    "--parquet",
    "parquet_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Read the tables from this `fnlens export --parquet` folder instead of --db.",
)
@click.option(
    "--master",
    default=None,
    help="Spark master URL (default local[2]); only with --engine spark.",
)
def query(
    name: str,
    db_path: str,
    params: Sequence[str],
    fmt: str,
    engine: str,
    parquet_dir: str | None,
    master: str | None,
) -> None:
    """Run the canned query NAME over the fnlens tables."""
    from fnlens.analysis.catalog import get_query, parse_param_assignments

    canned = get_query(name)
    values = parse_param_assignments(params)
    bound = canned.bind(values)  # validate before touching the database
    if master is not None and engine != "spark":
        raise click.UsageError("--master is only taken with --engine spark")
    if engine == "spark":
        if parquet_dir is None:
            raise click.UsageError("--engine spark reads a Parquet layout: pass --parquet DIR")
        columns, rows = _run_spark(canned, values, parquet_dir, master)
    else:
        con = _open(db_path) if parquet_dir is None else _open_parquet(parquet_dir)
        try:
            result = con.execute(canned.sql, bound)
            columns, rows = _fetch(result)
        finally:
            con.close()
    click.echo(render(columns, rows, fmt, title=canned.name), nl=False)


@click.command("sql")
@click.argument("statement", metavar='"SQL"')
@db_option
@_format_option
@click.option(
    "--allow-files",
    is_flag=True,
    help="Let the SQL read files and URLs (read_csv, read_json, read_parquet, …). "
    "Writing files, ATTACH and extensions stay refused.",
)
def sql(statement: str, db_path: str, fmt: str, allow_files: bool) -> None:
    """Run ad-hoc SQL over the invocations, spans and logs tables (read-only).

    Pass - to read the SQL from standard input. Nothing outside the database is
    reachable unless --allow-files is given.
    """
    import duckdb

    from fnlens.analysis._sqlguard import check_statements
    from fnlens.exceptions import SqlRefusedError

    if statement == "-":
        statement = sys.stdin.read()
    if not statement.strip():
        raise click.ClickException("no SQL given")
    con = _open_sandboxed(db_path, allow_files)
    try:
        try:
            check_statements(con, statement)
            result = con.execute(statement)
        except duckdb.PermissionException as exc:  # what the sandbox stopped, and why
            first = str(exc).strip().splitlines()[0]
            hint = "" if allow_files else "; pass --allow-files to let the SQL read files"
            raise SqlRefusedError(
                f"fnlens sql reaches nothing outside the database ({first}){hint}"
            ) from exc
        columns, rows = _fetch(result)
    finally:
        con.close()
    click.echo(render(columns, rows, fmt), nl=False)


# --- helpers --------------------------------------------------------------------


def _open(db_path: str) -> Any:
    from fnlens.analysis.db import open_sandboxed

    return open_sandboxed(db_path)  # canned queries need nothing outside the file either


def _open_sandboxed(db_path: str, allow_files: bool) -> Any:
    from fnlens.analysis.db import open_sandboxed

    return open_sandboxed(db_path, allow_files=allow_files)


def _open_parquet(parquet_dir: str) -> Any:
    import duckdb

    from fnlens.analysis._parquet import duckdb_views

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        duckdb_views(con, parquet_dir)
    except BaseException:
        con.close()
        raise
    return con


def _run_spark(
    canned: Any, values: dict[str, str], parquet_dir: str, master: str | None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    from fnlens.analysis._spark import (
        DEFAULT_MASTER,
        register_views,
        run_query,
        session_for_command,
    )
    from fnlens.exceptions import TranslationError

    with session_for_command(master or DEFAULT_MASTER) as spark:
        register_views(spark, parquet_dir)
        try:
            return run_query(spark, canned, values)
        except TranslationError as exc:  # say which query
            raise TranslationError(f"{canned.name}: {exc}") from exc
        except Exception as exc:  # pyspark's errors: one line, the traceback with --debug
            if debug_enabled() or not type(exc).__module__.startswith(("pyspark", "py4j")):
                raise
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise click.ClickException(f"Spark: {first}") from exc


def _engines(catalog: list[Any]) -> dict[str, dict[str, Any]]:
    """Per query and engine: exact or not, and why (sqlglot missing: not known here)."""
    from fnlens.analysis._dialects import translate

    out: dict[str, dict[str, Any]] = {}
    for q in catalog:
        out[q.name] = {"duckdb": {"exact": True, "notes": []}}
        for dialect in ("spark", "trino"):
            try:
                t = translate(q, dialect)
            except ImportError:  # sqlglot comes with the spark extra
                out[q.name][dialect] = {"exact": None, "notes": ["needs fnlens[spark]"]}
                continue
            out[q.name][dialect] = {"exact": t.exact, "notes": list(t.notes)}
    return out


def _engines_text(engines: dict[str, dict[str, Any]]) -> Any:
    """One short line per engine: ✓ exact, ≈ approximate (why: below the table)."""
    from rich.text import Text

    marks = {True: "✓", False: "≈", None: "?"}
    return Text("\n".join(f"{d} {marks[i['exact']]}" for d, i in engines.items()))


def _engine_notes(engines: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    notes: dict[str, list[str]] = {}
    for name, per_engine in engines.items():
        for info in per_engine.values():
            for note in info["notes"]:
                notes.setdefault(note, []).append(name)
    return [f"≈ {note} ({', '.join(names)})" for note, names in notes.items()]


def _dialect_text(selected: list[Any], dialect: str, location: str) -> str:
    from fnlens.analysis._dialects import ddl, translate

    parts = []
    if dialect in ("trino", "athena"):
        parts.append(
            f"-- tables over the fnlens Parquet layout at {location}\n" + ddl(dialect, location)
        )
    for q in selected:
        parts.append(translate(q, dialect).sql.rstrip() + ";\n")
    return "\n".join(parts)


def _fetch(result: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows; a statement without a result set yields nothing."""
    if result is None or result.description is None:
        return [], []
    columns = [d[0] for d in result.description]
    return columns, result.fetchall()


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def render(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, *, title: str | None = None
) -> str:
    """Render a result in one of :data:`FORMATS`; the string ends with a newline."""
    if fmt == "csv":
        return _render_csv(columns, rows)
    if fmt == "json":
        return _render_json(columns, rows)
    if fmt == "markdown":
        return _render_markdown(columns, rows)
    if fmt == "table":
        return _render_table(columns, rows, title)
    raise ValueError(f"unknown format {fmt!r}")


def _render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not columns:
        return "OK\n"
    numeric = _numeric_columns(columns, rows)
    table = Table(
        title=title,
        title_justify="left",
        caption=f"{len(rows)} row{'s' if len(rows) != 1 else ''}",
        caption_justify="left",
    )
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if numeric[i] else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))
    out = sys.stdout
    console = Console(
        file=io.StringIO(),
        force_terminal=out.isatty(),
        width=None if out.isatty() else max(120, _natural_width(columns, rows)),
        highlight=False,
    )
    console.print(table)
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


def _natural_width(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Width that fits every cell, so piped tables are not wrapped at 80 columns."""
    widths = [len(c) for c in columns]
    for row in rows[:1000]:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(_cell(v)))
    return min(sum(widths) + 3 * len(widths) + 1, 400)


def _render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if columns:
        writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return buffer.getvalue()


def _render_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    records = [
        {
            c: None if isinstance(v, float) and not math.isfinite(v) else v
            for c, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]
    return json.dumps(records, indent=2, default=_json_default) + "\n"


def _render_markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not columns:
        return ""
    numeric = _numeric_columns(columns, rows)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    out = [line(list(columns)), line(["---:" if n else "---" for n in numeric])]
    out.extend(line([_cell(v) for v in row]) for row in rows)
    return "\n".join(out) + "\n"


def _numeric_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[bool]:
    numeric = []
    for i in range(len(columns)):
        values = [row[i] for row in rows if row[i] is not None]
        numeric.append(
            bool(values)
            and all(
                isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values
            )
        )
    return numeric


def _cell(value: Any) -> str:
    """A value as shown in a table: floats trimmed, timestamps without the 'T'."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and abs(value) < 0.01:
            return f"{value:.3g}"
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text if text != "-0" else "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (UUID, bytes)):
        return str(value)
    return str(value)
