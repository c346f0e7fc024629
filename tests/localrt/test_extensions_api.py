"""The Lambda Extensions API of the local runtime.

First over HTTP on 127.0.0.1 against the API alone (register, event/next, the
order in which invokes are handed out, errors, shutdown), then with real
processes: a plain internal extension that works after the response, and fnlens's
own in-process extension (``FNLENS_FLUSH_MODE=extension``) exporting spans to a
slow OTLP collector.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from fnlens.localrt import FunctionCode, LocalLambda
from fnlens.localrt._api_server import Invocation, RuntimeApi, RuntimeApiServer

pytestmark = pytest.mark.timeout(60)

HANDLERS = Path(__file__).parent / "handlers"
RUNTIME_NEXT = "/2018-06-01/runtime/invocation/next"
REGISTER = "/2020-01-01/extension/register"
EVENT_NEXT = "/2020-01-01/extension/event/next"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
TRACE = "Root=1-6b000000-000000000000000000000001;Parent=1111111111111111;Sampled=1"
BLOCKED_S = 0.2  # how long a call must stay unanswered to count as blocked
START = re.compile(r"START RequestId: (?P<id>[0-9a-f-]{36}) ")


# helpers -------------------------------------------------------------------------
def _request(
    srv: RuntimeApiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = srv.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def _register(srv: RuntimeApiServer, name: str, events: Any = ("INVOKE",)) -> str:
    status, headers, body = _request(
        srv, "POST", REGISTER, json.dumps({"events": list(events)}).encode(),
        {"Lambda-Extension-Name": name},
    )  # fmt: skip
    assert status == 200, body
    return headers["lambda-extension-identifier"]


def _error_type(body: bytes) -> str:
    return json.loads(body)["errorType"]


class _Poll(threading.Thread):
    """One long poll (runtime /next or extension event/next) in the background."""

    def __init__(self, srv: RuntimeApiServer, path: str, ext_id: str | None = None) -> None:
        super().__init__(daemon=True)
        self.srv, self.path = srv, path
        self.headers = {"Lambda-Extension-Identifier": ext_id} if ext_id else {}
        self.answer: tuple[int, dict[str, str], bytes] | None = None
        self.start()

    def run(self) -> None:
        self.answer = _request(self.srv, "GET", self.path, headers=self.headers)

    def blocked(self) -> bool:
        self.join(BLOCKED_S)
        return self.is_alive()

    def result(self, timeout_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        self.join(timeout_s)
        assert not self.is_alive(), f"{self.path} still blocked after {timeout_s}s"
        assert self.answer is not None
        return self.answer

    def event(self) -> dict[str, Any]:
        status, _, body = self.result()
        assert status == 200, body
        return json.loads(body)


def _wait(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def _waiting(api: RuntimeApi, ext_id: str) -> bool:
    return api.extensions[ext_id].waiting


def _respond(srv: RuntimeApiServer, inv: Invocation) -> None:
    path = f"/2018-06-01/runtime/invocation/{inv.request_id}/response"
    status, _, _ = _request(srv, "POST", path, b'{"ok":true}')
    assert status == 202


@pytest.fixture
def server():
    info = {"functionName": "f", "functionVersion": "$LATEST", "handler": "app.handler"}
    srv = RuntimeApiServer(RuntimeApi(function_info=info)).start()
    yield srv
    srv.stop()


# the API over HTTP ----------------------------------------------------------------
def test_register_answers_an_identifier_and_the_function(server: RuntimeApiServer) -> None:
    status, headers, body = _request(
        server, "POST", REGISTER, b'{"events": ["INVOKE"]}', {"Lambda-Extension-Name": "ext-a"}
    )
    assert status == 200
    ext_id = headers["lambda-extension-identifier"]
    assert str(uuid.UUID(ext_id)) == ext_id
    assert json.loads(body) == {
        "functionName": "f",
        "functionVersion": "$LATEST",
        "handler": "app.handler",
    }
    ext = server.api.extensions[ext_id]
    assert (ext.name, ext.events, ext.waiting) == ("ext-a", ("INVOKE",), False)


def test_event_next_blocks_until_the_invoke_which_it_shares_with_the_runtime(
    server: RuntimeApiServer,
) -> None:
    api = server.api
    ext_id = _register(server, "ext-a")
    runtime = _Poll(server, RUNTIME_NEXT)
    assert api.init_done.wait(5.0) and runtime.blocked()
    # the runtime is done with init, the extension is not: Lambda's init goes on
    assert api.first_next_at is not None and api.init_end_at is None
    ext = _Poll(server, EVENT_NEXT, ext_id)
    assert _wait(lambda: _waiting(api, ext_id))
    assert api.init_end_at is not None and api.init_end_at >= api.first_next_at
    assert ext.blocked() and runtime.blocked()  # nothing to hand out yet

    inv = Invocation("req-1", b'{"a": 1}', ARN, TRACE, 3.0)
    api.submit(inv)
    status, headers, body = runtime.result()
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == "req-1"
    assert json.loads(body) == {"a": 1}
    assert ext.event() == {
        "eventType": "INVOKE",
        "deadlineMs": inv.deadline_ms,
        "requestId": "req-1",
        "invokedFunctionArn": ARN,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": TRACE},
    }
    assert int(headers["lambda-runtime-deadline-ms"]) == inv.deadline_ms


def test_the_next_invoke_waits_until_every_extension_asked_for_it(
    server: RuntimeApiServer,
) -> None:
    api = server.api
    a, b = _register(server, "ext-a"), _register(server, "ext-b")
    polls = [_Poll(server, EVENT_NEXT, a), _Poll(server, EVENT_NEXT, b)]
    assert _wait(lambda: _waiting(api, a) and _waiting(api, b))
    runtime = _Poll(server, RUNTIME_NEXT)
    first = Invocation("req-1", b"{}", ARN, TRACE, 3.0)
    api.submit(first)
    assert runtime.result()[0] == 200
    assert [p.event()["requestId"] for p in polls] == ["req-1", "req-1"]
    _respond(server, first)
    assert first.done.is_set()
    # the response is out, both extensions are still working: the invoke phase goes on
    assert api.extensions_ready_at() is None

    again_a = _Poll(server, EVENT_NEXT, a)  # ext-a is done; ext-b keeps working
    runtime = _Poll(server, RUNTIME_NEXT)
    assert _wait(lambda: _waiting(api, a))
    second = Invocation("req-2", b"{}", ARN, TRACE, 3.0)
    api.submit(second)
    assert runtime.blocked() and again_a.blocked()
    assert not second.handed_out.is_set()
    assert api.wait_extensions_ready(0.05) is None

    again_b = _Poll(server, EVENT_NEXT, b)  # ext-b asks: the invoke goes out to all three
    status, headers, _ = runtime.result()
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == "req-2"
    assert again_a.event()["requestId"] == again_b.event()["requestId"] == "req-2"
    asked_b = api.extensions[b].asked_at
    assert second.handed_out_at is not None and asked_b is not None
    assert second.handed_out_at >= asked_b
    assert api.handouts == 2


def test_identifier_errors_are_403(server: RuntimeApiServer) -> None:
    _register(server, "ext-a")
    cases = [
        (None, "Extension.MissingExtensionIdentifier"),
        ("not-a-uuid", "Extension.InvalidExtensionIdentifier"),
        (str(uuid.uuid4()), "Extension.UnknownExtensionIdentifier"),
    ]
    for ext_id, error_type in cases:
        headers = {"Lambda-Extension-Identifier": ext_id} if ext_id else {}
        status, _, body = _request(server, "GET", EVENT_NEXT, headers=headers)
        assert (status, _error_type(body)) == (403, error_type)


def test_registration_is_checked_and_closes_with_the_runtimes_first_next(
    server: RuntimeApiServer,
) -> None:
    def register(name: str | None, body: bytes) -> tuple[int, str]:
        headers = {"Lambda-Extension-Name": name} if name is not None else {}
        status, _, reply = _request(server, "POST", REGISTER, body, headers)
        return status, _error_type(reply)

    # internal extensions cannot subscribe to SHUTDOWN (Lambda's rule)
    assert register("ext", b'{"events": ["INVOKE", "SHUTDOWN"]}') == (
        403,
        "Extension.InvalidEventType",
    )
    assert register("ext", b'{"events": ["RESTORE"]}') == (403, "Extension.InvalidEventType")
    assert register(None, b'{"events": ["INVOKE"]}') == (403, "Extension.MissingHeader")
    assert register("ext", b"not json") == (403, "InvalidRequestFormat")
    _register(server, "ext")
    assert register("ext", b'{"events": ["INVOKE"]}') == (403, "Extension.InvalidExtensionState")
    assert len(server.api.extensions) == 1

    runtime = _Poll(server, RUNTIME_NEXT)  # the runtime's init is over
    assert server.api.init_done.wait(5.0)
    assert register("late", b'{"events": ["INVOKE"]}') == (403, "Extension.RegistrationClosed")
    assert len(server.api.extensions) == 1
    assert runtime.blocked()


def test_shutdown_releases_every_long_poll(server: RuntimeApiServer) -> None:
    api = server.api
    a, b = _register(server, "ext-a"), _register(server, "ext-b")
    _register(server, "ext-busy")  # never asks for an event: an environment would wait on it
    polls = [_Poll(server, EVENT_NEXT, a), _Poll(server, EVENT_NEXT, b)]
    assert _wait(lambda: _waiting(api, a) and _waiting(api, b))
    polls.append(_Poll(server, RUNTIME_NEXT))
    assert api.init_done.wait(5.0)
    assert all(p.blocked() for p in polls)
    waited: dict[str, Any] = {}
    settle = threading.Thread(
        target=lambda: waited.setdefault("ready", api.wait_extensions_ready(30.0)), daemon=True
    )
    settle.start()
    assert settle.is_alive()
    started = time.monotonic()
    server.stop()
    for poll in polls:
        status, _, body = poll.result(2.0)
        assert status == 410, body
    settle.join(2.0)
    assert not settle.is_alive() and waited == {"ready": None}
    assert time.monotonic() - started < 2.0
    # a poll that arrives after the shutdown is not parked either
    assert api.extension_next(b) is None
    assert api.next_invocation() is None


# real processes -----------------------------------------------------------------------
def _environment(fn: LocalLambda, environment_id: str):
    return next(e for e in fn.environments() if e.id == environment_id)


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_an_extension_working_after_the_response_keeps_the_environment_busy(out_dir) -> None:
    hold_s = 0.4
    with LocalLambda("ext-holder", out_dir=out_dir) as fn:
        fn.update_code(FunctionCode("ext_app.handler", HANDLERS, timeout_s=3.0))
        first = fn.invoke({})
        assert first.outcome == "success", first.payload
        status, info = first.json()["registered"]
        assert status == 200
        assert info == {"functionName": "ext-holder", "functionVersion": "$LATEST",
                        "handler": "ext_app.handler"}  # fmt: skip
        env = _environment(fn, first.environment_id)
        assert [x.name for x in env.api.extensions.values()] == ["holder"]
        assert env.wait_settled(3.0)

        started = time.perf_counter()
        held = fn.invoke({"hold_s": hold_s})
        latency = time.perf_counter() - started
        assert held.outcome == "success" and held.environment_id == env.id
        # the caller has its response; the environment is still the extension's
        assert latency < hold_s / 2, latency
        assert held.duration_ms < hold_s * 1000 / 2
        assert not env.settled
        meanwhile = fn.invoke({})  # so this one goes to a new environment, as in Lambda
        assert meanwhile.cold_start and meanwhile.environment_id != env.id
        _environment(fn, meanwhile.environment_id).close()  # leave one to pick from
        assert env.wait_settled(3.0)
        post = env.post_runtime_extensions_ms[held.request_id]
        assert hold_s * 1000 * 0.9 <= post < hold_s * 1000 + 1000, post
        assert env.post_runtime_extensions_ms[first.request_id] < hold_s * 1000 / 2

        # the environment is idle again and takes the next invoke; the extension had
        # received every earlier INVOKE, with the runtime's request id, ARN and trace
        again = fn.invoke({"register_late": True})
        assert again.environment_id == env.id and not again.cold_start
        body = again.json()
        assert body["late"] == [403, "Extension.RegistrationClosed"]
        seen = body["invokes_seen"]
        assert [e["requestId"] for e in seen[:2]] == [first.request_id, held.request_id]
        for event, result in zip(seen[:2], (first, held), strict=True):
            assert event["eventType"] == "INVOKE"
            assert event["invokedFunctionArn"].endswith(":function:ext-holder:$LATEST")
            assert event["tracing"] == {"type": "X-Amzn-Trace-Id", "value": result.trace_header}


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_an_extension_past_the_timeout_gets_the_environment_reset(out_dir) -> None:
    with LocalLambda("ext-timeout", out_dir=out_dir) as fn:
        fn.update_code(FunctionCode("ext_app.handler", HANDLERS, timeout_s=1.0))
        first = fn.invoke({})
        env = _environment(fn, first.environment_id)
        assert env.wait_settled(3.0)
        started = time.monotonic()
        stuck = fn.invoke({"hold_s": 30})
        assert stuck.outcome == "success" and time.monotonic() - started < 0.5
        # the function timeout bounds the whole invoke phase, extensions included
        assert env.wait_settled(5.0)
        assert 0.9 <= time.monotonic() - started < 4.0
        assert not env.alive and env.extension_timeouts == 1
        assert stuck.request_id not in env.post_runtime_extensions_ms
        after = fn.invoke({})
        assert after.outcome == "success"
        assert after.cold_start and after.environment_id != env.id


def _otlp_sink_class() -> Any:
    """The suite's OTLP/HTTP sink (tests/support/otlp_sink.py)."""
    pytest.importorskip("opentelemetry.proto")
    from tests.support.otlp_sink import OTLPSink

    return OTLPSink


def _server_spans(sink: Any) -> list[dict[str, Any]]:
    return [s for s in list(sink.spans) if s["kind"] == 2]


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_fnlens_extension_exports_after_the_response_and_before_the_next_invoke(
    out_dir,
) -> None:
    delay_s = 0.2  # a slow collector: every OTLP request is answered 200 ms late
    n = 4
    sink = _otlp_sink_class()(delay_s=delay_s).start()
    handouts: list[tuple[float, str, int, int]] = []  # (when, request id, spans, answered)

    def echo(stream: str, line: str) -> None:
        match = START.search(line)  # written when the invoke is handed out
        if match:
            answered = len(sink.completed_at)
            handouts.append((time.monotonic(), match["id"], len(_server_spans(sink)), answered))

    environment = {
        "FNLENS_FLUSH_MODE": "extension",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_LOGS_EXPORTER": "none",
    }
    results, latencies, settle_waits = [], [], []
    try:
        with LocalLambda("ext-fnlens", out_dir=out_dir, echo=echo) as fn:
            code = FunctionCode("lrt_app.handler", HANDLERS, timeout_s=5.0, environment=environment)
            fn.update_code(code)
            for _ in range(n):
                started = time.perf_counter()
                result = fn.invoke({})
                latencies.append(time.perf_counter() - started)
                results.append(result)
                env = _environment(fn, result.environment_id)
                waited = time.perf_counter()
                assert env.wait_settled(5.0)  # the extension asked for its next event
                settle_waits.append(time.perf_counter() - waited)
            assert [x.name for x in env.api.extensions.values()] == ["fnlens"]
            extension = next(iter(env.api.extensions.values()))
            assert extension.events == ("INVOKE",)
            assert extension.next_calls == n + 1  # once in init, then after each invoke
            post_runtime = [env.post_runtime_extensions_ms[r.request_id] for r in results]
            spans = _server_spans(sink)
    finally:
        sink.stop()

    assert [r.outcome for r in results] == ["success"] * n
    assert len({r.environment_id for r in results}) == 1
    assert [r.cold_start for r in results] == [True] + [False] * (n - 1)
    # exactly one invocation span per invocation, all exported before the last settle
    assert len(spans) == n
    assert [s["attributes"]["faas.invocation_id"] for s in spans] == [r.request_id for r in results]
    # the caller waits for the response only, not for the 200 ms export
    warm = [r.response_ms for r in results[1:]]
    assert max(warm) < delay_s * 1000 / 2, (warm, latencies)
    # the export ran after the response, while the environment was held: on the
    # runtime's own thread, before it asked for the next event (REPORT's Duration
    # counts it); the extension then only tells Lambda it is done
    assert all(r.duration_ms >= delay_s * 1000 * 0.75 for r in results), [
        r.duration_ms for r in results
    ]
    assert all(ms < delay_s * 1000 / 2 for ms in post_runtime), post_runtime
    # each invoke was handed out only after the previous ones' spans were answered
    assert [h[1] for h in handouts] == [r.request_id for r in results]
    for i, (_, _, spans_before, answered_before) in enumerate(handouts):
        assert spans_before == i and answered_before >= i, handouts
    # and the handler never waited for telemetry
    for result in results:
        records = [json.loads(x) for x in result.logs if x.startswith("{")]
        (record,) = [r for r in records if r.get("event") == "invocation"]
        assert record["telemetry_flush_ms"] < 5, record
    print(
        f"\ncollector delay {delay_s * 1000:.0f} ms; caller latency (ms) "
        f"{[round(x * 1000, 1) for x in latencies]}; REPORT Duration (ms) "
        f"{[r.duration_ms for r in results]}; post-runtime extension (ms) {post_runtime}; "
        f"settle wait after invoke returned (ms) {[round(x * 1000, 1) for x in settle_waits]}"
    )
