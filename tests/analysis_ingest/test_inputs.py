"""Inputs: .gz, globs, directories, the read_json fast path vs the line parser, progress."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import duckdb

from fnlens.analysis.ingest import expand_paths, ingest

from .conftest import FIXTURES, rows


def _table(db: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            sorted(con.execute(f"SELECT * EXCLUDE (source_file) FROM {table}").fetchall(), key=repr)
            if table == "logs"
            else sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        )
    finally:
        con.close()


def _records(n: int, with_logs: bool) -> list[str]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        rec = {
            "timestamp": f"2026-11-22T10:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10:01d}00001Z",
            "level": "info",
            "event": "invocation",
            "service": "svc",
            "service_version": None if i % 2 else "2.0",
            "function_name": "fn",
            "function_version": str(40 + i % 3),
            "memory_limit_mb": 256,
            "request_id": f"r-{i}",
            "trace_id": f"{rnd.getrandbits(128):032x}",
            "cold_start": i % 50 == 0,
            "init_duration_ms": 150.5 if i % 50 == 0 else None,
            "duration_ms": round(rnd.uniform(1, 100), 3),
            "outcome": "success" if i % 20 else "error",
            "error_type": None if i % 20 else "ValueError",
            "http_method": "GET",
            "http_route": "/x/{id}",
            "http_status_code": 200 if i % 20 else 500,
            "telemetry_dropped": 0,
        }
        out.append(json.dumps(rec))
        if with_logs and i % 7 == 0:
            out.append(
                json.dumps(
                    {
                        "timestamp": rec["timestamp"],
                        "level": "debug",
                        "event": f"step {i}",
                        "request_id": f"r-{i}",
                        "extra_key": i,
                    }
                )
            )
    return out


def test_fast_path_equals_line_parser(tmp_path: Path) -> None:
    f = tmp_path / "many.jsonl"
    f.write_text("\n".join(_records(3000, with_logs=True)) + "\n")
    fast, slow = tmp_path / "fast.duckdb", tmp_path / "slow.duckdb"
    assert ingest([f], db=fast, progress=False, fast=True).files[0].reader == "read_json+lines"
    assert ingest([f], db=slow, progress=False, fast=False).files[0].reader == "lines"
    assert _table(fast, "invocations") == _table(slow, "invocations")
    assert _table(fast, "logs") == _table(slow, "logs")
    assert rows(fast, "SELECT count(*) FROM invocations")[0][0] == 3000
    assert rows(fast, "SELECT count(*) FROM logs")[0][0] == 429
    # log lines keep their own line numbers in the mixed file
    (line,) = rows(fast, "SELECT source_line FROM logs WHERE message = 'step 7'")[0]
    assert f.read_text().splitlines()[line - 1].find('"step 7"') > 0


def test_gzip_equals_plain(tmp_path: Path) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_text("\n".join(_records(500, with_logs=False)) + "\n")
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    noext = tmp_path / "c.log"  # gzip recognised by its magic bytes, not the name
    noext.write_bytes(gz.read_bytes())
    dbs = [tmp_path / f"{n}.duckdb" for n in "abc"]
    for src, db in zip([plain, gz, noext], dbs, strict=True):
        report = ingest([src], db=db, progress=False)
        assert (report.files[0].format, report.files[0].reader) == ("fnlens-jsonl", "read_json")
    assert (
        _table(dbs[0], "invocations")
        == _table(dbs[1], "invocations")
        == _table(dbs[2], "invocations")
    )


def test_directories_and_globs(tmp_path: Path) -> None:
    tree = tmp_path / "logs"
    shutil.copytree(FIXTURES, tree)
    files = expand_paths([tree])
    assert any(p.name == "000000.gz" for p in files)  # recursive
    assert len(files) == len([p for p in tree.rglob("*") if p.is_file()])
    globbed = expand_paths([str(tree / "*.jsonl")])
    assert sorted(p.name for p in globbed) == [
        "fnlens.jsonl",
        "lambda_json.jsonl",
        "otlp_traces.jsonl",
        "powertools.jsonl",
    ]
    recursive = expand_paths([str(tree / "**" / "*.gz")])
    assert [p.name for p in recursive] == ["000000.gz"]
    # the same file named twice is read once
    assert len(expand_paths([tree / "fnlens.jsonl", str(tree / "fnlens.*")])) == 1
    report = ingest(
        [str(tree / "*.jsonl"), tree / "s3_export"], db=tmp_path / "x.duckdb", progress=False
    )
    assert len(report.files) == 5 and report.malformed_count == 0


def test_progress_bar_runs(tmp_path: Path) -> None:
    report = ingest([FIXTURES], db=tmp_path / "p.duckdb", progress=True)
    assert report.totals["invocations"] > 0


def _ingest_stderr(tmp_path: Path, progress: str) -> str:
    import os
    import subprocess
    import sys

    code = (
        "import sys; from fnlens.analysis.ingest import ingest\n"
        f"ingest([sys.argv[1]], db=sys.argv[2], progress={progress})\n"
    )
    # rich draws live bars only on a terminal: make stderr count as one
    env = {**os.environ, "FORCE_COLOR": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES), str(tmp_path / f"{progress}.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_progress_bar_draws_bytes_on_a_terminal(tmp_path: Path) -> None:
    import re

    drawn = _ingest_stderr(tmp_path, "True")
    assert "ingest" in drawn
    assert re.search(r"\d+(\.\d)?/\d+(\.\d)? kB", drawn), drawn[:300]
    assert "━" in drawn  # the bar itself
    assert "━" not in _ingest_stderr(tmp_path, "False")


def test_memory_limit_option(tmp_path: Path) -> None:
    import pytest

    from fnlens.exceptions import IngestError

    report = ingest([FIXTURES / "fnlens.jsonl"], db=tmp_path / "m.duckdb", memory_limit="256MB")
    assert report.totals["invocations"] == 3
    with pytest.raises(IngestError, match="expected a size like 512MB"):
        ingest([FIXTURES / "fnlens.jsonl"], db=tmp_path / "m.duckdb", memory_limit="lots")


def test_ingesting_the_folder_that_holds_the_database(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "fnlens.jsonl", tmp_path / "fnlens.jsonl")
    db = tmp_path / "fnlens.duckdb"
    ingest([tmp_path], db=db, progress=False)
    report = ingest([tmp_path], db=db, progress=False)  # the database file now exists here
    assert [Path(f.path).name for f in report.files] == ["fnlens.jsonl"]
    assert report.rejected_files == []
