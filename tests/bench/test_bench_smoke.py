"""The middleware benchmark still runs: a few invocations of the fnlens variants in each
mode — the awslambdaric runtime loop against the emulated Lambda service (extension
handshake, rotel, cold runs), and the handler called directly in a process that never
freezes and in one with Lambda's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SECTIONS = {
    "loop": "### Awslambdaric runtime loop",
    "server": "### Called directly, a process that never freezes",
    "frozen": "### Called directly with Lambda's environment (the platform freezes)",
}


def section(out: str, mode: str) -> list[str]:
    """The table rows of one mode's section."""
    start = out.index(SECTIONS[mode])
    end = out.find("\n### ", start + 1)
    return [x for x in out[start:end].splitlines() if x.startswith("| ")]


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
    loop = section(out, "loop")
    for row in (
        "| no wrapper |",
        "| fnlens (stdout records + log line) |",
        "| fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=budget |",
        "| fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=extension |",
    ):
        assert any(line.startswith(row) for line in loop), out
    for mode in ("budget", "extension"):
        row = next(line for line in loop if f"flush_mode={mode} |" in line)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[8] == "0.000 / 0.000", row  # in the runtime loop the caller waits 0
    # the direct modes: no extension row (it needs the runtime loop), fnlens's flush mode
    # chosen by fnlens itself
    for mode in ("server", "frozen"):
        rows = section(out, mode)
        assert not any("flush_mode=extension" in line for line in rows), rows
        assert any(
            line.startswith("| fnlens logs+spans+EMF, OTLP/HTTP, flush mode auto |")
            for line in rows
        ), rows
    server_full = next(x for x in section(out, "server") if "flush mode auto" in x)
    cells = [c.strip() for c in server_full.strip("|").split("|")]
    assert cells[4] == "0.000 / 0.000", server_full  # a process that never freezes: no wait
