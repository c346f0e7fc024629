"""The Parquet layout, `fnlens query --parquet` on DuckDB, and the Trino/Athena SQL.

None of these start Spark: the layout and the translations are checked on their own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlglot
from analysis_queries.datagen import generate, insert
from click.testing import CliRunner

from fnlens.analysis._dialects import declared_inexact, translate
from fnlens.analysis._parquet import LAYOUT_FILE, LAYOUT_VERSION, LayoutError, export_parquet
from fnlens.analysis._schema import TABLES
from fnlens.analysis.catalog import load_catalog, parse_query
from fnlens.analysis.db import connect
from fnlens.cli.main import cli


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layout") / "f.duckdb"
    con = connect(path)
    insert(con, generate(500, seed=9))
    con.close()
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_export_writes_the_versioned_layout(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    result = invoke("export", "--parquet", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / LAYOUT_FILE).read_text())
    assert manifest["version"] == LAYOUT_VERSION
    assert manifest["partitioning"] == ["date", "function"]
    for table, cols in TABLES.items():
        assert [c["name"] for c in manifest["tables"][table]] == list(cols)
    rid = next(c for c in manifest["tables"]["invocations"] if c["name"] == "request_id")
    assert rid["nullable"] is False
    files = sorted((out / "invocations").rglob("*.parquet"))
    assert {f.parent.name for f in files} == {"function=orders-api", "function=worker"}
    schema = pq.read_schema(files[0])
    assert schema.field("ts").type.unit == "us" and schema.field("ts").type.tz is None
    assert schema.metadata[b"fnlens_layout_version"] == str(LAYOUT_VERSION).encode()
    # exporting again replaces, never duplicates
    assert invoke("export", "--parquet", str(out), "--db", str(db)).exit_code == 0
    total = sum(pq.read_metadata(f).num_rows for f in (out / "invocations").rglob("*.parquet"))
    assert total == 500


def test_export_refuses_a_folder_that_is_not_a_layout(db: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = invoke("export", "--parquet", str(foreign), "--db", str(db))
    assert result.exit_code == 1 and LAYOUT_FILE in result.output
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(LayoutError, match="newer than this fnlens reads"):
        (foreign / LAYOUT_FILE).write_text('{"format": "fnlens-parquet", "version": 99}')
        export_parquet(db, foreign)


@pytest.mark.parametrize("name", ["per_version", "timeline", "top_errors"])
def test_duckdb_on_the_parquet_gives_the_database_answer(db: Path, tmp_path: Path, name: str):
    out = tmp_path / "pq"
    assert invoke("export", "--parquet", str(out), "--db", str(db)).exit_code == 0
    from_db = invoke("query", name, "--db", str(db), "-f", "json")
    from_pq = invoke("query", name, "--engine", "duckdb", "--parquet", str(out), "-f", "json")
    assert from_pq.exit_code == 0, from_pq.output
    assert json.loads(from_pq.output) == json.loads(from_db.output)
    assert json.loads(from_db.output)


def test_engine_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    spark = invoke("query", "latency", "--engine", "spark")
    assert spark.exit_code == 2 and "--parquet DIR" in spark.output
    master = invoke("query", "latency", "--master", "local[1]")
    assert master.exit_code == 2 and "--engine spark" in master.output
    missing = invoke("query", "latency", "--parquet", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "no such folder" in missing.output
    ingest = invoke("ingest", "x.log", "--engine", "spark")
    assert ingest.exit_code == 2 and "--parquet DIR" in ingest.output


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_trino_sql_parses_and_binds_every_marker(name: str) -> None:
    t = translate(name, "trino")
    body = "\n".join(line for line in t.sql.splitlines() if not line.startswith("--"))
    sqlglot.parse_one(body, read="trino")  # valid Trino syntax
    assert body.count("?") == len(t.params)
    assert set(t.params) == {p.name for p in load_catalog()[name].params}
    assert "$" not in body and ":" not in re.sub(r"'[^']*'", "", body)
    source = load_catalog()[name].sql
    uses_percentiles = "quantile_disc" in source
    # Trino counts intervals in milliseconds: microsecond arithmetic is approximate there
    uses_microseconds = any(f in source for f in ("to_microseconds", "epoch_us", "MICROSECOND"))
    assert t.exact is not (uses_percentiles or uses_microseconds)
    assert ("APPROXIMATE: percentiles" in t.sql) is uses_percentiles
    assert ("APPROXIMATE: Trino's intervals" in t.sql) is uses_microseconds
    assert not re.search(r"MICROSECOND|TO_MICROSECONDS|EPOCH_US", body, re.IGNORECASE)


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_spark_sql_names_every_parameter(name: str) -> None:
    t = translate(name, "spark")
    body = "\n".join(line for line in t.sql.splitlines() if not line.startswith("--"))
    sqlglot.parse_one(body, read="spark")
    assert set(re.findall(r":([a-z_]+)", body)) == {p.name for p in load_catalog()[name].params}
    assert "$" not in body and t.exact


def test_queries_dialect_prints_ddl_and_marks_approximations() -> None:
    result = invoke("queries", "--dialect", "trino", "latency", "--location", "s3://b/fnlens")
    assert result.exit_code == 0, result.output
    assert "external_location = 's3://b/fnlens/invocations/'" in result.output
    assert "partitioned_by = ARRAY['date', 'function']" in result.output
    assert "sync_partition_metadata" in result.output
    assert "APPROXIMATE: percentiles are approx_percentile" in result.output
    assert "APPROX_PERCENTILE" in result.output
    athena = invoke("queries", "--dialect", "athena", "error_rate")
    assert "PARTITIONED BY (`date` string, `function` string)" in athena.output
    assert "MSCK REPAIR TABLE fnlens.invocations" in athena.output
    listing = json.loads(invoke("queries", "-f", "json").output)
    latency = next(q for q in listing if q["name"] == "latency")
    assert latency["engines"]["spark"] == {"exact": True, "notes": []}
    assert latency["engines"]["trino"]["exact"] is False
    table = invoke("queries").output
    assert "spark ✓" in table and "trino ≈" in table
    assert "≈ percentiles are approx_percentile (Trino has no exact percentile) (" in table


def test_a_header_can_declare_a_query_inexact_on_an_engine() -> None:
    query = parse_query(
        "-- name: demo\n-- description: d\n-- param: limit INTEGER = 5 -- rows\n"
        "-- inexact: spark -- float sums in another order\n"
        "SELECT count(*) AS n FROM invocations LIMIT $limit\n",
        "demo.sql",
    )
    assert declared_inexact(query) == {"spark": "float sums in another order"}
    t = translate(query, "spark")
    assert not t.exact and "APPROXIMATE: spark: float sums in another order" in t.sql
    assert translate(query, "trino").exact
