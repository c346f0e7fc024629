"""The handler every cell of the version matrix runs (tests/matrix/)."""

from __future__ import annotations

from fnlens import get_logger, instrument

log = get_logger()


@instrument(service="matrix")
def handler(event, context):
    log.info("handling", n=event.get("n"))
    return {"ok": True, "request_id": context.aws_request_id, "n": event.get("n")}
