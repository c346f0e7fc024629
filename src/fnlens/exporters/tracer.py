"""Install the OpenTelemetry SDK TracerProvider the invocation spans go through.

If the application already installed an SDK ``TracerProvider`` fnlens adds its
processors to it (the application's resource wins); otherwise fnlens installs
one with the function's FaaS resource. Once the SDK is loaded,
``fnlens.runtime.tracing`` starts a real SERVER span per invocation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator

from fnlens.exporters.spans import BudgetSpanProcessor
from fnlens.runtime import ids
from fnlens.runtime.tracing import trace_id_hint


class FnlensIdGenerator(IdGenerator):
    """Trace ids that are also valid X-Ray ids (epoch seconds first), and that follow the
    parent policy's choice for a new root (the Lambda X-Ray root when it is not sampled),
    so spans, records, REPORT lines and X-Ray join on one id."""

    def generate_span_id(self) -> int:
        return int(ids.new_span_id(), 16)

    def generate_trace_id(self) -> int:
        return int(trace_id_hint() or ids.new_trace_id(), 16)


_lock = threading.Lock()


class RouterSpanProcessor(SpanProcessor):
    """One processor on the provider that fans out to fnlens's processors (removable)."""

    def __init__(self) -> None:
        self.processors: tuple[BudgetSpanProcessor, ...] = ()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: Any) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


_ROUTER = RouterSpanProcessor()
_state: dict[str, Any] = {}


def install_span_exporters(
    exporters: Sequence[Any], resource_factory: Callable[[], Any], **batch: Any
) -> list[BudgetSpanProcessor]:
    """Wrap each exporter in a :class:`BudgetSpanProcessor` (``batch``: its queue and
    batch sizes, schedule delay) and make the SDK provider live."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    processors = [BudgetSpanProcessor(exporter, **batch) for exporter in exporters]
    with _lock:
        if not _state.get("installed"):
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                ours = TracerProvider(resource=resource_factory(), id_generator=FnlensIdGenerator())
                trace.set_tracer_provider(ours)
                provider = trace.get_tracer_provider()  # set only once per process
                if provider is ours and _fast_path_enabled():
                    # fnlens owns the provider: record invocation spans without the SDK
                    # tracer on the handler's thread (fnlens.runtime.tracing, fast path)
                    from fnlens.exporters.spans import set_fast_span_resource

                    set_fast_span_resource(ours.resource)
                    _state["fast"] = True  # the recorder is set by _sync_recorder below
            if isinstance(provider, TracerProvider):
                provider.add_span_processor(_ROUTER)
            _state["installed"] = True
            _state["provider"] = provider
            from fnlens.exporters.links import invocation_links
            from fnlens.runtime.decorator import set_link_factory

            set_link_factory(invocation_links)
        _ROUTER.processors = (*_ROUTER.processors, *processors)
        _sync_recorder()
    return processors


def _fast_path_enabled() -> bool:
    import os

    from fnlens.config import parse_choice

    raw = os.environ.get("FNLENS_SPAN_PATH")
    return parse_choice("FNLENS_SPAN_PATH", raw, ("fast", "sdk"), "fast") == "fast"


def _record_fast_span(span: Any) -> None:
    for processor in _ROUTER.processors:
        processor.queue.put(span)


def _sync_recorder() -> None:
    """With one processor, fast-path spans go straight to its queue (one call less per
    invocation); otherwise through :func:`_record_fast_span`."""
    if not _state.get("fast"):
        return
    from fnlens.runtime.tracing import set_span_recorder

    processors = _ROUTER.processors
    set_span_recorder(processors[0].queue.put if len(processors) == 1 else _record_fast_span)


def remove_all_processors() -> None:
    with _lock:
        _ROUTER.processors = ()
        _sync_recorder()


def provider() -> Any:
    return _state.get("provider")
