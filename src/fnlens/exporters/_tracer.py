"""Install the OpenTelemetry SDK TracerProvider the invocation spans go through.

If the application already installed an SDK ``TracerProvider`` fnlens adds its
processors to it (the application's resource wins); otherwise fnlens installs
its own with the function's FaaS resource. Once the OpenTelemetry API is loaded,
``fnlens.runtime._tracing`` starts a SERVER span per invocation.

fnlens's own provider is built at its first use: until the application asks it
for a tracer (or anything else), it is a :class:`DeferredTracerProvider` of the
OpenTelemetry API, and the SDK is not imported. The invocation spans do not need
it (the fast path records them as plain data), so a function that creates no
spans of its own never imports the SDK during its init phase.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from fnlens._state import register_reset
from fnlens.exporters._spans import BudgetSpanProcessor
from fnlens.runtime import _ids as ids
from fnlens.runtime._tracing import trace_id_hint

_lock = threading.RLock()  # (re-entered: add_span_processor during an install)


def _id_generator() -> Any:
    """Trace ids that are also valid X-Ray ids (epoch seconds first), and that follow the
    parent policy's choice for a new root (the Lambda X-Ray root when it is not sampled),
    so spans, records, REPORT lines and X-Ray join on one id."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class FnlensIdGenerator(IdGenerator):
        def generate_span_id(self) -> int:
            return int(ids.new_span_id(), 16)

        def generate_trace_id(self) -> int:
            return int(trace_id_hint() or ids.new_trace_id(), 16)

    return FnlensIdGenerator()


class RouterSpanProcessor:
    """One processor on the provider that fans out to fnlens's processors (removable).

    A span processor by shape, as the SDK calls it; no SDK base class to import."""

    def __init__(self) -> None:
        self.processors: tuple[BudgetSpanProcessor, ...] = ()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
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


def _api_provider_class() -> type:
    from opentelemetry.trace import TracerProvider

    class DeferredTracerProvider(TracerProvider):
        """fnlens's SDK ``TracerProvider``, built (and the SDK imported) at its first
        use: ``get_tracer`` or any attribute of the SDK provider (``resource``,
        ``add_span_processor``…). ``force_flush`` and ``shutdown`` before that concern
        only fnlens's processors.

        It is an OpenTelemetry API ``TracerProvider`` of its own, not an SDK one: code
        that needs the SDK provider (``isinstance`` checks, its sampler, its resource
        object) gets it from :meth:`sdk_provider` or ``fnlens.tracer_provider()``."""

        def __init__(self, resource_factory: Callable[[], Any]) -> None:
            self._resource_factory = resource_factory
            self._sdk: Any = None
            self._build_lock = threading.Lock()

        def sdk_provider(self) -> Any:
            """The SDK provider (built now if it was not yet)."""
            sdk = self._sdk
            if sdk is None:
                with self._build_lock:
                    sdk = self._sdk
                    if sdk is None:
                        sdk = _sdk_provider_subclass()(
                            resource=self._resource_factory(),
                            id_generator=_id_generator(),
                            # shut down by this proxy's exit hook, registered when fnlens
                            # installed it: after fnlens's own flush at exit, as before
                            shutdown_on_exit=False,
                        )
                        sdk.add_span_processor(_ROUTER)
                        self._sdk = sdk
            return sdk

        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            return self.sdk_provider().get_tracer(*args, **kwargs)

        def add_span_processor(self, span_processor: Any) -> None:
            """The application's processor on fnlens's provider: it sees every span from
            now on, the invocation span included (which then goes through the SDK
            tracer instead of the fast path)."""
            self.sdk_provider().add_span_processor(span_processor)

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            if self._sdk is not None:
                return self._sdk.force_flush(timeout_millis)
            return _ROUTER.force_flush(timeout_millis)

        def shutdown(self) -> None:
            if self._sdk is not None:
                self._sdk.shutdown()
            else:
                _ROUTER.shutdown()

        @property
        def resource(self) -> Any:
            """The SDK provider's resource (builds it)."""
            return self.sdk_provider().resource

    return DeferredTracerProvider


def _leave_fast_path() -> None:
    """An application processor was added: invocation spans go through the SDK tracer
    from now on, so that it sees them too."""
    with _lock:
        _state["fast"] = False
        from fnlens.runtime._tracing import set_span_recorder

        set_span_recorder(None)


def _sdk_provider_subclass() -> type:
    """The SDK's ``TracerProvider``, subclassed only to notice processors the
    application adds (its public ``add_span_processor``)."""
    cached = _state.get("sdk_class")
    if cached is None:
        from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

        class FnlensSDKTracerProvider(SDKTracerProvider):
            """fnlens's SDK provider: the function's resource, fnlens's id generator and
            processors; a processor added here also sees the invocation spans."""

            def add_span_processor(self, span_processor: Any) -> None:
                super().add_span_processor(span_processor)
                if span_processor is not _ROUTER:
                    _leave_fast_path()

        cached = _state["sdk_class"] = FnlensSDKTracerProvider
    return cached


def _sdk_provider_class() -> type | None:
    """The SDK's ``TracerProvider`` if the SDK is loaded (if it is not, no provider the
    application installed can be one)."""
    module = sys.modules.get("opentelemetry.sdk.trace")
    return getattr(module, "TracerProvider", None)


def install_span_exporters(
    exporters: Sequence[Any],
    resource_factory: Callable[[], Any],
    wire_resource_factory: Callable[[], Any] | None = None,
    **batch: Any,
) -> list[BudgetSpanProcessor]:
    """Wrap each exporter in a :class:`BudgetSpanProcessor` (``batch``: its queue and
    batch sizes, schedule delay) and make the provider live (fnlens's own, deferred,
    unless the application installed an SDK provider)."""
    from opentelemetry import trace

    processors = [BudgetSpanProcessor(exporter, **batch) for exporter in exporters]
    with _lock:
        if not _state.get("installed"):
            provider = trace.get_tracer_provider()
            sdk_class = _sdk_provider_class()
            if sdk_class is None or not isinstance(provider, sdk_class):
                ours = _api_provider_class()(resource_factory)
                trace.set_tracer_provider(ours)
                provider = trace.get_tracer_provider()  # set only once per process
                if provider is ours:
                    atexit.register(ours.shutdown)  # (the SDK provider would register its own)
                if provider is ours and _fast_path_enabled():
                    # fnlens owns the provider: record invocation spans without the SDK
                    # tracer on the handler's thread (fnlens.runtime._tracing, fast path)
                    from fnlens.exporters._spans import set_fast_span_resource

                    set_fast_span_resource(wire_resource_factory or resource_factory)
                    _state["fast"] = True  # the recorder is set by _sync_recorder below
                elif provider is ours:
                    ours.sdk_provider()  # the SDK path: spans through the SDK tracer
            sdk_class = _sdk_provider_class()
            # (fnlens's own deferred provider adds the router when it builds its SDK one)
            if sdk_class is not None and isinstance(provider, sdk_class):
                provider.add_span_processor(_ROUTER)  # the application's provider
            _state["installed"] = True
            _state["provider"] = provider
        from fnlens.exporters._links import invocation_links
        from fnlens.runtime._decorator import set_link_factory

        set_link_factory(invocation_links)  # (again after a reset, which removes it)
        _ROUTER.processors = (*_ROUTER.processors, *processors)
        _sync_recorder()
    return processors


def _fast_path_enabled() -> bool:
    import os

    from fnlens._config import parse_choice

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
    from fnlens.runtime._tracing import set_span_recorder

    processors = _ROUTER.processors
    set_span_recorder(processors[0].queue.put if len(processors) == 1 else _record_fast_span)


def remove_all_processors() -> None:
    with _lock:
        _ROUTER.processors = ()
        _sync_recorder()


def _reset() -> None:
    """No span processors and no link factory (fnlens.testing.reset). The global tracer
    provider fnlens set stays: OpenTelemetry sets it once per process, and has no public
    way to unset it; with no processors it exports nothing, and the next span exporter
    installed is added to it."""
    remove_all_processors()
    from fnlens.runtime._decorator import set_link_factory

    set_link_factory(None)


register_reset(__name__, _reset)


def sdk_tracer_provider() -> Any:
    """The SDK provider spans go through (fnlens's own is built now); None before any
    span exporter was installed."""
    provider = _state.get("provider")
    sdk = getattr(provider, "sdk_provider", None)
    return sdk() if callable(sdk) else provider
