"""Deterministic fnlens JSONL for the report tests, shaped like the middleware writes it.

Two functions over three hours. ``orders-api`` ships version 42 halfway through
and it is worse than 41 (slower, more errors), so the report has a regression
to put first. One error message carries HTML to prove the page escapes it.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

START = datetime(2024, 5, 1, 9, 0, 0)
HOURS = 3
ROUTES = [("GET", "/orders"), ("GET", "/orders/{id}"), ("POST", "/orders"), ("GET", "/health")]
ROUTE_MS = {"/orders": 35.0, "/orders/{id}": 22.0, "POST /orders": 80.0, "/health": 3.0}
ERRORS = [
    ("ValueError", "invalid order id 'abc'"),
    ("ClientError", "An error occurred (ThrottlingException) when calling the PutItem operation"),
    ("KeyError", "'customer' <script>alert(1)</script>"),
]
# (function, version, from minute, to minute, latency factor, error rate, memory)
DEPLOYS = [
    ("orders-api", "41", 0, 90, 1.0, 0.01, 512),
    ("orders-api", "42", 90, 180, 1.7, 0.06, 512),
    ("worker", "7", 0, 120, 1.0, 0.02, 256),
    ("worker", "8", 120, 180, 0.9, 0.02, 256),
]


def records(n: int = 4000, seed: int = 5) -> list[dict]:
    """``n`` invocation records, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    warm: set[tuple[str, str]] = set()
    for i in range(n):
        minute = rng.uniform(0, HOURS * 60)
        function = "orders-api" if rng.random() < 0.75 else "worker"
        fn, version, _, _, factor, err_rate, memory = next(
            d for d in DEPLOYS if d[0] == function and d[2] <= minute < d[3]
        )
        cold = (fn, version) not in warm or rng.random() < 0.03
        warm.add((fn, version))
        method, route = rng.choice(ROUTES) if fn == "orders-api" else (None, None)
        base = ROUTE_MS.get(f"{method} {route}", ROUTE_MS.get(route or "", 120.0))
        duration = round(rng.lognormvariate(math.log(base * factor), 0.5), 3)
        roll = rng.random()
        outcome, error_type, error_message = "success", None, None
        if factor > 1 and roll < 0.006:  # only the bad release times out
            outcome, error_type, error_message = "timeout", "Timeout", "Task timed out after 3.00 s"
            duration = 3000.0
        elif roll < err_rate:
            outcome = "error"
            error_type, error_message = rng.choice(ERRORS)
        ts = START + timedelta(minutes=minute)
        out.append(
            {
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "level": "info" if outcome == "success" else "error",
                "event": "invocation",
                "service": "shop",
                "service_version": None,
                "cloud_provider": "aws",
                "region": "eu-west-1",
                "function_name": fn,
                "function_version": version,
                "function_alias": "live",
                "memory_limit_mb": memory,
                "request_id": f"{seed:02d}{i:06d}-0000-4000-8000-{rng.getrandbits(48):012x}",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "span_id": f"{rng.getrandbits(64):016x}",
                "cold_start": cold,
                "init_type": "on-demand",
                "init_duration_ms": round(rng.uniform(250, 700) * factor, 2) if cold else None,
                "duration_ms": duration,
                "outcome": outcome,
                "error_type": error_type,
                "error_message": error_message,
                "trigger": "http" if route else "other",
                "event_source": "aws:apigateway:v2" if route else "aws:sqs",
                "http_method": method,
                "http_route": route,
                "http_status_code": (200 if outcome == "success" else 500) if route else None,
                "telemetry_flush_ms": 0.4,
                "telemetry_dropped": 0,
            }
        )
    out.sort(key=lambda r: r["timestamp"])
    return out


def write_jsonl(path: Path, n: int = 4000, seed: int = 5) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records(n, seed)), encoding="utf-8")
    return path
