"""Local files: fnlens events as JSONL, spans as OTLP JSON lines.

Spans are written exactly as the OpenTelemetry Collector's ``file`` exporter
writes them (one ``ExportTraceServiceRequest`` per line, protobuf JSON mapping with
lowerCamelCase names, trace and span ids in hex, int64 values as strings, enums
as integers), so ``fnlens ingest`` reads a directory written by fnlens exactly
like one written by a collector.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from fnlens.exporters._flushing import POLICY
from fnlens.exporters._queue import ExportQueue
from fnlens.runtime._telemetry import TELEMETRY

EVENTS_FILE = "fnlens.jsonl"
TRACES_FILE = "traces.otlp.jsonl"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _AppendFile:
    """Appends whole lines with one ``write`` per batch (O_APPEND: safe across processes)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write_lines(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                os.close(fd)


class JsonlFileSink:
    """Invocation records and log lines, one JSON object per line, off the caller's thread."""

    def __init__(
        self, directory: str, *, filename: str = EVENTS_FILE, max_queue_size: int = 4096
    ) -> None:
        self.path = os.path.join(directory, filename)
        self._file = _AppendFile(self.path)
        self.queue = ExportQueue(
            "file-events",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=512,
            schedule_delay_s=0.5,
            on_error=lambda exc: TELEMETRY.report_failure(self, "write", exc),
        )

    def emit(self, event: Mapping[str, Any]) -> None:
        self.queue.put(event)  # events are not changed after emit

    def _export(self, batch: Sequence[dict[str, Any]]) -> bool:
        lines = []
        for event in batch:
            ordered = {
                "timestamp": event.get("timestamp"),
                "level": event.get("level"),
                "event": event.get("event"),
            }
            ordered.update(event)
            lines.append(json.dumps(ordered, default=_json_default, separators=(",", ":")))
        self._file.write_lines(lines)
        return True

    def flush(self, timeout_s: float) -> None:
        POLICY.flush(self.queue, timeout_s)

    def dropped(self) -> int:
        return self.queue.dropped()

    def shutdown(self) -> None:
        self.queue.shutdown(2.0)


def span_encoder_available() -> bool:
    """The SDK's public span encoder (the ``files`` extra) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp.proto.common") is not None
    except (ImportError, ValueError):
        return False


def encode_spans_json(spans: Sequence[Any]) -> dict[str, Any]:
    """SDK spans → one ``ExportTraceServiceRequest`` in the collector's JSON encoding."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    document = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return document


def _hex_ids(obj: dict[str, Any]) -> None:
    import base64

    for key in _ID_FIELDS:
        value = obj.get(key)
        if value:
            obj[key] = base64.b64decode(value).hex()


class OtlpJsonFileSpanExporter:
    """A ``SpanExporter`` appending one OTLP JSON line per batch (collector file format)."""

    def __init__(self, directory: str, *, filename: str = TRACES_FILE) -> None:
        self.path = os.path.join(directory, filename)
        self._file = _AppendFile(self.path)

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        line = json.dumps(encode_spans_json(spans), separators=(",", ":"))
        self._file.write_lines([line])
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
