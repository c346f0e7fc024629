"""`fnlens sql` reaches nothing outside the database unless --allow-files is given (issue 19.12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from fnlens.analysis._schema import TABLES, create_table_sql
from fnlens.cli.main import cli


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "fnlens.duckdb"
    with duckdb.connect(str(path)) as con:
        for table in TABLES:
            con.execute(create_table_sql(table))
        con.execute("INSERT INTO invocations (request_id, outcome) VALUES ('r-1', 'success')")
    return path


def sql(db_file: Path, statement: str, *extra: str) -> Any:
    return CliRunner().invoke(
        cli, ["sql", statement, "--db", str(db_file), "-f", "csv", *extra], catch_exceptions=False
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text("user,password\nroot,hunter2\n")
    return path


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("COPY (SELECT * FROM invocations) TO '{out}/leak.csv'", "COPY"),
        ("COPY invocations TO '{out}/leak.parquet' (FORMAT parquet)", "COPY"),
        ("EXPORT DATABASE '{out}/dump'", "EXPORT"),
        ("ATTACH '{out}/other.duckdb' AS other", "ATTACH"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
    ],
)
@pytest.mark.parametrize("allow_files", [False, True])
def test_statements_that_write_or_load_are_refused(
    db_file: Path, tmp_path: Path, statement: str, why: str, allow_files: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = sql(db_file, statement.format(out=out), *(["--allow-files"] if allow_files else []))
    assert result.exit_code == 1, result.output
    assert "fnlens sql is read-only: refused" in result.output
    assert why in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert list(out.iterdir()) == []  # nothing was written


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('{secret}')",
        "SELECT * FROM '{secret}'",
        "SELECT content FROM read_text('{secret}')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('https://127.0.0.1:9/x.parquet')",
    ],
)
def test_reading_files_needs_the_flag(db_file: Path, secret: Path, statement: str) -> None:
    result = sql(db_file, statement.format(secret=secret))
    assert result.exit_code == 1, result.output
    assert "hunter2" not in result.output and "root:" not in result.output
    assert "reaches nothing outside the database" in result.output
    assert "--allow-files" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_allow_files_reads_a_file(db_file: Path, secret: Path) -> None:
    result = sql(db_file, f"SELECT password FROM read_csv('{secret}')", "--allow-files")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["password", "hunter2"]


def test_the_sandbox_cannot_be_switched_off_from_sql(db_file: Path, secret: Path) -> None:
    result = sql(db_file, f"SET enable_external_access = true; SELECT * FROM read_csv('{secret}')")
    assert result.exit_code == 1
    assert "hunter2" not in result.output
    result = sql(db_file, "SET autoinstall_known_extensions = true")
    assert result.exit_code == 1
    assert "locked" in result.output


def test_queries_still_work_and_the_file_is_unchanged(db_file: Path) -> None:
    before = db_file.read_bytes()
    result = sql(
        db_file,
        "CREATE TEMP TABLE t AS SELECT request_id FROM invocations; "
        "SELECT request_id, json_extract('{\"a\": 1}', '$.a') AS a FROM t",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["request_id,a", "r-1,1"]
    result = sql(db_file, "DELETE FROM invocations")
    assert result.exit_code == 1 and "read-only" in result.output.lower()
    assert db_file.read_bytes() == before


def test_canned_queries_run_in_the_sandbox(db_file: Path) -> None:
    result = CliRunner().invoke(cli, ["query", "error_rate", "--db", str(db_file), "-f", "csv"])
    assert result.exit_code == 0, result.output
