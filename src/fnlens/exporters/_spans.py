"""A span processor with a flush budget, in the style of the SDK's BatchSpanProcessor.

The SDK's ``BatchSpanProcessor.force_flush`` exports on the *caller's* thread and
ignores its timeout while the exporter blocks (up to ``OTEL_EXPORTER_OTLP_TIMEOUT``,
10 s). ``BudgetSpanProcessor`` keeps the export on its worker: the caller waits at
most what :class:`fnlens.exporters._flushing.FlushPolicy` allows, queues are
bounded and every span that is not exported is counted as dropped.

The OpenTelemetry SDK is not imported here: on the fast path invocation spans never
become SDK objects on the runtime's thread, and the SDK's types are needed only on
the export thread (``to_readable``, the SDK encoder) or by an SDK provider that
hands spans in (duck-typed: ``on_start`` / ``_on_ending`` / ``on_end``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from fnlens.exporters._flushing import POLICY
from fnlens.exporters._queue import ExportQueue
from fnlens.runtime._telemetry import TELEMETRY
from fnlens.runtime._tracing import FastSpan, parse_tracestate

_FAST: dict[str, Any] = {}
_FAST_LOCK = threading.Lock()


def set_fast_span_resource(resource: Any) -> None:
    """The resource invocation spans recorded on the fast path are exported with: an
    SDK ``Resource`` or a :class:`~fnlens.exporters._otlp_wire.ResourceData`, or a
    function that builds it (called once, on the export thread)."""
    _FAST.clear()
    _FAST["resource_factory"] = resource if callable(resource) else (lambda: resource)


def fast_span_heads() -> tuple[Any, Any] | None:
    """(resource, instrumentation scope) of fast-path spans; None when not set."""
    heads = _FAST.get("heads")
    if heads is None:
        factory = _FAST.get("resource_factory")
        if factory is None:
            return None
        with _FAST_LOCK:
            heads = _FAST.get("heads")
            if heads is None:
                from fnlens.exporters._otlp_wire import FNLENS_SCOPE

                heads = _FAST["heads"] = (factory(), FNLENS_SCOPE)
    return heads


def _sdk_heads() -> tuple[Any, Any]:
    """The fast-path resource and scope as SDK objects (for the SDK's exporters)."""
    heads = _FAST.get("sdk_heads")
    if heads is None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        resource, scope = fast_span_heads() or (None, None)
        if resource is not None and not isinstance(resource, Resource):
            resource = Resource(dict(resource.attributes), resource.schema_url or None)
        if scope is not None and not isinstance(scope, InstrumentationScope):
            scope = InstrumentationScope(scope.name, scope.version)
        heads = _FAST["sdk_heads"] = (resource, scope)
    return heads


def to_readable(fast: FastSpan) -> Any:
    """A fast-path invocation span as the SDK span the exporters expect (export thread)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    flags = TraceFlags(TraceFlags.SAMPLED if fast.sampled else 0)
    state = parse_tracestate(fast.tracestate)
    trace_id = int(fast.trace_id, 16)
    context = SpanContext(trace_id, int(fast.span_id, 16), False, flags, state)
    parent = (
        SpanContext(trace_id, int(fast.parent_span_id, 16), True, flags, state)
        if fast.parent_span_id
        else None
    )
    status = (
        Status(StatusCode.ERROR, fast.status_message)
        if fast.status_code == 2
        else Status(StatusCode.UNSET)
    )
    resource, scope = _sdk_heads()
    return ReadableSpan(
        name=fast.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=dict(fast.attributes),
        events=[Event(name, attrs, ts) for name, ts, attrs in fast.events],
        links=tuple(fast.links or ()),
        kind=SpanKind.SERVER,
        status=status,
        start_time=fast.start_ns,
        end_time=fast.end_ns,
        instrumentation_scope=scope,
    )


class BudgetSpanProcessor:
    """Queue finished sampled spans; export them in batches on a background thread.

    A span processor by shape (``on_start``, ``_on_ending``, ``on_end``, ``force_flush``,
    ``shutdown``), not by base class: the SDK is not imported to define it."""

    def __init__(
        self,
        exporter: Any,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
    ) -> None:
        self.exporter = exporter
        # fnlens's OTLP exporters take protobuf bytes (otlp_wire); others SDK spans
        self._wire = hasattr(exporter, "export_bytes")
        self.queue = ExportQueue(
            f"spans-{type(exporter).__name__}",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            on_error=lambda exc: TELEMETRY.report_failure(exporter, "export", exc),
            start_export=self._start_export,
            prepare=self._prepare if self._wire else None,
        )

    def _prepare(self) -> None:
        """Imports and the channel, on the worker before its first export (the resource
        is built at the first export: the first invocation's ARN is known then)."""
        self._wire_request([])
        prepare = getattr(self.exporter, "prepare", None)
        if prepare is not None:
            prepare()

    def _export(self, batch: Sequence[Any]) -> bool:
        exporter = self.exporter
        if self._wire:
            return exporter.export_bytes(self._wire_request(batch))
        from opentelemetry.sdk.trace.export import SpanExportResult

        spans = [to_readable(s) if type(s) is FastSpan else s for s in batch]
        return exporter.export(spans) == SpanExportResult.SUCCESS

    def _start_export(self, batch: list[Any], send_within_s: float) -> Any:
        """Send ``batch`` from the calling thread (see ``ExportQueue.export_here``);
        None when the exporter cannot (gRPC, https: the worker exports)."""
        if not self._wire or not self.exporter.can_begin():
            return None
        return self.exporter.begin(self._wire_request(batch), send_within_s)

    def _wire_request(self, batch: Sequence[Any]) -> bytes:
        """Fast-path spans written as protobuf directly; the rest (spans with links, the
        handler's own SDK spans) from their public attributes, in the same request
        (``resource_spans`` is repeated: the bytes concatenate)."""
        from fnlens.exporters import _otlp_wire as otlp_wire

        fast = [s for s in batch if type(s) is FastSpan and not s.links]
        data = b""
        if fast:
            resource, scope = fast_span_heads() or (otlp_wire.ResourceData({}), None)
            data = otlp_wire.spans_request(fast, resource, scope)
        if len(fast) < len(batch):
            rest = [
                to_readable(s) if type(s) is FastSpan else s
                for s in batch
                if not (type(s) is FastSpan and not s.links)
            ]
            data += otlp_wire.readable_spans_request(rest)
        return data

    # span processor -----------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
        return None

    def on_end(self, span: Any) -> None:
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self.queue.put(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.queue.flush(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        self.queue.shutdown(2.0)
        try:
            self.exporter.shutdown()
        except Exception:
            pass


class ProcessorFlushHook:
    """Puts a span processor under fnlens's flush budget (a TELEMETRY hook)."""

    needs_start = needs_end = False  # only flushes

    def __init__(self, processor: BudgetSpanProcessor) -> None:
        self.processor = processor

    def on_start(self, invocation: Any) -> None:
        return None

    def on_end(self, invocation: Any, record: Any) -> None:
        return None

    def flush(self, timeout_s: float) -> None:
        POLICY.flush(self.processor.queue, timeout_s)

    def export_here(self, send_within_s: float) -> Any:
        return self.processor.queue.export_here(send_within_s)

    def dropped(self) -> int:
        return self.processor.queue.dropped()

    def shutdown(self) -> None:
        self.processor.shutdown()
