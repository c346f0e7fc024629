"""The lean OTLP encoder writes what the SDK encoders write for the same data."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource

from fnlens.exporters import otlp_wire, spans
from fnlens.exporters.logrecords import LogRecordFactory, scope
from fnlens.runtime.tracing import FastSpan

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


def _fast(parent: str | None, tracestate: str | None = None, error: bool = False) -> FastSpan:
    span = FastSpan(
        "GET /orders/{id}",
        "0123456789abcdef0123456789abcdef",
        "89abcdef01234567",
        parent,
        True,
        tracestate,
        dict(ATTRS),
        None,
        lambda s: None,
    )
    span.end({"http.response.status_code": 500 if error else 200, "unset": None},
             ValueError("boom") if error else None)  # fmt: skip
    return span


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
    lean = otlp_wire.spans_request(batch, RESOURCE, spans._FAST["scope"])
    sdk = encode_spans([spans.to_readable(s) for s in batch])
    assert ExportTraceServiceRequest.FromString(lean) == sdk


def test_status_message_without_error_and_zero_flags():
    spans.set_fast_span_resource(RESOURCE)
    span = _fast("fedcba9876543210")
    span.status_code, span.status_message = 2, "HTTP 503"
    lean = otlp_wire.spans_request([span], RESOURCE, spans._FAST["scope"])
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


@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_log_records_encode_like_the_sdk(index):
    event = EVENTS[index]
    factory = LogRecordFactory(RESOURCE)
    sdk = encode_logs([factory.make(event)])
    lean = ExportLogsServiceRequest.FromString(otlp_wire.logs_request([event], RESOURCE, scope()))
    if "timestamp" not in event or event["timestamp"] == "not a time":
        # both stamp "now": compare everything else
        for request in (sdk, lean):
            record = request.resource_logs[0].scope_logs[0].log_records[0]
            record.time_unix_nano = record.observed_time_unix_nano = 0
    assert lean == sdk


def test_empty_batches_encode_to_nothing():
    assert otlp_wire.logs_request([], RESOURCE, scope()) == b""
    assert otlp_wire.spans_request([], RESOURCE, None) == b""
