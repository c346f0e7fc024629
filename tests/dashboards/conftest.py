"""Fixtures: AWS credentials for moto (the server is tests/conftest.py's ``moto_server``),
and a fixture fnlens database."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so boto3 signs requests to moto without touching real AWS config."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)


def _records(n: int = 1500, seed: int = 11) -> list[dict[str, Any]]:
    """fnlens invocation records: two functions, two versions each, errors and cold starts."""
    rng = random.Random(seed)
    start = datetime(2024, 6, 1, 12, 0, 0)
    out = []
    for i in range(n):
        fn = "orders-api" if rng.random() < 0.7 else "worker"
        minute = rng.uniform(0, 120)
        version = ("1" if minute < 60 else "2") if fn == "orders-api" else "7"
        outcome = rng.choices(["success", "error", "timeout"], [0.93, 0.05, 0.02])[0]
        cold = i < 3 or rng.random() < 0.04
        route = rng.choice(["/orders", "/orders/{id}"]) if fn == "orders-api" else None
        out.append(
            {
                "timestamp": (start + timedelta(minutes=minute)).isoformat() + "Z",
                "level": "info" if outcome == "success" else "error",
                "event": "invocation",
                "service": "shop",
                "function_name": fn,
                "function_version": version,
                "memory_limit_mb": 256,
                "request_id": f"req-{seed}-{i}",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "cold_start": cold,
                "init_type": "on-demand",
                "init_duration_ms": rng.uniform(200, 600) if cold else None,
                "duration_ms": rng.lognormvariate(3.5, 0.6) if outcome != "timeout" else 3000.0,
                "outcome": outcome,
                "error_type": "ValueError" if outcome == "error" else None,
                "error_message": "bad input\nTraceback ..." if outcome == "error" else None,
                "trigger": "http" if route else "other",
                "http_method": "GET" if route else None,
                "http_route": route,
                "http_status_code": (200 if outcome == "success" else 500) if route else None,
            }
        )
    return out


@pytest.fixture(scope="session")
def fnlens_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fnlens DuckDB file built by the real ingest from generated JSONL."""
    from fnlens.analysis.ingest import ingest

    folder = tmp_path_factory.mktemp("dash-db")
    source = folder / "records.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    db = folder / "fnlens.duckdb"
    report = ingest([source], db=str(db), progress=False, strict=True)
    assert report.totals["invocations"] == 1500
    return db
