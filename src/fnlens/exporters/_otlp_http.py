"""fnlens's own OTLP/HTTP exporter: protobuf bytes POSTed as the OTLP specification says.

It is built on public ground only (the standard library): the bytes come from
:mod:`fnlens.exporters._otlp_wire`, the configuration from the ``OTEL_EXPORTER_OTLP_*``
variables (:func:`fnlens.exporters._otlp.resolve`), and the request goes out

* over one socket kept alive between exports, with a minimal HTTP/1.1 parser, for
  plain ``http`` endpoints (:class:`SocketTransport`): ``http.client`` parses every
  answer's headers with the email package, tens of microseconds of GIL time per export
  that the handler's thread would wait for; and a request can be sent now and its
  answer read later, from another thread (:meth:`SocketTransport.begin`);
* through ``http.client`` with an ``ssl`` context for ``https`` endpoints
  (``OTEL_EXPORTER_OTLP_CERTIFICATE``, ``…_CLIENT_CERTIFICATE``, ``…_CLIENT_KEY``).

Retries follow the specification: 429, 502, 503 and 504 are retried with exponential
backoff (or the answer's ``Retry-After``) until the export timeout; a refused
connection is tried once more (a kept-alive connection the collector closed), then the
batch fails at once — a collector that is down costs nothing more than that.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fnlens._version import __version__

__all__ = ["HttpResult", "OtlpHttpExporter", "RawExport", "SocketTransport", "socket_transport"]

_log = logging.getLogger("fnlens")

# statuses the OTLP specification says to retry (with backoff)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_USER_AGENT = f"fnlens/{__version__}"


@dataclass(frozen=True)
class HttpResult:
    """One HTTP answer, or the error that stood in for it."""

    status_code: int | None = None
    reason: str = ""
    body: bytes = b""
    header_map: tuple[tuple[str, str], ...] = ()
    error: BaseException | None = None

    def content(self) -> bytes:
        return self.body

    def headers(self) -> Mapping[str, str]:
        merged: dict[str, str] = {}
        for k, v in self.header_map:
            k = k.lower()
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        return merged


class _IncompleteError(Exception):
    """The bytes at hand end before the HTTP response does."""


def _incomplete() -> bytes:
    raise _IncompleteError


def _closed() -> bytes:
    raise ConnectionError("the collector closed the connection")


def parse_response(
    buffer: bytes, more: Any
) -> tuple[int, str, tuple[tuple[str, str], ...], bytes, bool, bytes]:
    """One HTTP/1.1 response from ``buffer``, calling ``more()`` for further bytes:
    (status, reason, headers, body, close, the bytes after it). Interim answers
    (``100 Continue``, ``103 Early Hints``) are skipped: the final one is returned."""
    while True:
        while b"\r\n\r\n" not in buffer:
            buffer += more()
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version, _, status_reason = status_line.partition(" ")
        code, _, reason = status_reason.partition(" ")
        status = int(code)
        if not (100 <= status < 200) or status == 101:
            break
        buffer = rest  # an interim answer has no body
    header_map = []
    length: int | None = None
    chunked = False
    close = version == "HTTP/1.0"
    for line in header_lines:
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        header_map.append((name, value))
        lower = name.lower()
        if lower == "content-length":
            length = int(value)
        elif lower == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif lower == "connection":
            close = "close" in value.lower() or (
                version == "HTTP/1.0" and "keep-alive" not in value.lower()
            )
    if status in (204, 304) or 100 <= status < 200:
        length, chunked = 0, False
    if chunked:
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += more()
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while b"\r\n" not in rest:  # trailers end with an empty line
                    rest += more()
                while not rest.startswith(b"\r\n"):
                    _, _, rest = rest.partition(b"\r\n")
                    while b"\r\n" not in rest:
                        rest += more()
                rest = rest[2:]
                break
            while len(rest) < size + 2:
                rest += more()
            body += rest[:size]
            rest = rest[size + 2 :]
    elif length is None:  # until the server closes the connection
        close = True
        parts = [rest]
        while True:
            try:
                chunk = more()
            except ConnectionError:
                break
            parts.append(chunk)
        body, rest = b"".join(parts), b""
    else:
        while len(rest) < length:
            rest += more()
        body, rest = rest[:length], rest[length:]
    return status, reason, tuple(header_map), body, close, rest


# ``InFlight.ready`` gathers at most this much of an answer (OTLP answers are tens of
# bytes; a larger one is read by ``InFlight.result``, with the request's whole timeout)
_READY_MAX_BYTES = 1 << 16
_TRANSPORTS: Any = None  # the WeakSet of live transports (reset in a forked child)


def _readable(sock: Any, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``sock`` to be readable (``poll``: no descriptor
    limit, unlike ``select``)."""
    import select

    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout_s) * 1000.0))


def _forget_connections_after_fork() -> None:
    for transport in list(_TRANSPORTS or ()):
        transport.after_fork()


def close_all_connections() -> None:
    """Close every kept-alive connection (before a SnapStart snapshot); each transport
    opens a new one at its next request."""
    for transport in list(_TRANSPORTS or ()):
        try:
            transport.close()
        except Exception:
            pass


def socket_transport() -> SocketTransport:
    """A new :class:`SocketTransport`, forgotten (not closed) in a forked child."""
    transport = SocketTransport()
    _live_transports().add(transport)
    return transport


def _live_transports() -> Any:
    global _TRANSPORTS
    if _TRANSPORTS is None:
        import weakref

        _TRANSPORTS = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_connections_after_fork)
    return _TRANSPORTS


class SocketTransport:
    """HTTP/1.1 over one socket kept alive between exports, with a minimal parser
    (``http.client`` parses every response's headers with the email package: tens of
    microseconds of GIL time per export, which the handler's thread waits for).

    Besides the SDK's ``request``, :meth:`begin` sends a request whose answer is
    read later, by :class:`InFlight` — from another thread if need be."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] | None = None
        self._buffer = b""
        self._deadline: float | None = None  # perf_counter() by which this request ends
        self._timeout: float | None = -1.0  # what the socket's timeout was last set to
        self._urls: dict[str, tuple[tuple[str, int], str, str]] = {}

    def _target(self, url: str) -> tuple[tuple[str, int], str, str]:
        target = self._urls.get(url)
        if target is None:
            parts = urlsplit(url)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            addr = (parts.hostname or "localhost", parts.port or 80)
            target = self._urls[url] = (addr, path, parts.netloc)
        return target

    def _build(
        self, method: str, url: str, headers: dict[str, str] | None, data: bytes | None
    ) -> tuple[tuple[str, int], bytes]:
        addr, path, netloc = self._target(url)
        body = data or b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {netloc}"]
        lines.append(f"Content-Length: {len(body)}")
        for key, value in (headers or {}).items():
            key, value = str(key), str(value)
            if any(c in key or c in value for c in "\r\n\0") or ":" in key:
                raise ValueError(f"invalid HTTP header {key!r}")
            lines.append(f"{key}: {value}")
        return addr, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _send(self, addr: tuple[str, int], request: bytes, within: float | None) -> Any:
        """Connect (or reuse the kept-alive socket) and send; each step gets the time
        left of the request, and at most ``within`` seconds.

        On a kept-alive socket the request is first offered without waiting (a
        request fits the socket's send buffer almost always): one system call,
        where a socket with a timeout polls before every send and every change of
        timeout is one more."""
        left = self._left()
        if within is not None:
            left = within if left is None else min(left, within)
        sock = self._sock
        if sock is None or self._addr != addr:
            self.close()
            until = None if left is None else time.perf_counter() + left
            sock = socket.create_connection(addr, timeout=left)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._addr = sock, addr
            sent = 0
            if until is not None:  # connecting and sending share the time
                left = until - time.perf_counter()
                if left <= 0:
                    raise TimeoutError("no time left to send after connecting")
        else:
            self._nonblocking(sock)
            try:
                sent = sock.send(request)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(request):
                return sock
        self._timeout = left
        sock.settimeout(left)
        sock.sendall(request[sent:] if sent else request)
        return sock

    def _nonblocking(self, sock: socket.socket) -> None:
        if self._timeout != 0.0:
            sock.settimeout(0.0)
            self._timeout = 0.0

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> HttpResult:
        try:
            addr, request = self._build(method, url, headers, data)
        except Exception as exc:  # not a connection error: the SDK does not retry
            return HttpResult(error=exc)
        # the request as a whole ends by the timeout (OTEL_EXPORTER_OTLP_TIMEOUT is
        # per export): every socket call gets only the time that is left, so a
        # collector that trickles its answer cannot hold an export thread longer
        self._deadline = None if timeout is None else time.perf_counter() + timeout
        try:
            sock = self._send(addr, request, None)
        except Exception as exc:
            self.close()
            return HttpResult(error=exc)
        return self.read_on(sock)

    def begin(
        self,
        url: str,
        *,
        headers: dict[str, str] | None,
        timeout: float | None,
        data: bytes,
        send_within: float,
    ) -> Any:
        """POST ``data`` now and return its :class:`InFlight` answer; a ``Result``
        with the error when it could not be sent within ``send_within`` seconds
        (the connection is closed then: nothing half-sent is ever completed)."""
        try:
            addr, request = self._build("POST", url, headers, data)
        except Exception as exc:
            return HttpResult(error=exc)
        self._deadline = None if timeout is None else time.perf_counter() + timeout
        started = time.perf_counter()
        reused = self._sock is not None and self._addr == addr
        try:
            sock = self._send(addr, request, send_within)
        except (ConnectionError, OSError) as exc:
            self.close()
            # a kept-alive connection the collector closed meanwhile (idle timeout,
            # a long freeze): once more on a new one, in the time that is left
            left = send_within - (time.perf_counter() - started)
            if not reused or isinstance(exc, TimeoutError) or left <= 0:
                return HttpResult(error=exc)
            try:
                sock = self._send(addr, request, left)
            except Exception as again:
                self.close()
                return HttpResult(error=again)
        except Exception as exc:
            self.close()
            return HttpResult(error=exc)
        return InFlight(self, sock)

    def _answer(self, more: Any) -> HttpResult:
        """The answer parsed from the buffer (``more()`` for further bytes); the
        connection is kept for the next request unless the answer closes it, or fails.
        ``_IncompleteError`` (from ``more``) passes through with the buffer untouched."""
        try:
            status, reason, header_map, content, close, rest = parse_response(self._buffer, more)
        except _IncompleteError:
            raise
        except Exception as exc:  # malformed, timed out, or closed before its end
            self.close()
            return HttpResult(error=exc)
        self._buffer = b"" if close else rest
        if close:
            self.close()
        return HttpResult(status_code=status, reason=reason, body=content, header_map=header_map)

    def read_on(self, sock: socket.socket) -> HttpResult:
        """The answer, read until the request's deadline."""
        return self._answer(lambda: self._recv(sock))

    def ready_on(self, sock: socket.socket, timeout_s: float) -> HttpResult | None:
        """The answer if it is complete within ``timeout_s``; otherwise None. What
        arrived so far stays in the buffer, where :meth:`_read` goes on from."""
        deadline = time.perf_counter() + max(0.0, timeout_s)
        closed = False
        while True:
            try:
                return self._answer(_closed if closed else _incomplete)
            except _IncompleteError:
                pass
            left = deadline - time.perf_counter()
            if (left <= 0 and self._buffer) or len(self._buffer) > _READY_MAX_BYTES:
                return None  # out of time, or a large answer: read in full elsewhere
            try:
                if not _readable(sock, left):
                    return None
                self._nonblocking(sock)
                chunk = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                if deadline <= time.perf_counter():
                    return None
                continue
            except Exception as exc:
                self.close()
                return HttpResult(error=exc)
            if chunk:
                self._buffer += chunk
            else:
                closed = True  # the answer ends here, or is cut short

    def _left(self) -> float | None:
        """Seconds left for this request (None: no limit); raises once it is over."""
        deadline = self._deadline
        if deadline is None:
            return None
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("the collector did not answer in time")
        return left

    def _recv(self, sock: socket.socket) -> bytes:
        self._timeout = left = self._left()
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the collector closed the connection")
        return chunk

    def after_fork(self) -> None:
        """In a forked child: the connection is the parent's; the child opens its own
        (the descriptor is detached, not closed: it stays the parent's)."""
        self._forget(lambda sock: sock.detach())

    def close(self) -> None:
        self._forget(lambda sock: sock.close())

    def _forget(self, release: Callable[[socket.socket], Any]) -> None:
        sock, self._sock = self._sock, None
        self._buffer = b""
        self._timeout = -1.0
        if sock is not None:
            try:
                release(sock)
            except OSError:
                pass

    def is_connection_error(self, exception: Exception | None) -> bool:
        # refused, reset, closed mid-response; not a timeout (as the requests transport)
        return isinstance(exception, (ConnectionError, socket.gaierror))


class InFlight:
    """A sent request's answer: ``ready`` looks (not blocking past its timeout, not
    consuming a partial answer); ``result`` reads it until the request's deadline."""

    __slots__ = ("connection", "sock")

    def __init__(self, connection: SocketTransport, sock: socket.socket) -> None:
        self.connection = connection  # fnlens's own transport that sent the request
        self.sock = sock

    def ready(self, timeout_s: float) -> HttpResult | None:
        return self.connection.ready_on(self.sock, timeout_s)

    def result(self) -> HttpResult:
        return self.connection.read_on(self.sock)


class HttpsTransport:
    """``http.client`` over TLS (certificates from the configuration), one connection
    kept alive; requests only (no :meth:`SocketTransport.begin`: the export thread sends)."""

    def __init__(
        self,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> None:
        import ssl

        self._context = ssl.create_default_context(cafile=ca_file or None)
        if client_cert:
            self._context.load_cert_chain(client_cert, client_key or None)
        self._conn: Any = None
        self._netloc: str | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> HttpResult:
        import http.client

        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            if self._conn is None or self._netloc != parts.netloc:
                self.close()
                self._conn = http.client.HTTPSConnection(
                    parts.hostname or "localhost",
                    parts.port or 443,
                    timeout=timeout,
                    context=self._context,
                )
                self._netloc = parts.netloc
            elif timeout is not None:
                self._conn.timeout = timeout
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
            self._conn.request(method, path, body=data, headers=headers or {})
            answer = self._conn.getresponse()
            body = answer.read()
            result = HttpResult(
                status_code=answer.status,
                reason=answer.reason,
                body=body,
                header_map=tuple(answer.getheaders()),
            )
            if answer.will_close:
                self.close()
            return result
        except Exception as exc:
            self.close()
            return HttpResult(error=exc)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def after_fork(self) -> None:
        self._conn = None  # the parent's socket (the child opens its own)

    def is_connection_error(self, exception: BaseException | None) -> bool:
        return isinstance(exception, (ConnectionError, socket.gaierror))


@dataclass(frozen=True)
class HttpSettings:
    """What one OTLP/HTTP exporter sends with: the resolved ``OTEL_EXPORTER_OTLP_*``."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str | None = None  # "gzip" or None
    certificate: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    signal: str = "traces"


class OtlpHttpExporter:
    """POSTs serialized ``Export*ServiceRequest`` bytes to one OTLP/HTTP endpoint.

    ``export_bytes`` runs on an export thread (retries within the export timeout);
    ``begin`` sends now and returns a :class:`RawExport` whose answer can be waited for
    on this thread and finished on another (the runtime's thread after the response)."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self.timeout_s = settings.timeout_s
        scheme = urlsplit(settings.endpoint).scheme
        if scheme == "https":
            self.transport: Any = HttpsTransport(
                settings.certificate, settings.client_certificate, settings.client_key
            )
        elif scheme == "http":
            self.transport = socket_transport()
        else:
            raise ValueError(
                f"OTLP/HTTP endpoint {settings.endpoint!r} is not an http:// or https:// URL"
            )
        headers = {"Content-Type": "application/x-protobuf", "User-Agent": _USER_AGENT}
        for key, value in settings.headers.items():
            headers[str(key)] = str(value)
        if settings.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        self.headers = headers
        self._lock = threading.Lock()  # one request at a time on the kept-alive connection
        self._shutdown = threading.Event()

    @property
    def kind(self) -> str:
        return self.settings.signal

    def _body(self, data: bytes) -> bytes:
        if self.settings.compression == "gzip":
            return gzip.compress(data, compresslevel=6)
        return data

    def can_begin(self) -> bool:
        return hasattr(self.transport, "begin") and not self._shutdown.is_set()

    def begin(self, data: bytes, send_within_s: float) -> Any:
        """Send now without waiting for the answer: a :class:`RawExport`; ``"retry"`` when
        the bytes could not be sent within ``send_within_s`` (the export thread sends
        them); None when this transport cannot (``https``: the export thread sends)."""
        from fnlens.exporters._queue import RETRY

        if not self.can_begin():
            return None
        if not self._lock.acquire(blocking=False):
            return None  # the export thread is using the connection
        try:
            sent = self.transport.begin(
                self.endpoint,
                headers=self.headers,
                timeout=self.timeout_s,
                data=self._body(data),
                send_within=send_within_s,
            )
        finally:
            self._lock.release()
        if not hasattr(sent, "ready"):
            return RETRY
        return RawExport(self, sent)

    def export_bytes(self, data: bytes) -> bool:
        """Send ``data`` and wait for the answer; retry what the specification says to
        retry until the export timeout. True when the collector accepted it."""
        if self._shutdown.is_set():
            return False
        deadline = time.monotonic() + self.timeout_s
        body = self._body(data)
        attempt = 0
        refused_once = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.report(None, "timeout")
                return False
            with self._lock:
                result = self.transport.request(
                    "POST", self.endpoint, headers=self.headers, timeout=left, data=body
                )
            status = result.status_code
            if status is not None and 200 <= status < 300:
                return True
            if status is None:
                if self.transport.is_connection_error(result.error) and not refused_once:
                    refused_once = True  # a kept-alive connection closed meanwhile
                    continue
                self.report(None, result.error)
                return False
            if status not in RETRYABLE_STATUS:
                self.report(status, result.reason)
                return False
            delay = retry_after(result)
            if delay is None:
                delay = backoff(attempt)
            attempt += 1
            if time.monotonic() + delay >= deadline:
                self.report(status, f"{result.reason}, retry past the export timeout")
                return False
            if self._shutdown.wait(delay):
                return False

    def report(self, status: int | None, reason: Any) -> None:
        _log.warning(
            "fnlens: OTLP %s export to %s failed: %s%s",
            self.kind,
            self.endpoint,
            f"HTTP {status} " if status is not None else "",
            reason or "unknown error",
        )

    def shutdown(self) -> None:
        self._shutdown.set()
        try:
            self.transport.close()
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def retry_after(result: HttpResult) -> float | None:
    """The answer's ``Retry-After`` in seconds (delta-seconds form), if any."""
    try:
        value = result.headers().get("retry-after")
    except Exception:
        return None
    if value is None:
        return None
    value = value.strip()
    if value.isdecimal() and value.isascii():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except Exception:
        return None


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s… (±20 %), at most 32 s."""
    return min(32.0, 2.0**attempt) * random.uniform(0.8, 1.2)


class RawExport:
    """An OTLP/HTTP export whose request is on the wire (:meth:`OtlpHttpExporter.begin`),
    for :meth:`fnlens.exporters._queue.ExportQueue.export_here`: ``wait`` on the
    thread that sent it, ``finish`` on the export thread it may be handed to."""

    __slots__ = ("_exporter", "_in_flight", "_outcome_of", "_result")

    def __init__(self, exporter: OtlpHttpExporter, in_flight: Any) -> None:
        self._exporter = exporter
        self._in_flight = in_flight
        self._result: HttpResult | None = None  # the answer, once read
        self._outcome_of: str | None = None

    def wait(self, timeout_s: float) -> str | None:
        """The outcome if the answer is complete within ``timeout_s``, else None."""
        if self._result is None:
            result = self._in_flight.ready(timeout_s)
            if result is None:
                return None
            self._result = result
            self._outcome_of = self._outcome(result)
        return self._outcome_of

    def finish(self) -> str:
        """The outcome, reading the answer until the export's timeout (once)."""
        if self._result is None:
            self._result = self._in_flight.result()
            self._outcome_of = self._outcome(self._result)
        return self._outcome_of or "failed"

    def retry_delay(self) -> float | None:
        """Seconds to wait before sending again after a retryable answer: its
        ``Retry-After``, else the first backoff (1 s, jittered); none after a connection
        error (a stale connection is retried at once). None: longer than the export's
        timeout — give up."""
        result = self._result
        if result is None or result.status_code is None:
            return 0.0
        delay = retry_after(result)
        if delay is None:
            delay = backoff(0)
        if delay > self._exporter.timeout_s:
            return None
        return delay

    def _outcome(self, result: HttpResult) -> str:
        from fnlens.exporters._queue import FAILED, OK, RETRY

        status = result.status_code
        if status is not None and 200 <= status < 300:
            return OK
        if status in RETRYABLE_STATUS or (
            status is None and self._exporter.transport.is_connection_error(result.error)
        ):
            return RETRY  # the export thread sends it again, with its retries
        self._exporter.report(status, result.reason or result.error)
        return FAILED
