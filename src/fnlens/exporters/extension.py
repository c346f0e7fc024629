"""An in-process Lambda extension: export after the response is sent.

Lambda freezes the execution environment only when the runtime has posted the
response *and* every registered extension has asked for its next event. So an
extension thread inside the function's own process can hold the environment
until fnlens's queues are drained, while the caller already has its response:
the handler waits for nothing (``FNLENS_FLUSH_MODE=extension``).

Protocol (Lambda Extensions API, ``AWS_LAMBDA_RUNTIME_API``):

1. during init, ``POST /2020-01-01/extension/register`` with
   ``Lambda-Extension-Name`` and ``{"events": ["INVOKE"]}`` (internal
   extensions cannot subscribe to ``SHUTDOWN``);
2. loop: ``GET /2020-01-01/extension/event/next`` blocks until an ``INVOKE``;
   the thread waits until fnlens has emitted that invocation's record (the
   extension is the last sink, so every exporter already has it queued), drains
   every exporter until the queues are empty — bounded by the invocation's
   deadline and ``FNLENS_EXTENSION_DRAIN_MS`` (default 2000) — and asks for the
   next event, which lets Lambda freeze the environment.

If registration fails (no Extensions API, called after init), fnlens falls back
to the ``budget`` flush mode.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from fnlens.config import parse_number, warn_once
from fnlens.runtime import scope
from fnlens.runtime.telemetry import Telemetry

EXTENSION_NAME = "fnlens"
API_VERSION = "2020-01-01"


class InProcessExtension:
    """Registered extension + the thread that drains fnlens's exporters after each invoke."""

    def __init__(self, telemetry: Telemetry, api: str, *, drain_ms: float = 2000.0) -> None:
        self.telemetry = telemetry
        self.host, _, port = api.partition(":")
        self.port = int(port or 80)
        self.drain_s = drain_ms / 1000.0
        self.identifier: str | None = None
        self._cond = threading.Condition()
        self._finished = 0  # invocation records seen
        self._handled = 0  # INVOKE events completed
        self._stop = False
        self._thread: threading.Thread | None = None
        self.drains: list[float] = []  # ms spent draining, per invoke (bounded)
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._next_request = b""

    # sink protocol: the extension is registered last, so it sees a record after
    # every exporter has queued it -------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> None:
        if event.get("event") == "invocation":
            with self._cond:
                self._finished += 1
                self._cond.notify_all()

    def flush(self, timeout_s: float) -> None:
        return None

    def shutdown(self) -> None:
        self.stop()

    # Extensions API -----------------------------------------------------------
    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: Any
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on its own connection, with the minimal parser below: importing
        ``http.client`` (email parser, ssl) would add ~10 ms to the function's init."""
        body = body or b""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Connection: close",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        saved, self._buffer = self._buffer, b""
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            head, data = self._read_response(sock)
        finally:
            self._buffer = saved
            sock.close()
        status = int(head.split(b" ", 2)[1])
        response_headers: dict[str, str] = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            response_headers[name.strip().lower().decode("latin-1")] = value.strip().decode(
                "latin-1"
            )
        return status, response_headers, data

    def register(self) -> bool:
        status, headers, _ = self._request(
            "POST",
            f"/{API_VERSION}/extension/register",
            json.dumps({"events": ["INVOKE"]}).encode(),
            {"Lambda-Extension-Name": EXTENSION_NAME, "Content-Type": "application/json"},
            timeout=2.0,
        )
        self.identifier = headers.get("lambda-extension-identifier")
        self._next_request = (
            f"GET /{API_VERSION}/extension/event/next HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            f"Lambda-Extension-Identifier: {self.identifier or ''}\r\n\r\n"
        ).encode()
        return status == 200 and bool(self.identifier)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fnlens-extension", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _next_event(self) -> dict[str, Any] | None:
        """``GET event/next`` over one kept-alive socket with a minimal HTTP/1.1 parser.

        The response arrives when the next invocation starts, i.e. while the handler
        runs: ``http.client``'s parsing would cost the handler ~100 µs of GIL time.
        """
        sock = self._sock
        if sock is None:
            sock = self._sock = socket.create_connection((self.host, self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(self._next_request)
            head, body = self._read_response(sock)
        except Exception:
            self._close_socket()
            raise
        status = int(head.split(b" ", 2)[1])
        if b"connection: close" in head.lower():
            self._close_socket()
        if status != 200:
            return None
        return json.loads(body or b"{}")

    def _read_response(self, sock: socket.socket) -> tuple[bytes, bytes]:
        buffer = self._buffer
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Extensions API closed the connection")
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            return head, self._read_chunked(sock, rest)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Extensions API closed the connection")
            rest += chunk
        self._buffer = rest[length:]
        return head, rest[:length]

    def _read_chunked(self, sock: socket.socket, data: bytes) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in data:
                data += self._recv(sock)
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            while len(data) < size + 2:
                data += self._recv(sock)
            if size == 0:
                self._buffer = data[2:]
                return body
            body += data[:size]
            data = data[size + 2 :]

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("Extensions API closed the connection")
        return chunk

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._buffer = b""

    def _run(self) -> None:
        failures = 0
        while not self._stop:
            try:
                event = self._next_event()
            except Exception as exc:
                # Keep asking: an extension that stops calling event/next would hold the
                # environment until the function times out.
                failures += 1
                warn_once("extension:next", f"Lambda extension event/next failed: {exc}")
                time.sleep(min(0.01 * failures, 0.5))
                continue
            if event is None or event.get("eventType") != "INVOKE":
                continue
            failures = 0
            self._after_invoke(event)

    def _after_invoke(self, event: Mapping[str, Any]) -> None:
        now_ms = time.time() * 1000.0
        deadline_ms = float(event.get("deadlineMs") or now_ms + self.drain_s * 1000.0)
        limit = time.monotonic() + max(0.0, min(self.drain_s, (deadline_ms - now_ms) / 1000.0))
        with self._cond:
            while self._finished <= self._handled and not self._stop:
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._finished > self._handled:
                self._handled += 1
        # The record is emitted just before the handler returns: let the invocation
        # leave (bounded wait) so the drain does not compete with its last steps.
        while scope.current_invocation() is not None and time.monotonic() < limit:
            time.sleep(0.0001)
        start = time.perf_counter()
        remaining = limit - time.monotonic()
        if remaining > 0:
            self.telemetry.flush(remaining)  # outside an invocation: waits for real
        if len(self.drains) < 10_000:
            self.drains.append((time.perf_counter() - start) * 1000.0)


def start_extension(
    telemetry: Telemetry, env: Mapping[str, str] | None = None
) -> InProcessExtension | None:
    """Register and start the extension; None (and a warning) when that is not possible."""
    env = os.environ if env is None else env
    api = env.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        warn_once(
            "extension:api",
            "FNLENS_FLUSH_MODE=extension needs AWS_LAMBDA_RUNTIME_API; using the flush budget",
        )
        return None
    drain_ms = parse_number(
        "FNLENS_EXTENSION_DRAIN_MS", env.get("FNLENS_EXTENSION_DRAIN_MS"), 2000.0
    )
    extension = InProcessExtension(telemetry, api, drain_ms=drain_ms)
    try:
        registered = extension.register()
    except Exception as exc:
        registered = False
        warn_once("extension:register", f"Lambda extension registration failed: {exc}")
    if not registered:
        warn_once(
            "extension:registered",
            "could not register the fnlens Lambda extension; using the flush budget",
        )
        return None
    extension.start()
    return extension
