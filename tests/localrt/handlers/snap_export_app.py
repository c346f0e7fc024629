"""Handler for the SnapStart export test: fnlens exports over OTLP, and a record is
queued during init (before the snapshot)."""

from __future__ import annotations

import os

from fnlens import get_logger, instrument

log = get_logger()


@instrument(service="snap-export")
def handler(event, context):
    log.info("in the invocation", rid_seen=context.aws_request_id)
    return {"pid": os.getpid()}


# after the decoration (which installs the exporters): queued until something flushes it
log.info("queued at init", init_pid=os.getpid())
