"""Handler run by the real awslambdaric in the end-to-end tests."""

from __future__ import annotations

import os

from fnlens import get_logger, instrument

log = get_logger()


@instrument(service="e2e")
def handler(event, context):
    log.info("handling", action=event.get("action"))
    if event.get("action") == "fail":
        raise ValueError("order 42 is broken")
    return {
        "ok": True,
        "request_id": context.aws_request_id,
        "xray": os.environ.get("_X_AMZN_TRACE_ID"),
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
