"""The demo, start to finish: deploy, send traffic, ingest, query, report.

``run_demo`` does the work and returns what happened; ``fnlens demo`` renders it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnlens.demo._app import ALIAS, FUNCTION_NAME, deploy, telemetry_env
from fnlens.demo._traffic import RequestFactory, schedule

Row = dict[str, Any]
_OWNED = ("logs", "telemetry", "fnlens.duckdb", "fnlens.duckdb.wal", "report.html")


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path
    invocations: int = 3000
    canary_weight: float = 0.25
    steady_concurrency: int = 3
    burst_concurrency: int = 8
    idle_s: float = 1.0  # environments idle longer than this are reclaimed
    seed: int | None = None
    html: bool = True


@dataclass
class DemoResult:
    out_dir: Path
    db_path: Path
    logs_dir: Path
    telemetry_note: str
    sent: int = 0
    by_version: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    cold_starts: int = 0
    environments_started: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    ingest: Row = field(default_factory=dict)  # files, totals per table, malformed lines
    headline: Row = field(default_factory=dict)
    per_version: list[Row] = field(default_factory=list)
    routes: dict[str, list[Row]] = field(default_factory=dict)  # version -> slow_routes rows
    errors: list[Row] = field(default_factory=list)
    report_path: Path | None = None
    report_note: str | None = None
    comparison: Any = None  # fnlens compare of version 2 against version 1


Progress = Callable[[int], None]
Phase = Callable[[str], None]


def prepare(out_dir: Path) -> None:
    """Remove what an earlier demo run left in ``out_dir`` (only the demo's own entries)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_demo(
    options: DemoOptions,
    *,
    on_progress: Progress | None = None,
    on_phase: Phase | None = None,
) -> DemoResult:
    """Run the whole demo; ``on_progress(n)`` is told about every n finished requests."""
    from fnlens.localrt import LocalLambda

    out = Path(options.out_dir)
    prepare(out)
    logs_dir, telemetry_dir = out / "logs", out / "telemetry"
    extra_env, note = telemetry_env(telemetry_dir.resolve())
    result = DemoResult(out, out / "fnlens.duckdb", logs_dir, note)
    phase = on_phase or (lambda _name: None)

    started = time.perf_counter()
    phase("deploy")
    with LocalLambda(
        FUNCTION_NAME, out_dir=logs_dir, max_idle_s=options.idle_s, seed=options.seed
    ) as fn:
        deploy(fn, canary_weight=options.canary_weight, extra_env=extra_env)
        phase("traffic")
        _send(fn, options, result, on_progress)
        result.environments_started = fn.environments_started
        phase("shutdown")
    result.seconds["traffic"] = time.perf_counter() - started

    phase("ingest")
    t = time.perf_counter()
    _ingest(result, telemetry_dir)
    result.seconds["ingest"] = time.perf_counter() - t

    phase("queries")
    t = time.perf_counter()
    _query(result)
    result.seconds["queries"] = time.perf_counter() - t

    if options.html:
        phase("report")
        t = time.perf_counter()
        _html(result)
        result.seconds["report"] = time.perf_counter() - t
    result.seconds["total"] = time.perf_counter() - started
    return result


def _send(fn: Any, options: DemoOptions, result: DemoResult, on_progress: Progress | None) -> None:
    factory = RequestFactory(options.seed)
    lock = threading.Lock()

    def one(event: Row) -> None:
        r = fn.invoke(event, ALIAS)
        with lock:
            result.sent += 1
            result.by_version[r.version] += 1
            result.outcomes[r.outcome] += 1
            result.cold_starts += int(r.cold_start)
        if on_progress is not None:
            on_progress(1)

    waves = schedule(
        options.invocations,
        steady_concurrency=options.steady_concurrency,
        burst_concurrency=options.burst_concurrency,
        idle_s=options.idle_s,
    )
    for wave in waves:
        if wave.pause_s:
            time.sleep(wave.pause_s)
        events = [factory.next_event() for _ in range(wave.count)]
        with ThreadPoolExecutor(wave.concurrency, thread_name_prefix="fnlens-demo") as pool:
            for future in [pool.submit(one, e) for e in events]:
                future.result()


def _ingest(result: DemoResult, telemetry_dir: Path) -> None:
    from fnlens.analysis.ingest import ingest

    # the log streams are the CloudWatch path (platform lines + fnlens records);
    # spans come from the file exporter when no collector took them
    paths: list[Path] = [result.logs_dir]
    traces = sorted(telemetry_dir.glob("*.otlp.jsonl")) if telemetry_dir.is_dir() else []
    paths.extend(traces)
    report = ingest(paths, db=str(result.db_path), progress=False)
    result.ingest = {
        "files": len(report.files),
        "totals": dict(report.totals),
        "malformed": report.malformed_count,
        "seconds": report.seconds,
    }


def _query(result: DemoResult) -> None:
    from fnlens.analysis.catalog import get_query
    from fnlens.analysis.db import open_db

    con = open_db(result.db_path)
    try:
        window = {"function": FUNCTION_NAME}
        result.per_version = _rows(get_query("per_version").run(con, window))
        errors = _rows(get_query("error_rate").run(con, window))
        latency = _rows(get_query("latency").run(con, window))
        result.headline = {**(errors[0] if errors else {}), **(latency[0] if latency else {})}
        result.headline["cold_starts"] = sum(r["cold_starts"] or 0 for r in result.per_version)
        for row in result.per_version:
            version = row["version"]
            result.routes[version] = _rows(
                get_query("slow_routes").run(con, {**window, "version": version})
            )
        result.errors = _rows(get_query("top_errors").run(con, {**window, "limit": 5}))
        result.comparison = _compare(con)
    finally:
        con.close()


def _compare(con: Any) -> Any:
    """The canary verdict for version 2 against version 1, default thresholds."""
    from fnlens.analysis._compare import Selector, compare

    return compare(con, Selector("1"), Selector("2"), function=FUNCTION_NAME)


def _rows(cursor: Any) -> list[Row]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _html(result: DemoResult) -> None:
    try:
        from fnlens.report import write_html
    except ImportError:
        result.report_note = "HTML report not available in this installation"
        return
    path = result.out_dir / "report.html"
    write_html(result.db_path, path, function=FUNCTION_NAME, title="fnlens demo: orders-api")
    result.report_path = path
