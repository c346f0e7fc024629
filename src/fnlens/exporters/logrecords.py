"""Turn fnlens event dicts into OpenTelemetry SDK log records (on the export thread).

The body is the event (``"invocation"`` for invocation records, the message for
log lines); every other field becomes an attribute; ``trace_id``/``span_id``
become the record's trace context, so backends join logs to spans.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from fnlens._version import __version__

_SEVERITY = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "warning": SeverityNumber.WARN,
    "warn": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "exception": SeverityNumber.ERROR,
    "critical": SeverityNumber.FATAL,
    "fatal": SeverityNumber.FATAL,
}
_SKIP = frozenset({"timestamp", "level", "event", "trace_id", "span_id"})


def _ns(timestamp: Any) -> int | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        return None


def _value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    try:
        return json.dumps(value, default=str, separators=(",", ":"))
    except Exception:
        return repr(value)


_SCOPE: list[InstrumentationScope] = []


def scope() -> InstrumentationScope:
    """The instrumentation scope fnlens's log records are exported with."""
    if not _SCOPE:
        _SCOPE.append(InstrumentationScope("fnlens", __version__))
    return _SCOPE[0]


class LogRecordFactory:
    """Builds records for the installed SDK (``ReadableLogRecord`` or older ``LogData``)."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        self.scope = scope()

    def make(self, event: Mapping[str, Any]) -> Any:
        import time

        level = str(event.get("level") or "info").lower()
        attributes = {
            key: _value(value)
            for key, value in event.items()
            if key not in _SKIP and value is not None
        }
        context = None
        trace_id, span_id = event.get("trace_id"), event.get("span_id")
        if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id and span_id:
            try:
                span_context = SpanContext(
                    int(trace_id, 16), int(span_id, 16), False, TraceFlags(TraceFlags.SAMPLED)
                )
                context = set_span_in_context(NonRecordingSpan(span_context))
            except ValueError:
                context = None
        body = event.get("event")
        return _build(
            timestamp=_ns(event.get("timestamp")) or time.time_ns(),
            context=context,
            severity_text=level.upper(),
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            body=body if isinstance(body, str) else _value(body),
            attributes=attributes,
            resource=self.resource,
            scope=self.scope,
        )


def _build(**kw: Any) -> Any:
    try:  # SDK >= 1.39
        from opentelemetry._logs import LogRecord
        from opentelemetry.sdk._logs import ReadableLogRecord

        record = LogRecord(
            timestamp=kw["timestamp"],
            observed_timestamp=kw["timestamp"],
            context=kw["context"],
            severity_text=kw["severity_text"],
            severity_number=kw["severity_number"],
            body=kw["body"],
            attributes=kw["attributes"],
        )
        return ReadableLogRecord(
            log_record=record, resource=kw["resource"], instrumentation_scope=kw["scope"]
        )
    except ImportError:  # older SDKs: LogData(LogRecord(..., resource))
        from opentelemetry.sdk._logs import LogData, LogRecord  # type: ignore[attr-defined]

        span_context = None
        if kw["context"] is not None:
            from opentelemetry.trace import get_current_span

            span_context = get_current_span(kw["context"]).get_span_context()
        record = LogRecord(
            timestamp=kw["timestamp"],
            observed_timestamp=kw["timestamp"],
            trace_id=span_context.trace_id if span_context else 0,
            span_id=span_context.span_id if span_context else 0,
            trace_flags=span_context.trace_flags if span_context else TraceFlags(0),
            severity_text=kw["severity_text"],
            severity_number=kw["severity_number"],
            body=kw["body"],
            resource=kw["resource"],
            attributes=kw["attributes"],
        )
        return LogData(log_record=record, instrumentation_scope=kw["scope"])
