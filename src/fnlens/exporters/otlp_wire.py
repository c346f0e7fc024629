"""Lean OTLP/HTTP: protobuf bytes straight from fnlens's own data, over a kept-alive socket.

Used on the export threads only (never imported by the runtime). The SDK path builds a
``ReadableSpan`` / ``ReadableLogRecord`` per item, then a protobuf object tree, then
serializes it, and posts it through ``requests``: most of an export's CPU time, which
competes with the handler's thread for the GIL. Here:

* fnlens event dicts (invocation records, log lines) and fast-path invocation spans
  (:class:`fnlens.runtime.tracing.FastSpan`) are written directly in the protobuf wire
  format, field for field what the SDK encoders produce for the same data
  (``tests/exporters/test_otlp_wire.py`` decodes both and compares them); the
  resource and scope are encoded once. Spans from the SDK (the handler's own spans)
  and invocation spans with links still go through the SDK encoder; the two
  serialized requests are concatenated (``resource_spans`` is a repeated field).
* the bytes go through the SDK exporter's own HTTP client (compression, headers,
  timeout, retries with backoff) with a transport of its own: one socket kept alive
  between exports and a minimal HTTP/1.1 parser, instead of a ``requests`` session,
  for plain-``http`` endpoints without client certificates or credential providers.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

_pack_d = struct.Struct("<d").pack
_pack_q = struct.Struct("<Q").pack
_pack_i = struct.Struct("<I").pack


# wire format --------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


# tags: (field << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)
_T1 = b"\x0a"
_T2 = b"\x12"
_T3 = b"\x1a"


def _str(tag: bytes, value: str) -> bytes:
    data = value.encode("utf-8")
    return tag + _varint(len(data)) + data


def any_value(value: Any) -> bytes:
    """``AnyValue`` body, as ``opentelemetry.exporter.otlp.proto.common`` encodes it."""
    if value is None:
        return b""
    # oneof members are written even when they hold the default value
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _str(_T1, value)
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise ValueError(f"int out of range: {value}")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_d(value)
    if isinstance(value, bytes):
        return _len_field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _len_field(b"\x2a", b"".join(_len_field(_T1, any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _len_field(
            b"\x32",
            b"".join(_len_field(_T1, key_value(str(k), v)) for k, v in value.items()),
        )
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def key_value(key: str, value: Any) -> bytes:
    return _str(_T1, key) + _len_field(_T2, any_value(value))


# Encoded ``KeyValue`` fields of recurring (key, scalar value) pairs. Most attributes
# repeat from one invocation to the next (function name, version, trigger, route,
# outcome…): their bytes are looked up instead of written again, which keeps the
# export after each response short. Bounded: at most _KV_VALUES_PER_KEY values per
# key (ids and durations stop being cached at once) and _KV_LIMIT entries in all.
_KV: dict[tuple[bytes, str, type, Any], bytes] = {}
_KV_PER_KEY: dict[tuple[bytes, str], int] = {}
_KV_LIMIT = 4096
_KV_VALUES_PER_KEY = 32


def attribute(tag: bytes, key: str, value: Any) -> bytes:
    """One ``KeyValue`` as field ``tag`` (the encoding of recurring scalars is cached)."""
    kind = type(value)
    if kind is not str and kind is not bool and kind is not int:
        return _len_field(tag, key_value(key, value))
    cache_key = (tag, key, kind, value)  # the type keeps True and 1 apart
    encoded = _KV.get(cache_key)
    if encoded is None:
        encoded = _len_field(tag, key_value(key, value))
        per_key = (tag, key)
        seen = _KV_PER_KEY.get(per_key, 0)
        if seen < _KV_VALUES_PER_KEY and len(_KV) < _KV_LIMIT:
            _KV_PER_KEY[per_key] = seen + 1
            _KV[cache_key] = encoded
    return encoded


def attributes(tag: bytes, attrs: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` field; a value the SDK cannot encode is skipped, as there."""
    if not attrs:
        return b""
    parts = []
    for key, value in attrs.items():
        try:
            parts.append(attribute(tag, key, value))
        except Exception:
            continue
    return b"".join(parts)


# resource and scope, encoded once per object ------------------------------------------
_HEADS: dict[tuple[int, int], tuple[Any, Any, bytes, bytes, bytes, bytes]] = {}


def _heads(resource: Any, scope: Any) -> tuple[bytes, bytes, bytes, bytes]:
    """The resource field and schema_url of ``Resource*``, the scope field and schema_url
    of ``Scope*``, as the SDK encoders write them."""
    key = (id(resource), id(scope))
    cached = _HEADS.get(key)
    if cached is not None and cached[0] is resource and cached[1] is scope:
        return cached[2:]
    from opentelemetry.exporter.otlp.proto.common._internal import (
        _encode_instrumentation_scope,
        _encode_resource,
    )

    res = _len_field(_T1, _encode_resource(resource).SerializeToString())
    res_schema = getattr(resource, "schema_url", None) or ""
    res_tail = _str(_T3, res_schema) if res_schema else b""
    sc = _len_field(_T1, _encode_instrumentation_scope(scope).SerializeToString())
    sc_schema = (getattr(scope, "schema_url", None) or "") if scope else ""
    sc_tail = _str(_T3, sc_schema) if sc_schema else b""
    if len(_HEADS) > 16:
        _HEADS.clear()
    _HEADS[key] = (resource, scope, res, res_tail, sc, sc_tail)
    return res, res_tail, sc, sc_tail


def _wrap(resource: Any, scope: Any, items: list[bytes]) -> bytes:
    """``Export*ServiceRequest{resource_*: [{resource, scope_*: [{scope, items}]}]}``."""
    if not items:
        return b""
    res, res_tail, sc, sc_tail = _heads(resource, scope)
    scope_msg = sc + b"".join(_len_field(_T2, i) for i in items) + sc_tail
    return _len_field(_T1, res + _len_field(_T2, scope_msg) + res_tail)


# log records ------------------------------------------------------------------------
_SEVERITY = {
    "debug": 5,
    "info": 9,
    "warning": 13,
    "warn": 13,
    "error": 17,
    "exception": 17,
    "critical": 21,
    "fatal": 21,
}
_SKIP = frozenset({"timestamp", "level", "event", "trace_id", "span_id"})
_TS_CACHE: dict[str, int] = {}


def _ns(timestamp: Any) -> int | None:
    if not isinstance(timestamp, str):
        return None
    ns = _TS_CACHE.get(timestamp)
    if ns is None:
        try:
            ns = int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            return None
        if len(_TS_CACHE) > 4096:
            _TS_CACHE.clear()
        _TS_CACHE[timestamp] = ns
    return ns


def log_record(event: Mapping[str, Any]) -> bytes:
    """One ``LogRecord``: what ``LogRecordFactory.make`` + the SDK's ``_encode_log`` give."""
    from fnlens.exporters.logrecords import _value

    level = str(event.get("level") or "info").lower()
    timestamp = _ns(event.get("timestamp")) or time.time_ns()
    out = [b"\x09", _pack_q(timestamp), b"\x10", _varint(_SEVERITY.get(level, 9))]
    out.append(_str(b"\x1a", level.upper()))
    body = event.get("event")
    out.append(_len_field(b"\x2a", any_value(body if isinstance(body, str) else _value(body))))
    for key, value in event.items():  # every field but the ones above, as attributes
        if value is None or key in _SKIP:
            continue
        kind = type(value)
        if kind is not str and kind is not int and kind is not bool and kind is not float:
            value = _value(value)
        try:
            out.append(attribute(b"\x32", key, value))
        except Exception:
            continue
    trace_id, span_id = event.get("trace_id"), event.get("span_id")
    if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id and span_id:
        try:
            tid, sid = int(trace_id, 16), int(span_id, 16)
        except ValueError:
            pass
        else:
            out.append(b"\x45" + _pack_i(1))  # flags: SAMPLED
            if tid:
                out.append(b"\x4a\x10" + tid.to_bytes(16, "big"))
            if sid:
                out.append(b"\x52\x08" + sid.to_bytes(8, "big"))
    out.append(b"\x59" + _pack_q(timestamp))  # observed_time_unix_nano
    return b"".join(out)


def logs_request(events: Sequence[Mapping[str, Any]], resource: Any, scope: Any) -> bytes:
    return _wrap(resource, scope, [log_record(e) for e in events])


# spans --------------------------------------------------------------------------------
def fast_span(span: Any) -> bytes:
    """One ``Span`` from a :class:`FastSpan` (no links): ``to_readable`` + ``_encode_span``."""
    out = [b"\x0a\x10", int(span.trace_id, 16).to_bytes(16, "big")]
    out.append(b"\x12\x08" + int(span.span_id, 16).to_bytes(8, "big"))
    if span.tracestate:
        state = _trace_state(span.tracestate)
        if state:
            out.append(_str(b"\x1a", state))
    if span.parent_span_id:
        out.append(b"\x22\x08" + int(span.parent_span_id, 16).to_bytes(8, "big"))
    out.append(_str(b"\x2a", span.name))
    out.append(b"\x30\x02")  # kind: SERVER
    if span.start_ns:
        out.append(b"\x39" + _pack_q(span.start_ns))
    if span.end_ns:
        out.append(b"\x41" + _pack_q(span.end_ns))
    out.append(attributes(b"\x4a", span.attributes))
    for name, ts, attrs in span.events:
        event = _str(_T2, name) + attributes(_T3, attrs)
        if ts:
            event = b"\x09" + _pack_q(ts) + event
        out.append(_len_field(b"\x5a", event))
    if span.status_code == 2:
        status = (_str(_T2, span.status_message) if span.status_message else b"") + b"\x18\x02"
    else:
        status = b""
    out.append(_len_field(b"\x7a", status))
    flags = 0x300 if span.parent_span_id else 0x100
    out.append(b"\x85\x01" + _pack_i(flags))
    return b"".join(out)


def _trace_state(raw: str) -> str:
    from opentelemetry.trace.span import TraceState

    try:
        state = TraceState.from_header([raw])
    except Exception:
        return ""
    return ",".join(f"{k}={v}" for k, v in state.items())


def spans_request(fast: Sequence[Any], resource: Any, scope: Any) -> bytes:
    return _wrap(resource, scope, [fast_span(s) for s in fast])


# transport ----------------------------------------------------------------------------
def lean_transport_ok(endpoint: str, signal: str) -> bool:
    """Plain http, no client certificate, CA file or credential provider configured."""
    if urlsplit(endpoint).scheme != "http":
        return False
    sig = signal.upper()
    for suffix in ("CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE"):
        if os.environ.get(f"OTEL_EXPORTER_OTLP_{suffix}") or os.environ.get(
            f"OTEL_EXPORTER_OTLP_{sig}_{suffix}"
        ):
            return False
    for name in (
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
        f"OTEL_PYTHON_EXPORTER_OTLP_HTTP_{sig}_CREDENTIAL_PROVIDER",
    ):
        if os.environ.get(name):
            return False
    return True


class _Incomplete(Exception):
    """The bytes at hand end before the HTTP response does."""


def _incomplete() -> bytes:
    raise _Incomplete


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


def socket_transport() -> Any:
    """A :class:`SocketTransport` (the SDK base class is imported here, lazily)."""
    import socket
    import weakref
    from dataclasses import dataclass

    global _TRANSPORTS
    if _TRANSPORTS is None:
        _TRANSPORTS = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_connections_after_fork)

    from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport

    @dataclass(frozen=True, slots=True)
    class Result(BaseHTTPResult):
        body: bytes = b""
        header_map: tuple[tuple[str, str], ...] = ()

        def content(self) -> bytes:
            return self.body

        def headers(self) -> Mapping[str, str]:
            merged: dict[str, str] = {}
            for k, v in self.header_map:
                k = k.lower()
                merged[k] = f"{merged[k]}, {v}" if k in merged else v
            return merged

    class SocketTransport(BaseHTTPTransport):
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
        ) -> BaseHTTPResult:
            try:
                addr, request = self._build(method, url, headers, data)
            except Exception as exc:  # not a connection error: the SDK does not retry
                return Result(error=exc)
            # the request as a whole ends by the timeout (OTEL_EXPORTER_OTLP_TIMEOUT is
            # per export): every socket call gets only the time that is left, so a
            # collector that trickles its answer cannot hold an export thread longer
            self._deadline = None if timeout is None else time.perf_counter() + timeout
            try:
                sock = self._send(addr, request, None)
            except Exception as exc:
                self.close()
                return Result(error=exc)
            return self._read(sock)

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
                return Result(error=exc)
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
                    return Result(error=exc)
                try:
                    sock = self._send(addr, request, left)
                except Exception as again:
                    self.close()
                    return Result(error=again)
            except Exception as exc:
                self.close()
                return Result(error=exc)
            return InFlight(self, sock)

        def _answer(self, more: Any) -> BaseHTTPResult:
            """The answer parsed from the buffer (``more()`` for further bytes); the
            connection is kept for the next request unless the answer closes it, or fails.
            ``_Incomplete`` (from ``more``) passes through with the buffer untouched."""
            try:
                status, reason, header_map, content, close, rest = parse_response(
                    self._buffer, more
                )
            except _Incomplete:
                raise
            except Exception as exc:  # malformed, timed out, or closed before its end
                self.close()
                return Result(error=exc)
            self._buffer = b"" if close else rest
            if close:
                self.close()
            return Result(status_code=status, reason=reason, body=content, header_map=header_map)

        def _read(self, sock: socket.socket) -> BaseHTTPResult:
            """The answer, read until the request's deadline."""
            return self._answer(lambda: self._recv(sock))

        def _ready(self, sock: socket.socket, timeout_s: float) -> BaseHTTPResult | None:
            """The answer if it is complete within ``timeout_s``; otherwise None. What
            arrived so far stays in the buffer, where :meth:`_read` goes on from."""
            deadline = time.perf_counter() + max(0.0, timeout_s)
            closed = False
            while True:
                try:
                    return self._answer(_closed if closed else _incomplete)
                except _Incomplete:
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
                    return Result(error=exc)
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

        __slots__ = ("_sock", "_transport")

        def __init__(self, transport: SocketTransport, sock: socket.socket) -> None:
            self._transport = transport
            self._sock = sock

        def ready(self, timeout_s: float) -> BaseHTTPResult | None:
            return self._transport._ready(self._sock, timeout_s)

        def result(self) -> BaseHTTPResult:
            return self._transport._read(self._sock)

    transport = SocketTransport()
    _TRANSPORTS.add(transport)
    return transport


def raw_export(exporter: Any, data: bytes) -> bool | None:
    """Send serialized bytes through the SDK exporter's HTTP client; None when the
    exporter has no such client (another SDK version, gRPC): use the SDK path."""
    client = getattr(exporter, "_client", None)
    send = getattr(client, "export", None)
    if send is None or getattr(exporter, "_shutdown", False):
        return None
    limit = getattr(exporter, "_max_request_size", 0) or 0
    if limit > 0 and len(data) > limit:
        return False
    return bool(send(data).success)


# statuses the OTLP specification says to retry (with backoff)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class RawExport:
    """An OTLP/HTTP export whose request is on the wire (:func:`start_raw_export`),
    for :meth:`fnlens.exporters.queue.ExportQueue.export_here`: ``wait`` on the
    thread that sent it, ``finish`` on the export thread it may be handed to."""

    __slots__ = ("_client", "_in_flight", "_outcome_of", "_result")

    def __init__(self, client: Any, in_flight: Any) -> None:
        self._client = client
        self._in_flight = in_flight
        self._result: Any = None  # the answer, once read
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
        ``Retry-After`` (seconds), else the SDK's first backoff (1 s, jittered); none
        after a connection error (a stale connection is retried at once, as the SDK
        does). None: longer than the export's timeout — give up, as the SDK would."""
        import random

        result = self._result
        if result is None or result.status_code is None:
            return 0.0
        delay = random.uniform(0.8, 1.2)
        try:
            after = result.headers().get("retry-after")
            if after is not None and after.strip().isdigit():
                delay = float(after.strip())
        except Exception:
            pass
        timeout = getattr(self._client, "_timeout", None)
        if isinstance(timeout, (int, float)) and delay > timeout:
            return None
        return delay

    def _outcome(self, result: Any) -> str:
        from fnlens.exporters.queue import FAILED, OK, RETRY

        status = result.status_code
        if status is not None and 200 <= status < 400:
            return OK
        if status in RETRYABLE_STATUS or (
            status is None and self._client._transport.is_connection_error(result.error)
        ):
            return RETRY  # the export thread sends it again, with the SDK's retries
        self._client._logger.error(  # as the SDK's client says it
            "Failed to export %s batch code: %s, reason: %s",
            self._client._kind,
            status,
            result.reason or result.error or "unknown",
        )
        return FAILED


def start_raw_export(exporter: Any, data: bytes, send_within_s: float) -> Any:
    """Send serialized bytes now, without waiting for the answer: a :class:`RawExport`;
    ``"retry"`` when they could not be sent within ``send_within_s`` (the export thread
    sends them, retries included); ``"failed"`` for a request over the size limit;
    None when the exporter's client is not the lean socket transport."""
    from fnlens.exporters.queue import FAILED, RETRY

    client = getattr(exporter, "_client", None)
    transport = getattr(client, "_transport", None)
    begin = getattr(transport, "begin", None)
    if begin is None or getattr(exporter, "_shutdown", False):
        return None
    try:
        endpoint, headers, timeout = client._endpoint, client._headers, client._timeout
        body = client._compress(data)
    except AttributeError:  # another SDK version: the SDK path
        return None
    limit = getattr(exporter, "_max_request_size", 0) or 0
    if limit > 0 and len(data) > limit:
        return FAILED
    sent = begin(endpoint, headers=headers, timeout=timeout, data=body, send_within=send_within_s)
    if not hasattr(sent, "ready"):
        return RETRY
    return RawExport(client, sent)


def usable(exporter: Any) -> bool:
    """The SDK's OTLP/HTTP exporter, with the HTTP client :func:`raw_export` sends through."""
    module = type(exporter).__module__
    return module.startswith("opentelemetry.exporter.otlp.proto.http") and hasattr(
        getattr(exporter, "_client", None), "export"
    )
