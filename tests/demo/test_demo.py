"""`fnlens demo` with a small N: version 2's regression shows in the per-version numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")
pytest.importorskip("duckdb")
pytest.importorskip("fnlens.analysis.ingest")

from fnlens.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]


def test_demo_shows_version_2_regression(tmp_path: Path, monkeypatch) -> None:
    import duckdb

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    ticks: list[int] = []
    phases: list[str] = []
    result = run_demo(
        DemoOptions(out_dir=tmp_path, invocations=400, canary_weight=0.4, seed=3),
        on_progress=ticks.append,
        on_phase=phases.append,
    )
    assert result.sent == 400 == sum(ticks)
    assert phases[:3] == ["deploy", "traffic", "shutdown"] and "ingest" in phases
    assert set(result.by_version) == {"1", "2"} and min(result.by_version.values()) >= 80
    assert result.cold_starts >= 2 and result.cold_starts == result.environments_started

    # everything sent is in DuckDB, merged from the log streams; spans from the files
    assert result.ingest["malformed"] == 0
    assert result.ingest["totals"]["invocations"] == 400
    assert result.ingest["totals"]["spans"] >= 390

    rows = {r["version"]: r for r in result.per_version}
    assert set(rows) == {"1", "2"}
    v1, v2 = rows["1"], rows["2"]
    assert v1["invocations"] + v2["invocations"] == 400
    # the new error: KeyError 'currency' on v2 only
    assert v1["errors"] == 0 and v2["errors"] > 0
    assert v2["error_rate_pct"] > v1["error_rate_pct"]
    assert [e["error_type"] for e in result.errors] == ["KeyError"]
    assert result.errors[0]["versions"] == "2"
    # the slower route: GET /orders p95 at least twice v1's
    p95 = {
        v: next(
            r["p95_ms"]
            for r in result.routes[v]
            if r["http_route"] == "/orders" and r["http_method"] == "GET"
        )
        for v in ("1", "2")
    }
    assert p95["2"] > 2 * p95["1"], p95
    # the heavier init: more init time and more memory on v2
    con = duckdb.connect(str(result.db_path), read_only=True)
    try:
        stats = {
            v: (init, mem)
            for v, init, mem in con.execute(
                "SELECT version, min(init_duration_ms), max(max_memory_used_mb) "
                "FROM invocations GROUP BY version"
            ).fetchall()
        }
    finally:
        con.close()
    assert stats["2"][0] > stats["1"][0], stats
    assert stats["2"][1] >= stats["1"][1] + 20, stats

    if result.report_path is not None:  # once the HTML report has landed
        html = result.report_path.read_text()
        assert "<html" in html.lower() and "orders-api" in html


def test_demo_cli_prints_the_comparison(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnlens.cli.main",
            "demo",
            "--out",
            str(tmp_path),
            "-n",
            "240",
            "--seed",
            "11",
            "--canary-weight",
            "0.5",
            "--no-html",
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Per version" in out and "KeyError" in out
    version_rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^│ ([12])\s+│\s+[\d,]+ │\s+([\d.]+)% │", out, re.MULTILINE)
    }
    assert set(version_rows) == {"1", "2"}, out
    assert float(version_rows["1"]) == 0.0
    assert float(version_rows["2"]) > 0.0
    assert (tmp_path / "fnlens.duckdb").is_file()
    assert list((tmp_path / "logs").rglob("*.log"))
