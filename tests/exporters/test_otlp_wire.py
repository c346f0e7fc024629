"""fnlens's OTLP encoder: its bytes decoded with opentelemetry-proto hold exactly the data
(spans compared with the SDK's public span encoder, log records with the data model)."""

from __future__ import annotations

import socket
import threading

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource

from fnlens.exporters import _otlp_http
from fnlens.exporters import _otlp_wire as otlp_wire
from fnlens.exporters import _spans as spans
from fnlens.runtime._tracing import FastSpan


def scope():
    return otlp_wire.FNLENS_SCOPE


RESOURCE = Resource.create({"service.name": "orders", "faas.max_memory": 268435456})

ATTRS = {
    "faas.trigger": "http",
    "faas.coldstart": False,
    "flag": True,
    "zero": 0,
    "negative": -42,
    "big": 2**62,
    "ratio": 0.0,
    "pi": 3.25,
    "empty": "",
    "unicode": "héllo ✓",
    "list": ["a", "b"],
    "ints": (1, 2, 3),
    "mapping": {"k": "v", "n": 1},
    "none": None,
    "raw": b"\x00\x01",
}


RECORD = {  # the fields an invocation span takes its attributes from, of every type
    "request_id": "r-1 héllo ✓",
    "trigger": "http",
    "cold_start": True,
    "event_source": "aws:apigateway",
    "http_method": "GET",
    "http_route": "/orders/{id}",
    "batch_size": None,
    "http_status_code": 200,
    "outcome": "success",
    "batch_failures": None,
}


def _fast(parent: str | None, tracestate: str | None = None, error: bool = False) -> FastSpan:
    span = FastSpan(
        "GET /orders/{id}",
        "0123456789abcdef0123456789abcdef",
        "89abcdef01234567",
        parent,
        True,
        tracestate,
        "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live",
        None,
        lambda s: None,
    )
    record = {**RECORD, "http_status_code": 500 if error else 200, "cold_start": not error}
    span.end(record, ValueError("boom") if error else None)
    return span


def test_fast_span_attributes_follow_the_semantic_conventions():
    attributes = _fast(None).attributes
    assert attributes == {
        "faas.invocation_id": "r-1 héllo ✓",
        "faas.trigger": "http",
        "faas.coldstart": True,
        "aws.lambda.invoked_arn": "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live",
        "fnlens.event_source": "aws:apigateway",
        "http.request.method": "GET",
        "http.route": "/orders/{id}",
        "http.response.status_code": 200,
        "fnlens.outcome": "success",
    }


@pytest.mark.parametrize(
    "parent,tracestate,error",
    [
        (None, None, False),
        ("fedcba9876543210", None, False),
        ("fedcba9876543210", "vendor=x,other=y", True),
        (None, None, True),
    ],
)
def test_fast_spans_encode_like_the_sdk(parent, tracestate, error):
    spans.set_fast_span_resource(RESOURCE)
    batch = [_fast(parent, tracestate, error), _fast(None)]
    lean = otlp_wire.spans_request(batch, RESOURCE, spans.fast_span_heads()[1])
    sdk = encode_spans([spans.to_readable(s) for s in batch])
    assert ExportTraceServiceRequest.FromString(lean) == sdk


def test_span_attribute_values_of_every_type_encode_like_the_sdk():
    spans.set_fast_span_resource(RESOURCE)
    span = _fast("fedcba9876543210")
    span.attributes.clear()  # the encoder's input, whatever the record held
    span.attributes.update(ATTRS)
    lean = otlp_wire.spans_request([span], RESOURCE, spans.fast_span_heads()[1])
    assert ExportTraceServiceRequest.FromString(lean) == encode_spans([spans.to_readable(span)])


def test_status_message_without_error_and_zero_flags():
    spans.set_fast_span_resource(RESOURCE)
    span = _fast("fedcba9876543210")
    span.status_code, span.status_message = 2, "HTTP 503"
    lean = otlp_wire.spans_request([span], RESOURCE, spans.fast_span_heads()[1])
    assert ExportTraceServiceRequest.FromString(lean) == encode_spans([spans.to_readable(span)])


EVENTS = [
    {
        "timestamp": "2024-05-01T12:00:00.123456Z",
        "level": "info",
        "event": "invocation",
        "trace_id": "0123456789abcdef0123456789abcdef",
        "span_id": "89abcdef01234567",
        "request_id": "r-1",
        "cold_start": False,
        "duration_ms": 1.5,
        "memory_limit_mb": 256,
        "batch_size": None,
        "zero": 0,
        "items": [1, {"a": 2}],
        "obj": object(),
    },
    {"timestamp": "not a time", "level": "warning", "event": "line", "item": 7},
    {"level": "ERROR", "event": {"not": "a string"}, "trace_id": "zz", "span_id": "12"},
    {"event": "x", "trace_id": "0" * 32, "span_id": "0" * 16, "level": "custom"},
    {"timestamp": "2024-05-01T12:00:00+00:00", "event": "", "level": "debug", "empty": ""},
]


_SEVERITY_NUMBER = {"debug": 5, "info": 9, "warning": 13, "error": 17}


def _plain(value):
    """What an attribute value becomes: scalars as they are, the rest as compact JSON."""
    import json

    if isinstance(value, (str, bool, int, float)):
        return value
    try:
        return json.dumps(value, default=str, separators=(",", ":"))
    except Exception:
        return repr(value)


def _expected_log(event: dict) -> dict:
    """The log record the OpenTelemetry logs data model gives for ``event`` (written
    from the model, not from the encoder)."""
    from datetime import datetime

    level = str(event.get("level") or "info").lower()
    stamp = None
    try:
        stamp = int(
            datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp() * 1e9
        )
    except (KeyError, ValueError):
        pass
    trace_id, span_id = event.get("trace_id"), event.get("span_id")
    ids = {}
    try:
        if trace_id and span_id:
            tid, sid = int(trace_id, 16), int(span_id, 16)
            ids = {"flags": 1}
            if tid:
                ids["trace_id"] = tid.to_bytes(16, "big")
            if sid:
                ids["span_id"] = sid.to_bytes(8, "big")
    except ValueError:
        ids = {}
    body = event.get("event")
    return {
        "time": stamp,
        "severity_number": _SEVERITY_NUMBER.get(level, 9),
        "severity_text": level.upper(),
        "body": body if isinstance(body, str) else _plain(body),
        "attributes": {
            k: _plain(v)
            for k, v in event.items()
            if v is not None and k not in {"timestamp", "level", "event", "trace_id", "span_id"}
        },
        "flags": ids.get("flags", 0),
        "trace_id": ids.get("trace_id", b""),
        "span_id": ids.get("span_id", b""),
    }


def _decoded_log(data: bytes) -> dict:
    request = ExportLogsServiceRequest.FromString(data)
    (resource_logs,) = request.resource_logs
    assert {kv.key: kv.value.string_value for kv in resource_logs.resource.attributes}[
        "service.name"
    ] == "orders"
    (scope_logs,) = resource_logs.scope_logs
    assert (scope_logs.scope.name, scope_logs.scope.version) == ("fnlens", otlp_wire.__version__)
    (record,) = scope_logs.log_records
    from tests.support.otlp_sink import any_value

    assert record.observed_time_unix_nano == record.time_unix_nano
    return {
        "time": record.time_unix_nano,
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        "body": any_value(record.body),
        "attributes": {kv.key: any_value(kv.value) for kv in record.attributes},
        "flags": record.flags,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
    }


@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_log_records_hold_the_event(index):
    event = EVENTS[index]
    expected = _expected_log(event)
    actual = _decoded_log(otlp_wire.logs_request([event], RESOURCE, scope()))
    if expected["time"] is None:  # stamped "now"
        assert actual.pop("time") > 1_700_000_000 * 10**9
        expected.pop("time")
    if "obj" in event:  # an arbitrary object: its str() inside the JSON text
        assert actual["attributes"].pop("obj").startswith('"<object object at')
        expected["attributes"].pop("obj")
    assert actual == expected


def test_cached_attribute_encodings_stay_exact_and_bounded(monkeypatch):
    """Recurring (key, value) pairs come from a cache: the bytes must be those of a fresh
    encoding, ``True`` and ``1`` must not share an entry, and the cache stays bounded."""
    monkeypatch.setattr(otlp_wire, "_KV", {})
    monkeypatch.setattr(otlp_wire, "_KV_PER_KEY", {})
    events = [
        {"event": "e", "flag": True, "n": 1, "route": "/orders/{id}", "id": f"r-{i}"}
        for i in range(100)
    ] + [{"event": "e", "flag": 1, "n": True, "route": "/orders/{id}", "id": "r-x"}]
    for event in events * 2:  # the second pass reads the cache
        actual = _decoded_log(otlp_wire.logs_request([event], RESOURCE, scope()))
        actual.pop("time")
        expected = _expected_log(event)
        expected.pop("time")
        assert actual == expected, event
        flag = actual["attributes"]["flag"]
        assert type(flag) is type(event["flag"]), event
    # private probe, kept: the cache's bound has no effect outside the process but memory
    assert otlp_wire._KV_PER_KEY[(b"\x32", "id")] == otlp_wire._KV_VALUES_PER_KEY
    assert len(otlp_wire._KV) <= otlp_wire._KV_LIMIT


def test_sdk_spans_encode_like_the_sdk():
    """The handler's own spans (SDK ``ReadableSpan``) are written from their public
    attributes: the same request as the SDK's public span encoder gives."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("orders.db", "1.2")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.set_attributes(ATTRS | {"none": "x", "raw": "y"})
        with tracer.start_as_current_span(
            "child",
            kind=SpanKind.CLIENT,
            links=[Link(parent.get_span_context(), {"why": "retry"})],
        ) as child:
            child.add_event("query", {"rows": 3})
            child.set_status(Status(StatusCode.ERROR, "timeout"))
    other = provider.get_tracer("other")
    with other.start_as_current_span("producer", kind=SpanKind.PRODUCER):
        pass
    finished = memory.get_finished_spans()
    assert len(finished) == 3
    ours = ExportTraceServiceRequest.FromString(otlp_wire.readable_spans_request(finished))
    assert ours == encode_spans(finished)


def test_empty_batches_encode_to_nothing():
    assert otlp_wire.logs_request([], RESOURCE, scope()) == b""
    assert otlp_wire.spans_request([], RESOURCE, None) == b""


# the socket transport ---------------------------------------------------------------
def _serve(replies: list[bytes]) -> tuple[str, list[bytes], threading.Thread]:
    """A raw TCP server answering each request with the next canned reply; a reply of
    b"" closes the connection instead."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    received: list[bytes] = []

    def run() -> None:
        pending = list(replies)
        while pending:
            conn, _ = server.accept()
            with conn:
                while pending:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    fields = dict(h.split(b":", 1) for h in head.split(b"\r\n")[1:])
                    length = int(fields[b"Content-Length"])
                    while len(body) < length:
                        body += conn.recv(65536)
                    received.append(head + b"\r\n\r\n" + body)
                    reply = pending.pop(0)
                    if not reply:
                        break
                    conn.sendall(reply)
                    if b"Connection: close" in reply:
                        break
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/v1/logs", received, thread


def test_socket_transport_keeps_alive_and_reads_every_framing():
    url, received, thread = _serve(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
                b"2\r\nde\r\n1;ext=1\r\nf\r\n0\r\nTrailer: t\r\n\r\n"
            ),
            (
                b"HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n"
            ),
        ]
    )
    transport = _otlp_http.socket_transport()
    headers = {"Content-Type": "application/x-protobuf", "x-key": "v"}
    first = transport.request("POST", url, headers=headers, timeout=5, data=b"\x01\x02")
    assert (first.status_code, first.content()) == (200, b"abc")
    second = transport.request("POST", url, headers=headers, timeout=5, data=b"")
    assert (second.status_code, second.content()) == (200, b"def")
    assert second.headers()["x-a"] == "1, 2"
    third = transport.request("POST", url, headers=headers, timeout=5, data=b"z")
    assert (third.status_code, third.reason) == (503, "Busy")
    assert third.headers()["retry-after"] == "2"
    thread.join(5)
    assert len(received) == 3
    assert received[0].startswith(b"POST /v1/logs HTTP/1.1\r\n")
    assert b"\r\nx-key: v\r\n" in received[0] and received[0].endswith(b"\x01\x02")


def test_socket_transport_reports_a_closed_connection_as_a_connection_error():
    url, _, thread = _serve([b""])
    transport = _otlp_http.socket_transport()
    result = transport.request("POST", url, headers={}, timeout=5, data=b"x")
    assert result.status_code is None and transport.is_connection_error(result.error)
    bad = transport.request("POST", url, headers={"x": "a\r\nInjected: 1"}, timeout=5, data=b"")
    assert isinstance(bad.error, ValueError) and not transport.is_connection_error(bad.error)
    thread.join(5)


def test_http_exporters_use_the_socket_transport_and_encode_directly(otlp_sink):
    from fnlens.exporters import _otlp as otlp

    config = otlp.resolve("logs", endpoint=otlp_sink.endpoint, env={})
    exporter = otlp.log_exporter(config)
    assert isinstance(exporter.transport, _otlp_http.SocketTransport)
    event = dict(EVENTS[0], obj="x")
    assert exporter.export_bytes(otlp_wire.logs_request([event], RESOURCE, scope()))
    assert otlp_sink.wait_for(lambda s: len(s.logs) == 1)
    assert otlp_sink.logs[0]["attributes"]["request_id"] == "r-1"
