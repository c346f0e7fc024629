"""Install exporters from configuration, once per process, importing them lazily.

The runtime does not know the exporters: whoever does registers a *configurator*
here (:func:`register_configurator`; the ``fnlens`` package registers
``fnlens.exporters``'s on import). Only when an exporter is asked for
(``FNLENS_EXPORTERS``, ``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_*``…) is the
configurator called, and with it whatever that exporter needs imported.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from fnlens._config import Settings
from fnlens._state import register_reset
from fnlens.runtime._telemetry import TELEMETRY, Telemetry

_lock = threading.Lock()

Configurator = Callable[[Telemetry, Settings], object]
_CONFIGURATORS: list[Configurator] = []
_PERMANENT: list[Configurator] = []  # fnlens's own wiring, which a reset keeps


def register_configurator(configurator: Configurator, *, permanent: bool = False) -> None:
    """Have ``configurator(telemetry, settings)`` install exporters the first time a
    handler is decorated with exporters asked for in the environment. ``permanent``
    (``fnlens._wiring``'s): kept by ``fnlens.testing.reset()``, as a fresh import has it."""
    if configurator not in _CONFIGURATORS:
        _CONFIGURATORS.append(configurator)
    if permanent and configurator not in _PERMANENT:
        _PERMANENT.append(configurator)


def _reset() -> None:
    """Only the configurators a fresh ``import fnlens`` registers (fnlens.testing.reset);
    ``TELEMETRY.configured`` is cleared with the registry, so the next decorated handler
    configures again."""
    _CONFIGURATORS[:] = list(_PERMANENT)


register_reset(__name__, _reset)


# Environment variables that mean "an exporter beyond stdout is wanted".
EXPORTER_ENV_VARS = (
    "FNLENS_EXPORTERS",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)


def exporters_requested() -> bool:
    return any(os.environ.get(name) for name in EXPORTER_ENV_VARS)


def ensure_configured(settings: Settings) -> None:
    """Configure exporters from the environment the first time a handler is decorated."""
    if TELEMETRY.configured:
        return
    with _lock:
        if TELEMETRY.configured:
            return
        TELEMETRY.configured = True
        if not exporters_requested():
            return
        for configurator in _CONFIGURATORS:
            try:
                configurator(TELEMETRY, settings)
            except Exception as exc:
                TELEMETRY.report_failure(TELEMETRY, "configure", exc)
