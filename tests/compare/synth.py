"""Synthetic canaries: invocations of a baseline and a candidate with known differences.

Rows go into a real fnlens database (the schema's DDL) through pyarrow, the
way a large ingest would; the tests then count what the rows hold with plain
numpy and compare that with what `fnlens compare` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

ROUTES = [("GET", "/orders"), ("GET", "/orders/{id}"), ("POST", "/orders")]
START = datetime(2026, 11, 2, 9, 0, 0)


@dataclass(frozen=True)
class Shape:
    """How one version behaves."""

    version: str
    n: int
    error_rate: float = 0.01
    timeout_rate: float = 0.0
    latency_factor: float = 1.0
    slow_route: str | None = None  # only this route is slower by latency_factor
    cold_rate: float = 0.02
    memory_mb: int = 512
    extra_error: str | None = None  # an error type only this version raises
    start: datetime = START


def rows(shape: Shape, rng: np.random.Generator) -> dict[str, list[Any]]:
    n = shape.n
    route_idx = rng.integers(0, len(ROUTES), n)
    base_ms = np.array([30.0, 18.0, 60.0])[route_idx]
    factor = np.ones(n)
    if shape.slow_route is None:
        factor *= shape.latency_factor
    else:
        slow = np.array([f"{m} {r}" == shape.slow_route for m, r in ROUTES])[route_idx]
        factor = np.where(slow, shape.latency_factor, 1.0)
    duration = np.round(rng.lognormal(np.log(base_ms), 0.45) * factor, 3)
    roll = rng.random(n)
    outcome = np.where(
        roll < shape.timeout_rate,
        "timeout",
        np.where(roll < shape.timeout_rate + shape.error_rate, "error", "success"),
    )
    duration = np.where(outcome == "timeout", 3000.0, duration)
    cold = rng.random(n) < shape.cold_rate
    init = np.where(cold, np.round(rng.lognormal(np.log(400), 0.2, n), 2), np.nan)
    memory = rng.integers(int(shape.memory_mb * 0.2), int(shape.memory_mb * 0.3), n)
    error_type = []
    error_message = []
    for i in range(n):
        if outcome[i] == "timeout":
            error_type.append("Timeout")
            error_message.append("Task timed out after 3.00 seconds")
        elif outcome[i] == "error":
            if shape.extra_error and rng.random() < 0.5:
                error_type.append(shape.extra_error)
                error_message.append(f"{shape.extra_error}: 'currency' (request {i})")
            else:
                error_type.append("ValueError")
                error_message.append("invalid order id")
        else:
            error_type.append(None)
            error_message.append(None)
    seconds = np.sort(rng.uniform(0, 3600, n))
    return {
        "ts": [shape.start + timedelta(seconds=float(s)) for s in seconds],
        "service": ["orders"] * n,
        "function_name": ["orders-api"] * n,
        "function_version": [shape.version] * n,
        "function_alias": ["live"] * n,
        "service_version": [None] * n,
        "version": [shape.version] * n,
        "request_id": [f"{shape.version}-{i:07d}" for i in range(n)],
        "trace_id": [None] * n,
        "cold_start": cold.tolist(),
        "init_type": ["on-demand" if c else None for c in cold],
        "init_duration_ms": [None if np.isnan(v) else float(v) for v in init],
        "duration_ms": duration.tolist(),
        "billed_duration_ms": np.ceil(duration).tolist(),
        "memory_size_mb": [shape.memory_mb] * n,
        "max_memory_used_mb": memory.tolist(),
        "outcome": outcome.tolist(),
        "error_type": error_type,
        "error_message": error_message,
        "trigger": ["http"] * n,
        "http_method": [ROUTES[i][0] for i in route_idx],
        "http_route": [ROUTES[i][1] for i in route_idx],
        "http_status_code": [500 if o != "success" else 200 for o in outcome],
        "region": ["eu-west-1"] * n,
        "log_stream": [None] * n,
        "source": ["synthetic"] * n,
        # SnapStart and Telemetry API columns: a synthetic on-demand function has none
        "restore_duration_ms": [None] * n,
        "billed_restore_duration_ms": [None] * n,
        "produced_bytes": [None] * n,
        "response_latency_ms": [None] * n,
        "response_duration_ms": [None] * n,
        "runtime_overhead_ms": [None] * n,
        "attempt": [1] * n,  # every request id once: its first attempt
        "cloud_provider": ["aws"] * n,
    }


def load(con: Any, *shapes: Shape, seed: int = 0) -> dict[str, dict[str, list[Any]]]:
    """Insert the versions' rows; returns them (column lists per version) for counting."""
    import pyarrow as pa

    from fnlens.analysis._schema import INVOCATIONS_COLUMNS

    rng = np.random.default_rng(seed)
    out = {}
    for shape in shapes:
        data = rows(shape, rng)
        arrow_rows = pa.table({name: data[name] for name in INVOCATIONS_COLUMNS})  # noqa: F841
        con.execute("INSERT INTO invocations SELECT * FROM arrow_rows")
        out[shape.version] = data
    return out


def fresh_db() -> Any:
    from fnlens.analysis.db import memory_db

    con = memory_db()
    con.execute("SET threads TO 1")  # a few thousand rows: threads only add scheduling
    return con
