"""The queries / query / sql commands, through click's runner and the real entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from fnlens.analysis._schema import TABLES, create_table_sql
from fnlens.analysis.catalog import get_query, load_catalog
from fnlens.cli._query import render
from fnlens.cli.main import cli

from .datagen import generate, insert


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "fnlens.duckdb"
    with duckdb.connect(str(path)) as con:
        for table in TABLES:
            con.execute(create_table_sql(table))
        insert(con, generate(n=600, seed=3))
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_queries_lists_every_query_with_parameters() -> None:
    result = invoke("queries")
    assert result.exit_code == 0, result.output
    for name in load_catalog():
        assert name in result.output
    assert "price_per_gb_second" in result.output
    assert "fnlens query NAME" in result.output


def test_queries_json_is_machine_readable() -> None:
    result = invoke("queries", "--format", "json")
    listing = json.loads(result.output)
    by_name = {q["name"]: q for q in listing}
    assert set(by_name) == set(load_catalog())
    bucket = next(p for p in by_name["timeline"]["params"] if p["name"] == "bucket")
    assert bucket == {"name": "bucket", "type": "INTERVAL", "default": 300.0, "doc": bucket["doc"]}


def test_query_json_equals_the_catalog_result(db_file: Path) -> None:
    result = invoke("query", "per_version", "--db", str(db_file), "-f", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    with duckdb.connect(str(db_file), read_only=True) as con:
        expected = get_query("per_version").run(con).fetchall()
    assert [r["invocations"] for r in records] == [row[2] for row in expected]
    assert records[0]["first_seen"].startswith("2024-03-01T")


def test_query_csv_with_params(db_file: Path) -> None:
    result = invoke(
        "query", "cold_starts", "--db", str(db_file), "--param", "bucket=1h",
        "-p", "function=worker", "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["bucket"] for r in rows] == ["2024-03-01T00:00:00", "2024-03-01T01:00:00"]
    assert sum(int(r["invocations"]) for r in rows) > 0


def test_query_table_and_markdown(db_file: Path) -> None:
    table = invoke("query", "error_rate", "--db", str(db_file))
    assert table.exit_code == 0
    assert "orders-api" in table.output and "error_rate_pct" in table.output
    assert "rows" in table.output
    markdown = invoke("query", "error_rate", "--db", str(db_file), "-f", "markdown")
    lines = markdown.output.splitlines()
    assert lines[0].startswith("| function_name | invocations |")
    assert lines[1] == "| --- | ---: | ---: | ---: | ---: |"
    assert len(lines) == 4


def test_sql_runs_ad_hoc_queries(db_file: Path) -> None:
    result = invoke(
        "sql", "SELECT function_name, count(*) AS n FROM invocations GROUP BY 1 ORDER BY 1",
        "--db", str(db_file), "-f", "csv",
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "function_name,n"
    assert result.output.splitlines()[1].startswith("orders-api,")


def test_sql_reads_stdin(db_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["sql", "-", "--db", str(db_file), "-f", "json"], input="SELECT 1 AS one"
    )
    assert json.loads(result.output) == [{"one": 1}]


def test_sql_is_read_only(db_file: Path) -> None:
    result = invoke("sql", "DELETE FROM invocations", "--db", str(db_file))
    assert result.exit_code == 1
    assert "read-only" in result.output.lower()
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "nope"], "no canned query named 'nope'"),
        (["query", "cost", "-p", "foo=1"], "has no parameter 'foo'"),
        (["query", "cost", "-p", "since=yesterday"], "parameter 'since' expects TIMESTAMP"),
        (["query", "timeline", "-p", "bucket"], "--param expects NAME=VALUE"),
        (["sql", "SELEC 1"], "Parser Error"),
        (["sql", "SELECT * FROM nope"], "Table with name nope does not exist"),
        (["sql", "   "], "no SQL given"),
    ],
)
def test_errors_are_one_line_and_non_zero(db_file: Path, args: list[str], message: str) -> None:
    result = invoke(*args, "--db", str(db_file))
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_missing_database_says_to_run_ingest(tmp_path: Path) -> None:
    result = invoke("query", "per_version", "--db", str(tmp_path / "missing.duckdb"))
    assert result.exit_code == 1
    assert "run `fnlens ingest" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_default_db_is_fnlens_duckdb_in_cwd(
    db_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FNLENS_DB", raising=False)
    missing = invoke("query", "error_rate")
    assert "'fnlens.duckdb'" in missing.output and missing.exit_code == 1
    (tmp_path / "fnlens.duckdb").write_bytes(db_file.read_bytes())
    found = invoke("query", "error_rate", "-f", "csv")
    assert found.exit_code == 0 and "orders-api" in found.output


def _fnlens(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fnlens.cli.main import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def test_real_entry_point_exit_codes_and_debug(db_file: Path) -> None:
    ok = _fnlens("query", "latency", "--db", str(db_file), "-f", "json")
    assert ok.returncode == 0, ok.stderr
    assert {r["function_name"] for r in json.loads(ok.stdout)} == {"orders-api", "worker"}
    bad = _fnlens("sql", "SELECT * FROM nope", "--db", str(db_file))
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("fnlens: error: Catalog Error")
    assert "Traceback" not in bad.stderr
    debug = _fnlens("--debug", "sql", "SELECT * FROM nope", "--db", str(db_file))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr


def test_render_escapes_and_formats() -> None:
    columns = ["name", "value", "when"]
    rows = [("a|b [red]x[/red]", 0.000123, None), ("c", 12.34567, None)]
    markdown = render(columns, rows, "markdown")
    assert "a\\|b [red]x[/red]" in markdown
    assert "| ---: |" in markdown
    table = render(columns, rows, "table")
    assert "[red]x[/red]" in table  # shown literally, not as rich markup
    assert "12.346" in table and "0.000123" in table
    assert json.loads(render(["x"], [(float("nan"),), (float("inf"),)], "json")) == [
        {"x": None},
        {"x": None},
    ]
    assert render(["x"], [], "csv") == "x\n"
