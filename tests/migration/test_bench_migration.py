"""``bench/bench_middleware.py --migration`` runs: Powertools Logger+Tracer+Metrics and the
same handler moved to fnlens, in the awslambdaric runtime loop, in one run (a smoke run:
the numbers are meaningless, the rows and ratios must be there)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "| no wrapper |",
    "| Powertools Logger+Tracer+Metrics (X-Ray UDP) |",
    "| fnlens, Powertools log fields + fnlens.metrics, EMF + X-Ray UDP |",
    "| fnlens, Powertools log fields + fnlens.metrics, EMF, no traces |",
)


@pytest.mark.e2e
def test_migration_benchmark_runs_both_in_one_run():
    pytest.importorskip("rotel")
    pytest.importorskip("aws_lambda_powertools")
    docs = [
        (ROOT / "docs" / name).read_text()
        for name in ("benchmarks.md", "migrating-from-powertools.md")
    ]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_middleware.py"), "--migration", "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("### Migrating from Powertools")
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    for row in ROWS:
        (line,) = [x for x in rows if x.startswith(row)]
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 7 and all(c != "n/a" for c in cells[1:3]), line  # cold start
    for what in ("cold start (import + decorate)", "first invocation", "handler call (median)",
                 "billed (median)", "CPU per invocation (mean)"):  # fmt: skip
        assert out.count(f"- {what}: ") == 2, what  # for each fnlens row
    assert "Load average" in out
    # without --write-docs the docs are left alone
    assert docs == [
        (ROOT / "docs" / name).read_text()
        for name in ("benchmarks.md", "migrating-from-powertools.md")
    ]
