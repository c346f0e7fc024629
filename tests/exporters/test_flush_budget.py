"""A dead or hung collector costs at most the flush budget; drops are counted."""

from __future__ import annotations

import threading
import time

import pytest

import fnlens
from fnlens.exporters._queue import ExportQueue
from fnlens.runtime._telemetry import TELEMETRY
from fnlens.testing import LambdaContext, capture, events
from tests.support.net import closed_port
from tests.support.timing import SLACK_S, bound_ms

BUDGET_MS = 20.0
EXPORT_TIMEOUT_S = 3.0  # the exporter's own: 3x the bound, so waiting for it fails the test


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("collector", ["down", "black-hole"])
def test_unreachable_collector_costs_at_most_the_budget(install, black_hole, protocol, collector):
    endpoint = (
        black_hole.endpoint if collector == "black-hole" else f"http://127.0.0.1:{closed_port()}"
    )
    install(
        ["otlp"],
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        otlp_timeout_s=EXPORT_TIMEOUT_S,
        flush_mode="budget",
    )
    sentinel = {"statusCode": 200, "body": "unchanged"}

    @fnlens.instrument(flush_budget_ms=BUDGET_MS)
    def handler(event, context):
        fnlens.get_logger().info("work")
        return sentinel

    walls = []
    with capture() as captured:
        for _ in range(15):
            start = time.perf_counter()
            result = handler(events.api_gateway_v2(), LambdaContext())
            walls.append((time.perf_counter() - start) * 1000)
            assert result is sentinel
        # exports fail after the exporter's own timeout, on the worker thread
        deadline = time.monotonic() + EXPORT_TIMEOUT_S + 15
        while TELEMETRY.dropped() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.perf_counter()
        assert handler(events.api_gateway_v2(), LambdaContext()) is sentinel
        walls.append((time.perf_counter() - start) * 1000)

    records = captured.records
    assert len(records) == 16
    # the exporter's own timeout is 3 s: waiting for it would blow far past this bound
    assert max(walls) <= bound_ms(BUDGET_MS), walls
    flushes = [r["telemetry_flush_ms"] for r in records]
    assert all(ms <= bound_ms(BUDGET_MS) for ms in flushes), flushes
    assert records[-1]["telemetry_dropped"] > 0
    # a hung backend is waited for once per stuck export, not once per invocation: a
    # count of the invocations whose flush took the whole budget (load can stretch a
    # few short ones; every one of them would be 16)
    waited = [ms for ms in flushes if ms >= BUDGET_MS]
    assert len(waited) <= len(records) // 2, flushes


def test_handler_exception_passes_through_unchanged_with_dead_collector(install):
    install(
        ["otlp"],
        otlp_endpoint=f"http://127.0.0.1:{closed_port()}",
        otlp_timeout_s=0.3,
        flush_mode="budget",
    )
    error = ValueError("mine")

    @fnlens.instrument(flush_budget_ms=BUDGET_MS)
    def handler(event, context):
        raise error

    with pytest.raises(ValueError) as info:
        handler({}, LambdaContext())
    assert info.value is error


def test_queue_is_bounded_and_counts_drops():
    release = threading.Event()
    exported: list[int] = []

    def slow_export(batch):
        release.wait(30)  # far longer than the bound on flush(0.05) below
        exported.extend(batch)
        return True

    queue = ExportQueue("t", slow_export, max_queue_size=10, max_batch_size=5)
    try:
        accepted = sum(queue.put(i) for i in range(100))
        # the worker may already hold one batch, so up to 15 can be accepted
        assert 10 <= accepted <= 15
        assert queue.dropped() == 100 - accepted
        start = time.perf_counter()
        assert queue.flush(0.05) is False
        assert time.perf_counter() - start < 0.05 + SLACK_S
        release.set()
        assert queue.flush(5.0) is True
        assert len(exported) == accepted
    finally:
        release.set()
        queue.shutdown(1.0)


def test_failed_exports_count_as_drops():
    queue = ExportQueue("t", lambda batch: False, max_queue_size=10, max_batch_size=3)
    try:
        for i in range(7):
            queue.put(i)
        assert queue.flush(5.0) is True
        assert queue.dropped() == 7 and queue.exported() == 0
    finally:
        queue.shutdown(1.0)


def test_background_mode_never_waits_inside_an_invocation(install, black_hole):
    install(["otlp"], otlp_endpoint=black_hole.endpoint, otlp_timeout_s=2, flush_mode="background")

    @fnlens.instrument(flush_budget_ms=200)
    def handler(event, context):
        return 1

    with capture() as captured:
        for _ in range(5):
            handler({}, LambdaContext())
    # a count, not a duration: no flush ran inside any invocation
    assert [r["telemetry_flush_ms"] for r in captured.records] == [0.0] * 5


def test_a_failing_backend_is_not_waited_for_after_a_few_failures():
    fails_after_s = [0.05]
    queue = ExportQueue("t", lambda batch: time.sleep(fails_after_s[0]) or False, max_batch_size=1)
    try:
        for i in range(3):
            queue.put(i)
            queue.flush(1.0)  # waits: each export fails after 50 ms
        assert queue.dropped() == 3
        fails_after_s[0] = 4.0  # a flush that waited for this export would take all of 2 s
        queue.put(99)
        start = time.perf_counter()
        assert queue.flush(2.0) is False
        assert time.perf_counter() - start < SLACK_S
        assert queue.flush(5.0) is False  # nobody waits for a backend that keeps failing
        assert queue.pending() == 1  # …but the worker keeps trying in the background
    finally:
        queue.shutdown(1.0)
