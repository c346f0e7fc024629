"""Each expected failure of the ``fnlens`` command: one ``fnlens: error:`` line, its status.

The command runs in a subprocess, as a user runs it; stderr must be
exactly one line (no traceback), and ``--debug`` must show the traceback instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")


def _script() -> list[str]:
    # `python -m fnlens.cli.main` runs the same `main` as the console script, with this
    # interpreter (a venv's copied script may point at another installation)
    return [sys.executable, "-m", "fnlens.cli.main"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_script(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the three tables (empty), made by `fnlens ingest` of one record."""
    folder = tmp_path_factory.mktemp("errors")
    log = folder / "one.jsonl"
    record = {
        "_aws": {"Timestamp": 1733000000000},
        "type": "invocation",
        "timestamp": "2024-12-01T00:00:00.000Z",
        "request_id": "r-1",
        "function_name": "orders",
        "duration_ms": 12.5,
    }
    log.write_text(json.dumps(record) + "\n")
    db = folder / "fnlens.duckdb"
    done = _run("ingest", str(log), "--db", str(db))
    assert db.is_file(), done.stdout + done.stderr
    return db


def _one_line(proc: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    lines = proc.stderr.splitlines()
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fnlens: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_unknown_query(db_file: Path) -> None:
    proc = _run("query", "no_such_query", "--db", str(db_file))
    _one_line(proc, 1, "no_such_query")


def test_unknown_param(db_file: Path) -> None:
    proc = _run("query", "latency", "--db", str(db_file), "-p", "nope=1")
    _one_line(proc, 1, "'nope'", "since")


def test_bad_param_value(db_file: Path) -> None:
    proc = _run("query", "latency", "--db", str(db_file), "-p", "since=yesterday-ish")
    _one_line(proc, 1, "parameter 'since' expects TIMESTAMP", "yesterday-ish")


def test_unknown_format(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 this is no log format at all \xff\n" * 4)
    proc = _run("ingest", str(junk), "--db", str(tmp_path / "x.duckdb"))
    _one_line(proc, 1, "no file could be read")
    assert "REJECTED" in proc.stdout and str(junk) in proc.stdout  # which file, and why


def test_unknown_format_in_strict_mode_names_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 this is no log format at all \xff\n" * 4)
    proc = _run("ingest", "--strict", str(junk), "--db", str(tmp_path / "x.duckdb"))
    _one_line(proc, 1, str(junk))


def test_refused_sql(db_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    proc = _run("sql", f"COPY invocations TO '{target}'", "--db", str(db_file))
    _one_line(proc, 1)
    assert not target.exists()


def test_sql_that_duckdb_rejects(db_file: Path) -> None:
    proc = _run("sql", "SELECT * FROM no_such_table", "--db", str(db_file))
    _one_line(proc, 1, "no_such_table")


def test_missing_database_for_compare_exits_3(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    proc = _run("compare", "--baseline", "1", "--candidate", "2", "--db", str(missing))
    _one_line(proc, 3, "no fnlens database")


def test_bad_compare_window_exits_3(db_file: Path) -> None:
    proc = _run("compare", "--baseline-window", "soon", "--candidate", "2", "--db", str(db_file))
    _one_line(proc, 3, "--baseline-window")


def test_bad_dashboard_parameters() -> None:
    proc = _run("dashboard", "render", "cloudwatch", "-f", "orders", "--region", "mars-1")
    _one_line(proc, 1, "'mars-1' is not an AWS region")


def test_bad_dashboard_template(tmp_path: Path) -> None:
    # the shipped template, broken on its third line: a copy of the data folder the
    # package reads (fnlens._resources honours nothing else), run through the real CLI
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "import fnlens.dashboards._loader as loader\n"
        "from pathlib import Path\n"
        f"broken = Path({str(tmp_path)!r}) / 'dashboards' / 'cloudwatch'\n"
        "broken.mkdir(parents=True)\n"
        "(broken / 'service.json').write_text('{\\n  \"widgets\": [\\n    oops\\n  ]\\n}\\n')\n"
        f"loader.data_dir = lambda name: Path({str(tmp_path)!r}) / name\n"
        "from fnlens.cli.main import main\n"
        "main(sys.argv[1:])\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            "dashboard",
            "render",
            "cloudwatch",
            "-f",
            "orders",
            "--region",
            "eu-west-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    _one_line(proc, 1, "service.json:3: not valid JSON")


def test_debug_shows_the_traceback(db_file: Path) -> None:
    proc = _run("--debug", "query", "no_such_query", "--db", str(db_file))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "UnknownQueryError" in proc.stderr
