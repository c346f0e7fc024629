"""Deadline: a timeout record is written and flushed before the platform would kill us."""

from __future__ import annotations

import threading
import time

import fnlens
from fnlens.runtime.watchdog import WATCHDOG
from fnlens.testing import LambdaContext, events


def test_timeout_recorded_before_deadline_exactly_once(telemetry):
    release = threading.Event()
    seen_at = {}

    class Probe:
        def emit(self, event):
            if event.get("event") == "invocation":
                seen_at["t"] = time.monotonic()

        def flush(self, timeout_s):
            seen_at["flushed"] = True

        def shutdown(self):
            pass

    probe = Probe()
    fnlens.configure(sinks=[probe])
    try:

        @fnlens.instrument(timeout_margin_ms=100)
        def handler(event, context):
            release.wait(2.0)  # a slow dependency
            return {"statusCode": 200}

        context = LambdaContext(timeout_ms=300)
        start = time.monotonic()
        result = handler(events.api_gateway_v2("GET /slow"), context)
    finally:
        from fnlens.runtime.telemetry import TELEMETRY

        TELEMETRY.remove_sink(probe)

    assert result == {"statusCode": 200}  # the handler's own result is untouched
    record = telemetry.invocation()  # exactly one record, although the handler returned later
    assert record["outcome"] == "timeout"
    assert record["level"] == "error"
    assert record["error_type"] == "Timeout"
    assert record["http_status_code"] == 500
    elapsed_at_record = seen_at["t"] - start
    assert 0.15 <= elapsed_at_record < 0.3, elapsed_at_record  # before the 300 ms deadline
    assert seen_at.get("flushed") is True


def test_fast_invocations_disarm_the_watchdog(telemetry):
    @fnlens.instrument
    def handler(event, context):
        return 1

    threads_before = threading.active_count()
    for _ in range(50):
        handler({}, LambdaContext(timeout_ms=60_000))
    assert all(r["outcome"] == "success" for r in telemetry.records)
    assert not WATCHDOG._armed
    # one reusable watchdog thread, not one per invocation
    assert threading.active_count() <= threads_before + 1
    names = [t.name for t in threading.enumerate()]
    assert names.count("fnlens-watchdog") == 1
