"""Deterministic invocation data for the canned-query tests.

Rows go straight into the ``invocations`` table, shaped as ingest would write
them. The mix is chosen to hit every branch the queries have: several functions,
versions and memory sizes, cold starts with and without Init Duration (SnapStart
style), rows whose ``cold_start`` is unknown (REPORT-only), errors with
multi-line messages, timeouts without an error type, unknown outcomes, missing
billed durations (fnlens-only rows), missing durations and memory figures, and
rows exactly on the edges of the time window the tests use.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from fnlens.analysis._schema import INVOCATIONS_COLUMNS

START = datetime(2024, 3, 1, 0, 0, 0)
SPAN = timedelta(hours=2)

# function -> list of (version, memory_mb, starts_at_offset_minutes)
DEPLOYS = {
    "orders-api": [("1", 256, 0), ("2", 512, 40), ("3", 1024, 80)],
    "worker": [("7", 128, 0), ("8", 128, 70)],
}
ROUTES = [("GET", "/orders"), ("GET", "/orders/{id}"), ("POST", "/orders"), ("GET", "/health")]
ERRORS = [
    ("ValueError", "invalid order id 'abc'"),
    ("KeyError", "'customer'\nTraceback (most recent call last):\n  File handler.py"),
    ("ClientError", "An error occurred (ThrottlingException) when calling PutItem"),
]
TIMEOUT_MS = 3000.0


def generate(n: int = 3000, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` invocation rows, the same for the same seed."""
    rng = random.Random(seed)
    rows = []
    seen_version: set[tuple[str, str]] = set()
    for i in range(n):
        function = "orders-api" if rng.random() < 0.7 else "worker"
        offset = timedelta(microseconds=rng.randrange(int(SPAN.total_seconds() * 1e6)))
        if i % 500 in (0, 1):  # exactly on the edges of the window the tests filter by
            offset = timedelta(minutes=20 if i % 500 == 0 else 100)
        ts = START + offset
        minutes = offset.total_seconds() / 60
        version, memory, _ = [d for d in DEPLOYS[function] if d[2] <= minutes][-1]
        first = (function, version) not in seen_version
        seen_version.add((function, version))

        cold = first or rng.random() < 0.06
        snapstart = cold and rng.random() < 0.1  # cold, but no Init Duration on REPORT
        init = None if not cold or snapstart else round(rng.uniform(150, 900), 2)
        report_only = rng.random() < 0.2
        cold_start = None if report_only and not snapstart else cold

        roll = rng.random()
        if roll < 0.03:
            outcome, duration = "timeout", TIMEOUT_MS + round(rng.uniform(0, 2), 2)
        else:
            scale = {"1": 40, "2": 65, "3": 30, "7": 120, "8": 90}[version]
            duration = round(rng.lognormvariate(math.log(scale), 0.6), 2)
            outcome = "error" if roll < 0.09 else "success"
            if roll > 0.995:
                outcome = None  # unknown outcome: counted as not an error
        error_type = error_message = None
        if outcome == "error":
            error_type, error_message = rng.choice(ERRORS)
        billed = None if rng.random() < 0.1 else float(math.ceil(duration))
        if outcome != "timeout" and rng.random() < 0.01:
            duration = billed = None  # e.g. only application log lines for this request
        known_memory = rng.random() > 0.03
        used = min(memory, int(rng.uniform(0.25, 1.05) * memory * (0.5 if memory > 300 else 1)))
        method, route = rng.choice(ROUTES) if function == "orders-api" else (None, None)
        status = None
        if route is not None:
            status = 200 if outcome == "success" else 500 if outcome else None
        rows.append(
            {
                "ts": ts,
                "service": "shop",
                "function_name": function,
                "function_version": version,
                "function_alias": "live",
                "service_version": None,
                "version": version,
                "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "trace_id": f"{rng.getrandbits(128):032x}",
                "cold_start": cold_start,
                "init_type": (
                    "snap-start"
                    if snapstart
                    # a few on Lambda Managed Instances: cost says its model does not apply
                    else "managed-instances"
                    if function == "worker" and version == "8" and i % 5 == 0
                    else "on-demand"
                ),
                "init_duration_ms": init,
                "duration_ms": duration,
                "billed_duration_ms": billed,
                "memory_size_mb": memory if known_memory else None,
                "max_memory_used_mb": used if known_memory else None,
                "outcome": outcome,
                "error_type": error_type,
                "error_message": error_message,
                "trigger": "http" if route else "other",
                "http_method": method,
                "http_route": route,
                "http_status_code": status,
                "region": "eu-west-1",
                "log_stream": f"2024/03/01/[{version}]{i % 7:032x}",
                "source": "report" if report_only else "fnlens+report",
            }
        )
    return rows


_ARROW_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
}


def insert(con: Any, rows: list[dict[str, Any]]) -> None:
    """Append rows to ``invocations`` in one Arrow batch (fast, types exact)."""
    columns = list(INVOCATIONS_COLUMNS)
    arrays = {
        c: pa.array([r.get(c) for r in rows], type=_ARROW_TYPES[INVOCATIONS_COLUMNS[c]])
        for c in columns
    }
    batch = pa.table(arrays)  # noqa: F841 - referenced by name in the SQL below
    con.execute(f"INSERT INTO invocations ({', '.join(columns)}) SELECT * FROM batch")
