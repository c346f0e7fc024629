"""OTLP over HTTP/protobuf or gRPC: traces, and fnlens events as OTLP log records.

Configuration follows the OpenTelemetry specification's ``OTEL_EXPORTER_OTLP_*``
variables (generic and per-signal endpoint, protocol, headers, timeout;
compression and certificates are read by the exporters themselves). The
exporters come from ``opentelemetry-exporter-otlp`` and are imported here,
never on the runtime's hot path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from fnlens.config import parse_number, warn_once
from fnlens.exporters.flushing import POLICY
from fnlens.exporters.queue import ExportQueue
from fnlens.runtime.telemetry import TELEMETRY

PROTOCOLS = ("http/protobuf", "grpc")
_DEFAULT_ENDPOINT = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}


@dataclass(frozen=True)
class OTLPConfig:
    """Resolved settings for one signal (``traces`` or ``logs``)."""

    signal: str
    protocol: str
    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0


def parse_headers(raw: str | None) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` format: ``k=v,k2=v2`` with percent-encoded values."""
    headers: dict[str, str] = {}
    for item in (raw or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
        elif item.strip():
            warn_once("OTEL_EXPORTER_OTLP_HEADERS", f"ignoring malformed OTLP header {item!r}")
    return headers


def resolve(
    signal: str,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> OTLPConfig:
    """Arguments beat per-signal variables, which beat generic ones, which beat defaults."""
    env = os.environ if env is None else env
    sig = signal.upper()
    name = f"OTEL_EXPORTER_OTLP_{sig}_PROTOCOL"
    raw_protocol = protocol or env.get(name) or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    proto = (raw_protocol or "http/protobuf").strip().lower()
    if proto == "http":
        proto = "http/protobuf"
    if proto not in PROTOCOLS:
        warn_once(name, f"OTLP protocol {raw_protocol!r} is not supported; using http/protobuf")
        proto = "http/protobuf"

    path = f"/v1/{signal}"
    if endpoint:
        url = _signal_url(endpoint, path) if proto == "http/protobuf" else endpoint
    elif env.get(f"OTEL_EXPORTER_OTLP_{sig}_ENDPOINT"):
        url = env[f"OTEL_EXPORTER_OTLP_{sig}_ENDPOINT"]  # used as is, per the specification
    elif env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        base = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        url = _signal_url(base, path) if proto == "http/protobuf" else base
    else:
        base = _DEFAULT_ENDPOINT[proto]
        url = _signal_url(base, path) if proto == "http/protobuf" else base

    merged = parse_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS"))
    merged.update(parse_headers(env.get(f"OTEL_EXPORTER_OTLP_{sig}_HEADERS")))
    merged.update({k.lower(): v for k, v in (headers or {}).items()})

    if timeout_s is None:
        raw = env.get(f"OTEL_EXPORTER_OTLP_{sig}_TIMEOUT") or env.get("OTEL_EXPORTER_OTLP_TIMEOUT")
        # The specification says milliseconds (default 10000).
        timeout_s = parse_number("OTEL_EXPORTER_OTLP_TIMEOUT", raw, 10_000.0, minimum=1.0) / 1000
    return OTLPConfig(signal, proto, url, merged, float(timeout_s))


def _signal_url(base: str, path: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


class LazyExporter:
    """Builds the real exporter at its first export, on the export thread.

    ``opentelemetry-exporter-otlp`` pulls in requests or grpc and the protobuf
    encoders (~150 ms of imports); deferring them keeps them out of the function's
    init phase. With ``FNLENS_FLUSH_MODE=extension`` they load after the first
    response; with ``budget`` the first flush stops waiting at the budget.
    """

    def __init__(self, factory: Any, config: OTLPConfig) -> None:
        self._factory = factory
        self.config = config
        self._exporter: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._exporter is None:
                self._exporter = self._factory(self.config)
            return self._exporter

    def export(self, batch: Any) -> Any:
        return self._get().export(batch)

    @property
    def ready(self) -> bool:
        """The real exporter is built (its imports done)."""
        return self._exporter is not None

    def resolve(self) -> Any:
        """The real exporter (built now if it was not yet)."""
        return self._get()

    def shutdown(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def lazy_span_exporter(config: OTLPConfig) -> LazyExporter:
    return LazyExporter(span_exporter, config)


def lazy_log_exporter(config: OTLPConfig) -> LazyExporter:
    return LazyExporter(log_exporter, config)


# (signal, protocol) -> the official exporter class, imported on first use
_EXPORTER_CLASSES = {
    ("traces", "grpc"): (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("traces", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("logs", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    ("logs", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "OTLPLogExporter",
    ),
}


def official_exporter(config: OTLPConfig) -> Any:
    """The official OTLP exporter for the configured signal and protocol."""
    import importlib

    module, name = _EXPORTER_CLASSES[(config.signal, config.protocol)]
    cls = getattr(importlib.import_module(module), name)
    if config.protocol == "grpc":
        return cls(
            endpoint=config.endpoint,
            headers=config.headers or None,
            timeout=config.timeout_s,
            insecure=config.endpoint.startswith("http://") or None,
        )
    return _http_exporter(cls, config)


def span_exporter(config: OTLPConfig) -> Any:
    """The official OTLP span exporter for the configured protocol."""
    return official_exporter(replace(config, signal="traces"))


def log_exporter(config: OTLPConfig) -> Any:
    """The official OTLP log exporter for the configured protocol."""
    return official_exporter(replace(config, signal="logs"))


def _http_exporter(cls: Any, config: OTLPConfig) -> Any:
    """The SDK's OTLP/HTTP exporter; for a plain-http endpoint without certificates, with a
    kept-alive socket transport (:mod:`fnlens.exporters.otlp_wire`) instead of a
    ``requests`` session (the SDK's retries, compression and headers still apply)."""
    kwargs: dict[str, Any] = {
        "endpoint": config.endpoint,
        "headers": config.headers or None,
        "timeout": config.timeout_s,
    }
    from fnlens.exporters import otlp_wire

    if otlp_wire.lean_transport_ok(config.endpoint, config.signal):
        try:
            return cls(**kwargs, _transport=otlp_wire.socket_transport())
        except Exception:  # an SDK without pluggable transports
            pass
    return cls(**kwargs)


class OTLPLogSink:
    """fnlens events (invocation records and user log lines) as OTLP log records.

    ``emit`` queues the event (not a copy) in a bounded queue; conversion to SDK log records and
    the export happen on the worker thread.
    """

    def __init__(
        self,
        exporter: Any,
        resource: Any,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
    ) -> None:
        self.exporter = exporter
        # an SDK Resource, or a function that builds it (on the export thread)
        self._resource_factory = resource if callable(resource) else (lambda: resource)
        self._resource_built: Any = None
        self._factory: Any = None  # LogRecordFactory, built on the export thread
        self._lean: bool | None = None  # protobuf written directly (otlp_wire)
        self.queue = ExportQueue(
            "otlp-logs",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            on_error=lambda exc: TELEMETRY.report_failure(self, "export", exc),
            start_export=self._start_export,
        )

    def emit(self, event: Mapping[str, Any]) -> None:
        self.queue.put(event)  # events are not changed after emit

    @property
    def _resource(self) -> Any:
        resource = self._resource_built
        if resource is None:
            resource = self._resource_built = self._resource_factory()
        return resource

    def _start_export(self, batch: list[dict[str, Any]], send_within_s: float) -> Any:
        """Send ``batch`` from the calling thread (see ``ExportQueue.export_here``);
        None while the exporter is not built yet or cannot (the worker exports)."""
        if not self._lean or not getattr(self.exporter, "ready", True):
            return None
        if self._resource_built is None:
            return None  # (the first export builds it, on the export thread)
        from fnlens.exporters import otlp_wire
        from fnlens.exporters.logrecords import scope

        real = self.exporter.resolve() if hasattr(self.exporter, "resolve") else self.exporter
        data = otlp_wire.logs_request(batch, self._resource, scope())
        return otlp_wire.start_raw_export(real, data, send_within_s)

    def export_here(self, send_within_s: float) -> Any:
        return self.queue.export_here(send_within_s)

    def _export(self, batch: Sequence[dict[str, Any]]) -> bool:
        real = self.exporter.resolve() if hasattr(self.exporter, "resolve") else self.exporter
        if self._lean is None:
            from fnlens.exporters import otlp_wire

            self._lean = otlp_wire.usable(real)
        if self._lean:
            from fnlens.exporters import otlp_wire
            from fnlens.exporters.logrecords import scope

            data = otlp_wire.logs_request(batch, self._resource, scope())
            sent = otlp_wire.raw_export(real, data)
            if sent is not None:
                return sent
        if self._factory is None:
            from fnlens.exporters.logrecords import LogRecordFactory

            self._factory = LogRecordFactory(self._resource)
        records = [self._factory.make(event) for event in batch]
        result = self.exporter.export(records)
        return getattr(result, "name", str(result)) == "SUCCESS"

    def flush(self, timeout_s: float) -> None:
        POLICY.flush(self.queue, timeout_s)

    def dropped(self) -> int:
        return self.queue.dropped()

    def shutdown(self) -> None:
        self.queue.shutdown(2.0)
        try:
            self.exporter.shutdown()
        except Exception:
            pass
