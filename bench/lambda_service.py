"""The Lambda service, as far as one execution environment sees it, for the benchmark.

One HTTP server on 127.0.0.1 serves both APIs a function process talks to at
``AWS_LAMBDA_RUNTIME_API``: the Runtime API (``invocation/next``, ``…/response``)
and the Extensions API (``extension/register``, ``extension/event/next``). It
hands out the next invoke the way Lambda does: only once the runtime *and every
registered extension* have asked for it, to all of them at once. So every
variant of the benchmark runs the real runtime loop (awslambdaric's client:
blocking network calls between invocations), and an extension that works after
the response delays the next invoke exactly as it would in Lambda.

It also times each invocation as Lambda does: from handing the event out to
receiving the response (``latencies_ns``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RUNTIME_NEXT = "/2018-06-01/runtime/invocation/next"
RUNTIME_PREFIX = "/2018-06-01/runtime/invocation/"
EXTENSION_REGISTER = "/2020-01-01/extension/register"
EXTENSION_NEXT = "/2020-01-01/extension/event/next"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
WAIT_S = 30.0  # no request waits longer than this for its counterpart


class LambdaService:
    def __init__(self, event: dict[str, Any], timeout_s: float = 3.0) -> None:
        self.event_body = json.dumps(event).encode()
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self.reset()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == RUNTIME_NEXT:
                    invoke = service.runtime_next()
                    if invoke is None:
                        self._reply(500, b'{"errorType":"Timeout"}')
                        return
                    request_id, deadline_ms, trace = invoke
                    service.mark_dispatched()
                    self._reply(
                        200,
                        service.event_body,
                        {
                            "Lambda-Runtime-Aws-Request-Id": request_id,
                            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                            "Lambda-Runtime-Trace-Id": trace,
                        },
                    )
                    service.runtime_replied()
                elif self.path == EXTENSION_NEXT:
                    ext_id = self.headers.get("Lambda-Extension-Identifier") or ""
                    invoke = service.extension_next(ext_id)
                    if invoke is None:
                        self._reply(403, b'{"errorType":"Extension.Unknown"}')
                        return
                    request_id, deadline_ms, trace = invoke
                    body = {
                        "eventType": "INVOKE",
                        "deadlineMs": deadline_ms,
                        "requestId": request_id,
                        "invokedFunctionArn": FUNCTION_ARN,
                        "tracing": {"type": "X-Amzn-Trace-Id", "value": trace},
                    }
                    self._reply(200, json.dumps(body).encode())
                else:
                    self._reply(404, b'{"errorType":"NotFound"}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == EXTENSION_REGISTER:
                    ext_id = service.register(self.headers.get("Lambda-Extension-Name") or "")
                    self._reply(
                        200,
                        b'{"functionName":"orders-api","functionVersion":"1","handler":"app.h"}',
                        {"Lambda-Extension-Identifier": ext_id},
                    )
                elif self.path.startswith(RUNTIME_PREFIX) and self.path.endswith("/response"):
                    service.mark_responded()
                    self._reply(202, b'{"status":"OK"}')
                elif self.path.startswith(RUNTIME_PREFIX) and self.path.endswith("/error"):
                    service.errors.append(body)
                    service.mark_responded()
                    self._reply(202, b'{"status":"OK"}')
                else:
                    self._reply(404, b'{"errorType":"NotFound"}')

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # a function process that exits mid-request is normal

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        """A new execution environment (one benchmark process)."""
        with self._cond:
            self.generation = getattr(self, "generation", 0) + 1  # ends waits of the last one
            self.extensions: dict[str, int] = {}  # id -> invokes it has been handed
            self.waiting: set[str] = set()  # extensions blocked in event/next
            self.invokes = 0
            self.replied = 0  # invokes whose event the runtime has been sent
            self.current: tuple[str, int, str] | None = None
            self.dispatched_ns = 0
            self.latencies_ns: list[int] = []
            self.errors: list[bytes] = []
            self._cond.notify_all()

    def register(self, name: str) -> str:
        ext_id = f"{name}-{uuid.uuid4()}"
        with self._cond:
            self.extensions[ext_id] = 0
        return ext_id

    def runtime_next(self) -> tuple[str, int, str] | None:
        """Block until every extension asked for the next event too, then hand it out."""
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            generation = self.generation
            while not set(self.extensions) <= self.waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or generation != self.generation:
                    return None
                self._cond.wait(remaining)
            self.invokes += 1
            now = time.time()
            self.current = (
                str(uuid.uuid4()),
                int((now + self.timeout_s) * 1000),
                f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]};"
                f"Parent={uuid.uuid4().hex[:16]};Sampled=1",
            )
            self.waiting.clear()
            self._cond.notify_all()
            return self.current

    def extension_next(self, ext_id: str) -> tuple[str, int, str] | None:
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            if ext_id not in self.extensions:
                return None
            generation = self.generation
            seen = self.extensions[ext_id]
            self.waiting.add(ext_id)
            self._cond.notify_all()
            while self.invokes == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or generation != self.generation:
                    return None
                self._cond.wait(remaining)
            # the runtime's event first: this emulator shares the machine's CPUs with
            # the function, Lambda's service does not
            while self.replied < self.invokes and generation == self.generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if generation != self.generation:
                return None
            self.extensions[ext_id] = self.invokes
            return self.current

    def runtime_replied(self) -> None:
        with self._cond:
            self.replied = self.invokes
            self._cond.notify_all()

    def mark_dispatched(self) -> None:
        self.dispatched_ns = time.perf_counter_ns()

    def mark_responded(self) -> None:
        if self.dispatched_ns:
            self.latencies_ns.append(time.perf_counter_ns() - self.dispatched_ns)
            self.dispatched_ns = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
