"""The Lambda Runtime API (``/2018-06-01/runtime/…``) for one execution environment.

Each environment gets its own server on 127.0.0.1, as each Lambda sandbox talks
to its own endpoint: the runtime client long-polls ``/invocation/next``, then
posts ``/invocation/{id}/response`` or ``/invocation/{id}/error``; a failed
init posts ``/init/error``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
NEXT = f"{PREFIX}/invocation/next"


@dataclass
class Invocation:
    """One invocation on its way through the Runtime API."""

    request_id: str
    body: bytes
    function_arn: str
    trace_header: str | None
    timeout_s: float
    handed_out_at: float | None = None  # when /next returned it (the invoke phase starts)
    deadline_ms: int | None = None
    finished_at: float | None = None
    response: bytes | None = None
    response_content_type: str | None = None
    error: bytes | None = None
    error_type: str | None = None
    handed_out: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self) -> None:
        self.finished_at = time.time()
        self.done.set()


class RuntimeApi:
    """The state behind one environment's Runtime API endpoint."""

    def __init__(self, on_handout: Any = None, on_init_error: Any = None) -> None:
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._lock = threading.Lock()
        self._on_handout = on_handout
        self._on_init_error = on_init_error
        self.current: Invocation | None = None
        self.first_next_at: float | None = None  # end of the init phase
        self.init_done = threading.Event()
        self.init_error: tuple[str | None, bytes] | None = None
        self.calls: list[tuple[str, str]] = []  # (method, path): what the runtime asked for
        self.closed = False

    # called by the environment -------------------------------------------
    def submit(self, invocation: Invocation) -> None:
        self._pending.put(invocation)

    def close(self) -> None:
        self.closed = True
        self._pending.put(None)
        self.init_done.set()

    # called by the HTTP handler -------------------------------------------
    def next_invocation(self) -> Invocation | None:
        with self._lock:
            if self.first_next_at is None:
                self.first_next_at = time.time()
        self.init_done.set()
        invocation = self._pending.get()
        if invocation is None:
            self._pending.put(None)  # wake any other poller too
            return None
        now = time.time()
        invocation.handed_out_at = now
        invocation.deadline_ms = int((now + invocation.timeout_s) * 1000)
        with self._lock:
            self.current = invocation
        if self._on_handout is not None:
            self._on_handout(invocation)
        invocation.handed_out.set()
        return invocation

    def post_response(self, request_id: str, body: bytes, content_type: str | None) -> bool:
        inv = self._take(request_id)
        if inv is None:
            return False
        inv.response, inv.response_content_type = body, content_type
        inv.finish()
        return True

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        inv = self._take(request_id)
        if inv is None:
            return False
        inv.error, inv.error_type = body, error_type or _error_type_of(body)
        inv.finish()
        return True

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        self.init_error = (error_type or _error_type_of(body), body)
        self.init_done.set()
        if self._on_init_error is not None:
            self._on_init_error()

    def _take(self, request_id: str) -> Invocation | None:
        with self._lock:
            inv = self.current
            if inv is None or inv.request_id != request_id or inv.done.is_set():
                return None
            self.current = None
            return inv


def _error_type_of(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("errorType")
    except Exception:
        return None
    return value if isinstance(value, str) else None


_INVALID_ID = b'{"errorMessage":"invalid request id","errorType":"InvalidRequestID"}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence http.server
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        api = self.server.api
        api.calls.append(("GET", self.path))
        if self.path != NEXT:
            self._reply(404, b'{"errorMessage":"unknown path","errorType":"InvalidRequest"}')
            return
        inv = api.next_invocation()
        if inv is None:
            self._reply(410, b'{"errorMessage":"environment shutting down"}')
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
        }
        if inv.trace_header:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_header
        self._reply(200, inv.body, headers)

    def do_POST(self) -> None:
        api = self.server.api
        body = self._read_body()
        path = self.path
        api.calls.append(("POST", path))
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if path == f"{PREFIX}/init/error":
            api.post_init_error(body, error_type)
            self._reply(202, b'{"status":"OK"}')
            return
        parts = path[len(PREFIX) :].strip("/").split("/")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if parts[2] == "response":
                ok = api.post_response(parts[1], body, self.headers.get("Content-Type"))
            else:
                ok = api.post_error(parts[1], body, error_type)
            if ok:
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, _INVALID_ID)
            return
        self._reply(404, b'{"errorMessage":"unknown path","errorType":"InvalidRequest"}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime killed mid-request breaks its connection: expected, not worth a trace."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApiServer:
    """A Runtime API endpoint on 127.0.0.1 (an ephemeral port) for one environment."""

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        self._server = _Server(api)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="fnlens-localrt-api",
            daemon=True,
        )

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.close()
        self._server.shutdown()
        self._server.server_close()
