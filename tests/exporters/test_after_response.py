"""Inside the Lambda runtime loop the budget flush happens after the response is posted,
on the runtime's own thread: the caller waits for none of it, the next event is asked
for only once it is done (or the budget is spent), and a hung collector costs at most
the budget there too."""

from __future__ import annotations

import sys
import threading
import time
import types

import pytest

import fnlens
from fnlens.exporters.queue import ExportQueue
from fnlens.runtime import response_phase
from fnlens.runtime.response_phase import PHASE
from fnlens.testing import LambdaContext, capture, events

BUDGET_MS = 20.0
TOLERANCE_MS = 40.0  # scheduling noise on a loaded 2-core machine


class RuntimeClient:
    """awslambdaric's client shape (next / post result / post error), in memory."""

    def __init__(self) -> None:
        self.n = 0

    def wait_next_invocation(self):
        self.n += 1
        return f"r{self.n}"

    post_delay_s = 0.0

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
        time.sleep(self.post_delay_s)  # a slow response post

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
        return None


@pytest.fixture
def runtime_loop(monkeypatch):
    cls = type("LambdaRuntimeClient", (RuntimeClient,), dict(vars(RuntimeClient)))
    module = types.ModuleType("lambda_runtime_client")
    module.LambdaRuntimeClient = cls
    for name in response_phase.MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "lambda_runtime_client", module)
    PHASE.uninstall()
    assert PHASE.install()

    def run(handler, n: int, post_delay_s: float = 0.0) -> list[tuple[float, float]]:
        """n events; (handler ms, post ms) each: the post includes the deferred work."""
        client = cls()
        client.post_delay_s = post_delay_s
        timings = []
        for _ in range(n):
            request_id = client.wait_next_invocation()
            start = time.perf_counter()
            handler(events.api_gateway_v2(), LambdaContext(aws_request_id=request_id))
            posted = time.perf_counter()
            client.post_invocation_result(request_id, b"{}")
            end = time.perf_counter()
            timings.append(((posted - start) * 1000, (end - posted) * 1000))
        return timings

    yield run
    PHASE.uninstall()


@pytest.mark.e2e
def test_spans_and_logs_are_exported_after_the_response_by_the_runtime_thread(
    install, otlp_sink, runtime_loop
):
    install(["otlp"], otlp_endpoint=otlp_sink.endpoint, flush_mode="budget")
    exporting_threads: set[str] = set()
    sent_before: list[int] = []

    @fnlens.instrument(flush_budget_ms=2000)
    def handler(event, context):
        sent_before.append(len(otlp_sink.spans))
        fnlens.get_logger().info("work")
        return {"statusCode": 200}

    from fnlens.exporters import setup

    (installed,) = setup.installed_exporters()
    queues = [s.queue for s in installed.sinks if hasattr(s, "queue")]
    queues += [p.queue for p in installed.span_processors]
    for queue in queues:
        original = queue._export

        def export(batch, original=original):
            exporting_threads.add(threading.current_thread().name)
            return original(batch)

        queue._export = export

    with capture() as captured:
        runtime_loop(handler, 6, post_delay_s=0.03)
    # each invocation's span, line and record had arrived before the next one started
    assert sent_before == [0, 1, 2, 3, 4, 5]
    assert len(otlp_sink.spans) == 6
    assert len(otlp_sink.logs) == 12
    assert [log["body"] for log in otlp_sink.logs] == ["work", "invocation"] * 6
    # after the first export (which tells fnlens the exporter is bounded) only the
    # runtime's thread exported: no worker hand-off
    assert threading.current_thread().name in exporting_threads
    # the span ends when the handler returned, not when it was recorded after the post
    assert all(s["end_ns"] - s["start_ns"] < 25_000_000 for s in otlp_sink.spans)
    records = captured.records
    assert all(r["telemetry_dropped"] == 0 for r in records)
    # the flush ran after the response: the caller waited for none of it
    assert all(r["telemetry_flush_ms"] == 0.0 for r in records)


@pytest.mark.e2e
def test_a_hung_collector_costs_the_budget_after_the_response_not_before(
    install, black_hole, runtime_loop
):
    install(
        ["otlp"],
        otlp_endpoint=black_hole.endpoint,
        otlp_timeout_s=2,  # far beyond the budget: the budget must bound it
        flush_mode="budget",
    )
    sentinel = {"statusCode": 200, "body": "unchanged"}

    @fnlens.instrument(flush_budget_ms=BUDGET_MS)
    def handler(event, context):
        fnlens.get_logger().info("work")
        return sentinel

    with capture() as captured:
        timings = runtime_loop(handler, 12)
    handler_ms = [h for h, _ in timings]
    post_ms = [p for _, p in timings]
    assert max(handler_ms) < BUDGET_MS, handler_ms  # the caller never waits for it
    assert max(post_ms) <= BUDGET_MS + TOLERANCE_MS, post_ms
    assert all(r["telemetry_flush_ms"] == 0.0 for r in captured.records)


def test_export_here_exports_on_the_calling_thread():
    threads: list[str] = []
    exported: list[int] = []

    def export(batch):
        threads.append(threading.current_thread().name)
        exported.extend(batch)
        return True

    queue = ExportQueue("t", export, max_batch_size=3, bounded=lambda: True)
    try:
        for i in range(2):  # below a full batch: the worker is not woken
            queue.put(i)
        assert queue.exports_bounded()
        assert queue.export_here(5.0) is True
        assert exported == [0, 1] and threads == [threading.current_thread().name]
    finally:
        queue.shutdown(1.0)
    assert not ExportQueue("u", export).exports_bounded()  # unknown: the worker's job


def test_export_here_waits_for_the_workers_batch_and_exports_each_item_once():
    release = threading.Event()
    exported: list[int] = []

    def export(batch):
        if batch == [0]:
            release.wait(5)  # the worker's batch is slow
        exported.extend(batch)
        return True

    queue = ExportQueue("t", export, max_batch_size=2, bounded=lambda: True)
    try:
        queue.put(0)
        queue.nudge()  # the worker takes [0] and blocks in it
        deadline = time.monotonic() + 5
        while not queue._in_flight and time.monotonic() < deadline:
            time.sleep(0.001)
        for i in range(1, 6):
            queue.put(i)
        start = time.perf_counter()
        assert queue.export_here(0.05) is False  # the worker's batch is still out
        assert time.perf_counter() - start < 1.0
        release.set()
        assert queue.export_here(5.0) is True
        assert queue.flush(5.0) is True
        assert sorted(exported) == [0, 1, 2, 3, 4, 5]
        assert queue.exported() == 6 and queue.pending() == 0
    finally:
        release.set()
        queue.shutdown(1.0)


def test_export_here_gives_up_on_a_failing_backend():
    calls = []
    queue = ExportQueue("t", lambda batch: calls.append(batch) or False, max_batch_size=1)
    try:
        for i in range(10):
            queue.put(i)
        assert queue.export_here(5.0) is False
        assert len(calls) == 3  # FAILING_AFTER consecutive failures, then it stops trying
        assert queue.dropped() == 3
    finally:
        queue.shutdown(0.5)


def test_batch_processor_variables_of_the_specification_apply(install, otlp_sink, capsys):
    """``OTEL_BSP_*`` (spans) and ``OTEL_BLRP_*`` (log records) size the queues and set
    the schedule, as users of the OpenTelemetry SDK expect; bad values warn and keep
    the default; a batch larger than the queue is cut to the queue size."""
    installed = install(
        ["otlp"],
        otlp_endpoint=otlp_sink.endpoint,
        flush_mode="background",
        env={
            "OTEL_BSP_MAX_QUEUE_SIZE": "64",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
            "OTEL_BLRP_MAX_QUEUE_SIZE": "16",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "32",  # more than the queue
            "OTEL_BLRP_SCHEDULE_DELAY": "soon",  # not a number
        },
    )
    (spans,) = [p.queue for p in installed.span_processors]
    (logs,) = [s.queue for s in installed.sinks if hasattr(s, "queue")]
    assert (spans.max_queue_size, spans.max_batch_size, spans.schedule_delay_s) == (64, 8, 0.25)
    assert (logs.max_queue_size, logs.max_batch_size, logs.schedule_delay_s) == (16, 16, 1.0)
    assert "OTEL_BLRP_SCHEDULE_DELAY='soon' is not a number" in capsys.readouterr().err
