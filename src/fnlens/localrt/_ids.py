"""Identifiers shaped like the ones Lambda hands out: request ids, X-Ray headers,
log stream names and function ARNs."""

from __future__ import annotations

import os
import random
import time
import uuid

_rng = random.Random(int.from_bytes(os.urandom(16), "big"))


def new_request_id() -> str:
    """A request id (UUID4), as ``Lambda-Runtime-Aws-Request-Id`` carries it."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def new_xray_root(now: float | None = None) -> str:
    """``1-<8 hex epoch seconds>-<24 hex>``: an X-Ray trace id."""
    seconds = int(time.time() if now is None else now) & 0xFFFFFFFF
    return f"1-{seconds:08x}-{_rng.getrandbits(96):024x}"


def new_trace_header(sampled: bool = False) -> str:
    """A per-invocation ``_X_AMZN_TRACE_ID`` value (``Root=…;Parent=…;Sampled=…``).

    Lambda without active tracing passes ``Sampled=0``: the ids still join logs,
    REPORT lines and spans, but nothing is sent to X-Ray.
    """
    parent = f"{_rng.getrandbits(64) or 1:016x}"
    return f"Root={new_xray_root()};Parent={parent};Sampled={1 if sampled else 0}"


def new_log_stream_name(version: str, now: float | None = None) -> str:
    """``2026/11/22/[1]<32 hex>``: the name Lambda gives an environment's log stream."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"{day}/[{version}]{_rng.getrandbits(128):032x}"


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]``."""
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
