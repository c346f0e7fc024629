"""A small OTLP/HTTP receiver for tests: decodes protobuf requests and records them.

It stands in for a tracing backend behind the collector (rotel's ``otlp``
exporter forwards here), so tests can assert on exactly what arrived.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    raw = getattr(value, kind)
    if kind == "array_value":
        return [any_value(v) for v in raw.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in raw.values}
    return raw


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


class OTLPSink:
    """Collects spans and log records (flattened to dicts) received over OTLP/HTTP."""

    def __init__(
        self,
        delay_s: float = 0.0,
        refuse: int = 0,
        split_answer_s: float = 0.0,
        retry_after: int | None = None,
    ) -> None:
        self.delay_s = delay_s  # a slow backend: each request is answered this late
        # answer this many requests "503 Service Unavailable" first (with retry_after:
        # "429 Too Many Requests" and that Retry-After)
        self.refuse = refuse
        self.retry_after = retry_after
        self.refused = 0
        self.refused_at: list[float] = []  # time.monotonic() of each refusal
        # > 0: the answer's head and body leave in two segments, this far apart
        self.split_answer_s = split_answer_s
        self.completed_at: list[float] = []  # time.monotonic() of each answered request
        self.spans: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.requests = 0
        self.headers: list[dict[str, str]] = []  # each request's headers (lower-case names)
        self.gzipped = 0  # requests that came gzip-compressed
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    refuse = sink.refused < sink.refuse
                    sink.refused += refuse
                if refuse:  # nothing recorded: the client must send it again
                    with sink._lock:
                        sink.refused_at.append(time.monotonic())
                    self.send_response(503 if sink.retry_after is None else 429)
                    if sink.retry_after is not None:
                        self.send_header("Retry-After", str(sink.retry_after))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                with sink._lock:
                    sink.headers.append({k.lower(): v for k, v in self.headers.items()})
                    sink.gzipped += encoding == "gzip"
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path.endswith("/v1/traces"):
                    sink._add_traces(body)
                    reply = ExportTraceServiceResponse().SerializeToString()
                elif self.path.endswith("/v1/logs"):
                    sink._add_logs(body)
                    reply = ExportLogsServiceResponse().SerializeToString()
                else:
                    reply = b""
                if sink.delay_s:
                    time.sleep(sink.delay_s)
                with sink._lock:
                    sink.completed_at.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply) + 8))
                self.end_headers()
                if sink.split_answer_s:
                    self.wfile.flush()
                    time.sleep(sink.split_answer_s)
                # (eight bytes of an unknown field: a body in the answer, as collectors send)
                self.wfile.write(reply + b"\xfa\x3e\x05hello")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> OTLPSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _add_traces(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        rows = []
        for rs in request.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    rows.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "kind": span.kind,
                            "status_code": span.status.code,
                            "attributes": attributes(span.attributes),
                            "resource": resource,
                            "links": [
                                {
                                    "trace_id": link.trace_id.hex(),
                                    "span_id": link.span_id.hex(),
                                    "attributes": attributes(link.attributes),
                                }
                                for link in span.links
                            ],
                            "events": [e.name for e in span.events],
                            "scope": ss.scope.name,
                            "start_ns": span.start_time_unix_nano,
                            "end_ns": span.end_time_unix_nano,
                        }
                    )
        with self._lock:
            self.requests += 1
            self.spans.extend(rows)

    def _add_logs(self, body: bytes) -> None:
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        rows = []
        for rl in request.resource_logs:
            resource = attributes(rl.resource.attributes)
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    rows.append(
                        {
                            "body": any_value(record.body),
                            "severity_text": record.severity_text,
                            "severity_number": record.severity_number,
                            "trace_id": record.trace_id.hex(),
                            "span_id": record.span_id.hex(),
                            "attributes": attributes(record.attributes),
                            "resource": resource,
                        }
                    )
        with self._lock:
            self.requests += 1
            self.logs.extend(rows)

    def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> bool:
        """Poll (bounded) until ``predicate(self)`` holds."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        with self._lock:
            return bool(predicate(self))
