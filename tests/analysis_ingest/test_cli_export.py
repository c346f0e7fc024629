"""`fnlens ingest` / `fnlens export` through click, and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from click.testing import CliRunner

from fnlens.cli.main import cli

from .conftest import FIXTURES, rows


def test_cli_ingest_prints_summary(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    result = CliRunner().invoke(
        cli,
        [
            "ingest",
            str(FIXTURES / "fnlens.jsonl"),
            str(FIXTURES / "lambda_text.log"),
            "--db",
            str(db),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fnlens.jsonl [fnlens-jsonl]: 3 invocation records, 2 log lines" in result.output
    assert "lambda_text.log [lambda-text]" in result.output
    # the crash message and its `Runtime.ExitError` line are one event (issue 13 item 2)
    assert "tables: invocations 4, spans 0, logs 7" in result.output
    assert rows(db, "SELECT count(*) FROM invocations")[0][0] == 4


def test_cli_reports_malformed_lines_and_strict_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text(
        "START RequestId: a Version: 1\n{not json\nREPORT RequestId: a\tDuration: 1.0 ms\n"
    )
    db = tmp_path / "c.duckdb"
    ok = CliRunner().invoke(cli, ["ingest", str(bad), "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert "1 malformed" in ok.output and f"{bad}:2: invalid JSON" in ok.output
    strict = CliRunner().invoke(
        cli, ["ingest", str(bad), "--db", str(tmp_path / "s.duckdb"), "--strict"]
    )
    assert strict.exit_code == 1
    assert f"fnlens: error: {bad}:2: invalid JSON" in strict.output


def test_cli_unknown_format_and_missing_path(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("nothing to see\n")
    result = CliRunner().invoke(cli, ["ingest", str(junk), "--db", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 1
    assert "REJECTED: unknown format" in result.output and "tried: fnlens-jsonl" in result.output
    missing = CliRunner().invoke(
        cli, ["ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "c.duckdb")]
    )
    assert missing.exit_code == 1 and "no such file or directory" in missing.output


def test_export_parquet_partitioned_by_date_and_function(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(FIXTURES), "--db", str(db)]).exit_code == 0
    out = tmp_path / "pq"
    result = runner.invoke(cli, ["export", "--parquet", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).parts[:3] for p in out.rglob("*.parquet"))
    assert ("invocations", "date=2026-11-22", "function=orders-api") in files
    assert ("invocations", "date=2026-11-22", "function=payment-fn") in files
    assert ("spans", "date=2026-11-22", "function=orders-api") in files
    assert any(f[0] == "logs" for f in files)
    con = duckdb.connect()
    for table in ("invocations", "spans", "logs"):
        n = con.execute(
            f"SELECT count(*) FROM read_parquet('{out / table}/**/*.parquet', "
            "hive_partitioning = true)"
        ).fetchone()[0]
        assert n == rows(db, f"SELECT count(*) FROM {table}")[0][0]
    fn = con.execute(
        f"SELECT DISTINCT function FROM read_parquet('{out}/invocations/**/*.parquet', "
        "hive_partitioning = true) ORDER BY 1"
    ).fetchall()
    assert [f for (f,) in fn] == ["orders-api", "payment-fn", "unknown"]


def test_export_without_database_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--parquet", str(tmp_path / "o"), "--db", str(tmp_path / "none.duckdb")]
    )
    assert result.exit_code == 1 and "no such database" in result.output


def test_subprocess_default_db_in_cwd(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fnlens.cli.main", "ingest", str(FIXTURES / "lambda_json.jsonl")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "fnlens.duckdb").exists()
    assert "lambda-json" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "fnlens.cli.main", "ingest", "missing.log"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "fnlens: error: missing.log: no such file or directory"
    ]
