"""Ingest benchmark for the Cloud Logging and Application Insights formats.

Generates N requests in each shape — Cloud Run request logs plus one stdout line each
(``cloud-logging``), ``AppRequests`` plus one ``AppTraces`` row each (``app-insights``)
— and N fnlens invocation records with one log line each (``fnlens-jsonl``, the same
line count), then times, each in a fresh process and back to back:

* baseline  ``CREATE TABLE t AS SELECT * FROM read_json(file)`` (DuckDB alone)
* ingest    ``fnlens.analysis.ingest.ingest([file])`` into a new database

The cloud formats go through the Python line parser (fnlens JSONL with log lines takes
``read_json`` for the invocations and the line parser for the logs), so the ratio to
read is ingest / read_json per format, side by side.

    python bench/bench_clouds.py --n 100000 --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Ingest of cloud exports"

RUNNER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
kind, path, db = sys.argv[1:4]
if kind == "baseline":
    import duckdb
    con = duckdb.connect(db)
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, maximum_depth = 1)", [path])
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
else:
    from fnlens.analysis.ingest import ingest
    report = ingest([path], db=db, progress=False)
    assert report.malformed_count == 0, report.summary_lines()
    rows = report.totals["invocations"]
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _ts(i: int) -> str:
    """One request per millisecond from midnight."""
    hour, minute, second = i // 3_600_000 % 24, i // 60_000 % 60, i // 1000 % 60
    return f"2026-11-22T{hour:02d}:{minute:02d}:{second:02d}.{i % 1000:03d}000Z"


def cloud_logging(i: int) -> list[dict]:
    rev = f"orders-0004{i % 2}-kof"
    res = {
        "type": "cloud_run_revision",
        "labels": {"service_name": "orders", "revision_name": rev, "location": "europe-west1"},
    }
    trace = f"projects/shop/traces/{i:032x}"
    status = 500 if i % 50 == 0 else 200
    return [
        {
            "httpRequest": {
                "requestMethod": "GET",
                "requestUrl": f"https://orders.example.run.app/orders/{i}",
                "status": status,
                "responseSize": "180",
                "latency": f"0.{40 + i % 97:03d}211s",
            },
            "insertId": f"r{i:012x}",
            "logName": "projects/shop/logs/run.googleapis.com%2Frequests",
            "resource": res,
            "timestamp": _ts(i),
            "severity": "ERROR" if status >= 500 else "INFO",
            "labels": {"instanceId": f"00f4{i % 8}"},
            "trace": trace,
        },
        {
            "textPayload": f"loading order {i}",
            "insertId": f"s{i:012x}",
            "logName": "projects/shop/logs/run.googleapis.com%2Fstdout",
            "resource": res,
            "timestamp": _ts(i),
            "labels": {"instanceId": f"00f4{i % 8}"},
            "trace": trace,
        },
    ]


def app_insights(i: int) -> list[dict]:
    role = "orders-func-staging" if i % 2 else "orders-func"
    props = {"InvocationId": f"inv-{i:010d}", "FullName": "Functions.CreateOrder"}
    common = {"AppRoleName": role, "AppRoleInstance": f"pd1sdwk{i % 8}", "OperationId": f"{i:032x}"}
    return [
        {
            "Type": "AppRequests",
            "TimeGenerated": _ts(i),
            "Id": f"{i:016x}",
            "Name": "CreateOrder",
            "Success": i % 50 != 0,
            "ResultCode": "500" if i % 50 == 0 else "200",
            "DurationMs": 40 + i % 97 + 0.211,
            "Properties": {**props, "FaaSTrigger": "http", "Category": "Host.Results"},
            **common,
        },
        {
            "Type": "AppTraces",
            "TimeGenerated": _ts(i),
            "Message": f"loading order {i}",
            "SeverityLevel": 1,
            "Properties": {**props, "Category": "Function.CreateOrder.User"},
            **common,
        },
    ]


def fnlens_jsonl(i: int) -> list[dict]:
    rid = f"8f507cfc-{i:04x}-4697-b07a-{i:012x}"
    return [
        {
            "timestamp": _ts(i),
            "level": "info",
            "event": "invocation",
            "service": "orders",
            "function_name": "orders",
            "function_version": str(40 + i % 2),
            "request_id": rid,
            "duration_ms": 40 + i % 97 + 0.211,
            "outcome": "error" if i % 50 == 0 else "success",
            "http_status_code": 500 if i % 50 == 0 else 200,
        },
        {"timestamp": _ts(i), "level": "info", "event": f"loading order {i}", "request_id": rid},
    ]


SHAPES = {
    "cloud-logging": cloud_logging,
    "app-insights": app_insights,
    "fnlens-jsonl": fnlens_jsonl,
}


def generate(shape: str, n: int, workdir: Path) -> Path:
    path = workdir / f"{shape}_{n}.jsonl"
    if not path.exists():
        make = SHAPES[shape]
        with path.open("w") as f:
            for i in range(n):
                for record in make(i):
                    f.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def _run(kind: str, path: Path, db: Path) -> dict:
    db.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, kind, str(path), str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {path.name} failed:\n{proc.stderr}")
    db.unlink(missing_ok=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(n: int, workdir: Path, repeat: int) -> list[dict]:
    results = []
    for shape in SHAPES:
        path = generate(shape, n, workdir)
        runs: dict[str, list[dict]] = {"baseline": [], "ingest": []}
        for _ in range(repeat):  # back to back, so the ratio sees the same machine load
            for kind in runs:
                runs[kind].append(_run(kind, path, workdir / f"{kind}.duckdb"))
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        assert best["ingest"]["rows"] == n, (shape, best["ingest"])
        results.append(
            {
                "shape": shape,
                "n": n,
                "lines": 2 * n,
                "mb": path.stat().st_size / 1e6,
                "read_json": best["baseline"]["seconds"],
                "ingest": best["ingest"]["seconds"],
                "ratio": best["ingest"]["seconds"] / best["baseline"]["seconds"],
                "rss_mb": max(r["rss_mb"] for r in runs["ingest"]),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def markdown(results: list[dict], repeat: int) -> str:
    import duckdb

    lines = [
        SECTION,
        "",
        (
            f"`python bench/bench_clouds.py --n {results[0]['n']} --repeat {repeat}` on this machine "
            f"({os.cpu_count()} CPUs, Python {platform.python_version()}, DuckDB "
            f"{duckdb.__version__}), {time.strftime('%Y-%m-%d')}, shared with other jobs (load "
            f"average {os.getloadavg()[0]:.0f} on the {os.cpu_count()} CPUs after the run; fastest "
            "of the runs; read_json and ingest back to back, so the ratios are the numbers to "
            "read). Each file holds N requests and one "
            "log line per request: Cloud Run request logs + stdout entries (`cloud-logging`), "
            "`AppRequests` + `AppTraces` rows (`app-insights`), and for comparison fnlens records + "
            "log lines (`fnlens-jsonl`). Baseline: DuckDB's `CREATE TABLE t AS SELECT * FROM "
            "read_json(file)`. The cloud formats are read by the Python line parser (no typed "
            "`read_json` fast path yet), hence the larger ratio."
        ),
        "",
        (
            "| format | requests | lines | file | read_json (s) | ingest (s) | ratio | lines/s "
            "| RSS ingest |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| `{r['shape']}` | {r['n']:,} | {r['lines']:,} | {r['mb']:,.0f} MB "
            f"| {r['read_json']:.2f} | {r['ingest']:.2f} | **{r['ratio']:.1f}x** "
            f"| {r['lines'] / r['ingest']:,.0f} | {r['rss_mb']:,.0f} MB |"
        )
    lines.append("")
    return "\n".join(lines)


def write_docs(section: str) -> None:
    text = DOCS.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="requests per format")
    parser.add_argument("--repeat", type=int, default=2, help="runs per step; the fastest counts")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fnlens-bench-clouds"))
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    section = markdown(bench(args.n, args.workdir, args.repeat), args.repeat)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
