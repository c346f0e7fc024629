"""bench/bench_compare.py still runs: a small generated table, both comparisons, the table row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy")
pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[2]


def test_bench_compare_runs_on_a_small_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_compare.py"),
            "--rows",
            "30000",
            "--repeat",
            "1",
            "--db",
            str(tmp_path / "bench.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: a missed target, not a crash
    out = proc.stdout
    assert "## Compare" in out
    row = next(line for line in out.splitlines() if line.startswith("| all rows:"))
    assert "| 30,000 |" in row  # every generated row lands on one side or the other
    assert any(line.startswith("| orders-api version 5.0 vs 6.0 |") for line in out.splitlines())
