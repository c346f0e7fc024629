"""Canned queries on DuckDB and on Spark over the same Parquet, and Spark bulk ingest.

N invocation rows (default 10 M) are generated as in bench_queries.py, exported with
``fnlens export --parquet``'s code (the layout of docs/spark.md), then every canned query
runs with its defaults on DuckDB over the Parquet and on Spark ``local[2]`` over the same
files: the first run and the median of the timed runs. Spark bulk ingest reads N fnlens
JSONL records (bench_ingest.py's generator) into a new layout. With --write the
``## Spark`` section of docs/benchmarks.md is replaced.

``--ingest-only``: the same generated JSONL file (deterministic: the rows are hashes of
their index) loaded by ``fnlens ingest`` (DuckDB) and by Spark bulk ingest (``local[2]``,
driver memory set explicitly), one after the other, each in its own process: wall time,
records/s and the peak RSS of the process tree (the JVM included), sampled from /proc.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/bench_spark.py [--rows N] [--write]
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/bench_spark.py --ingest-only --ingest-rows N
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import generate as generate_jsonl
from bench_queries import build

from fnlens.analysis._parquet import duckdb_views, export_parquet
from fnlens.analysis.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Spark"


def _timed(run: Any, repeat: int) -> dict[str, float]:
    times, rows = [], 0
    for _ in range(repeat + 1):
        start = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - start)
    return {"first": times[0], "median": statistics.median(times[1:]), "rows": rows}


def bench(
    rows: int, workdir: Path, repeat: int, ingest_rows: int, memory: str = "4g"
) -> dict[str, Any]:
    from fnlens.analysis._spark import register_views, run_query, spark_session
    from fnlens.analysis._spark_ingest import spark_ingest

    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"rows": rows, "memory": memory, "load": [os.getloadavg()[0]]}
    db = workdir / f"queries_{rows}.duckdb"
    if not db.exists():
        out["generate_s"] = build(db, rows)
    layout = workdir / f"layout_{rows}"
    start = time.perf_counter()
    export_parquet(db, layout)
    out["export_s"] = time.perf_counter() - start
    out["parquet_mb"] = sum(f.stat().st_size for f in layout.rglob("*.parquet")) / 1e6
    print(f"exported {rows} rows in {out['export_s']:.1f} s ({out['parquet_mb']:.0f} MB)")

    catalog = load_catalog()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    duckdb_views(con, layout)
    out["duckdb"] = {}
    for name, q in catalog.items():
        bound = q.bind({})
        out["duckdb"][name] = _timed(
            lambda q=q, b=bound: len(con.execute(q.sql, b).fetchall()), repeat
        )
        print(f"duckdb {name}: {out['duckdb'][name]}", flush=True)
    con.close()

    start = time.perf_counter()
    spark = spark_session("local[2]", conf={"spark.driver.memory": memory})
    out["spark_start_s"] = time.perf_counter() - start
    register_views(spark, layout)
    out["spark"] = {}
    for name, q in catalog.items():
        out["spark"][name] = _timed(lambda q=q: len(run_query(spark, q)[1]), repeat)
        print(f"spark {name}: {out['spark'][name]}", flush=True)

    if ingest_rows:
        src = generate_jsonl(ingest_rows, workdir)
        target = workdir / f"spark_ingest_{ingest_rows}"
        if target.exists():
            shutil.rmtree(target)
        start = time.perf_counter()
        report = spark_ingest(spark, [str(src)], target)
        out["ingest"] = {
            "rows": ingest_rows,
            "seconds": time.perf_counter() - start,
            "mb": src.stat().st_size / 1e6,
            "invocations": report.invocations,
        }
        print(f"spark ingest: {out['ingest']}", flush=True)
    spark.stop()
    out["load"].append(os.getloadavg()[0])
    return out


_INGEST_RUNNER = r"""
import json, sys, time
engine, src, out, memory = sys.argv[1:5]
t0 = time.perf_counter()
if engine == "duckdb":
    from fnlens.analysis.ingest import ingest
    report = ingest([src], db=out, progress=False)
    rows, started = report.totals["invocations"], t0
else:
    from fnlens.analysis._spark import spark_session
    from fnlens.analysis._spark_ingest import spark_ingest
    spark = spark_session("local[2]", conf={"spark.driver.memory": memory})
    started = time.perf_counter()
    rows = spark_ingest(spark, [src], out).invocations
    spark.stop()
done = time.perf_counter()
print(json.dumps({"seconds": done - t0, "ingest_s": done - started, "rows": rows}))
"""


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the JVM under pyspark)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def _ingest_run(engine: str, src: Path, out: Path, memory: str) -> dict[str, Any]:
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _INGEST_RUNNER, engine, str(src), str(out), memory],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate(timeout=4 * 3600)
    sampler.join(timeout=5)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} ingest failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["rss_mb"] = peak[0]
    return result


def ingest_compare(n: int, workdir: Path, memory: str) -> dict[str, Any]:
    """``fnlens ingest`` and Spark bulk ingest of the same N-record JSONL file."""
    workdir.mkdir(parents=True, exist_ok=True)
    src = generate_jsonl(n, workdir)
    out: dict[str, Any] = {"rows": n, "mb": src.stat().st_size / 1e6, "memory": memory}
    out["load"] = [os.getloadavg()[0]]
    out["duckdb"] = _ingest_run("duckdb", src, workdir / f"ingest_{n}.duckdb", memory)
    print(f"fnlens ingest: {out['duckdb']}", flush=True)
    out["load"].append(os.getloadavg()[0])
    out["spark"] = _ingest_run("spark", src, workdir / f"spark_ingest_{n}", memory)
    print(f"spark ingest: {out['spark']}", flush=True)
    out["load"].append(os.getloadavg()[0])
    return out


def ingest_markdown(r: dict[str, Any]) -> str:
    d, s = r["duckdb"], r["spark"]
    return "\n".join(
        [
            (
                f"Bulk ingest of one {r['rows']:,}-record fnlens JSONL file ({r['mb']:.0f} MB, "
                "bench_ingest.py's deterministic generator), "
                f"`bench/bench_spark.py --ingest-only --ingest-rows {r['rows']}`: each engine in "
                "its own process, one after the other; peak RSS of the process tree (the JVM "
                f"included); Spark `local[2]`, `spark.driver.memory={r['memory']}`. 1-minute load "
                f"average {r['load'][0]:.1f} before, {r['load'][1]:.1f} between and "
                f"{r['load'][2]:.1f} after (the machine was shared)."
            ),
            "",
            "| engine | wall (s) | records/s | peak RSS | invocations written |",
            "| --- | ---: | ---: | ---: | ---: |",
            (
                f"| `fnlens ingest` (DuckDB) | {d['seconds']:.1f} | {r['rows'] / d['seconds']:,.0f} "
                f"| {d['rss_mb']:,.0f} MB | {d['rows']:,} |"
            ),
            (
                f"| Spark bulk ingest | {s['seconds']:.1f} (ingest {s['ingest_s']:.1f}) "
                f"| {r['rows'] / s['ingest_s']:,.0f} | {s['rss_mb']:,.0f} MB | {s['rows']:,} |"
            ),
            "",
        ]
    )


def markdown(r: dict[str, Any]) -> str:
    import pyspark

    lines = [
        HEADING,
        "",
        (
            f"`bench/bench_spark.py --rows {r['rows']}`: the rows of `bench_queries.py`, exported "
            f"to the Parquet layout of [spark.md](spark.md) ({r['export_s']:.1f} s, "
            f"{r['parquet_mb']:.0f} MB zstd); every canned query with its defaults, on DuckDB "
            f"over the Parquet and on Spark `local[2]` (`spark.driver.memory={r['memory']}`) over "
            "the same files (the session already "
            "started; starting it took "
            f"{r['spark_start_s']:.1f} s). First run and median of the timed runs."
        ),
        "",
        (
            f"Machine: {platform.platform()}, Python {platform.python_version()}, DuckDB "
            f"{duckdb.__version__}, pyspark {pyspark.__version__}, {os.cpu_count()} CPUs; "
            f"1-minute load average {r['load'][0]:.1f} at the start and {r['load'][-1]:.1f} at "
            "the end (the machine was shared; other work inflates both engines' times)."
        ),
        "",
        (
            "| query | DuckDB first (s) | DuckDB median (s) | Spark first (s) | Spark median (s) "
            "| Spark / DuckDB | rows |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, d in r["duckdb"].items():
        s = r["spark"][name]
        ratio = s["median"] / d["median"] if d["median"] else float("nan")
        lines.append(
            f"| {name} | {d['first']:.3f} | {d['median']:.3f} | {s['first']:.2f} | "
            f"{s['median']:.2f} | {ratio:.0f}x | {d['rows']} |"
        )
    if "ingest" in r:
        i = r["ingest"]
        lines += [
            "",
            (
                f"Spark bulk ingest (`fnlens ingest --engine spark`) of {i['rows']:,} fnlens JSONL "
                f"records ({i['mb']:.0f} MB, bench_ingest.py's generator) into a new layout: "
                f"{i['seconds']:.1f} s ({i['rows'] / i['seconds']:,.0f} records/s), "
                f"{i['invocations']:,} invocations written."
            ),
        ]
    lines += [
        "",
        (
            "Reading: on one 2-core machine Spark's per-query cost is planning, task scheduling "
            "and the JVM, seconds where DuckDB needs a fraction of one; Spark pays off when the "
            "data no longer fits one machine or already lives in a cluster's storage, where its "
            "work spreads over executors."
        ),
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    text = DOC.read_text()
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip() + "\n\n" + section
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ingest-rows", type=int, default=10_000_000, help="0: skip")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fnlens-bench-spark"))
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--ingest-only", action="store_true", help="DuckDB vs Spark ingest")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory")
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if args.ingest_only:
        print(ingest_markdown(ingest_compare(args.ingest_rows, args.workdir, args.driver_memory)))
        return 0
    result = bench(args.rows, args.workdir, args.repeat, args.ingest_rows, args.driver_memory)
    section = markdown(result)
    print(section)
    if args.write:
        write_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
