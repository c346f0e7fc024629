"""A small external Lambda extension written against the documented Extensions and
Telemetry APIs only (standard library): it registers for INVOKE and SHUTDOWN,
subscribes to the platform, function and extension streams over HTTP or TCP, and at
SHUTDOWN writes every event it received to ``$TELEMETRY_OUT`` as JSON lines."""

from __future__ import annotations

import http.client
import json
import os
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
OUT = os.environ["TELEMETRY_OUT"]
PROTOCOL = os.environ.get("TELEMETRY_PROTOCOL", "HTTP")
SCHEMA = os.environ.get("TELEMETRY_SCHEMA", "2025-01-29")
SLOW_S = float(os.environ.get("TELEMETRY_SLOW_S", "0"))
EXPECT_REPORTS = int(os.environ.get("TELEMETRY_EXPECT_REPORTS", "1"))
MAX_ITEMS = int(os.environ.get("TELEMETRY_MAX_ITEMS", "1000"))
MAX_BYTES = int(os.environ.get("TELEMETRY_MAX_BYTES", "262144"))
RECEIVED: list[dict] = []
BATCHES: list[list[int]] = []  # [items, bytes] of each HTTP batch, as it arrived
LOCK = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(SLOW_S)  # a subscriber that falls behind
        batch = json.loads(body)
        with LOCK:
            RECEIVED.extend(batch)
            BATCHES.append([len(batch), len(body)])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class TcpReceiver(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            with LOCK:
                RECEIVED.append(json.loads(line))


def call(method: str, path: str, body: dict | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(API, timeout=None)
    conn.request(method, path, body=json.dumps(body) if body else None, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, resp.getheader("Lambda-Extension-Identifier"), data


status, ext_id, _ = call(
    "POST",
    "/2020-01-01/extension/register",
    {"events": ["INVOKE", "SHUTDOWN"]},
    {"Lambda-Extension-Name": "telemetry_ext.py"},
)
assert status == 200, status
if PROTOCOL == "HTTP":
    server: socketserver.BaseServer = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    uri = f"http://sandbox.localdomain:{server.server_address[1]}/telemetry"
else:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TcpReceiver)
    uri = f"tcp://sandbox.localdomain:{server.server_address[1]}"
server.daemon_threads = True  # type: ignore[attr-defined]
threading.Thread(target=server.serve_forever, daemon=True).start()
subscription = {
    "schemaVersion": SCHEMA,
    "destination": {"protocol": PROTOCOL, "URI": uri},
    "types": ["platform", "function", "extension"],
    "buffering": {"maxItems": MAX_ITEMS, "maxBytes": MAX_BYTES, "timeoutMs": 25},
}
status, _, body = call(
    "PUT", "/2022-07-01/telemetry", subscription, {"Lambda-Extension-Identifier": ext_id}
)
print(f"telemetry_ext subscribed: {status} {body.decode()}", flush=True)

while True:
    status, _, body = call(
        "GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ext_id}
    )
    if status != 200:
        break
    event = json.loads(body)
    if event["eventType"] == "SHUTDOWN":
        # events still on their way (TCP): wait for the reports expected, at most 1.5 s
        give_up = time.monotonic() + 1.5
        while time.monotonic() < give_up:
            with LOCK:
                reports = sum(1 for e in RECEIVED if e["type"] == "platform.report")
            if reports >= EXPECT_REPORTS:
                break
            time.sleep(0.02)
        with LOCK, open(OUT + ".tmp", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(item) + "\n" for item in RECEIVED)
            fh.write(json.dumps({"type": "shutdown", "record": event}) + "\n")
        with LOCK, open(OUT + ".batches", "w", encoding="utf-8") as fh:
            json.dump(BATCHES, fh)
        os.replace(OUT + ".tmp", OUT)
        break
