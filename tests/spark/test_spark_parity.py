"""Every canned query on DuckDB and on Spark over the same exported Parquet: same table.

The data set (tests/analysis_queries/datagen.py) has several functions, versions and
memory sizes, NULLs in every optional column, ties (durations to 0.01 ms, rows sharing a
start time) and rows on the edges of the filtered window. Each query runs with its
defaults and with a window, a function, a version and a bucket width that does not divide
an hour (so bucket alignment shows). Rows must match in the order the query defines:
floats within 1e-9 relative, everything else equal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
from analysis_queries.datagen import generate, insert

from fnlens.analysis._dialects import translate
from fnlens.analysis._parquet import duckdb_views, export_parquet
from fnlens.analysis._spark import register_views, run_query
from fnlens.analysis.catalog import load_catalog
from fnlens.analysis.db import connect

# Spark starts once per session (tens of seconds on a loaded machine)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FILTERED = {
    "since": "2024-03-01T00:20:00",
    "until": "2024-03-01T01:40:00",
    "function": "orders-api",
    "bucket": "7 minutes",
}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity")
    db = root / "src.duckdb"
    con = connect(db)
    insert(con, generate(2000, seed=23))
    con.close()
    out = root / "pq"
    counts = export_parquet(db, out)
    assert counts["invocations"] == 2000
    return out


@pytest.fixture(scope="module")
def duck(layout: Path) -> Any:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    duckdb_views(con, layout)
    yield con
    con.close()


@pytest.fixture(scope="module")
def spark_views(spark: Any, layout: Path) -> Any:
    present = register_views(spark, layout)
    assert present == {"invocations": True, "spans": False, "logs": False}
    return spark


def _params(name: str, filtered: bool) -> dict[str, Any]:
    if not filtered:
        return {}
    declared = {p.name for p in load_catalog()[name].params}
    return {k: v for k, v in FILTERED.items() if k in declared}


# Rounded means and sums of doubles: a floating sum depends on the order rows are added
# (DuckDB's own parallel scans vary it too), so when the exact value sits on a rounding
# tie the last rounded digit may differ by one. Everything else must be equal.
_LAST_DIGIT = {
    "avg_ms": 1.0001e-3,
    "avg_init_ms": 1.0001e-3,
    "billed_gb_s": 1.0001e-6,
    "compute_cost_usd": 1.0001e-6,
    "request_cost_usd": 1.0001e-6,
    "total_cost_usd": 1.0001e-6,
    "cost_per_million_usd": 1.0001e-6,
}


def _same(spark_rows: list[tuple[Any, ...]], duck_rows: list[tuple[Any, ...]], cols: list[str]):
    assert len(spark_rows) == len(duck_rows)
    for i, (got, want) in enumerate(zip(spark_rows, duck_rows, strict=True)):
        for col, g, w in zip(cols, got, want, strict=True):
            if isinstance(w, float) or isinstance(g, float):
                assert g is not None and w is not None, (i, col, g, w)
                close = math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12)
                assert close or abs(g - w) <= _LAST_DIGIT.get(col, 0), (i, col, g, w)
                assert type(g) is type(w), (i, col, type(g), type(w))
            else:
                assert g == w, (i, col, g, w)
                assert type(g) is type(w), (i, col, type(g), type(w))


# Queries added after the Spark translation rules and not yet covered by them (a known gap,
# reported in the closing note and docs/spark.md): expected to fail until a rule exists.
SPARK_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("filtered", [False, True], ids=["defaults", "filtered"])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=SPARK_GAPS[n]))
        if n in SPARK_GAPS
        else n
        for n in sorted(load_catalog())
    ],
)
def test_spark_gives_the_duckdb_table(name: str, filtered: bool, duck: Any, spark_views: Any):
    query = load_catalog()[name]
    assert translate(query, "spark").exact, translate(query, "spark").notes
    values = _params(name, filtered)
    result = duck.execute(query.sql, query.bind(values))
    duck_cols = [d[0] for d in result.description]
    duck_rows = result.fetchall()
    cols, rows = run_query(spark_views, query, values)
    assert cols == duck_cols
    assert duck_rows, f"{name}: the data set must give rows ({values})"
    _same(rows, duck_rows, cols)


def test_parquet_round_trip_is_lossless(layout: Path, duck: Any) -> None:
    """DuckDB over the Parquet gives the rows the database held, column for column."""
    con = connect(layout.parent / "src.duckdb", read_only=True)
    try:
        want = con.execute("SELECT * FROM invocations ORDER BY request_id").fetchall()
    finally:
        con.close()
    got = duck.execute("SELECT * FROM invocations ORDER BY request_id").fetchall()
    assert got == want


def test_cli_engine_spark_prints_the_duckdb_table(layout: Path, spark_views: Any) -> None:
    """`fnlens query --engine spark` through click: the table `--engine duckdb` prints."""
    from click.testing import CliRunner

    from fnlens.cli.main import cli

    args = ["query", "per_version", "--parquet", str(layout), "-f", "csv", "-p", "function=worker"]
    on_spark = CliRunner().invoke(cli, [*args, "--engine", "spark"], catch_exceptions=False)
    on_duck = CliRunner().invoke(cli, [*args, "--engine", "duckdb"], catch_exceptions=False)
    assert on_spark.exit_code == 0, on_spark.output
    assert on_spark.output == on_duck.output
    assert on_spark.output.count("\n") > 1
    assert spark_views.range(1).count() == 1  # the shared session is still running


def test_round_rounds_the_exact_double_as_duckdb(spark: Any) -> None:
    """`round(x, n)` near ties: DuckDB rounds the double's exact value, so must Spark.

    0.00065 is the double 0.000649999...: DuckDB gives 0.0006, Spark's own round (its
    decimal text "6.5E-4") and round(x * 10^4) / 10^4 (the product is exactly 6.5) 0.0007.
    """
    import random

    import sqlglot

    from fnlens.analysis._dialects import _round

    rng = random.Random(11)
    values = [0.00065, 2.675, -0.125, 0.125, 1.005, -0.0001, 0.0]
    for _ in range(1500):
        values.append((rng.randint(-(10**7), 10**7) + 0.5) / 10 ** rng.choice([1, 3, 4, 6]))
        values.append(rng.uniform(-1e6, 1e6))
    con = duckdb.connect()
    con.execute("CREATE TABLE cases (i INTEGER, x DOUBLE)")
    con.executemany("INSERT INTO cases VALUES (?, ?)", list(enumerate(values)))
    spark.createDataFrame(
        [(i, v) for i, v in enumerate(values)], "i int, x double"
    ).createOrReplaceTempView("round_cases")
    for digits in (1, 3, 4, 6, 9):
        node = sqlglot.parse_one(f"SELECT round(x, {digits})", read="duckdb").expressions[0]
        spark_sql = _round(node).sql(dialect="spark")
        got = [r[0] for r in spark.sql(f"SELECT {spark_sql} FROM round_cases ORDER BY i").collect()]
        want = [
            r[0] for r in con.execute(f"SELECT round(x, {digits}) FROM cases ORDER BY i").fetchall()
        ]
        assert len(got) == len(want) == len(values)
        wrong = [(v, g, w) for v, g, w in zip(values, got, want, strict=True) if g != w]
        assert not wrong, (digits, len(wrong), wrong[:5])
    assert con.execute("SELECT round(0.00065::DOUBLE, 4)").fetchone() == (0.0006,)
