"""Golden verdict for the demo's data: version 2 fails on error rate and on `GET /orders`
latency, and `KeyError` is a new error type (the example app's two deliberate bugs)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")
pytest.importorskip("scipy")
pytest.importorskip("fnlens.analysis.ingest")

from fnlens.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(400)]


def test_demo_verdict_for_version_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    result = run_demo(
        DemoOptions(out_dir=tmp_path, invocations=1200, canary_weight=0.5, seed=11, html=False)
    )
    c = result.comparison
    assert c is not None
    assert c.verdict == "fail" and c.exit_code == 1
    overall = {m.metric: m for m in c.overall}
    assert overall["error_rate"].status == "fail"
    assert overall["error_rate"].baseline == 0.0  # v1 never fails
    orders = {m.metric: m for m in c.for_route("GET /orders")}
    assert orders["latency"].status == "fail"
    assert orders["latency"].change > 1.0  # 25 sequential lookups: far more than double
    # routes v2 did not touch do not fail on latency
    for route in ("GET /health", "GET /orders/{id}"):
        if route in c.routes:
            assert {m.metric: m for m in c.for_route(route)}["latency"].status != "fail"
    new = {e["error_type"]: e for e in c.new_error_types}
    assert set(new) == {"KeyError"}
    assert "currency" in (new["KeyError"]["sample_message"] or "")
    assert new["KeyError"]["occurrences"] == sum(
        e["occurrences"] for e in result.errors if e["error_type"] == "KeyError"
    )
