"""The invocation span, through the OpenTelemetry API when it is loaded.

fnlens never imports OpenTelemetry on the hot path. When an exporter installed
an SDK (or the application imported the API), the invocation span is a real
OpenTelemetry SERVER span, made current so that spans the handler creates are
its children. Otherwise fnlens still mints W3C ids so logs correlate.

Fast path: when fnlens's exporters own the SDK TracerProvider they register a
*span recorder* (:func:`set_span_recorder`). The invocation span is then kept
as plain data on the handler's thread (ids, times, attributes; a
``NonRecordingSpan`` with its context is made current, so the handler's own SDK
spans are its children) and turned into an SDK ``ReadableSpan`` on the export
thread, skipping the SDK tracer's per-span work (sampler, span object, attribute
validation, processor fan-out) on the critical path. Sampling follows the
parent's flag, as the SDK's default ``ParentBased(AlwaysOn)`` sampler does.
"""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from fnlens._state import register_reset
from fnlens.runtime import _ids as ids
from fnlens.runtime._propagation import TraceDecision

_TRACER: dict[str, Any] = {}
_TRACE_ID_HINT: ContextVar[str | None] = ContextVar("fnlens_trace_id_hint", default=None)


_RECORDER: list[Any] = []
_OT: dict[str, Any] = {}  # OpenTelemetry API names, imported once (first span)


def _ot() -> dict[str, Any]:
    if not _OT:
        from opentelemetry import context, trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        sampled, unsampled = TraceFlags(TraceFlags.SAMPLED), TraceFlags(0)

        class InvocationSpan(NonRecordingSpan):
            """The invocation span as the handler's code sees it (``get_current_span()``,
            the parent of its spans): the ``SpanContext`` is built only when asked."""

            def __init__(self, fast: FastSpan) -> None:
                self._fast = fast
                self._context = None

            def get_span_context(self) -> Any:
                span_context = self._context
                if span_context is None:
                    fast = self._fast
                    span_context = self._context = SpanContext(
                        int(fast.trace_id, 16),
                        int(fast.span_id, 16),
                        False,
                        sampled if fast.sampled else unsampled,
                        parse_tracestate(fast.tracestate),
                    )
                return span_context

            def __repr__(self) -> str:
                return f"InvocationSpan({self.get_span_context()!r})"

        # the key set_span_in_context() stores the current span under, learnt through the
        # public API: the fast path builds the handler's context in one step with it
        probe = trace.set_span_in_context(trace.INVALID_SPAN, context.Context())
        (span_key,) = probe.keys()
        _OT.update(
            InvocationSpan=InvocationSpan,
            context=context,
            trace=trace,
            Context=context.Context,
            span_key=span_key,
            **_context_functions(context),
        )
    return _OT


def _context_functions(context: Any) -> dict[str, Any]:
    """``get_current`` / ``attach`` / ``detach`` of the OpenTelemetry API (whatever
    runtime context ``OTEL_PYTHON_CONTEXT`` selects)."""
    return {"get_current": context.get_current, "attach": context.attach, "detach": context.detach}


def parse_tracestate(raw: str | None) -> Any:
    """A W3C ``tracestate`` header as an OpenTelemetry ``TraceState`` (None when absent or
    malformed: the span keeps its context without one)."""
    if not raw:
        return None
    from opentelemetry.trace.span import TraceState

    try:
        return TraceState.from_header([raw])
    except Exception:
        return None


def set_span_recorder(recorder: Any | None) -> None:
    """Install (or remove) the callable that receives finished :class:`FastSpan` objects."""
    _RECORDER[:] = [] if recorder is None else [recorder]


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
        record: Mapping[str, Any],
        error: BaseException | None,
        status_message: str | None = None,
        end_ns: int | None = None,
    ) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        if span.is_recording():
            span.set_attributes(end_attributes(record))
            if error is not None:
                span.record_exception(error, escaped=True)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            elif status_message is not None:
                span.set_status(Status(StatusCode.ERROR, status_message))
        span.end(end_time=end_ns)

    def detach(self) -> None:
        token = self._token
        if token is None:
            return
        self._token = None
        try:
            (_OT or _ot())["detach"](token)
        except Exception:  # e.g. reset from another context
            pass


class FastSpan:
    """The invocation span as plain data (see the module docstring); made current as a
    ``NonRecordingSpan`` and handed to the recorder when it ends.

    On the handler's thread it costs ids, two timestamps and a snapshot of the
    invocation record's fields (:func:`span_values`): its attributes are built from
    them on the export thread (:attr:`attributes`), since every one of them is a
    record field except the invoked ARN."""

    __slots__ = (
        "_attributes",
        "_token",
        "end_ns",
        "events",
        "invoked_arn",
        "links",
        "name",
        "parent_span_id",
        "recorder",
        "sampled",
        "span",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
        "tracestate",
        "values",
    )

    def __init__(self, name: str, trace_id: str, span_id: str, parent_span_id: str | None,
                 sampled: bool, tracestate: str | None, invoked_arn: str | None,
                 links: list[Any] | None, recorder: Any) -> None:  # fmt: skip
        self.start_ns = time.time_ns()
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.sampled = sampled
        self.tracestate = tracestate
        self.invoked_arn = invoked_arn
        self.links = links
        self.recorder = recorder
        self.values: tuple[Any, ...] = (None,) * len(SPAN_FIELDS)
        self._attributes: dict[str, Any] | None = None
        self.events: tuple[tuple[str, int, dict[str, Any]], ...] = ()
        self.status_code = 0  # UNSET; 2 = ERROR
        self.status_message: str | None = None
        self.end_ns = 0
        self.span: Any = None
        self._token: Any = None

    @property
    def attributes(self) -> dict[str, Any]:
        """The span's attributes (computed once, on first use: the export thread)."""
        if self._attributes is None:
            self._attributes = span_attributes(self.values, self.invoked_arn)
        return self._attributes

    def end(
        self,
        record: Mapping[str, Any],
        error: BaseException | None,
        status_message: str | None = None,
        end_ns: int | None = None,
    ) -> None:
        self.end_ns = end_ns or time.time_ns()
        self.values = span_values(record)
        if error is not None:
            import traceback

            from fnlens.runtime._truncate import (
                MAX_ERROR_MESSAGE_CHARS,
                MAX_STACK_TRACE_CHARS,
                truncate,
            )

            message = truncate(_safe_text(error), MAX_ERROR_MESSAGE_CHARS)
            self.status_code = 2
            self.status_message = f"{type(error).__name__}: {message}"
            self.events = (
                (
                    "exception",
                    self.end_ns,
                    {
                        "exception.type": type(error).__qualname__,
                        "exception.message": message,
                        "exception.stacktrace": truncate(
                            "".join(
                                traceback.format_exception(type(error), error, error.__traceback__)
                            ),
                            MAX_STACK_TRACE_CHARS,
                        ),
                    },
                ),
            )
        elif status_message is not None:
            self.status_code = 2
            self.status_message = status_message
        if self.sampled:
            self.recorder(self)

    detach = SpanHandle.detach


def _safe_text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__}: str() failed>"


# The record fields the span's attributes come from, in the order they are written.
SPAN_FIELDS = (
    "request_id",
    "trigger",
    "cold_start",
    "event_source",
    "http_method",
    "http_route",
    "batch_size",
    "http_status_code",
    "outcome",
    "batch_failures",
    "cloud_provider",
    "function_name",
)
_span_fields = operator.itemgetter(*SPAN_FIELDS)


def span_values(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A snapshot of the record fields the span needs (one C call for a full record)."""
    try:
        return _span_fields(record)
    except KeyError:
        return tuple(record.get(name) for name in SPAN_FIELDS)


def span_attributes(values: tuple[Any, ...], invoked_arn: str | None) -> dict[str, Any]:
    """The invocation span's attributes (FaaS and HTTP semantic conventions) from the
    :func:`span_values` of its record; fields without a value are left out."""
    (request_id, trigger, cold_start, event_source, method, route, batch_size, status,
     outcome, failures, provider, function_name) = values  # fmt: skip
    pairs = (
        # Azure: one app hosts several functions, so faas.name is a span attribute
        ("faas.name", function_name if provider == "azure" else None),
        ("faas.invocation_id", request_id),
        ("faas.trigger", trigger),
        ("faas.coldstart", cold_start),
        ("aws.lambda.invoked_arn", invoked_arn or None),
        ("fnlens.event_source", event_source),
        ("http.request.method", method),
        ("http.route", route),
        ("messaging.batch.message_count", batch_size),
        ("http.response.status_code", status),
        ("fnlens.outcome", outcome),
        ("fnlens.batch_failures", failures),
    )
    return {key: value for key, value in pairs if value is not None}


def end_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes known only when the invocation ends (status, outcome, final route)."""
    pairs = (
        ("http.response.status_code", record.get("http_status_code")),
        ("http.route", record.get("http_route")),
        ("fnlens.outcome", record.get("outcome")),
        ("fnlens.batch_failures", record.get("batch_failures")),
    )
    return {key: value for key, value in pairs if value is not None}


_LOADED: list[bool] = []  # [True] once OpenTelemetry was seen (modules stay loaded)


def otel_loaded() -> bool:
    """The application (or an exporter) uses OpenTelemetry: tracing or baggage."""
    if _LOADED:
        return True
    modules = sys.modules
    if "opentelemetry.trace" in modules or "opentelemetry.baggage" in modules:
        _LOADED.append(True)
        return True
    return False


def start_span(
    name: str,
    decision: TraceDecision,
    attributes: Callable[[], dict[str, Any]] | dict[str, Any],
    links: list[Any] | None = None,
    invoked_arn: str | None = None,
) -> SpanHandle | FastSpan | None:
    """Start and activate the SERVER span, or return None when OpenTelemetry isn't loaded.

    ``attributes`` (or a function returning them) are the span's attributes known at
    its start, for an SDK tracer (samplers see them); the fast path derives its
    attributes from the invocation record instead.

    Without a parent the span is a new root. Its trace id is ``decision.trace_id``
    (for instance the X-Ray root) when the provider's id generator reads
    :func:`trace_id_hint` — fnlens's provider does; another SDK provider picks its own.
    """
    if not otel_loaded():
        return None
    if _RECORDER:
        return start_fast_span(name, decision, invoked_arn, links, _RECORDER[0])
    if callable(attributes):
        attributes = attributes()
    from opentelemetry import context, trace
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        SpanKind,
        TraceFlags,
        TraceState,
    )

    parent = decision.parent
    parent_ctx = context.Context()
    if parent is not None and parent.span_id:
        state = parse_tracestate(parent.tracestate) or TraceState()
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
    token = context.attach(trace.set_span_in_context(span, _with_baggage(decision)))
    return SpanHandle(span, token, f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}")


def start_fast_span(
    name: str,
    decision: TraceDecision,
    invoked_arn: str | None,
    links: list[Any] | None,
    recorder: Any,
) -> FastSpan:
    """The invocation span on the fast path (see the module docstring), made current."""
    ot = _OT or _ot()
    parent = decision.parent
    sampler = _SAMPLER[0] if _SAMPLER else _sampler()
    if parent is not None and parent.span_id:
        trace_id, parent_span_id, tracestate = parent.trace_id, parent.span_id, parent.tracestate
        sampled = sampler.sampled(parent.sampled, trace_id)
    else:
        trace_id, parent_span_id, tracestate = decision.trace_id, None, None
        sampled = sampler.sampled(None, trace_id)
    fast = FastSpan(
        name,
        trace_id,
        ids.new_span_id(),
        parent_span_id,
        sampled,
        tracestate,
        invoked_arn,
        links,
        recorder,
    )
    span = fast.span = ot["InvocationSpan"](fast)
    if decision.baggage:
        handler_context = ot["trace"].set_span_in_context(span, _with_baggage(decision))
    else:  # what set_span_in_context(span) gives, without its three calls
        current = ot["get_current"]()
        handler_context = ot["Context"](
            {**current, ot["span_key"]: span} if current else {ot["span_key"]: span}
        )
    fast._token = ot["attach"](handler_context)
    return fast


_SAMPLER: list[Any] = []


def _sampler() -> Any:
    """The sampler from ``OTEL_TRACES_SAMPLER`` (read once)."""
    from fnlens.runtime._sampling import sampler_from_env

    _SAMPLER[:] = [sampler_from_env()]
    return _SAMPLER[0]


def reset_sampler() -> None:
    """Read ``OTEL_TRACES_SAMPLER`` again at the next span (tests, reconfiguration)."""
    _SAMPLER.clear()


register_reset(__name__, reset_sampler)  # (the span recorder is the exporters' to reset)


def _with_baggage(decision: TraceDecision) -> Any:
    """The context the handler runs in: the caller's W3C ``baggage`` header applied,
    so ``opentelemetry.baggage.get_all()`` inside the handler sees it."""
    if not decision.baggage:
        return None
    try:
        from opentelemetry.baggage.propagation import W3CBaggagePropagator

        return W3CBaggagePropagator().extract({"baggage": decision.baggage})
    except Exception:
        return None
