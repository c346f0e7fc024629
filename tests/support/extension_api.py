"""A local stand-in for the Lambda Extensions API (register + event/next).

``event/next`` answers with an INVOKE event as soon as it is asked (or, with
``gate=True``, when the test releases one), and records when each call arrived,
so tests can check that the extension held the environment until its export was done.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.raw_server import RawHTTPServer


class FakeExtensionsAPI:
    def __init__(self, *, gate: bool = False) -> None:
        self.registrations: list[dict[str, Any]] = []
        self.next_calls: list[float] = []  # time.monotonic() of each event/next request
        self.answered: list[float] = []  # time.monotonic() of each INVOKE answer sent
        self.gate = threading.Semaphore(0) if gate else None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def log_message(self, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/2020-01-01/extension/register":
                    api.registrations.append(
                        {"name": self.headers.get("Lambda-Extension-Name"), "body": body}
                    )
                    self._reply(
                        200,
                        {"functionName": "orders-api", "functionVersion": "1", "handler": "app.h"},
                        {"Lambda-Extension-Identifier": str(uuid.uuid4())},
                    )
                else:
                    self._reply(404, {"errorType": "NotFound"})

            def do_GET(self) -> None:
                if self.path != "/2020-01-01/extension/event/next":
                    self._reply(404, {"errorType": "NotFound"})
                    return
                if not self.headers.get("Lambda-Extension-Identifier"):
                    self._reply(403, {"errorType": "Extension.Unregistered"})
                    return
                api.next_calls.append(time.monotonic())
                if api.gate is not None and not api.gate.acquire(timeout=30):
                    self._reply(500, {"errorType": "Timeout"})
                    return
                self._reply(
                    200,
                    {
                        "eventType": "INVOKE",
                        "deadlineMs": int(time.time() * 1000) + 3000,
                        "requestId": str(uuid.uuid4()),
                        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                        "tracing": {"type": "X-Amzn-Trace-Id", "value": ""},
                    },
                )
                api.answered.append(time.monotonic())

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # an extension process that exits mid-request is normal

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeExtensionsAPI:
        self._thread.start()
        return self

    def release(self, n: int = 1) -> None:
        if self.gate is not None:
            for _ in range(n):
                self.gate.release()

    def stop(self) -> None:
        if self.gate is not None:
            self.release(100)
        self.server.shutdown()
        self.server.server_close()


class ScriptedExtensionsAPI(RawHTTPServer):
    """An Extensions API whose answers to event/next follow a script, to exercise the
    extension's error paths: ``"invoke"``, ``"403"``, ``"close"`` (the connection is
    closed instead of answered) or ``("partial", seconds)`` (the answer stalls midway).
    Each answer waits for :meth:`release` (Lambda delivering an invoke)."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.next_calls: list[float] = []
        self._gate = threading.Semaphore(0)
        super().__init__(connection_timeout_s=20.0)

    def release(self) -> None:
        self._gate.release()

    @staticmethod
    def _http(status: int, body: bytes, extra: bytes = b"") -> bytes:
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        return (head + f"Content-Length: {len(body)}\r\n").encode() + extra + b"\r\n" + body

    def answer(self, conn: Any, head: bytes) -> bool:
        if head.startswith(b"POST"):  # register
            extra = b"Lambda-Extension-Identifier: id-1\r\nConnection: close\r\n"
            conn.sendall(self._http(200, b"{}", extra))
            return False
        self.next_calls.append(time.monotonic())
        index = len(self.next_calls) - 1
        action = self.script[index] if index < len(self.script) else "invoke"
        if not self._gate.acquire(timeout=15):
            return False
        invoke = json.dumps(
            {"eventType": "INVOKE", "deadlineMs": int(time.time() * 1000) + 3000}
        ).encode()
        if action == "invoke":
            conn.sendall(self._http(200, invoke))
        elif action == "403":
            conn.sendall(self._http(403, b'{"errorType":"Extension.Unknown"}'))
        elif action == "close":
            conn.close()
            return False
        else:  # ("partial", seconds)
            message = self._http(200, invoke)
            conn.sendall(message[:-10])
            if self._stop.wait(action[1]):
                return False
            conn.sendall(message[-10:])
        return True

    def close(self) -> None:
        for _ in range(100):
            self._gate.release()
        super().close()
