"""The post-response window: records wait for the runtime's response post, never longer."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import fnlens
from fnlens.runtime import _response_phase as response_phase
from fnlens.runtime._response_phase import PHASE, ResponsePhase
from fnlens.testing import LambdaContext


class FakeRuntimeClient:
    """The shape of awslambdaric's ``LambdaRuntimeClient`` (managed runtimes' top-level
    ``lambda_runtime_client`` module): next, post result, post error."""

    def __init__(self, events: list[dict], calls: list[str]) -> None:
        self.events = list(events)
        self.calls = calls

    def wait_next_invocation(self):
        self.calls.append("next")
        return self.events.pop(0)

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
        self.calls.append(f"result:{invoke_id}")
        return "posted"

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
        self.calls.append(f"error:{invoke_id}")
        raise ConnectionError("runtime API gone")


@pytest.fixture
def runtime_client(hook_runtime_client):
    """A fake runtime client module, hooked by the process-wide PHASE, unhooked after."""
    return hook_runtime_client(FakeRuntimeClient)


def run_loop(client, handler, n: int) -> None:
    """What awslambdaric's bootstrap does per event: next, handler, post."""
    for _ in range(n):
        event = client.wait_next_invocation()
        try:
            handler(event, LambdaContext(aws_request_id=event["id"]))
        except Exception:
            client.calls.append(f"handler-raised:{event['id']}")
            try:
                client.post_invocation_error(event["id"], b"{}", "")
            except ConnectionError:
                client.calls.append("post-error-raised")
            continue
        client.post_invocation_result(event["id"], b"{}")


def test_the_record_is_written_after_the_response_is_posted(runtime_client, telemetry):
    calls: list[str] = []
    seen_during_handler: list[int] = []

    @fnlens.instrument(service="orders")
    def handler(event, context):
        seen_during_handler.append(len(telemetry.records))
        if event["id"] == "r2":
            raise KeyError("currency")
        return {"statusCode": 201}

    # a sink that notes when each record arrives, relative to the runtime's calls
    class Marker:
        def emit(self, event):
            if event.get("event") == "invocation":
                calls.append(f"record:{event['request_id']}")

        def flush(self, timeout_s):
            return None

        def shutdown(self):
            return None

    marker = Marker()
    fnlens.configure(sinks=[marker])
    client = runtime_client([{"id": "r1"}, {"id": "r2"}], calls)
    run_loop(client, handler, 2)  # (the autouse fnlens.testing.reset() removes the sink)
    assert calls == [
        "next",
        "result:r1",
        "record:r1",  # after the post, before the next event is asked for
        "next",
        "handler-raised:r2",
        "error:r2",
        "record:r2",  # the runtime's own error still passes through, after the record
        "post-error-raised",
    ]
    assert seen_during_handler == [0, 1]
    first, second = (r for r in telemetry.records if r["event"] == "invocation")
    assert (first["request_id"], first["outcome"], first["http_status_code"]) == (
        "r1",
        "success",
        None,
    )
    assert (second["outcome"], second["error_type"]) == ("error", "KeyError")
    # the duration is the handler's, not the handler's plus the response post
    assert 0 < first["duration_ms"] < 1000


def test_outside_the_runtime_loop_records_are_written_at_once(runtime_client, telemetry):
    @fnlens.instrument
    def handler(event, context):
        return "ok"

    assert handler({}, LambdaContext()) == "ok"  # called directly: nothing to wait for
    assert len([r for r in telemetry.records if r["event"] == "invocation"]) == 1
    assert not PHASE.pending


def test_invocations_on_other_threads_are_not_deferred(runtime_client, telemetry):
    calls: list[str] = []
    client = runtime_client([{"id": "r1"}], calls)

    @fnlens.instrument
    def inner(event, context):
        return 1

    client.wait_next_invocation()  # the runtime thread is now handling an event
    try:
        thread = threading.Thread(target=inner, args=({}, LambdaContext()))
        thread.start()
        thread.join(5)
        assert len(telemetry.records) == 1 and not PHASE.pending
        inner({}, LambdaContext())  # on the runtime's thread: waits for the post
        assert len(telemetry.records) == 1 and len(PHASE.pending) == 1
    finally:
        client.post_invocation_result("r1", b"{}")
    assert len(telemetry.records) == 2 and not PHASE.pending


def test_flush_and_the_next_event_run_whatever_is_pending(runtime_client, telemetry):
    calls: list[str] = []
    client = runtime_client([{"id": "r1"}, {"id": "r2"}], calls)

    @fnlens.instrument
    def handler(event, context):
        return None

    client.wait_next_invocation()
    handler({}, LambdaContext())
    assert telemetry.records == []
    fnlens.flush(0.1)  # e.g. the application flushing before it exits
    assert len(telemetry.records) == 1

    handler({}, LambdaContext())
    assert len(telemetry.records) == 1
    client.wait_next_invocation()  # no post went through the hooked methods
    assert len(telemetry.records) == 2


def test_after_response_can_be_switched_off(runtime_client, telemetry):
    calls: list[str] = []
    client = runtime_client([{"id": "r1"}], calls)

    @fnlens.instrument(after_response=False)
    def handler(event, context):
        return None

    client.wait_next_invocation()
    handler({}, LambdaContext())
    assert len(telemetry.records) == 1 and not PHASE.pending
    client.post_invocation_result("r1", b"{}")


def test_a_timeout_is_recorded_at_once_not_after_the_response(runtime_client, telemetry):
    import time

    calls: list[str] = []
    client = runtime_client([{"id": "r1"}], calls)

    @fnlens.instrument(timeout_margin_ms=50)
    def handler(event, context):
        deadline = time.monotonic() + 2
        while not telemetry.records and time.monotonic() < deadline:
            time.sleep(0.005)

    client.wait_next_invocation()
    handler({}, LambdaContext(timeout_ms=120))
    (record,) = telemetry.records  # the watchdog's, before the handler returned
    assert record["outcome"] == "timeout"
    client.post_invocation_result("r1", b"{}")
    assert len(telemetry.records) == 1


def test_listeners_run_after_deferred_work_and_failures_stay_inside():
    phase = ResponsePhase()
    order: list[str] = []
    phase.handling = threading.get_ident()
    assert phase.defer(lambda: order.append("deferred"))
    assert phase.defer(lambda: 1 / 0)  # a failing piece does not stop the rest
    assert phase.defer(lambda: order.append("deferred-2"))
    phase.add_listener(lambda: order.append("listener"))
    phase.add_listener(lambda: (_ for _ in ()).throw(RuntimeError("bug")))
    phase.responded()
    assert order == ["deferred", "deferred-2", "listener"]
    assert phase.failures == 2
    assert not phase.defer(lambda: None)  # the window closed with the response


def test_deferred_work_sees_the_context_it_was_deferred_in():
    import contextvars

    var = contextvars.ContextVar("probe", default="outside")
    phase = ResponsePhase()
    phase.handling = threading.get_ident()
    token = var.set("inside the handler")
    seen: list[str] = []
    phase.defer(lambda: seen.append(var.get()))
    var.reset(token)
    phase.responded()
    assert seen == ["inside the handler"]


def test_no_runtime_client_no_hook(monkeypatch):
    for name in response_phase.MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    phase = ResponsePhase()
    assert not phase.install()
    assert not phase.installed


def test_the_hook_keeps_the_runtime_methods_and_comes_off(runtime_client):
    cls = runtime_client
    assert getattr(cls.post_invocation_result, "__wrapped__", None) is not None
    assert cls.post_invocation_result.__name__ == "post_invocation_result"
    assert ResponsePhase().install() is False  # one hook per process
    PHASE.uninstall()
    assert not hasattr(cls.post_invocation_result, "__wrapped__")


def test_awslambdaric_client_is_found():
    pytest.importorskip("awslambdaric")
    import awslambdaric.lambda_runtime_client as module

    cls = response_phase.runtime_client_class()
    assert cls is not None and cls.__module__ == module.__name__


def test_the_x_ray_header_comes_from_the_runtime_clients_request(runtime_client, telemetry):
    """Inside the loop the header the runtime client received is used (awslambdaric
    copies the same value into ``_X_AMZN_TRACE_ID``; the request saves the lookup)."""
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    class Request(dict):
        x_amzn_trace_id = header

    calls: list[str] = []
    client = runtime_client([Request(id="r1")], calls)

    @fnlens.instrument
    def handler(event, context):
        return None

    request = client.wait_next_invocation()
    handler({}, LambdaContext(aws_request_id=request["id"]))
    client.post_invocation_result("r1", b"{}")
    (record,) = telemetry.records
    assert record["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert record["trace_id"] == "5759e988bd862e3fe1be46a994272793"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_records_at_once_and_never_repeats_the_parents_records(
    runtime_client, telemetry
):
    """A child forked while the runtime handles an event (multiprocessing's fork start
    method) has no response post to wait for: its invocations are recorded at once, and
    the parent's deferred records stay the parent's."""
    calls: list[str] = []
    client = runtime_client([{"id": "r1"}], calls)

    @fnlens.instrument
    def handler(event, context):
        return None

    client.wait_next_invocation()
    handler({}, LambdaContext(aws_request_id="parent"))
    assert len(PHASE.pending) == 1  # the parent's record waits for its response post
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's exit hooks
        try:
            state = [PHASE.handling, len(PHASE.pending)]
            before = len(telemetry.records)
            handler({}, LambdaContext(aws_request_id="child"))
            state.append(len(telemetry.records) - before)
            os.write(write_end, ",".join(map(str, state)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            handling, pending, recorded = (int(x) for x in pipe.read().split(","))
    finally:
        os.waitpid(pid, 0)
    assert (handling, pending, recorded) == (0, 0, 1)
    client.post_invocation_result("r1", b"{}")
    assert [r["request_id"] for r in telemetry.records] == ["parent"]
