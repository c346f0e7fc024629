"""fnlens's own OTLP/gRPC exporter: the same protobuf bytes, over grpcio's public API.

The OTLP services are unary calls (``TraceService/Export``, ``LogsService/Export``)
whose request is the ``Export*ServiceRequest`` :mod:`fnlens.exporters._otlp_wire`
writes. grpcio sends bytes as they are when a call has no request serializer, so no
generated stubs, SDK objects or private modules are involved; only ``grpcio`` itself
(the ``otlp-grpc`` extra) is needed.

Retries follow the OTLP specification's retryable codes (``UNAVAILABLE``,
``RESOURCE_EXHAUSTED`` with retry info, ``DEADLINE_EXCEEDED``, ``ABORTED``,
``CANCELLED``, ``OUT_OF_RANGE``, ``DATA_LOSS``) with exponential backoff, within the
export timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fnlens._version import __version__
from fnlens.exporters._otlp_http import backoff

__all__ = ["GrpcSettings", "OtlpGrpcExporter"]

_log = logging.getLogger("fnlens")

_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_RETRYABLE = frozenset(
    {
        "UNAVAILABLE",
        "RESOURCE_EXHAUSTED",
        "DEADLINE_EXCEEDED",
        "ABORTED",
        "CANCELLED",
        "OUT_OF_RANGE",
        "DATA_LOSS",
    }
)


@dataclass(frozen=True)
class GrpcSettings:
    """The resolved ``OTEL_EXPORTER_OTLP_*`` settings of one gRPC exporter."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str | None = None
    certificate: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure: bool | None = None
    signal: str = "traces"


def _target(endpoint: str) -> tuple[str, bool]:
    """(host:port, plaintext) from an endpoint as the specification writes it."""
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    host = parts.hostname or "localhost"
    port = parts.port or 4317
    return f"{host}:{port}", parts.scheme == "http"


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


class OtlpGrpcExporter:
    """Sends serialized ``Export*ServiceRequest`` bytes over one gRPC channel."""

    def __init__(self, settings: GrpcSettings) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self.timeout_s = settings.timeout_s
        self._shutdown = threading.Event()
        self._lock = threading.Lock()
        self._call: Any = None  # built on the export thread (grpcio's import is heavy)

    def _connect(self) -> Any:
        with self._lock:
            if self._call is None:
                self._call = self._open()
            return self._call

    def _open(self) -> Any:
        import grpc

        settings = self.settings
        target, plaintext = _target(settings.endpoint)
        insecure = settings.insecure if settings.insecure is not None else plaintext
        options = [("grpc.primary_user_agent", f"fnlens/{__version__}")]
        compression = grpc.Compression.Gzip if settings.compression == "gzip" else None
        if insecure:
            self._channel = grpc.insecure_channel(target, options, compression)
        else:
            credentials = grpc.ssl_channel_credentials(
                _read(settings.certificate),
                _read(settings.client_key),
                _read(settings.client_certificate),
            )
            self._channel = grpc.secure_channel(target, credentials, options, compression)
        # no serializers: the request is already protobuf bytes, the answer is not needed
        self._metadata = tuple((str(k).lower(), str(v)) for k, v in settings.headers.items())
        self._grpc = grpc
        return self._channel.unary_unary(
            _METHODS[settings.signal], request_serializer=None, response_deserializer=None
        )

    def prepare(self) -> None:
        """Open the channel (imports grpcio), on the export thread."""
        self._connect()

    @property
    def kind(self) -> str:
        return self.settings.signal

    def can_begin(self) -> bool:
        return False  # the export thread sends (grpcio has its own threads)

    def begin(self, data: bytes, send_within_s: float) -> Any:
        return None

    def export_bytes(self, data: bytes) -> bool:
        """Send ``data``; retry the retryable codes until the export timeout."""
        if self._shutdown.is_set():
            return False
        call = self._connect()
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._report("DEADLINE_EXCEEDED", "export timeout")
                return False
            try:
                call(data, timeout=left, metadata=self._metadata or None)
                return True
            except self._grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                name = getattr(code, "name", str(code))
                details = exc.details() if hasattr(exc, "details") else str(exc)
                if name not in _RETRYABLE:
                    self._report(name, details)
                    return False
                delay = backoff(attempt)
                attempt += 1
                if time.monotonic() + delay >= deadline:
                    self._report(name, f"{details}, retry past the export timeout")
                    return False
                if self._shutdown.wait(delay):
                    return False

    def _report(self, code: str, details: Any) -> None:
        _log.warning(
            "fnlens: OTLP %s export to %s failed: gRPC %s %s",
            self.kind,
            self.endpoint,
            code,
            details or "",
        )

    def shutdown(self) -> None:
        self._shutdown.set()
        try:
            if self._call is not None:
                self._channel.close()
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
