"""Independent Python answers for every canned query, to compare the SQL against.

Written from the query descriptions, not from the SQL: plain loops, sorting and
``statistics``. Percentiles use the nearest-rank method: the p-th percentile of
n sorted values is the value at 1-based rank ceil(p/100 * n), computed with
exact fractions (so 0.95 * 20 is exactly 19). Nothing here is rounded: tests
compare with a tolerance equal to the rounding the SQL applies to that column.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from fractions import Fraction
from statistics import fmean
from typing import Any

Row = dict[str, Any]
EPOCH = datetime(1970, 1, 1)


def nearest_rank(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1): smallest value with at least q of the data <= it."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    rank = max(1, math.ceil(Fraction(str(q)) * len(ordered)))
    return ordered[rank - 1]


def is_error(r: Row) -> bool:
    return (r["outcome"] or "success") != "success"


def is_cold(r: Row) -> bool:
    return r["cold_start"] if r["cold_start"] is not None else r["init_duration_ms"] is not None


def gb_seconds(r: Row) -> float | None:
    billed = r["billed_duration_ms"]
    if billed is None and r["duration_ms"] is not None:
        billed = math.ceil(r["duration_ms"])
    if billed is None or r["memory_size_mb"] is None:
        return None
    return billed / 1000 * r["memory_size_mb"] / 1024


def cost_gb_seconds(r: Row, init_billed_since: datetime) -> float | None:
    """What `cost` bills: the invocation, SnapStart's billed restore, and on-demand INIT
    from ``init_billed_since`` on unless the billed duration already holds it."""
    billed = r["billed_duration_ms"]
    if billed is None and r["duration_ms"] is not None:
        billed = math.ceil(r["duration_ms"])
    if billed is None or r["memory_size_mb"] is None:
        return None
    billed += r.get("billed_restore_duration_ms") or 0
    init = r["init_duration_ms"]
    if (
        init is not None
        and r["ts"] is not None
        and r["ts"] >= init_billed_since
        and (r.get("init_type") or "on-demand") == "on-demand"
        and (r["billed_duration_ms"] or math.ceil(r["duration_ms"] or 0))
        < (r["duration_ms"] or 0) + init
    ):
        billed += math.ceil(init)
    return billed / 1000 * r["memory_size_mb"] / 1024


def bucket_of(ts: datetime, size: timedelta) -> datetime:
    """Floor to a multiple of ``size`` since the Unix epoch (what bin() and time_bucket do)."""
    step = int(size.total_seconds() * 1_000_000)
    micros = (ts - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=micros - micros % step)


def window(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    """The common filters: since (inclusive), until (exclusive), function, version."""
    out = []
    for r in rows:
        if p.get("since") is not None and r["ts"] < p["since"]:
            continue
        if p.get("until") is not None and r["ts"] >= p["until"]:
            continue
        if p.get("function") is not None and r["function_name"] != p["function"]:
            continue
        if p.get("version") is not None and r["version"] != p["version"]:
            continue
        out.append(r)
    return out


def group(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return groups


def pct(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _sum_or_none(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _avg(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def _max(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# --- one function per canned query -----------------------------------------------


def error_rate(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for fn, rs in group(window(rows, p), lambda r: r["function_name"]).items():
        errors = sum(is_error(r) for r in rs)
        out.append(
            {
                "function_name": fn,
                "invocations": len(rs),
                "errors": errors,
                "timeouts": sum(r["outcome"] == "timeout" for r in rs),
                "error_rate_pct": pct(errors, len(rs)),
            }
        )
    return sorted(out, key=lambda r: (-r["invocations"], r["function_name"]))


def latency(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    measured = [r for r in window(rows, p) if r["duration_ms"] is not None]
    for fn, rs in group(measured, lambda r: r["function_name"]).items():
        d = [r["duration_ms"] for r in rs]
        out.append(
            {
                "function_name": fn,
                "invocations": len(d),
                "avg_ms": fmean(d),
                "p50_ms": nearest_rank(d, 0.5),
                "p90_ms": nearest_rank(d, 0.9),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "max_ms": max(d),
            }
        )
    return sorted(out, key=lambda r: (-r["invocations"], r["function_name"]))


def per_version(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for (fn, version), rs in group(
        window(rows, p), lambda r: (r["function_name"], r["version"])
    ).items():
        d = [r["duration_ms"] for r in rs]
        errors = sum(is_error(r) for r in rs)
        cold = sum(is_cold(r) for r in rs)
        out.append(
            {
                "function_name": fn,
                "version": version,
                "invocations": len(rs),
                "errors": errors,
                "error_rate_pct": pct(errors, len(rs)),
                "p50_ms": nearest_rank(d, 0.5),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "cold_starts": cold,
                "cold_start_pct": pct(cold, len(rs)),
                "avg_init_ms": _avg(r["init_duration_ms"] for r in rs),
                "billed_gb_s": _sum_or_none(gb_seconds(r) for r in rs),
                "first_seen": min(r["ts"] for r in rs),
                "last_seen": max(r["ts"] for r in rs),
            }
        )
    return sorted(out, key=lambda r: (r["function_name"], r["first_seen"], r["version"]))


def startup_ms(r: Row) -> float | None:
    """Cold-start latency: Init Duration plus SnapStart's Restore Duration."""
    init, restore = r["init_duration_ms"], r.get("restore_duration_ms")
    if init is None and restore is None:
        return None
    return (init or 0) + (restore or 0)


def cold_starts(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for b, rs in group(window(rows, p), lambda r: bucket_of(r["ts"], p["bucket"])).items():
        cold = sum(
            r["cold_start"] if r["cold_start"] is not None else startup_ms(r) is not None
            for r in rs
        )
        out.append(
            {
                "bucket": b,
                "invocations": len(rs),
                "cold_starts": cold,
                "cold_start_pct": pct(cold, len(rs)),
                "avg_init_ms": _avg(startup_ms(r) for r in rs),
                "max_init_ms": _max(startup_ms(r) for r in rs),
            }
        )
    return sorted(out, key=lambda r: r["bucket"])


def timeline(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for b, rs in group(window(rows, p), lambda r: bucket_of(r["ts"], p["bucket"])).items():
        d = [r["duration_ms"] for r in rs]
        errors = sum(is_error(r) for r in rs)
        out.append(
            {
                "bucket": b,
                "invocations": len(rs),
                "errors": errors,
                "error_rate_pct": pct(errors, len(rs)),
                "p50_ms": nearest_rank(d, 0.5),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "cold_starts": sum(is_cold(r) for r in rs),
                "billed_gb_s": _sum_or_none(gb_seconds(r) for r in rs),
            }
        )
    return sorted(out, key=lambda r: r["bucket"])


def top_errors(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    failed = [r for r in window(rows, p) if is_error(r)]

    def key(r: Row) -> tuple[str, str, str]:
        message = (r["error_message"] or "").split("\n", 1)[0][:200]
        return (r["function_name"], r["error_type"] or r["outcome"], message)

    out = []
    for (fn, etype, message), rs in group(failed, key).items():
        latest = max(rs, key=lambda r: r["ts"])
        out.append(
            {
                "function_name": fn,
                "error_type": etype,
                "error_message": message,
                "occurrences": len(rs),
                "pct_of_errors": pct(len(rs), len(failed)),
                "versions": ", ".join(sorted({r["version"] for r in rs})),
                "first_seen": min(r["ts"] for r in rs),
                "last_seen": latest["ts"],
                "example_request_id": latest["request_id"],
            }
        )
    out.sort(
        key=lambda r: (-r["occurrences"], r["function_name"], r["error_type"], r["error_message"])
    )
    return out[: p["limit"]]


def slow_routes(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    routed = [r for r in window(rows, p) if r["http_route"] is not None]
    out = []
    for (fn, method, route), rs in group(
        routed, lambda r: (r["function_name"], r["http_method"], r["http_route"])
    ).items():
        if len(rs) < p["min_invocations"]:
            continue
        d = [r["duration_ms"] for r in rs]
        out.append(
            {
                "function_name": fn,
                "http_method": method,
                "http_route": route,
                "invocations": len(rs),
                "p50_ms": nearest_rank(d, 0.5),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "max_ms": _max(d),
                "error_rate_pct": pct(sum(is_error(r) for r in rs), len(rs)),
            }
        )
    out.sort(
        key=lambda r: (
            -r["p95_ms"],
            -r["invocations"],
            r["function_name"],
            r["http_method"],
            r["http_route"],
        )
    )
    return out[: p["limit"]]


def timeouts(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for (b, fn), rs in group(
        window(rows, p), lambda r: (bucket_of(r["ts"], p["bucket"]), r["function_name"])
    ).items():
        timed_out = [r for r in rs if r["outcome"] == "timeout"]
        if not timed_out:
            continue
        out.append(
            {
                "bucket": b,
                "function_name": fn,
                "timeouts": len(timed_out),
                "invocations": len(rs),
                "timeout_pct": pct(len(timed_out), len(rs)),
                "max_timeout_duration_ms": max(r["duration_ms"] for r in timed_out),
                "versions": ", ".join(sorted({r["version"] for r in timed_out})),
            }
        )
    return sorted(out, key=lambda r: (r["bucket"], r["function_name"]))


def memory(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    known = [
        r
        for r in window(rows, p)
        if r["memory_size_mb"] is not None and r["max_memory_used_mb"] is not None
    ]
    out = []
    for (fn, mem), rs in group(known, lambda r: (r["function_name"], r["memory_size_mb"])).items():
        used = [r["max_memory_used_mb"] for r in rs]
        peak = max(used)
        suggested = math.ceil(peak * (1 + p["headroom_pct"] / 100))
        out.append(
            {
                "function_name": fn,
                "memory_size_mb": mem,
                "invocations": len(rs),
                "min_used_mb": min(used),
                "avg_used_mb": fmean(used),
                "p95_used_mb": nearest_rank(used, 0.95),
                "max_used_mb": peak,
                "peak_utilisation_pct": 100 * peak / mem,
                "over_provisioned_mb": mem - peak,
                "at_limit": sum(u >= mem for u in used),
                "suggested_memory_mb": min(10240, max(128, suggested)),
            }
        )
    return sorted(
        out, key=lambda r: (-r["over_provisioned_mb"], r["function_name"], r["memory_size_mb"])
    )


def _managed_note(rs: list[Row]) -> str | None:
    n = sum(1 for r in rs if r["init_type"] == "managed-instances")
    if not n:
        return None
    return (
        "Lambda Managed Instances: billed per EC2 instance plus a management fee, not per "
        f"GB-second; {n} of these invocations ran there"
    )


def cost(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    out = []
    for (fn, version, mem), rs in group(
        window(rows, p), lambda r: (r["function_name"], r["version"], r["memory_size_mb"])
    ).items():
        gbs = _sum_or_none(cost_gb_seconds(r, p["init_billed_since"]) for r in rs) or 0.0
        compute = gbs * p["price_per_gb_second"]
        requests = len(rs) * p["price_per_request"]
        out.append(
            {
                "function_name": fn,
                "version": version,
                "memory_size_mb": mem,
                "invocations": len(rs),
                "billed_gb_s": gbs,
                "compute_cost_usd": compute,
                "request_cost_usd": requests,
                "total_cost_usd": compute + requests,
                "cost_per_million_usd": 1e6 * (compute + requests) / len(rs),
                "pricing_note": _managed_note(rs),
            }
        )

    def order(r: Row) -> tuple[Any, ...]:
        # NULL memory sorts last in DuckDB's default ascending order
        mem = r["memory_size_mb"]
        return (
            -round(r["total_cost_usd"], 6),
            r["function_name"],
            r["version"],
            mem is None,
            mem or 0,
        )

    return sorted(out, key=order)


def warm_latency(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    warm = [r for r in window(rows, p) if not is_cold(r) and r["duration_ms"] is not None]
    out = []
    for (fn, version), rs in group(warm, lambda r: (r["function_name"], r["version"])).items():
        d = [r["duration_ms"] for r in rs]
        out.append(
            {
                "function_name": fn,
                "version": version,
                "warm_invocations": len(d),
                "p50_ms": nearest_rank(d, 0.5),
                "p90_ms": nearest_rank(d, 0.9),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "max_ms": max(d),
                "_first": min(r["ts"] for r in rs),
            }
        )
    out.sort(key=lambda r: (r["function_name"], r["_first"], r["version"]))
    for r in out:
        del r["_first"]
    return out


def most_expensive(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    priced = [(gb_seconds(r), r) for r in window(rows, p)]
    priced = [(g, r) for g, r in priced if g is not None]
    priced.sort(key=lambda gr: (-gr[0], gr[1]["ts"], gr[1]["request_id"]))
    return [
        {
            "ts": r["ts"],
            "function_name": r["function_name"],
            "version": r["version"],
            "request_id": r["request_id"],
            "outcome": r["outcome"],
            "http_route": r["http_route"],
            "duration_ms": r["duration_ms"],
            "billed_duration_ms": r["billed_duration_ms"],
            "memory_size_mb": r["memory_size_mb"],
            "billed_gb_s": g,
            "compute_cost_usd": g * p["price_per_gb_second"],
        }
        for g, r in priced[: p["limit"]]
    ]


def billed_duration(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    billed = [r for r in window(rows, p) if r["billed_duration_ms"] is not None]
    out = []
    for b, rs in group(billed, lambda r: bucket_of(r["ts"], p["bucket"])).items():
        d = [r["billed_duration_ms"] for r in rs]
        out.append(
            {
                "bucket": b,
                "invocations": len(d),
                "avg_ms": fmean(d),
                "p90_ms": nearest_rank(d, 0.9),
                "p95_ms": nearest_rank(d, 0.95),
                "p99_ms": nearest_rank(d, 0.99),
                "max_ms": max(d),
            }
        )
    return sorted(out, key=lambda r: r["bucket"])


def concurrency(rows: list[Row], p: dict[str, Any]) -> list[Row]:
    """Brute force: the concurrency at an instant t is the number of invocations with
    start <= t < end; within a bucket it can only rise at the bucket's start or at an
    invocation start, so those instants are the candidates for the peak."""
    size: timedelta = p["bucket"]
    runs = [
        (r, r["ts"], r["ts"] + timedelta(microseconds=round(r["duration_ms"] * 1000)))
        for r in window(rows, p)
        if r["duration_ms"] is not None and r["duration_ms"] > 0
    ]
    out = []
    groups = group(runs, lambda x: (x[0]["function_name"], x[0]["log_stream"]))
    for (fn, env), rs in groups.items():
        buckets: dict[datetime, list[tuple[datetime, datetime]]] = defaultdict(list)
        for _, start, end in rs:
            b = bucket_of(start, size)
            while b < end:
                buckets[b].append((start, end))
                b += size
        for b, spans in buckets.items():
            candidates = [b] + [s for s, _ in spans if s >= b]
            peak = max(sum(1 for s, e in spans if s <= t < e) for t in candidates)
            busy = sum(
                ((min(e, b + size) - max(s, b)) / timedelta(microseconds=1)) / 1000
                for s, e in spans
            )
            out.append(
                {
                    "function_name": fn,
                    "environment": env,
                    "bucket": b,
                    "invocations": sum(1 for s, _ in spans if s >= b),
                    "peak_concurrency": peak,
                    "busy_ms": busy,
                    "avg_concurrency": busy / (size / timedelta(milliseconds=1)),
                }
            )
    return sorted(
        out,
        key=lambda r: (
            r["function_name"],
            r["environment"] is None,
            r["environment"] or "",
            r["bucket"],
        ),
    )


REFERENCES: dict[str, Callable[[list[Row], dict[str, Any]], list[Row]]] = {
    f.__name__: f
    for f in (
        error_rate,
        latency,
        per_version,
        cold_starts,
        timeline,
        top_errors,
        slow_routes,
        timeouts,
        memory,
        cost,
        warm_latency,
        most_expensive,
        billed_duration,
        concurrency,
    )
}
