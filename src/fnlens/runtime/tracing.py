"""The invocation span, through the OpenTelemetry API when it is loaded.

fnlens never imports OpenTelemetry on the hot path. When an exporter installed
an SDK (or the application imported the API), the invocation span is a real
OpenTelemetry SERVER span, made current so that spans the handler creates are
its children. Otherwise fnlens still mints W3C ids so logs correlate.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Any

from fnlens.runtime import ids
from fnlens.runtime.propagation import TraceDecision

SPAN_NAME_DEFAULT = "invocation"
_TRACER: dict[str, Any] = {}
_TRACE_ID_HINT: ContextVar[str | None] = ContextVar("fnlens_trace_id_hint", default=None)


def trace_id_hint() -> str | None:
    """The trace id the invocation span should get when it starts a new trace (or None)."""
    return _TRACE_ID_HINT.get()


class SpanHandle:
    """An active OpenTelemetry span and the context token that made it current."""

    __slots__ = ("_token", "span", "span_id", "trace_id")

    def __init__(self, span: Any, token: Any, trace_id: str, span_id: str) -> None:
        self.span = span
        self._token = token
        self.trace_id = trace_id
        self.span_id = span_id

    def end(
        self,
        attributes: dict[str, Any],
        error: BaseException | None,
        status_message: str | None = None,
    ) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        if span.is_recording():
            clean = {k: v for k, v in attributes.items() if v is not None}
            if clean:
                span.set_attributes(clean)
            if error is not None:
                span.record_exception(error, escaped=True)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            elif status_message is not None:
                span.set_status(Status(StatusCode.ERROR, status_message))
        span.end()

    def detach(self) -> None:
        if self._token is None:
            return
        from opentelemetry import context

        try:
            context.detach(self._token)
        except Exception:
            pass
        self._token = None


def otel_loaded() -> bool:
    return "opentelemetry.trace" in sys.modules


def start_span(
    name: str,
    decision: TraceDecision,
    attributes: dict[str, Any],
    links: list[Any] | None = None,
) -> SpanHandle | None:
    """Start and activate the SERVER span, or return None when OpenTelemetry isn't loaded.

    Without a parent the span is a new root. Its trace id is ``decision.trace_id``
    (for instance the X-Ray root) when the provider's id generator reads
    :func:`trace_id_hint` — fnlens's provider does; another SDK provider picks its own.
    """
    if not otel_loaded():
        return None
    from opentelemetry import context, trace
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        SpanKind,
        TraceFlags,
        TraceState,
    )

    parent_ctx = context.Context()
    parent = decision.parent
    if parent is not None and parent.span_id:
        state = TraceState()
        if parent.tracestate:
            try:
                state = TraceState.from_header([parent.tracestate])
            except Exception:
                state = TraceState()
        remote = SpanContext(
            trace_id=int(parent.trace_id, 16),
            span_id=int(parent.span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if parent.sampled else 0),
            trace_state=state,
        )
        parent_ctx = trace.set_span_in_context(NonRecordingSpan(remote), parent_ctx)
    tracer = _TRACER.get("tracer")
    if tracer is None:
        # get_tracer builds a new Tracer (and scope) on every call: ~60 µs with the SDK.
        # A tracer taken from the proxy provider follows a provider installed later.
        tracer = _TRACER["tracer"] = trace.get_tracer("fnlens")
    hint = None
    if parent is None or not parent.span_id:
        # A new root keeps the trace id the policy chose (e.g. the X-Ray root), when the
        # provider's id generator honours the hint (fnlens's does; see exporters.tracer).
        hint = _TRACE_ID_HINT.set(decision.trace_id)
    try:
        span = tracer.start_span(
            name, context=parent_ctx, kind=SpanKind.SERVER, attributes=attributes, links=links
        )
    finally:
        if hint is not None:
            _TRACE_ID_HINT.reset(hint)
    span_context = span.get_span_context()
    if not span_context.is_valid or not span.is_recording():
        # No SDK: keep an id of our own so handler spans and logs still have a parent.
        span_context = SpanContext(
            trace_id=int(decision.trace_id, 16),
            span_id=int(ids.new_span_id(), 16),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        span = NonRecordingSpan(span_context)
    token = context.attach(trace.set_span_in_context(span))
    return SpanHandle(span, token, f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}")
