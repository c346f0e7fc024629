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
2. loop: ``GET /2020-01-01/extension/event/next`` is sent, but its answer (the
   next ``INVOKE``, which Lambda delivers while the handler runs) is not read
   until the invocation is over: the thread sleeps on a condition that is
   notified right after the runtime client has posted the response and fnlens
   has recorded the invocation (:mod:`fnlens.runtime._response_phase`; without a
   runtime client to hook, when the instrumented handler returns). So it never
   takes the GIL while the handler runs or while the response is being sent, and waking it costs the
   handler nothing. Then it reads the event, drains every exporter until the
   queues are empty — bounded by the invocation's deadline and
   ``FNLENS_EXTENSION_DRAIN_MS`` (default 2000) — and asks for the next event,
   which lets Lambda freeze the environment. An invocation that gave no signal
   (the handler called without the hooked runtime client, the runtime failed
   before the handler) is noticed by a slow poll (every ``POLL_S``): the event
   was answered and no invocation is active — the extension then drains and
   asks for the next event anyway, so it never holds the environment for long.

If registration fails (no Extensions API, called after init), fnlens falls back
to the ``budget`` flush mode.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from fnlens._config import parse_number, warn_once
from fnlens.runtime import _scope as scope
from fnlens.runtime._response_phase import PHASE
from fnlens.runtime._telemetry import Telemetry

EXTENSION_NAME = "fnlens"
API_VERSION = "2020-01-01"
POLL_S = 0.25  # how often to look for an INVOKE no instrumented invocation announced
STEP_READ_S = 0.5  # longest the runtime's thread waits for an answer already on its way


class InProcessExtension:
    """Registered extension + the thread that drains fnlens's exporters after each invoke."""

    def __init__(self, telemetry: Telemetry, api: str, *, drain_ms: float = 2000.0) -> None:
        self.telemetry = telemetry
        self.host, _, port = api.partition(":")
        self.port = int(port or 80)
        self.drain_s = drain_ms / 1000.0
        self.identifier: str | None = None
        self._cond = threading.Condition()
        self._left = 0  # invocations that left fnlens's scope
        self._handled = 0  # INVOKE events completed
        self._stop = False
        self._thread: threading.Thread | None = None
        self.drains: list[float] = []  # ms spent draining, per invoke (bounded)
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._next_request = b""
        self._answered_since: float | None = None  # event/next answered, no invocation left
        self.unhook: Any = None  # removes the response-phase listener
        self._io = threading.Lock()  # one reader/writer of the Extensions API socket
        self._asked = False  # an event/next is out and its answer not read yet
        # True when invocation_left() is called on the runtime's thread after the
        # response (the hooked runtime loop): it then answers Lambda itself
        self.runtime_driven = False

    def invocation_left(self) -> None:
        """An invocation is over and its telemetry queued: the drain may start. Called
        right after the runtime client posted the response (:mod:`response_phase`), or,
        without a runtime client to hook, when the instrumented handler returns.

        On the runtime's thread after the response, the step is taken right here —
        read the ``INVOKE`` (it arrived when the event was handed out), drain what is
        left, ask for the next event — rather than waking the extension's thread for it."""
        with self._cond:
            self._left += 1
            if not self.runtime_driven or self._stop:
                self._cond.notify()
                return
        if self._io.acquire(blocking=False):  # the thread is not in the middle of a step
            try:
                if self._asked and self._handled < self._left and self._answered():
                    # the answer is (being) delivered: reading it may wait a moment, never
                    # longer than STEP_READ_S on the runtime's thread
                    self._step(read_timeout_s=STEP_READ_S)
                    return
            except Exception as exc:
                # the extension's thread asks again (``_asked`` is False): Lambda must
                # always have an event/next from us, or it holds the environment
                warn_once("extension:step", f"Lambda extension event/next failed: {exc}")
                self._close_socket()
                self._asked = False
                with self._cond:
                    self._handled = min(self._handled + 1, self._left)
            finally:
                self._io.release()
        with self._cond:
            self._cond.notify()  # the extension's thread takes it from here

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
        self.telemetry.remove_after_invocation(self.invocation_left)
        if self.telemetry.after_response_budget_s == self.drain_s:
            self.telemetry.after_response_budget_s = None
        unhook, self.unhook = self.unhook, None
        if unhook is not None:
            unhook()

    def _connection(self) -> socket.socket:
        sock = self._sock
        if sock is None:
            sock = self._sock = socket.create_connection((self.host, self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _ask_next(self) -> None:
        """Send ``GET event/next``; the answer is read by :meth:`_next_event`."""
        try:
            self._connection().sendall(self._next_request)
        except Exception:
            self._close_socket()
            raise

    def _next_event(self) -> dict[str, Any] | None:
        """Read the answer to ``event/next`` (one kept-alive socket, minimal HTTP/1.1
        parser: ``http.client`` would add ~10 ms of imports to the function's init)."""
        sock = self._connection()
        try:
            head, body = self._read_response(sock)
        except Exception:
            self._close_socket()
            raise
        status = int(head.split(b" ", 2)[1])
        if b"connection: close" in head.lower():
            self._close_socket()
        if status != 200:
            # e.g. 403 for an identifier Lambda no longer knows: a failure (warned once,
            # retried with back-off), not an event
            detail = body[:200].decode("utf-8", "replace")
            raise ConnectionError(f"event/next answered HTTP {status}: {detail}")
        return json.loads(body or b"{}")

    def _answered(self) -> bool:
        """The answer to event/next is waiting on the socket (not read yet)."""
        if self._buffer:
            return True
        sock = self._sock
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True  # let the read report the broken socket
        return bool(readable)

    def _wait_for_invocation(self) -> bool:
        """Sleep until an invocation has left fnlens's scope (or, for an invocation
        fnlens never saw, until event/next was answered and nothing ran for a whole
        poll period). False when stopping."""
        with self._cond:
            while not self._stop:
                if self._left > self._handled or not self._asked:
                    self._answered_since = None
                    return True
                self._cond.wait(POLL_S)
                if self._left > self._handled or not self._asked or self._stop:
                    continue
                if (
                    scope.current_invocation() is not None
                    or PHASE.busy()  # after the scope, the response is still being recorded
                    or not self._answered()
                ):
                    self._answered_since = None
                    continue
                now = time.monotonic()
                if self._answered_since is None:
                    self._answered_since = now  # look again after one more poll
                elif now - self._answered_since >= POLL_S:
                    self._answered_since = None
                    self._left = self._handled + 1  # an invocation fnlens did not see
                    return True
            return False

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
                with self._io:
                    if not self._asked:
                        self._ask_next()
                        self._asked = True
                if not self._wait_for_invocation():
                    return
                with self._io:
                    if not self._asked:
                        continue  # a step failed: ask again first (top of the loop)
                    if self._handled >= self._left:
                        continue  # the runtime's thread took this one (invocation_left)
                    self._step()
            except Exception as exc:
                # Keep asking: an extension that stops calling event/next would hold the
                # environment until the function times out.
                failures += 1
                warn_once("extension:next", f"Lambda extension event/next failed: {exc}")
                with self._io:
                    self._close_socket()
                    self._asked = False
                with self._cond:
                    self._handled = min(self._handled + 1, self._left)
                time.sleep(min(0.01 * failures, 0.5))
                continue
            failures = 0

    def _step(self, read_timeout_s: float | None = None) -> None:
        """After an invocation (``self._io`` held): read the answer to event/next, drain
        what is left for an ``INVOKE``, ask for the next event. A read that exceeds
        ``read_timeout_s`` raises (the socket is closed by the caller's error path)."""
        self._asked = False
        if read_timeout_s is not None:
            sock = self._connection()
            sock.settimeout(read_timeout_s)
            try:
                event = self._next_event()
            finally:
                if self._sock is sock:
                    sock.settimeout(None)  # the long poll that follows waits unbounded
        else:
            event = self._next_event()
        with self._cond:
            self._handled = min(self._handled + 1, self._left)
        if event is not None and event.get("eventType") == "INVOKE":
            self._after_invoke(event)
        self._ask_next()
        self._asked = True

    def _after_invoke(self, event: Mapping[str, Any]) -> None:
        """Drain every exporter, bounded by the deadline and the drain limit."""
        start = time.perf_counter()
        now_ms = time.time() * 1000.0
        deadline_ms = float(event.get("deadlineMs") or now_ms + self.drain_s * 1000.0)
        remaining = max(0.0, min(self.drain_s, (deadline_ms - now_ms) / 1000.0))
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
    if PHASE.install():
        # The runtime's thread drains after each response (fnlens.runtime._response_phase)
        # within the drain limit, then tells Lambda the extension is done, too.
        telemetry.after_response_budget_s = extension.drain_s
        extension.runtime_driven = True
        PHASE.add_listener(extension.invocation_left)
        extension.unhook = lambda: PHASE.remove_listener(extension.invocation_left)
    else:
        # no runtime client to hook: the end of the instrumented handler is the signal
        telemetry.add_after_invocation(extension.invocation_left)
    extension.start()
    return extension
