"""Handler for the SnapStart tests: hooks from snapshot_restore_py record when they ran."""

from __future__ import annotations

import os
import random
import time
import uuid

from snapshot_restore_py import register_after_restore, register_before_snapshot

from fnlens import instrument

EVENTS: list[str] = []
INIT_PID = os.getpid()
# module state from init: in a snapshot, every restored environment starts from it
INIT_TOKEN = uuid.uuid4().hex
COUNTER = {"value": 41}
if os.environ.get("SNAP_FAIL_INIT"):
    raise RuntimeError("init failed on purpose")
if os.environ.get("SNAP_INIT_LOG"):  # one line per execution of this module's init
    with open(os.environ["SNAP_INIT_LOG"], "a", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")


@register_before_snapshot
def first_registered() -> None:  # runs last: before-snapshot hooks run in reverse order
    EVENTS.append("before:first_registered")


@register_before_snapshot
def second_registered() -> None:
    EVENTS.append("before:second_registered")


@register_after_restore
def reconnect() -> None:
    if os.environ.get("SNAP_FAIL_RESTORE"):
        raise RuntimeError("cannot reconnect after restore")
    time.sleep(float(os.environ.get("SNAP_RESTORE_SLEEP_S", "0")))
    EVENTS.append("after:reconnect")


@instrument(service="snap")
def handler(event, context):
    EVENTS.append(f"invoke:{context.aws_request_id}")
    COUNTER["value"] += 1
    if isinstance(event, dict) and "exit_code" in event:
        os._exit(event["exit_code"])
    time.sleep(float(event.get("sleep_s", 0)) if isinstance(event, dict) else 0)
    return {
        "init_token": INIT_TOKEN,
        "counter": COUNTER["value"],
        "draw": random.getrandbits(64),
        "uuid": str(uuid.uuid4()),
        "events": list(EVENTS),
        "pid": os.getpid(),
        "init_pid": INIT_PID,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    }
