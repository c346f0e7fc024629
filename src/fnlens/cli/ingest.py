"""`fnlens ingest` and `fnlens export`: load exported telemetry, write Parquet."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--db",
    default="fnlens.duckdb",
    show_default=True,
    envvar="FNLENS_DB",
    help="DuckDB database file (env FNLENS_DB).",
)
@click.option("--strict", is_flag=True, help="Fail on the first malformed line or unknown file.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@click.option(
    "--memory-limit", default=None, help="Cap DuckDB's memory, e.g. 2GB (spills to disk)."
)
def ingest(
    paths: tuple[str, ...], db: str, strict: bool, progress: bool | None, memory_limit: str | None
) -> None:
    """Load files, directories and globs (PATH...) into the fnlens tables."""
    import duckdb

    from fnlens.analysis.errors import IngestError
    from fnlens.analysis.ingest import ingest as run

    try:
        report = run(
            list(paths), db=db, strict=strict, progress=progress, memory_limit=memory_limit
        )
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:  # e.g. the database is open in another process
        raise click.ClickException(f"{db}: {str(exc).splitlines()[0]}") from exc
    for line in report.summary_lines():
        click.echo(line)
    rejected = report.rejected_files
    if rejected and not any(sum(f.records.values()) for f in report.files):
        raise click.ClickException(
            f"no file could be read ({len(rejected)} in an unknown format); see above"
        )


@click.command()
@click.option(
    "--parquet",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder for Parquet files (partitioned by date and function).",
)
@click.option(
    "--db",
    default="fnlens.duckdb",
    show_default=True,
    envvar="FNLENS_DB",
    help="DuckDB database file (env FNLENS_DB).",
)
def export(out_dir: str, db: str) -> None:
    """Write the tables as Parquet, partitioned by date and function."""
    from fnlens.analysis.export import export_parquet

    if not Path(db).exists():
        raise click.ClickException(
            f"{db}: no such database; run `fnlens ingest PATH --db {db}` first"
        )
    counts = export_parquet(db, out_dir)
    for table, n in counts.items():
        click.echo(f"{table}: {n} rows -> {Path(out_dir) / table}")
