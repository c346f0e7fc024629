"""`fnlens compare` through the real CLI in a subprocess: exit codes a pipeline gates on,
the JSON document against its schema, Markdown, thresholds, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy")
duckdb = pytest.importorskip("duckdb")

from .synth import Shape, load  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "docs" / "compare.schema.json"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fnlens.analysis._schema import TABLES, create_table_sql

    path = tmp_path_factory.mktemp("compare-cli") / "fnlens.duckdb"
    con = duckdb.connect(str(path))
    for table in TABLES:
        con.execute(create_table_sql(table))
    load(
        con,
        Shape("1", 6000, error_rate=0.005),
        Shape("2", 6000, error_rate=0.005),  # a healthy canary of 1
        Shape("3", 3000, error_rate=0.04, latency_factor=1.5, extra_error="KeyError"),
        Shape("4", 60, error_rate=0.005),  # far too few
        seed=21,
    )
    con.close()
    return path


def fnlens(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FNLENS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fnlens.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
    )


@pytest.mark.parametrize(
    ("candidate", "code", "verdict"), [("2", 0, "pass"), ("3", 1, "fail"), ("4", 2, "inconclusive")]
)
def test_exit_codes_and_json_schema(db: Path, candidate: str, code: int, verdict: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    proc = fnlens(
        "compare", "--db", str(db), "--baseline", "1", "--candidate", candidate, "-f", "json"
    )
    assert proc.returncode == code, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["verdict"] == verdict and doc["exit_code"] == code
    assert doc["baseline"]["value"] == "1" and doc["candidate"]["value"] == candidate
    assert doc["correction"] == "holm"
    if verdict == "fail":
        assert [e["error_type"] for e in doc["new_error_types"]] == ["KeyError"]
        assert {m["metric"] for m in doc["metrics"] if m["status"] == "fail"} >= {
            "error_rate",
            "latency",
        }
        assert doc["routes"] and all(r["metrics"] for r in doc["routes"])
    if verdict == "inconclusive":
        assert "not enough data: 60 invocations, need" in doc["reason"]


def test_markdown_is_a_pull_request_comment(db: Path) -> None:
    proc = fnlens(
        "compare", "--db", str(db), "--baseline", "1", "--candidate", "3", "-f", "markdown"
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert out.startswith("### fnlens compare: ")
    assert "**fail**" in out
    assert "| metric | baseline | candidate | change [CI] | allowed | p (adj.) | status |" in out
    assert "<details><summary>Per route</summary>" in out
    assert "`KeyError`" in out


def test_terminal_table_fits_80_columns(db: Path) -> None:
    proc = fnlens(
        "compare", "--db", str(db), "--baseline", "1", "--candidate", "3", env={"COLUMNS": "80"}
    )
    assert proc.returncode == 1, proc.stderr
    assert "verdict: FAIL" in proc.stdout
    # piped output is 120 wide; every line stays within it and no column is squeezed to 3
    assert max(len(line) for line in proc.stdout.splitlines()) <= 120
    assert "error rate" in proc.stdout and "KeyError" in proc.stdout


def test_terminal_table_in_a_narrow_console() -> None:
    from io import StringIO

    from rich.console import Console

    from fnlens.analysis._compare import Selector, compare
    from fnlens.analysis.db import memory_db
    from fnlens.report._canary import print_comparison

    con = memory_db()
    load(con, Shape("1", 1500), Shape("2", 1500, latency_factor=1.4), seed=5)
    out = StringIO()
    print_comparison(
        compare(con, Selector("1"), Selector("2")), Console(file=out, width=80, highlight=False)
    )
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "metric" in line and "status" in line)
    assert "base" in header and "cand" in header and "p adj" in header


def test_flags_and_toml_thresholds(db: Path, tmp_path: Path) -> None:
    lenient = ["--allow", "error_rate=10pp", "--allow", "latency=80%", "--allow", "p95=80%"]
    lenient += ["--allow", "p50=80%", "--allow", "p99=200%", "--allow", "cost_per_million=80%"]
    proc = fnlens(
        "compare", "--db", str(db), "--baseline", "1", "--candidate", "3", "-f", "json", *lenient
    )
    doc = json.loads(proc.stdout)
    statuses = {m["metric"]: m["status"] for m in doc["metrics"]}
    assert statuses["error_rate"] != "fail" and statuses["latency"] != "fail"
    assert doc["settings"]["metrics"]["p95"]["allowed"] == 0.8

    config = tmp_path / "thresholds.toml"
    config.write_text(
        '[compare]\nfail_on_new_error_types = true\ncorrection = "bh"\n'
        '[compare.metrics.error_rate]\nallowed = "10pp"\n'
    )
    proc = fnlens(
        "compare", "--db", str(db), "--baseline", "1", "--candidate", "3", "-f", "json",
        "--config", str(config),
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert doc["correction"] == "bh" and doc["verdict"] == "fail"
    assert "new error types: KeyError" in doc["reason"]


def in_process(*args: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """The same entry point as the `fnlens` script, without a new interpreter per case."""
    from fnlens.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0), capsys.readouterr().err


def test_errors_exit_3_with_one_line(db: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("FNLENS_DB", raising=False)
    bad = tmp_path / "bad.toml"
    bad.write_text("[compare]\nalpha = 0.05\n[compare.metrics.p95]\nallowd = 0.1\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("[compare\nalpha = 1\n")
    cases = [
        (["--baseline", "1"], "give --candidate"),
        (["--baseline", "1", "--candidate", "2", "--allow", "p95"], "METRIC=CHANGE"),
        (["--baseline", "1", "--candidate", "2", "--allow", "nope=1%"], "unknown metric"),
        (["--baseline", "1", "--candidate", "2", "--allow", "error_rate=1%"], "percentage points"),
        (["--baseline", "1", "--candidate", "2", "--config", str(bad)], "allowd is not a setting"),
        (["--baseline", "1", "--candidate", "2", "--config", str(broken)], "line 1"),
        (["--baseline", "1", "--candidate", "2", "--alpha", "0.7"], "alpha must be between"),
        (["--baseline-window", "2026-11-02/2026-11-01", "--candidate", "2"], "start must be"),
        (["--baseline", "1", "--candidate", "2", "--since", "yesterday"], "ISO 8601"),
        (["--baseline", "1", "--candidatex", "2"], "No such option"),
        (["--baseline", "1", "--candidate", "2", "--format", "yaml"], "Invalid value"),
        (["--baseline", "1", "--candidate", "1"], "match both"),
    ]
    for args, message in cases:
        code, err = in_process("compare", "--db", str(db), *args, capsys=capsys)
        assert code == 3, (args, code, err)
        assert message in err, (args, err)
        assert "Traceback" not in err
    code, err = in_process(
        "compare", "--db", str(tmp_path / "none.duckdb"), "--baseline", "1", "--candidate", "2",
        capsys=capsys,
    )  # fmt: skip
    assert code == 3 and "fnlens ingest" in err
    # and once through a real process: a usage error is 3, never the verdict code 2
    proc = fnlens("compare", "--db", str(db), "--baseline", "1", "--candidatex", "2")
    assert proc.returncode == 3 and "No such option" in proc.stderr


def test_fnlens_db_is_honoured(db: Path) -> None:
    proc = fnlens(
        "compare", "--baseline", "1", "--candidate", "2", "-f", "json", env={"FNLENS_DB": str(db)}
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "pass"


def test_listed_in_help() -> None:
    proc = fnlens("--help")
    assert proc.returncode == 0 and "compare" in proc.stdout


def test_ingest_and_export_honour_fnlens_db(tmp_path: Path) -> None:
    """Every command that takes --db reads FNLENS_DB (issue 14): ingest writes there, export
    and compare read from there."""
    source = tmp_path / "records.jsonl"
    lines = [
        json.dumps(
            {
                "timestamp": f"2026-11-22T10:00:{i:02d}.000000Z",
                "level": "info",
                "event": "invocation",
                "service": "orders",
                "function_name": "orders-api",
                "function_version": "3",
                "request_id": f"req-{i:04d}",
                "cold_start": i == 0,
                "duration_ms": 10.0 + i,
                "outcome": "success",
                "trigger": "http",
                "http_method": "GET",
                "http_route": "/orders",
                "http_status_code": 200,
            }
        )
        for i in range(20)
    ]
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / "env.duckdb"
    env = {"FNLENS_DB": str(target)}
    proc = fnlens("ingest", str(source), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    assert target.is_file()
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT count(*) FROM invocations").fetchone()[0] == len(lines)
    con.close()
    proc = fnlens("export", "--parquet", str(tmp_path / "lake"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "lake").rglob("*.parquet"))
