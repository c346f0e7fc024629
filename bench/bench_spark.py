"""Canned queries on DuckDB and on Spark over the same Parquet, and Spark bulk ingest.

N invocation rows (default 10 M) are generated as in bench_queries.py, exported with
``fnlens export --parquet``'s code (the layout of docs/spark.md), then every canned query
runs with its defaults on DuckDB over the Parquet and on Spark ``local[2]`` over the same
files: the first run and the median of the timed runs. Spark bulk ingest reads N fnlens
JSONL records (bench_ingest.py's generator) into a new layout. With --write the
``## Spark`` section of docs/benchmarks.md is replaced.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/bench_spark.py [--rows N] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
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


def bench(rows: int, workdir: Path, repeat: int, ingest_rows: int) -> dict[str, Any]:
    from fnlens.analysis._spark import register_views, run_query, spark_session
    from fnlens.analysis._spark_ingest import spark_ingest

    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"rows": rows, "load": [os.getloadavg()[0]]}
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
    spark = spark_session("local[2]", conf={"spark.driver.memory": "4g"})
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


def markdown(r: dict[str, Any]) -> str:
    import pyspark

    lines = [
        HEADING,
        "",
        f"`bench/bench_spark.py --rows {r['rows']}`: the rows of `bench_queries.py`, exported "
        f"to the Parquet layout of [spark.md](spark.md) ({r['export_s']:.1f} s, "
        f"{r['parquet_mb']:.0f} MB zstd); every canned query with its defaults, on DuckDB "
        "over the Parquet and on Spark `local[2]` over the same files (the session already "
        "started; starting it took "
        f"{r['spark_start_s']:.1f} s). First run and median of the timed runs.",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}, pyspark {pyspark.__version__}, {os.cpu_count()} CPUs; "
        f"1-minute load average {r['load'][0]:.1f} at the start and {r['load'][-1]:.1f} at "
        "the end (the machine was shared; other work inflates both engines' times).",
        "",
        "| query | DuckDB first (s) | DuckDB median (s) | Spark first (s) | Spark median (s) "
        "| Spark / DuckDB | rows |",
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
            f"Spark bulk ingest (`fnlens ingest --engine spark`) of {i['rows']:,} fnlens JSONL "
            f"records ({i['mb']:.0f} MB, bench_ingest.py's generator) into a new layout: "
            f"{i['seconds']:.1f} s ({i['rows'] / i['seconds']:,.0f} records/s), "
            f"{i['invocations']:,} invocations written.",
        ]
    lines += [
        "",
        "Reading: on one 2-core machine Spark's per-query cost is planning, task scheduling "
        "and the JVM, seconds where DuckDB needs a fraction of one; Spark pays off when the "
        "data no longer fits one machine or already lives in a cluster's storage, where its "
        "work spreads over executors.",
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
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    result = bench(args.rows, args.workdir, args.repeat, args.ingest_rows)
    section = markdown(result)
    print(section)
    if args.write:
        write_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
