"""Handler for the Managed Instances tests: logs through structlog (fnlens) and the
standard library, and an internal extension that may subscribe to SHUTDOWN only."""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time

from fnlens import get_logger, instrument

HOST, _, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
SHUTDOWN_FILE = os.environ.get("MI_SHUTDOWN_FILE")
log = get_logger()
if os.environ.get("MI_INIT_LOG"):  # one line per execution of this module's init
    with open(os.environ["MI_INIT_LOG"], "a", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
std = logging.getLogger("mi.std")


def _register(events: list[str]) -> tuple[int, str | None, dict]:
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=5)
    try:
        conn.request(
            "POST",
            "/2020-01-01/extension/register",
            body=json.dumps({"events": events}),
            headers={"Lambda-Extension-Name": f"watch-{'-'.join(events)}"},
        )
        resp = conn.getresponse()
        return resp.status, resp.getheader("Lambda-Extension-Identifier"), json.loads(resp.read())
    finally:
        conn.close()


INVOKE_REGISTRATION = _register(["INVOKE"])
SHUTDOWN_REGISTRATION = _register(["SHUTDOWN"])


def _wait_shutdown() -> None:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    ext_id = SHUTDOWN_REGISTRATION[1] or ""
    conn.request(
        "GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ext_id}
    )
    event = json.loads(conn.getresponse().read())
    if SHUTDOWN_FILE:
        with open(f"{SHUTDOWN_FILE}.{os.getpid()}", "w", encoding="utf-8") as fh:
            json.dump(event, fh)
    try:  # done with the cleanup: ask for the next event
        conn.request(
            "GET",
            "/2020-01-01/extension/event/next",
            headers={"Lambda-Extension-Identifier": ext_id},
        )
        conn.getresponse().read()
    except OSError:
        pass


if SHUTDOWN_REGISTRATION[0] == 200:
    threading.Thread(target=_wait_shutdown, daemon=True).start()


@instrument(service="mi")
def handler(event, context):
    rid = context.aws_request_id
    log.info("working", seq=event.get("seq"), rid_seen=rid)
    time.sleep(event.get("sleep_s", 0))
    std.warning("std line seq=%s", event.get("seq"))
    log.info("done", seq=event.get("seq"), rid_seen=rid)
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
        "seq": event.get("seq"),
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "log_format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"),
        "invoke_registration": [INVOKE_REGISTRATION[0], INVOKE_REGISTRATION[2]],
        "shutdown_registration": SHUTDOWN_REGISTRATION[0],
    }
