"""Round trip: handler → @instrument → file exporter → `fnlens ingest` → `per_version`.

One fresh process per version (an execution environment is bound to one
version) runs an instrumented handler with errors, a cold start and varied
durations, exporting to files. The test computes the
per-version numbers directly from the invocation records the process printed,
then checks that ingesting the exported files and running the canned query gives
the same answer.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

from fnlens.analysis.catalog import get_query  # noqa: E402
from fnlens.analysis.ingest import ingest  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import os
    import time
    import fnlens
    from fnlens.testing import LambdaContext

    log = fnlens.get_logger()

    @fnlens.instrument(service="orders")
    def handler(event, context):
        log.info("working", n=event["n"])
        time.sleep(event["sleep_ms"] / 1000.0)
        if event["fail"]:
            raise ValueError("card declined")
        return {"statusCode": 200}

    version = os.environ["TEST_VERSION"]
    for n in range(40 if version == "1" else 20):
        event = {"n": n, "sleep_ms": (n % 7) * (3 if version == "2" else 1), "fail": n % 11 == 5}
        context = LambdaContext(
            function_name="orders-api", function_version=version, memory_limit_in_mb=256
        )
        try:
            handler(event, context)
        except ValueError:
            pass
    fnlens.flush(5.0)
    fnlens.shutdown()
    """
)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def test_per_version_matches_what_the_records_say(tmp_path: Path) -> None:
    telemetry = tmp_path / "telemetry"
    records = []
    for version in ("1", "2"):
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FNLENS_", "OTEL_", "AWS_"))
        }
        env.update(
            FNLENS_EXPORTERS="file",
            FNLENS_FILE_DIR=str(telemetry / f"v{version}"),
            TEST_VERSION=version,
        )
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        records += [
            json.loads(line)
            for line in proc.stdout.splitlines()
            if line.startswith("{") and '"event":"invocation"' in line
        ]
    assert len(records) == 60
    assert list(telemetry.rglob("*.jsonl"))  # the exporter wrote files

    # what the records say, computed directly
    expected: dict[str, dict] = {}
    for version in ("1", "2"):
        rows = [r for r in records if r["function_version"] == version]
        durations = [r["duration_ms"] for r in rows]
        cold = [r for r in rows if r["cold_start"]]
        inits = [r["init_duration_ms"] for r in rows if r["init_duration_ms"] is not None]
        expected[version] = {
            "invocations": len(rows),
            "errors": sum(r["outcome"] != "success" for r in rows),
            "p50_ms": nearest_rank(durations, 0.5),
            "p95_ms": nearest_rank(durations, 0.95),
            "p99_ms": nearest_rank(durations, 0.99),
            "cold_starts": len(cold),
            "avg_init_ms": round(sum(inits) / len(inits), 3) if inits else None,
            "billed_gb_s": round(sum(math.ceil(d) / 1000 * 256 / 1024 for d in durations), 6),
        }
    assert expected["1"]["cold_starts"] == expected["2"]["cold_starts"] == 1
    assert expected["1"]["errors"] > 0 and expected["2"]["errors"] > 0

    # what ingest + the canned query say
    db = tmp_path / "fnlens.duckdb"
    report = ingest([str(telemetry)], db=str(db), progress=False, strict=True)
    assert report.malformed_count == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        result = get_query("per_version").run(con, {})
        columns = [d[0] for d in result.description]
        rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        stored = con.execute("SELECT count(*) FROM invocations").fetchone()[0]
    finally:
        con.close()
    assert stored == 60  # span-derived rows merged into the records by request id
    got = {row["version"]: row for row in rows}
    assert set(got) == {"1", "2"}
    for version, want in expected.items():
        row = got[version]
        assert row["function_name"] == "orders-api"
        for key, value in want.items():
            if value is None:
                assert row[key] is None, (version, key)
            else:
                assert row[key] == pytest.approx(value, abs=1e-6), (version, key, row[key], value)
        assert row["error_rate_pct"] == pytest.approx(
            round(100.0 * want["errors"] / want["invocations"], 3)
        )
