"""The ingest benchmark still runs, text path included, on a small input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ingest_benchmark_runs_and_the_text_files_take_the_sql_path(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_ingest.py"),
            *["--n", "3000", "--text", "--repeat", "1", "--workdir"],
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for shape in ("raw", "s3"):
        row = next(line for line in out.splitlines() if f"| 3,000 | {shape} |" in line)
        assert "x** |" in row
    (result,) = [json.loads(x) for x in out.splitlines() if x.startswith('{"n"')]
    for shape, lines in (("raw", 3), ("s3", 4)):
        text = result[f"text_{shape}"]
        assert text["lines"] == lines * 3000
        assert text["ingest"]["reader"] == "sql"
        assert text["ingest"]["rows"] == 3000
