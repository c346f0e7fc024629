"""`fnlens ingest` and `fnlens export`: load exported telemetry, write Parquet."""

from __future__ import annotations

from pathlib import Path

import click

from fnlens.exceptions import UnknownFormatError


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
@click.option(
    "--engine",
    type=click.Choice(("duckdb", "spark")),
    default="duckdb",
    show_default=True,
    help="spark: bulk-load fnlens JSONL and Lambda text into a Parquet layout (--parquet).",
)
@click.option(
    "--parquet",
    "parquet_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="With --engine spark: the Parquet layout to merge into (created if missing).",
)
@click.option("--master", default=None, help="Spark master URL (default local[2]).")
def ingest(
    paths: tuple[str, ...],
    db: str,
    strict: bool,
    progress: bool | None,
    memory_limit: str | None,
    engine: str,
    parquet_dir: str | None,
    master: str | None,
) -> None:
    """Load files, directories and globs (PATH...) into the fnlens tables."""
    if engine == "spark":
        _ingest_spark(paths, parquet_dir, master, strict)
        return
    if parquet_dir is not None or master is not None:
        raise click.UsageError("--parquet and --master are taken with --engine spark")
    from fnlens.analysis.ingest import ingest as run

    report = run(list(paths), db=db, strict=strict, progress=progress, memory_limit=memory_limit)
    for line in report.summary_lines():
        click.echo(line)
    rejected = report.rejected_files
    if rejected and not any(sum(f.records.values()) for f in report.files):
        raise UnknownFormatError(
            f"no file could be read ({len(rejected)} in an unknown format); see above"
        )


def _ingest_spark(
    paths: tuple[str, ...], parquet_dir: str | None, master: str | None, strict: bool
) -> None:
    from fnlens.analysis._spark import DEFAULT_MASTER, session_for_command
    from fnlens.analysis._spark_ingest import spark_ingest

    if parquet_dir is None:
        raise click.UsageError("--engine spark writes a Parquet layout: pass --parquet DIR")
    with session_for_command(master or DEFAULT_MASTER) as spark:
        report = spark_ingest(spark, list(paths), parquet_dir, strict=strict)
    for line in report.summary_lines():
        click.echo(line)


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
    """Write the tables as Parquet, partitioned by date and function (docs/spark.md).

    The folder gets a versioned layout manifest (_fnlens_layout.json); Spark, Athena/Trino
    and DuckDB read it as is. Table folders already there are replaced.
    """
    from fnlens.analysis._parquet import export_parquet
    from fnlens.exceptions import DatabaseError

    if not Path(db).exists():
        raise DatabaseError(f"{db}: no such database; run `fnlens ingest PATH --db {db}` first")
    counts = export_parquet(db, out_dir)
    for table, n in counts.items():
        click.echo(f"{table}: {n} rows -> {Path(out_dir) / table}")
