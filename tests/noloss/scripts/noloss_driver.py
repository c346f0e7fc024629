"""The handler every no-loss scenario runs, and the ledger of what the scenario sent.

Imported by the scenario scripts in this folder (each runs in a fresh interpreter).
Only fnlens's public API is used: ``fnlens.instrument``, ``fnlens.get_logger`` and the
OpenTelemetry API for a span of the handler's own.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any

import fnlens
from fnlens.testing import LambdaContext, events

__all__ = ["CRASH", "async_handler", "expected", "handler", "invoke", "invoke_async", "mark"]

LEDGER = os.environ["NOLOSS_LEDGER"]
CHILD_SPAN = os.environ.get("NOLOSS_CHILD_SPAN", "1") == "1"
WORK_S = float(os.environ.get("NOLOSS_WORK_S", "0"))  # handler time (interleaves threads)
CRASH = "crash"

log = fnlens.get_logger()


def _write(entry: dict[str, Any]) -> None:
    entry = {**entry, "pid": os.getpid(), "t": time.monotonic()}
    fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)


def mark(name: str, **fields: Any) -> None:
    """A point the test waits for (``ready``, ``frozen``…)."""
    _write({"kind": "mark", "name": name, **fields})


def expected(seq: int, request_id: str) -> dict[str, Any]:
    """What the handler returns, computed without fnlens."""
    return {"statusCode": 200, "body": json.dumps({"seq": seq, "request_id": request_id})}


def _body(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seq = int(event["pathParameters"]["id"])
    if CHILD_SPAN:
        from opentelemetry import trace

        with trace.get_tracer("noloss").start_as_current_span("noloss.child"):
            log.info("noloss.line", seq=seq)
    else:
        log.info("noloss.line", seq=seq)
    if WORK_S:
        time.sleep(WORK_S)
    if event.get("rawQueryString") == CRASH:
        raise ValueError(f"noloss crash in invocation {seq}")
    return expected(seq, context.aws_request_id)


@fnlens.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _body(event, context)


@fnlens.instrument
async def async_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import asyncio

    await asyncio.sleep(WORK_S)
    return _body(event, context)


def _call(seq: int, headers: dict[str, str] | None, crash: bool) -> tuple[Any, Any, str]:
    request_id = str(uuid.uuid4())  # os.urandom: distinct across forks
    context = LambdaContext(
        function_name="orders-api",
        function_version="42",
        memory_limit_in_mb=256,
        aws_request_id=request_id,
        timeout_ms=30_000,
    )
    event = events.api_gateway_v2(
        "GET /orders/{id}", path=f"/orders/{seq}", path_parameters={"id": str(seq)}, headers=headers
    )
    if crash:
        event["rawQueryString"] = CRASH
    thread = threading.current_thread().name
    _write({"kind": "sent", "rid": request_id, "seq": seq, "thread": thread, "headers": headers})
    return event, context, request_id


def invoke(seq: int, *, headers: dict[str, str] | None = None, crash: bool = False) -> Any:
    """Call the handler once; the ledger gets ``sent`` before and ``result`` after."""
    event, context, request_id = _call(seq, headers, crash)
    start = time.perf_counter()
    result = handler(event, context)
    wall_ms = (time.perf_counter() - start) * 1000.0  # what the caller waited, measured here
    ok = result == expected(seq, request_id)
    _write({"kind": "result", "rid": request_id, "ok": ok, "wall_ms": wall_ms})
    return result


async def invoke_async(seq: int) -> Any:
    event, context, request_id = _call(seq, None, False)
    result = await async_handler(event, context)
    _write({"kind": "result", "rid": request_id, "ok": result == expected(seq, request_id)})
    return result
