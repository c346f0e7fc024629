"""Inside the Lambda runtime loop the budget flush happens after the response is posted:
the caller waits for none of it, the next event is asked for only once it is done (or
the budget is spent), and a hung or trickling collector costs at most the budget there
too."""

from __future__ import annotations

import gc
import threading
import time

import pytest

import fnlens
from fnlens.testing import LambdaContext, capture, events
from tests.support.raw_server import RawHTTPServer
from tests.support.runtime_client import RuntimeClient
from tests.support.timing import SLACK_S, bound_ms

BUDGET_MS = 20.0


@pytest.fixture
def runtime_loop(hook_runtime_client):
    cls = hook_runtime_client(RuntimeClient)

    def run(handler, n: int, post_delay_s: float = 0.0) -> list[tuple[float, float]]:
        """n events; (handler ms, post ms) each: the post includes the deferred work.
        ``run.returned_ns``: the wall clock when each handler had returned."""
        client = cls()
        client.post_delay_s = post_delay_s
        timings = []
        run.returned_ns = []
        for _ in range(n):
            request_id = client.wait_next_invocation()
            start = time.perf_counter()
            handler(events.api_gateway_v2(), LambdaContext(aws_request_id=request_id))
            posted = time.perf_counter()
            run.returned_ns.append(time.time_ns())
            client.post_invocation_result(request_id, b"{}")
            end = time.perf_counter()
            timings.append(((posted - start) * 1000, (end - posted) * 1000))
        return timings

    run.client_class = cls
    return run


class StallingCollector(RawHTTPServer):
    """An OTLP/HTTP endpoint that answers its first ``quick`` requests at once, then
    either never answers (``hang``) or sends its answer one byte every 50 ms
    (``trickle``, 3 s in all, each byte well within any one socket timeout): the cases a
    budget must bound after the response too. Both stall several times longer than a
    test's bound (budget + ``SLACK_S``): a caller that waited for them fails it."""

    def __init__(self, mode: str, quick: int = 2) -> None:
        self.mode, self.quick, self.answered = mode, quick, 0
        super().__init__()

    def answer(self, conn, head: bytes) -> bool:
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n" + b"\0" * 60
        if self.answered < self.quick:
            self.answered += 1
            conn.sendall(reply)
            return True
        if self.mode == "hang":
            self._stop.wait(30)
            return False
        for byte in range(len(reply)):
            if self._stop.wait(0.05):
                return False
            conn.sendall(reply[byte : byte + 1])
        return True


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["hang", "trickle"])
@pytest.mark.parametrize("trigger", ["http", "sqs-with-trace-links"])
def test_a_stalling_collector_costs_the_budget_after_the_response(
    install, runtime_loop, mode, trigger
):
    """After its first answers the collector stops answering, or answers byte by byte:
    the flush after each response still costs at most the budget, spans with links (SQS
    messages carrying ``AWSTraceHeader``) included."""
    collector = StallingCollector(mode)
    try:
        install(
            ["otlp"],
            otlp_endpoint=collector.endpoint,
            otlp_timeout_s=5,  # far beyond the budget, and 5x the bound below
            flush_mode="budget",
        )
        header = "Root=1-6b000001-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
        event = (
            events.sqs(["{}"], trace_headers=[header])
            if trigger.startswith("sqs")
            else events.api_gateway_v2()
        )

        @fnlens.instrument(flush_budget_ms=BUDGET_MS)
        def handler(_event, context):
            return {"statusCode": 200}

        client = runtime_loop.client_class()
        posts = []
        # a full garbage collection of this long-lived test process can take tens of
        # milliseconds on its own: keep it out of the bound under test
        gc.collect()
        gc.disable()
        try:
            with capture():
                for _ in range(8):
                    request_id = client.wait_next_invocation()
                    handler(event, LambdaContext(aws_request_id=request_id))
                    start = time.perf_counter()
                    client.post_invocation_result(request_id, b"{}")
                    posts.append((time.perf_counter() - start) * 1000)
        finally:
            gc.enable()
        assert collector.answered == collector.quick  # it did stall
        assert max(posts) <= bound_ms(BUDGET_MS), posts
    finally:
        collector.close()


@pytest.mark.e2e
def test_spans_and_logs_are_exported_after_the_response(install, otlp_sink, runtime_loop):
    install(["otlp"], otlp_endpoint=otlp_sink.endpoint, flush_mode="budget")
    sent_before: list[int] = []

    @fnlens.instrument(flush_budget_ms=2000)
    def handler(event, context):
        sent_before.append(len(otlp_sink.spans))
        fnlens.get_logger().info("work")
        return {"statusCode": 200}

    with capture() as captured:
        runtime_loop(handler, 6, post_delay_s=0.03)
    # each invocation's span, line and record had arrived before the next one started
    assert sent_before == [0, 1, 2, 3, 4, 5]
    assert len(otlp_sink.spans) == 6
    assert len(otlp_sink.logs) == 12
    assert [log["body"] for log in otlp_sink.logs] == ["work", "invocation"] * 6
    # the span ends when the handler returned, not when it was recorded after the 30 ms
    # post: an ordering, whatever the load (2 ms for the two clocks' granularity)
    ends = sorted(s["end_ns"] for s in otlp_sink.spans)
    returned = runtime_loop.returned_ns
    assert all(end <= at + 2_000_000 for end, at in zip(ends, returned, strict=True)), (
        ends,
        returned,
    )
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
        otlp_timeout_s=10,  # far beyond the budget and the bounds below: they must hold
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
    # the caller never waits for it: no flush at all inside the invocation (a count, not
    # a duration), and nothing near the 10 s a wait for the collector would take
    assert all(r["telemetry_flush_ms"] == 0.0 for r in captured.records)
    assert max(handler_ms) < SLACK_S * 1000, handler_ms
    assert max(post_ms) <= bound_ms(BUDGET_MS), post_ms


def test_batch_processor_variables_of_the_specification_apply(install, otlp_sink, capsys, caplog):
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
    assert "OTEL_BLRP_SCHEDULE_DELAY='soon' is not a number" in caplog.text


@pytest.mark.e2e
def test_the_extension_waits_for_work_after_the_response_however_long(
    install, runtime_loop, monkeypatch
):
    """In extension mode the runtime's thread drains after the response; while it does,
    no invocation is in scope any more — the extension's slow poll must not take that
    for an invocation it never heard of (it would then ask for the next event one
    invocation early, forever after)."""
    from fnlens.exporters import _extension as extension_module
    from tests.support.extension_api import FakeExtensionsAPI
    from tests.support.otlp_sink import OTLPSink

    monkeypatch.setattr(extension_module, "POLL_S", 0.05)  # the drain lasts many polls
    api = FakeExtensionsAPI(gate=True).start()
    sink = OTLPSink(delay_s=0.3).start()
    try:
        installed = install(
            ["otlp"],
            otlp_endpoint=sink.endpoint,
            traces=True,
            logs=False,
            flush_mode="extension",
            env={"AWS_LAMBDA_RUNTIME_API": api.address},
        )
        ext = installed.extension
        assert ext is not None and ext.runtime_driven
        stepped_on: list[str] = []
        # private probe, kept: which thread asks the Extensions API for the next event
        # is invisible to the API; wrapping the step is the only way to tell
        step = ext._step

        def recording_step(**kwargs):
            stepped_on.append(threading.current_thread().name)
            step(**kwargs)

        ext._step = recording_step

        @fnlens.instrument
        def handler(event, context):
            return {"statusCode": 200}

        client = runtime_loop.client_class()
        deadline = time.monotonic() + 5
        while len(api.next_calls) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        early = []
        with capture():
            for i in range(3):
                api.release()  # the INVOKE, to the extension and the runtime
                request_id = client.wait_next_invocation()
                handler(events.api_gateway_v2(), LambdaContext(aws_request_id=request_id))
                early.append(len(api.next_calls) - (i + 1))  # asked again before the post?
                client.post_invocation_result(request_id, b"{}")  # the 0.3 s drain runs here
                deadline = time.monotonic() + 5
                while len(api.next_calls) < i + 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
        assert early == [0, 0, 0]
        assert len(api.next_calls) == 4
        # the runtime's thread answered Lambda itself: the extension's thread slept
        assert stepped_on == [threading.current_thread().name] * 3
        assert len([s for s in sink.spans if s["kind"] == 2]) == 3
    finally:
        api.stop()
        sink.stop()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "failure", ["close", "403", "drain-raises", "partial"], ids=lambda f: f"{f}"
)
def test_the_extension_always_asks_again_after_a_failed_step(install, runtime_loop, failure):
    """When the runtime's thread takes the extension's step and it fails — the API closes
    the connection, answers 403, the drain raises, or the answer stalls midway — the
    runtime's thread is held at most STEP_READ_S, and an event/next is sent again (Lambda
    would otherwise hold the environment until the function times out)."""
    from fnlens.exporters._extension import STEP_READ_S
    from tests.support.extension_api import ScriptedExtensionsAPI

    second = {"close": "close", "403": "403", "drain-raises": "invoke", "partial": ("partial", 3.0)}
    api = ScriptedExtensionsAPI(["invoke", second[failure], "invoke", "invoke"])
    try:
        installed = install(
            ["emf"], flush_mode="extension", env={"AWS_LAMBDA_RUNTIME_API": api.address}
        )
        ext = installed.extension
        assert ext is not None and ext.runtime_driven

        def wait(predicate, timeout_s=5.0):
            deadline = time.monotonic() + timeout_s
            while not predicate() and time.monotonic() < deadline:
                time.sleep(0.01)
            return predicate()

        @fnlens.instrument
        def handler(event, context):
            return {"statusCode": 200}

        client = runtime_loop.client_class()
        assert wait(lambda: len(api.next_calls) == 1)
        posts = []
        with capture():
            for i in range(3):
                if failure == "drain-raises":  # (no public way makes the drain raise:
                    # sinks' and hooks' failures are caught before it; a private fault)
                    ext._after_invoke = _raise if i == 1 else type(ext)._after_invoke.__get__(ext)
                api.release()
                request_id = client.wait_next_invocation()
                handler(events.api_gateway_v2(), LambdaContext(aws_request_id=request_id))
                time.sleep(0.05)  # the INVOKE reaches the extension's socket
                start = time.perf_counter()
                client.post_invocation_result(request_id, b"{}")
                posts.append(time.perf_counter() - start)
                # whatever happened, an event/next is out again for the next invoke
                assert wait(lambda i=i: len(api.next_calls) >= i + 2), (i, api.next_calls)
        # (the partial answer stalls 3 s: a runtime thread held for it fails this)
        assert max(posts) < STEP_READ_S + SLACK_S, posts
        # every invoke counted once: the fourth event/next is out, and no fifth follows
        assert wait(lambda: len(api.next_calls) >= 4)
        time.sleep(0.2)
        assert len(api.next_calls) == 4, api.next_calls
    finally:
        api.close()


def _raise(event):
    raise RuntimeError("drain failed")


SIGTERM_SCRIPT = r"""
import os
import signal
import time

import fnlens
from fnlens.testing import LambdaContext


@fnlens.instrument
def handler(event, context):
    return {"statusCode": 200}


handler({}, LambdaContext())  # background mode: the span is only queued
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("still running")
"""


@pytest.mark.e2e
def test_sigterm_flushes_queued_telemetry_then_terminates(otlp_sink):
    """SIGTERM (Lambda's shutdown signal when extensions are registered, a supervisor's
    stop) would kill Python at once, skipping atexit: fnlens flushes first (bounded),
    then the default action terminates the process as before."""
    import signal

    from tests.support.scripts import run_script

    proc = run_script(
        SIGTERM_SCRIPT,
        {
            "FNLENS_EXPORTERS": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink.endpoint,
            "FNLENS_FLUSH_MODE": "background",
        },
    )
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "still running" not in proc.stdout
    assert otlp_sink.wait_for(lambda s: len(s.spans) == 1, timeout_s=5), otlp_sink.spans
