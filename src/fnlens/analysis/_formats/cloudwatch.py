"""CloudWatch Logs exports: API output, subscription payloads, Firehose objects.

* ``aws logs get-log-events`` / ``filter-log-events`` output (``{"events": [...]}``),
  one page or several (concatenated, one per line, or a JSON array of pages);
* subscription-filter payloads: ``{"awslogs": {"data": base64(gzip(json))}}`` as a
  Lambda receives them, or the decoded ``{"messageType": "DATA_MESSAGE", ...}``;
* Firehose objects: decoded payloads concatenated without separators.

Each event's ``message`` is parsed by the line rules (text platform lines, fnlens,
Powertools, Lambda JSON, EMF) with the event's timestamp and log stream.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

from fnlens.analysis._formats.context import StreamContext
from fnlens.analysis._formats.timeparse import parse_ts


def kind(obj: dict[str, Any]) -> str | None:
    """The CloudWatch document kind, or None when ``obj`` is not one."""
    if isinstance(obj.get("awslogs"), dict):
        return "cloudwatch-subscription"
    if "messageType" in obj and ("logEvents" in obj or "logGroup" in obj):
        return "cloudwatch-subscription"
    events = obj.get("events")
    if isinstance(events, list):
        if "searchedLogStreams" in obj or any(
            isinstance(e, dict) and "logStreamName" in e for e in events[:5]
        ):
            return "cloudwatch-filter-log-events"
        if (
            "nextForwardToken" in obj
            or "nextBackwardToken" in obj
            or events == []
            or (isinstance(events[0], dict) and "message" in events[0])
        ):
            return "cloudwatch-get-log-events"
    return None


def handle_document(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    from fnlens.analysis._formats.messages import handle_message

    if isinstance(obj.get("awslogs"), dict):
        data = obj["awslogs"].get("data")
        if not isinstance(data, str):
            raise ValueError("subscription payload: awslogs.data is not a string")
        try:
            decoded = json.loads(gzip.decompress(base64.b64decode(data, validate=False)))
        except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as exc:
            raise ValueError(f"subscription payload: cannot decode awslogs.data ({exc})") from None
        if not isinstance(decoded, dict):
            raise ValueError("subscription payload: decoded data is not an object")
        handle_document(decoded, ctx, line)
        return
    if "messageType" in obj:
        if obj.get("messageType") != "DATA_MESSAGE":
            return  # CONTROL_MESSAGE: CloudWatch checking the destination is reachable
        child = ctx.for_stream(obj.get("logGroup"), obj.get("logStream"))
        for event in obj.get("logEvents") or []:
            _event(event, child, line, handle_message)
        return
    streams: dict[str, StreamContext] = {}
    for event in obj.get("events") or []:
        name = event.get("logStreamName") if isinstance(event, dict) else None
        child = ctx
        if name:
            child = streams.get(name) or ctx.for_stream(None, name)
            child.function_name = child.function_name or ctx.function_name
            streams[name] = child
        _event(event, child, line, handle_message)


def _event(event: Any, ctx: StreamContext, line: int | None, handle_message: Any) -> None:
    if not isinstance(event, dict) or not isinstance(event.get("message"), str):
        ctx.error(line, "log event without a text 'message'")
        return
    try:
        ts = parse_ts(event.get("timestamp"))
        handle_message(event["message"], ts, line, ctx)
    except ValueError as exc:
        ctx.error(line, str(exc))
