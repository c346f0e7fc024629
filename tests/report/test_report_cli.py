"""`fnlens report` in the terminal and with --html, and the version ranking."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fnlens.cli.main import cli
from fnlens.report._compare import compare_versions


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, obj={})


def test_terminal_report(report_db: Path) -> None:
    result = _run("report", "--db", str(report_db))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "4,000" in out and "Versions, worst regression first" in out
    lines = [line for line in out.splitlines() if "orders-api" in line or "worker" in line]
    # the regressed release is listed first, with what got worse
    assert "42" in lines[0] and "worse" in lines[0]


def test_html_option_writes_one_file(report_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    result = _run("report", "--db", str(report_db), "--html", str(out), "--function", "worker")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "worker" in html and "orders-api v" not in html
    assert list(out.parent.iterdir()) == [out]


def test_missing_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "nope.duckdb")], obj={})
    assert result.exit_code != 0
    assert "fnlens ingest" in result.output
    assert "Traceback" not in result.output


def _pv(fn: str, version: str, err: float, p95: float) -> dict:
    return {
        "function_name": fn,
        "version": version,
        "invocations": 100,
        "error_rate_pct": err,
        "p50_ms": p95 / 2,
        "p95_ms": p95,
        "p99_ms": p95 * 1.5,
        "cold_start_pct": 1.0,
        "avg_init_ms": 300.0,
    }


def test_versions_ranked_by_worst_regression() -> None:
    rows = [
        _pv("a", "1", 1.0, 100.0),
        _pv("a", "2", 1.0, 105.0),  # +5 % p95: mild
        _pv("a", "3", 1.0, 90.0),  # better
        _pv("b", "7", 0.0, 50.0),
        _pv("b", "8", 5.0, 50.0),  # errors from 0 % to 5 %: the worst
    ]
    ranked = compare_versions(rows, [])
    assert [(r.function_name, r.version) for r in ranked] == [
        ("b", "8"),
        ("a", "2"),
        ("a", "3"),
        ("a", "1"),
        ("b", "7"),
    ]
    assert ranked[0].worst == "error rate"
    assert ranked[2].severity == 0.0 and ranked[2].changes["p95_ms"] < 0
    assert ranked[-1].is_baseline and ranked[-2].is_baseline
