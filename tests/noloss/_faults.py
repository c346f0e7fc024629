"""A misbehaving OTLP/HTTP collector of the test's own, on 127.0.0.1.

Faults: ``refused`` (the port is bound but never listens: connect gets ECONNREFUSED),
``hang`` (accepts and reads requests, never answers), ``500`` (Internal Server Error,
not retryable in OTLP/HTTP), ``429`` (Too Many Requests with ``Retry-After: 1`` on
every request), ``trickle`` (answers 200, but the answer leaves a few bytes at a time
over about half a second) and ``ok``.

Items count as *received* only in requests the collector accepted (answered 2xx, or
began to for ``trickle``): that is what the OTLP specification calls delivered. Every
request is decoded with ``opentelemetry-proto`` all the same, so a failure message can
say what was offered.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

FAULTS = ("refused", "hang", "500", "429", "trickle")
TRICKLE_PIECES = 12
TRICKLE_GAP_S = 0.045  # 12 pieces, 45 ms apart: the answer takes about 0.5 s


def _string_attribute(attributes: Any, key: str) -> str | None:
    for kv in attributes:
        if kv.key == key:
            return kv.value.string_value
    return None


def _items(path: str, body: bytes) -> tuple[str, int, list[str], bytes]:
    """(signal, item count, request ids of invocation spans / records, the protobuf
    answer) of one export request."""
    if path.endswith("/v1/traces"):
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        rids = [_string_attribute(s.attributes, "faas.invocation_id") for s in spans]
        answer = ExportTraceServiceResponse().SerializeToString()
        return "traces", len(spans), [r for r in rids if r], answer
    if path.endswith("/v1/logs"):
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        logs = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
        rids = [
            _string_attribute(r.attributes, "request_id")
            for r in logs
            if r.body.string_value == "invocation"
        ]
        answer = ExportLogsServiceResponse().SerializeToString()
        return "logs", len(logs), [r for r in rids if r], answer
    return "other", 0, [], b""


class FaultyCollector:
    """Speaks HTTP/1.1 on one loopback port and fails the way ``fault`` says."""

    def __init__(self, fault: str) -> None:
        assert fault in (*FAULTS, "ok"), fault
        self.fault = fault
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.received = {"traces": 0, "logs": 0}  # items in accepted requests
        # request ids of the invocation spans / invocation records accepted
        self.received_rids: dict[str, list[str]] = {"traces": [], "logs": []}
        self.offered = {"traces": 0, "logs": 0}  # items in every request read
        self.requests = 0
        self.answers: list[int] = []  # status of each answer started
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        if fault != "refused":  # a bound socket that never listens refuses connections
            self._listen()

    def _listen(self) -> None:
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()

    def recover(self) -> None:
        """From now on answer like a healthy collector (connections that hang stay hung)."""
        was = self.fault
        self.fault = "ok"
        if was == "refused":
            self._listen()

    # counters -----------------------------------------------------------------------
    def total_received(self) -> int:
        with self.lock:
            return sum(self.received.values())

    def total_offered(self) -> int:
        with self.lock:
            return sum(self.offered.values())

    # server -------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30.0)
        buffer = b""
        try:
            for _ in range(100_000):  # requests on this kept-alive connection
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body, buffer = self._read_chunked(conn, buffer)
                else:
                    length = int(headers.get("content-length", "0"))
                    while len(buffer) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    body, buffer = buffer[:length], buffer[length:]
                encoding = headers.get("content-encoding", "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if not self._answer(conn, path, body):
                    return
        except OSError:
            return

    def _read_chunked(self, conn: socket.socket, buffer: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            while b"\r\n" not in buffer:
                buffer += conn.recv(65536)
            size_line, _, buffer = buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buffer) < size + 2:
                buffer += conn.recv(65536)
            body += buffer[:size]
            buffer = buffer[size + 2 :]
            if size == 0:
                return body, buffer

    def _answer(self, conn: socket.socket, path: str, body: bytes) -> bool:
        signal, n, rids, reply = _items(path, body)
        with self.lock:
            self.requests += 1
            if signal in self.offered:
                self.offered[signal] += n
        if self.fault == "hang":
            self._stop.wait(60)  # never answers; the connection stays open
            return False
        if self.fault in ("500", "429"):
            status = int(self.fault)
            text = b"Internal Server Error" if status == 500 else b"Too Many Requests"
            extra = b"Retry-After: 1\r\n" if status == 429 else b""
            message = b'{"code": 8, "message": "try later"}'
            with self.lock:
                self.answers.append(status)
            conn.sendall(
                b"HTTP/1.1 %d %s\r\n%sContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (status, text, extra, len(message), message)
            )
            return True
        with self.lock:  # ok / trickle: accepted
            if signal in self.received:
                self.received[signal] += n
                self.received_rids[signal].extend(rids)
            self.answers.append(200)
        answer = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
        )
        if self.fault == "ok":
            conn.sendall(answer)
            return True
        step = max(1, len(answer) // TRICKLE_PIECES + 1)
        for i in range(0, len(answer), step):
            conn.sendall(answer[i : i + step])
            if self._stop.wait(TRICKLE_GAP_S):
                return False
        return True

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass
        self.sock.close()

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "fault": self.fault,
                "requests": self.requests,
                "received": dict(self.received),
                "offered": dict(self.offered),
                "answers": dict(_count(self.answers)),
            }


def _count(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def wait_quiet(collector: FaultyCollector, quiet_s: float = 0.3, timeout_s: float = 5.0) -> None:
    """Wait (bounded) until no request came in for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        now = collector.requests
        if now == last:
            return
        last = now
        time.sleep(quiet_s)
