"""fnlens: observability for serverless Python APIs.

Public API (resolved lazily, PEP 562, so ``import fnlens`` costs next to nothing):

* :func:`instrument` — the decorator for function handlers.
* :func:`get_logger` — a structlog logger whose lines carry the invocation's ids.
* :func:`configure` — extend the processor pipeline or add sinks and hooks.
* :func:`set_route` — set the HTTP route template from inside the handler.
* :func:`add_invocation_context` — a structlog processor for your own pipeline.
* :func:`current_context` — the current invocation's correlation fields.
* :class:`InvocationContextFilter` — the same fields on standard-library log records.
* :func:`flush` / :func:`shutdown` — push queued telemetry out.
* :func:`tracer_provider` — the OpenTelemetry SDK provider the function's spans go through.
* :class:`RecordSink` / :class:`InvocationHook` — the protocols of sinks and hooks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fnlens import _wiring  # noqa: F401  (the exporters register with the runtime)
from fnlens._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from fnlens._api import (
        configure,
        current_context,
        flush,
        shutdown,
        tracer_provider,
    )
    from fnlens.runtime._decorator import instrument, set_route
    from fnlens.runtime._logs import add_invocation_context, get_logger
    from fnlens.runtime._stdlib import InvocationContextFilter
    from fnlens.runtime._telemetry import InvocationHook, RecordSink

_LAZY: dict[str, str] = {
    "instrument": "fnlens.runtime._decorator",
    "set_route": "fnlens.runtime._decorator",
    "get_logger": "fnlens.runtime._logs",
    "add_invocation_context": "fnlens.runtime._logs",
    "configure": "fnlens._api",
    "current_context": "fnlens._api",
    "flush": "fnlens._api",
    "shutdown": "fnlens._api",
    "tracer_provider": "fnlens._api",
    "InvocationContextFilter": "fnlens.runtime._stdlib",
    "RecordSink": "fnlens.runtime._telemetry",
    "InvocationHook": "fnlens.runtime._telemetry",
}

__all__ = [
    "InvocationContextFilter",
    "InvocationHook",
    "RecordSink",
    "__version__",
    "add_invocation_context",
    "configure",
    "current_context",
    "flush",
    "get_logger",
    "instrument",
    "set_route",
    "shutdown",
    "tracer_provider",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'fnlens' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
