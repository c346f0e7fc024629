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
from fnlens.runtime._telemetry import TELEMETRY, Telemetry

_lock = threading.Lock()

Configurator = Callable[[Telemetry, Settings], object]
_CONFIGURATORS: list[Configurator] = []


def register_configurator(configurator: Configurator) -> None:
    """Have ``configurator(telemetry, settings)`` install exporters the first time a
    handler is decorated with exporters asked for in the environment."""
    if configurator not in _CONFIGURATORS:
        _CONFIGURATORS.append(configurator)


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
        for configurator in list(_CONFIGURATORS):
            try:
                configurator(TELEMETRY, settings)
            except Exception as exc:
                TELEMETRY.report_failure(TELEMETRY, "configure", exc)
