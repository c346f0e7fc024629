"""Install exporters from configuration, once per process, importing them lazily.

Only when an exporter is asked for (``FNLENS_EXPORTERS``, ``OTEL_TRACES_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``…) is ``fnlens.exporters`` imported, and with it the
OpenTelemetry SDK and whatever that exporter needs.
"""

from __future__ import annotations

import importlib
import os
import threading

from fnlens.config import Settings
from fnlens.runtime.telemetry import TELEMETRY

_lock = threading.Lock()

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
        try:
            module = importlib.import_module("fnlens.exporters.setup")
        except ImportError as exc:
            TELEMETRY.report_failure(TELEMETRY, "configure", exc)
            return
        try:
            module.configure_from_env(TELEMETRY, settings)
        except Exception as exc:
            TELEMETRY.report_failure(TELEMETRY, "configure", exc)
