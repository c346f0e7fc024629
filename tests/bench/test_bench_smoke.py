"""The middleware benchmark still runs: a few invocations of the fnlens variants through
the emulated Lambda service (runtime loop, extension handshake, rotel, cold runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_benchmark_runs_the_fnlens_variants_end_to_end():
    pytest.importorskip("rotel")
    pytest.importorskip("awslambdaric")
    options = (
        "--n 60 --warmup 10 --cold-runs 1 --rounds 2 "
        "--variants bare,fnlens,fnlens-full,fnlens-full-ext"
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_middleware.py"), *options.split()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for row in (
        "| no wrapper |",
        "| fnlens (stdout records + log line) |",
        "| fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=budget |",
        "| fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=extension |",
    ):
        assert row in out, out
    # the extension answered after every response (its own work is reported)
    assert "In extension mode the extension's own work after each response" in out
    for mode in ("budget", "extension"):
        row = next(line for line in out.splitlines() if f"flush_mode={mode} |" in line)
        assert "| 0.000 / 0.000 |" in row  # the caller waited for nothing
