"""Handler for the local runtime tests: each event field asks for one behaviour."""

from __future__ import annotations

import os
import time

from fnlens import instrument

BALLAST: list[bytearray] = []


@instrument(service="lrt")
def handler(event, context):
    if event.get("sleep_s"):
        time.sleep(event["sleep_s"])
    if event.get("allocate_mb"):
        BALLAST.append(bytearray(b"\x01") * (event["allocate_mb"] * 1024 * 1024))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    if event.get("exit"):
        os._exit(int(event["exit"]))
    return {
        "variant": os.environ.get("VARIANT"),
        "pid": os.getpid(),
        "version": context.function_version,
        "arn": context.invoked_function_arn,
    }
