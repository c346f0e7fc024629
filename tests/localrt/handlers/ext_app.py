"""A handler with a minimal internal Lambda extension (plain http.client, no fnlens).

At import (the init phase) the extension registers for INVOKE and starts a thread
that long-polls event/next. After each INVOKE it waits until the handler ran,
then holds the environment for ``hold_s`` seconds (the event's field) before
asking for the next event: an extension working after the response.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time

HOST, _, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
STATE: dict = {"hold_s": 0.0, "invokes": []}
HANDLED = threading.Event()


def _register(name: str) -> tuple[int, str | None, dict]:
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=5)
    try:
        conn.request(
            "POST",
            "/2020-01-01/extension/register",
            body=json.dumps({"events": ["INVOKE"]}),
            headers={"Lambda-Extension-Name": name, "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"{}")
        return resp.status, resp.getheader("Lambda-Extension-Identifier"), body
    finally:
        conn.close()


STATUS, EXTENSION_ID, REGISTERED = _register("holder")


def _loop() -> None:
    conn = http.client.HTTPConnection(HOST, int(PORT))  # a long poll: no timeout
    while True:
        conn.request(
            "GET",
            "/2020-01-01/extension/event/next",
            headers={"Lambda-Extension-Identifier": EXTENSION_ID or ""},
        )
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return
        STATE["invokes"].append(json.loads(body))
        HANDLED.wait(5)  # the handler has run (it sets hold_s)
        HANDLED.clear()
        time.sleep(STATE["hold_s"])


if STATUS == 200:
    threading.Thread(target=_loop, name="holder-extension", daemon=True).start()


def handler(event, context):
    STATE["hold_s"] = float(event.get("hold_s") or 0)
    late = None
    if event.get("register_late"):
        status, _, body = _register("late")
        late = [status, body.get("errorType")]
    HANDLED.set()
    return {
        "registered": [STATUS, REGISTERED],
        "late": late,
        "invokes_seen": list(STATE["invokes"]),  # INVOKE events the extension received
        "deadline_ms": context.get_remaining_time_in_millis() + int(time.time() * 1000),
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
    }
