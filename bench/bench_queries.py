"""Time every canned query over N invocation rows (default 10 M); target < 1 s each.

The rows are generated inside DuckDB with SQL (deterministic: derived from the
row number with integer hashing, no random()), written to a DuckDB file, and the
queries run through the same code path as ``fnlens query`` (read-only open,
catalog binding). Results go to stdout and, with --write, to the
``## Canned queries`` section of docs/benchmarks.md.

    .venv/bin/python bench/bench_queries.py [--rows 10000000] [--repeat 5] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from fnlens.analysis._schema import TABLES, create_table_sql
from fnlens.analysis.catalog import load_catalog
from fnlens.analysis.db import open_db

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Canned queries"
TARGET_S = 1.0
LOAD: dict[str, float] = {}

# u(k) is a deterministic pseudo-random number in [0, 1) for row i and stream k.
_U = "((hash(i * 7919 + {k}) % 1000000007) / 1000000007.0)"


def u(k: int) -> str:
    return _U.format(k=k)


# BY NAME: columns added later (SnapStart, Telemetry API) stay NULL
GENERATE = f"""
INSERT INTO invocations BY NAME
WITH base AS (
    SELECT
        i,
        -- spread over 7 days whatever the row count
        TIMESTAMP '2024-03-01' + to_microseconds(CAST(i * (604800000000 // $rows) AS BIGINT))
            AS ts,
        CAST(floor({u(1)} * 3) AS INTEGER) AS f,
        {u(2)} AS r_cold, {u(3)} AS r_outcome, {u(4)} AS r_dur, {u(5)} AS r_dur2,
        {u(6)} AS r_mem, {u(7)} AS r_route, {u(8)} AS r_init, {u(9)} AS r_err,
        {u(10)} AS r_billed
    FROM range($rows) t(i)
), shaped AS (
    SELECT
        *,
        ['orders-api', 'payments-api', 'worker'][f + 1] AS function_name,
        -- a deploy per function roughly every 17 hours: 10 versions over the week
        CAST(1 + floor(i * 10.0 / $rows + f * 0.3) AS VARCHAR) AS version,
        r_cold < 0.03 AS cold,
        CASE WHEN r_outcome < 0.003 THEN 'timeout'
             WHEN r_outcome < 0.023 THEN 'error'
             ELSE 'success' END AS outcome
    FROM base
)
SELECT
    ts,
    'shop' AS service,
    function_name,
    version AS function_version,
    'live' AS function_alias,
    NULL AS service_version,
    version,
    printf('%08x-%04x-4000-8000-%012x', i, f, i * 2654435761 % 281474976710656) AS request_id,
    printf('%032x', i * 11400714819323198485) AS trace_id,
    cold AS cold_start,
    CASE WHEN cold THEN 'on-demand' END AS init_type,
    CASE WHEN cold THEN round(150 + r_init * 700, 2) END AS init_duration_ms,
    -- roughly log-normal handler time around 60 ms; timeouts at 6 s
    CASE WHEN outcome = 'timeout' THEN 6000 + round(r_dur * 5, 2)
         ELSE round(exp(ln(60) + 0.7 * ((r_dur + r_dur2) - 1) * 2.45), 2) END AS duration_ms,
    CASE WHEN r_billed < 0.05 THEN NULL
         WHEN outcome = 'timeout' THEN 6000
         ELSE ceil(exp(ln(60) + 0.7 * ((r_dur + r_dur2) - 1) * 2.45)) END AS billed_duration_ms,
    [256, 512, 1024][f + 1] AS memory_size_mb,
    CAST(least([256, 512, 1024][f + 1], 60 + r_mem * [220, 300, 500][f + 1]) AS INTEGER)
        AS max_memory_used_mb,
    outcome,
    CASE WHEN outcome = 'error'
         THEN ['ValueError', 'KeyError', 'ClientError', 'TimeoutError', 'ZeroDivisionError']
              [CAST(floor(r_err * 5) AS INTEGER) + 1] END AS error_type,
    CASE WHEN outcome = 'error' THEN 'something failed in step '
         || CAST(floor(r_err * 50) AS INTEGER) END AS error_message,
    CASE WHEN f < 2 THEN 'http' ELSE 'other' END AS trigger,
    CASE WHEN f < 2 THEN ['GET', 'POST'][CAST(floor(r_route * 2) AS INTEGER) + 1] END
        AS http_method,
    CASE WHEN f < 2 THEN ['/orders', '/orders/{{id}}', '/orders/{{id}}/items', '/payments',
                          '/payments/{{id}}', '/health', '/cart', '/cart/{{id}}']
                         [CAST(floor(r_route * 8) AS INTEGER) + 1] END AS http_route,
    CASE WHEN f < 2 THEN CASE WHEN outcome = 'success' THEN 200 ELSE 500 END END
        AS http_status_code,
    'eu-west-1' AS region,
    '2024/03/01/[' || version || ']' || printf('%032x', i % 97) AS log_stream,
    'bench' AS source,
    1 AS attempt
FROM shaped
"""

# extra parameter sets: a narrow window and a single function, the common case in practice
VARIANTS = {
    "per_version": [{"function": "orders-api"}, {"since": "2024-03-06", "until": "2024-03-07"}],
    "timeline": [{"bucket": "1 hour", "function": "worker"}],
    "most_expensive": [{"limit": "1000"}],
}


def build(path: Path, rows: int) -> float:
    start = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        for table in TABLES:
            con.execute(create_table_sql(table))
        con.execute(GENERATE, {"rows": rows})
        con.execute("CHECKPOINT")
        (count,) = con.execute("SELECT count(*) FROM invocations").fetchone()
    assert count == rows, count
    return time.perf_counter() - start


def time_query(con: duckdb.DuckDBPyConnection, name: str, params: dict, repeat: int) -> dict:
    query = load_catalog()[name]
    bound = query.bind(params)
    times = []
    result_rows = 0
    for _ in range(repeat + 1):  # the first run warms caches and is reported separately
        start = time.perf_counter()
        result_rows = len(con.execute(query.sql, bound).fetchall())
        times.append(time.perf_counter() - start)
    return {
        "first": times[0],
        "median": statistics.median(times[1:]),
        "max": max(times[1:]),
        "rows": result_rows,
    }


def time_cli(path: Path, names: list[str]) -> dict[str, float]:
    """Wall time of `fnlens query NAME` in a fresh process: startup, imports, open, run, print."""
    import subprocess

    out = {}
    for name in names:
        cmd = [
            sys.executable,
            "-m",
            "fnlens.cli.main",
            "query",
            name,
            "--db",
            str(path),
            "-f",
            "csv",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        out[name] = time.perf_counter() - start
    return out


def markdown(
    results: list[tuple[str, dict, dict]],
    rows: int,
    build_s: float,
    db_mb: float,
    cli: dict[str, float],
) -> str:
    lines = [
        HEADING,
        "",
        (
            f"`bench/bench_queries.py --rows {rows}`: {rows:,} invocation rows generated in DuckDB "
            f"({f'{build_s:.1f} s to generate, ' if build_s else ''}{db_mb:.0f} MB file), "
            "3 functions, about 10 versions each, "
            "7 days. Each query runs through the catalog on a read-only connection, as "
            "`fnlens query` does; one warm-up run, then the median and max of the timed runs. "
            f"Target: under {TARGET_S:g} s each."
        ),
        "",
        (
            f"Machine: {platform.platform()}, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}, {os.cpu_count()} CPUs; 1-minute load average "
            f"{LOAD['start']:.1f} at the start and {LOAD['end']:.1f} at the end of the timed runs "
            "(other work on the machine inflates the times)."
        ),
        "",
        "| query | parameters | first run (s) | median (s) | max (s) | result rows | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, params, r in results:
        shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
        ok = "ok" if r["max"] < TARGET_S else "**missed**"
        lines.append(
            f"| {name} | {shown} | {r['first']:.3f} | {r['median']:.3f} | {r['max']:.3f} "
            f"| {r['rows']} | {ok} |"
        )
    lines += [
        "",
        "End to end, `fnlens query NAME --db FILE -f csv` in a new process (interpreter start, "
        "imports, read-only open, query, output): "
        + ", ".join(f"{name} {secs:.2f} s" for name, secs in cli.items())
        + ".",
        "",
        (
            "Caveats: the generated rows are in time order (as ingest of time-ordered logs "
            "writes them), which helps the `since`/`until` filters through DuckDB's zone maps; "
            "the file is in the OS page cache after generation."
        ),
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace (or append) only our section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if HEADING in text:
        before, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        after = rest[nxt + 1 :] if nxt != -1 else ""
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse/keep this database file")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        build_s = 0.0
        if not path.exists():
            build_s = build(path, args.rows)
            print(f"generated {args.rows:,} rows in {build_s:.1f} s -> {path}", file=sys.stderr)
        db_mb = path.stat().st_size / 1e6
        con = open_db(path)
        LOAD["start"] = os.getloadavg()[0]
        results = []
        for name in sorted(load_catalog()):
            for params in [{}, *VARIANTS.get(name, [])]:
                r = time_query(con, name, params, args.repeat)
                results.append((name, params, r))
                print(
                    f"{name:16} {params!s:50} first {r['first']:.3f}s median {r['median']:.3f}s "
                    f"max {r['max']:.3f}s rows {r['rows']}",
                    file=sys.stderr,
                )
        con.close()
        LOAD["end"] = os.getloadavg()[0]
        cli = time_cli(path, ["per_version", "timeline", "most_expensive"])
    section = markdown(results, args.rows, build_s, db_mb, cli)
    print(section)
    if args.write:
        write_section(section)
    return 0 if all(r["max"] < TARGET_S for _, _, r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
