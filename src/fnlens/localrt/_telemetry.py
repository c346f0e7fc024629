"""The Lambda Telemetry API for one environment (``PUT /2022-07-01/telemetry``).

An extension subscribes with its identifier, a ``schemaVersion``, the streams it
wants (``platform``, ``function``, ``extension``), a destination (``HTTP``: events
POSTed as a JSON array; ``TCP``: one JSON event per line) and buffering limits
(``maxItems``, ``maxBytes``, ``timeoutMs``). Each subscriber has its own sender
thread and a bounded queue: a subscriber that falls behind loses events, and once
it catches up it first receives a ``platform.logsDropped`` event saying how many.
Events since the environment started are replayed to a subscription made during
init, as Lambda holds init-phase telemetry for extensions that subscribe then.
``sandbox.localdomain`` in a destination URI is 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fnlens.exceptions import LocalTelemetryError
from fnlens.localrt._platform import iso_now

__all__ = ["SCHEMA_VERSIONS", "Subscription", "TeeStream", "TelemetryHub"]

API_PATH = "/2022-07-01/telemetry"
SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
STREAMS = ("platform", "function", "extension")
# Lambda's documented limits and defaults
LIMITS = {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144)}
TIMEOUT_LIMITS = (25, 30000, 1000)
QUEUE_FACTOR = 4  # a subscriber may fall this many maxBytes behind before events drop
_BACKLOG = 10000  # events kept for subscriptions made during init


@dataclass
class Subscription:
    """One extension's subscription and its delivery state."""

    extension: str
    schema_version: str
    types: tuple[str, ...]
    protocol: str
    uri: str
    max_items: int
    max_bytes: int
    timeout_ms: int
    queue: deque[tuple[dict[str, Any], int]] = field(default_factory=deque)
    queued_bytes: int = 0
    dropped_records: int = 0
    dropped_bytes: int = 0
    delivered: int = 0
    batches: int = 0
    failures: int = 0


def _int_in(buffering: dict[str, Any], key: str, lo: int, hi: int, default: int) -> int:
    value = buffering.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise LocalTelemetryError(
            "ValidationError", f"buffering.{key} must be an integer in [{lo}, {hi}], got {value!r}"
        )
    return value


def parse_subscription(extension: str, body: bytes) -> Subscription:
    """Validate a subscription request body the way Lambda documents it."""
    try:
        request = json.loads(body or b"{}")
        if not isinstance(request, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError as exc:
        raise LocalTelemetryError("ValidationError", f"invalid JSON: {exc}") from None
    schema = request.get("schemaVersion", SCHEMA_VERSIONS[0])
    if schema not in SCHEMA_VERSIONS:
        raise LocalTelemetryError(
            "ValidationError",
            f"schemaVersion {schema!r} is not one of {', '.join(SCHEMA_VERSIONS)}",
        )
    types = request.get("types")
    if not isinstance(types, list) or not types or any(t not in STREAMS for t in types):
        raise LocalTelemetryError("ValidationError", f"types must be a list drawn from {STREAMS}")
    dest = request.get("destination")
    if not isinstance(dest, dict) or dest.get("protocol") not in ("HTTP", "TCP"):
        raise LocalTelemetryError("ValidationError", "destination.protocol must be HTTP or TCP")
    uri = dest.get("URI")
    parts = urlsplit(uri) if isinstance(uri, str) else None
    scheme = "http" if dest["protocol"] == "HTTP" else "tcp"
    if parts is None or parts.scheme != scheme or not parts.hostname or not parts.port:
        raise LocalTelemetryError(
            "ValidationError", f"destination.URI must look like {scheme}://host:port, got {uri!r}"
        )
    buffering = request.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise LocalTelemetryError("ValidationError", "buffering must be an object")
    return Subscription(
        extension=extension,
        schema_version=schema,
        types=tuple(dict.fromkeys(types)),
        protocol=dest["protocol"],
        uri=uri,
        max_items=_int_in(buffering, "maxItems", *LIMITS["maxItems"]),
        max_bytes=_int_in(buffering, "maxBytes", *LIMITS["maxBytes"]),
        timeout_ms=_int_in(buffering, "timeoutMs", *TIMEOUT_LIMITS),
    )


class TelemetryHub:
    """Fans the environment's events out to every subscriber."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._subs: list[Subscription] = []
        self._backlog: deque[dict[str, Any]] = deque(maxlen=_BACKLOG)
        self._init_over = False
        self._closed = False
        self._threads: list[threading.Thread] = []

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._cond:
            return list(self._subs)

    # producers -------------------------------------------------------------
    def platform(self, kind: str, record: dict[str, Any]) -> None:
        self._emit({"time": iso_now(), "type": kind, "record": record})

    def function(self, line: str) -> None:
        self._emit({"time": iso_now(), "type": "function", "record": line})

    def extension(self, line: str) -> None:
        self._emit({"time": iso_now(), "type": "extension", "record": line})

    def init_over(self) -> None:
        """Subscriptions from now on get events from now on."""
        with self._cond:
            self._init_over = True
            self._backlog.clear()

    def _emit(self, event: dict[str, Any]) -> None:
        with self._cond:
            if self._closed:
                return
            if not self._init_over:
                self._backlog.append(event)
            if not self._subs:
                return
            stream = _stream_of(event)
            size = len(json.dumps(event, separators=(",", ":")))
            for sub in self._subs:
                if stream in sub.types:
                    _enqueue(sub, event, size)
            self._cond.notify_all()

    # subscriptions ---------------------------------------------------------
    def subscribe(self, sub: Subscription) -> None:
        with self._cond:
            self._subs = [s for s in self._subs if s.extension != sub.extension]
            self._subs.append(sub)
            for event in self._backlog:  # init-phase events first, in order
                if _stream_of(event) in sub.types:
                    _enqueue(sub, event, len(json.dumps(event, separators=(",", ":"))))
        self.platform(
            "platform.telemetrySubscription",
            {"name": sub.extension, "state": "Subscribed", "types": list(sub.types)},
        )
        thread = threading.Thread(
            target=self._send_loop, args=(sub,), name="fnlens-localrt-telemetry", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued event went out (True) or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while any(s.queue for s in self._subs):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(2.0)

    # delivery --------------------------------------------------------------
    def _next_batch(self, sub: Subscription) -> list[dict[str, Any]] | None:
        with self._cond:
            first_at: float | None = None
            while True:
                if sub.queue and first_at is None:
                    first_at = time.monotonic()
                full = len(sub.queue) >= sub.max_items or sub.queued_bytes >= sub.max_bytes
                waited = first_at is not None and (
                    time.monotonic() - first_at >= sub.timeout_ms / 1000.0
                )
                if sub.queue and (full or waited or self._closed):
                    break
                if self._closed:
                    return None
                timeout = sub.timeout_ms / 1000.0 if first_at is None else 0.005
                self._cond.wait(timeout)
            batch: list[dict[str, Any]] = []
            size = 0
            if sub.dropped_records:
                batch.append(_logs_dropped(sub))
                sub.dropped_records = sub.dropped_bytes = 0
            while sub.queue and len(batch) < sub.max_items:
                event, n = sub.queue[0]
                if size and size + n > sub.max_bytes:
                    break  # the batch is full: the next event starts the next one
                sub.queue.popleft()
                sub.queued_bytes -= n
                size += n
                batch.append(event)
            self._cond.notify_all()
            return batch

    def _send_loop(self, sub: Subscription) -> None:
        sender = _HttpSender(sub.uri) if sub.protocol == "HTTP" else _TcpSender(sub.uri)
        try:
            while True:
                batch = self._next_batch(sub)
                if batch is None:
                    return
                try:
                    sender.send(batch)
                    sub.delivered += len(batch)
                    sub.batches += 1
                except OSError:
                    sub.failures += 1  # the subscriber is gone or refused: the batch is lost
                    with self._cond:
                        sub.dropped_records += len(batch)
        finally:
            sender.close()


def _stream_of(event: dict[str, Any]) -> str:
    kind = event["type"]
    return "platform" if kind.startswith("platform.") else kind


def _enqueue(sub: Subscription, event: dict[str, Any], size: int) -> None:
    if sub.queued_bytes + size > QUEUE_FACTOR * sub.max_bytes:
        sub.dropped_records += 1
        sub.dropped_bytes += size
        return
    sub.queue.append((event, size))
    sub.queued_bytes += size


def _logs_dropped(sub: Subscription) -> dict[str, Any]:
    return {
        "time": iso_now(),
        "type": "platform.logsDropped",
        "record": {
            "reason": "Some logs were dropped because the downstream consumer is slower "
            "than the logs production rate",
            "droppedRecords": sub.dropped_records,
            "droppedBytes": sub.dropped_bytes,
        },
    }


def _host_port(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    host = parts.hostname or "127.0.0.1"
    if host == "sandbox.localdomain":
        host = "127.0.0.1"
    return host, parts.port or 80


class _HttpSender:
    def __init__(self, uri: str) -> None:
        self._host, self._port = _host_port(uri)
        self._path = urlsplit(uri).path or "/"
        self._conn: http.client.HTTPConnection | None = None

    def send(self, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch, separators=(",", ":")).encode()
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
            try:
                self._conn.request(
                    "POST", self._path, body=body, headers={"Content-Type": "application/json"}
                )
                self._conn.getresponse().read()
                return
            except OSError:
                self.close()
                if attempt == 2:
                    raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _TcpSender:
    def __init__(self, uri: str) -> None:
        self._addr = _host_port(uri)
        self._sock: socket.socket | None = None

    def send(self, batch: list[dict[str, Any]]) -> None:
        if self._sock is None:
            self._sock = socket.create_connection(self._addr, timeout=30)
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in batch)
        self._sock.sendall(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class TeeStream:
    """What a pump writes goes to the log stream and, line by line, to a Telemetry stream."""

    def __init__(self, stream: Any, to_telemetry: Any) -> None:
        self._stream = stream
        self._to_telemetry = to_telemetry

    def write(self, message: str) -> None:
        self._stream.write(message)
        for part in message.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            self._to_telemetry(part)
