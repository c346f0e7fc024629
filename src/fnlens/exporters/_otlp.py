"""OTLP over HTTP/protobuf or gRPC: traces, and fnlens events as OTLP log records.

Configuration follows the OpenTelemetry specification's ``OTEL_EXPORTER_OTLP_*``
variables (generic and per-signal endpoint, protocol, headers, timeout;
compression and certificates are read by the exporters themselves). OTLP/HTTP
goes through fnlens's own exporter (:mod:`fnlens.exporters._otlp_http`, standard
library only); gRPC through fnlens's own grpcio exporter
(:mod:`fnlens.exporters._otlp_grpc`, the ``otlp-grpc`` extra), built on the export
thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from fnlens._config import parse_number, warn_once
from fnlens.exporters._flushing import POLICY
from fnlens.exporters._queue import ExportQueue
from fnlens.runtime._telemetry import TELEMETRY

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
    compression: str | None = None  # "gzip" or None
    certificate: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure: bool | None = None  # gRPC: OTEL_EXPORTER_OTLP_INSECURE


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

    def signal_var(suffix: str) -> str | None:
        value = env.get(f"OTEL_EXPORTER_OTLP_{sig}_{suffix}") or env.get(
            f"OTEL_EXPORTER_OTLP_{suffix}"
        )
        return value.strip() if value and value.strip() else None

    compression = (signal_var("COMPRESSION") or "none").lower()
    if compression not in ("gzip", "none"):
        warn_once(
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            f"OTLP compression {compression!r} is not supported (gzip, none); sending uncompressed",
        )
        compression = "none"
    return OTLPConfig(
        signal,
        proto,
        url,
        merged,
        float(timeout_s),
        compression="gzip" if compression == "gzip" else None,
        certificate=signal_var("CERTIFICATE"),
        client_certificate=signal_var("CLIENT_CERTIFICATE"),
        client_key=signal_var("CLIENT_KEY"),
        insecure=_insecure(signal_var("INSECURE")),
    )


def _insecure(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return raw.lower() in ("true", "1", "yes")


def _insecure(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return raw.lower() in ("true", "1", "yes")


def _check_url(url: str, protocol: str) -> None:
    """An endpoint that is not an http(s) URL warns once (the exporter then fails)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return
    if protocol == "grpc" and not parts.scheme and ":" in url:
        return  # host:port, as gRPC users write it
    warn_once(
        f"otlp-endpoint:{url}",
        f"OTLP endpoint {url!r} is not an http:// or https:// URL; "
        "set OTEL_EXPORTER_OTLP_ENDPOINT to e.g. http://127.0.0.1:4318",
    )


def _signal_url(base: str, path: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


GRPC_EXTRA_HINT = (
    "OTLP over gRPC needs the otlp-grpc extra: pip install 'fnlens[otlp-grpc]' "
    "(or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, which needs nothing more)"
)


def grpc_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("grpc") is not None
    except (ImportError, ValueError):
        return False


def grpc_exporter(config: OTLPConfig) -> Any:
    """fnlens's own OTLP/gRPC exporter for one signal (grpcio's public API)."""
    from fnlens.exporters._otlp_grpc import GrpcSettings, OtlpGrpcExporter

    return OtlpGrpcExporter(
        GrpcSettings(
            endpoint=config.endpoint,
            headers=dict(config.headers),
            timeout_s=config.timeout_s,
            compression=config.compression,
            certificate=config.certificate,
            client_certificate=config.client_certificate,
            client_key=config.client_key,
            insecure=config.insecure,
            signal=config.signal,
        )
    )


def http_exporter(config: OTLPConfig) -> Any:
    """fnlens's own OTLP/HTTP exporter for one signal."""
    from fnlens.exporters._otlp_http import HttpSettings, OtlpHttpExporter

    return OtlpHttpExporter(
        HttpSettings(
            endpoint=config.endpoint,
            headers=dict(config.headers),
            timeout_s=config.timeout_s,
            compression=config.compression,
            certificate=config.certificate,
            client_certificate=config.client_certificate,
            client_key=config.client_key,
            signal=config.signal,
        )
    )


def build_exporter(config: OTLPConfig) -> Any:
    """fnlens's own exporter for one signal and protocol. gRPC without grpcio installed
    raises ``ImportError`` with the extra to install (said once, at installation)."""
    if config.protocol == "grpc":
        if not grpc_available():
            raise ImportError(GRPC_EXTRA_HINT)
        return grpc_exporter(config)
    return http_exporter(config)


def span_exporter(config: OTLPConfig) -> Any:
    return build_exporter(replace(config, signal="traces"))


def log_exporter(config: OTLPConfig) -> Any:
    return build_exporter(replace(config, signal="logs"))


class OTLPLogSink:
    """fnlens events (invocation records and user log lines) as OTLP log records.

    ``emit`` queues the event (not a copy) in a bounded queue; encoding and the export
    happen on the worker thread (or on the runtime's thread after the response, see
    ``ExportQueue.export_here``).
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
        self.exporter = exporter  # OtlpHttpExporter or OtlpGrpcExporter (export_bytes)
        # the resource, or a function that builds it (on the export thread)
        self._resource_factory = resource if callable(resource) else (lambda: resource)
        self._resource_built: Any = None
        self.queue = ExportQueue(
            "otlp-logs",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            on_error=lambda exc: TELEMETRY.report_failure(self, "export", exc),
            start_export=self._start_export,
            prepare=self._prepare,
        )

    def _prepare(self) -> None:
        """Imports and the channel, on the worker before its first export (the resource
        is built at the first export: the first invocation's ARN is known then)."""
        from fnlens.exporters import _otlp_wire as otlp_wire

        otlp_wire.logs_request([], otlp_wire.ResourceData({}), otlp_wire.FNLENS_SCOPE)
        prepare = getattr(self.exporter, "prepare", None)
        if prepare is not None:
            prepare()

    def emit(self, event: Mapping[str, Any]) -> None:
        self.queue.put(event)  # events are not changed after emit

    @property
    def _resource(self) -> Any:
        resource = self._resource_built
        if resource is None:
            resource = self._resource_built = self._resource_factory()
        return resource

    def _request(self, batch: Sequence[Mapping[str, Any]]) -> bytes:
        from fnlens.exporters import _otlp_wire as otlp_wire

        return otlp_wire.logs_request(batch, self._resource, otlp_wire.FNLENS_SCOPE)

    def _start_export(self, batch: list[dict[str, Any]], send_within_s: float) -> Any:
        """Send ``batch`` from the calling thread (see ``ExportQueue.export_here``);
        None when the exporter cannot (gRPC, https: the worker exports)."""
        if not self.exporter.can_begin():
            return None
        return self.exporter.begin(self._request(batch), send_within_s)

    def export_here(self, send_within_s: float) -> Any:
        return self.queue.export_here(send_within_s)

    def _export(self, batch: Sequence[dict[str, Any]]) -> bool:
        return self.exporter.export_bytes(self._request(batch))

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
