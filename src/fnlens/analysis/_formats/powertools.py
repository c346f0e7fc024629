"""AWS Lambda Powertools Logger lines and EMF (Embedded Metric Format) documents.

Powertools for Python writes ``timestamp`` as ``2024-01-01 12:00:00,123+0000``, TypeScript
and Java v2 ``2024-01-01T12:00:00.123Z`` (or with the TZ's offset), .NET seven fraction
digits, Java v1 ``2024-01-01 12:00:00,123`` without a zone (UTC) and camelCase keys
(``coldStart``, ``functionArn``). Each line carries
``function_request_id``, ``cold_start``, ``function_name``, ``function_memory_size``
and ``xray_trace_id``, so besides a log row it contributes what it knows about the
invocation. EMF documents (``{"_aws": {"CloudWatchMetrics": …}}``) become log rows,
and invocation rows when they carry a request id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fnlens.analysis._formats.context import StreamContext, attrs_json, level_of, text, xray_to_w3c
from fnlens.analysis._formats.timeparse import parse_ts

_LOG_KNOWN = frozenset(
    {
        "level",
        "message",
        "timestamp",
        "service",
        "function_request_id",
        "xray_trace_id",
        "function_name",
        "functionName",
    }
)
_REQUEST_KEYS = ("function_request_id", "request_id", "requestId", "aws_request_id")


def is_powertools(obj: dict[str, Any]) -> bool:
    if "function_request_id" in obj:
        return True
    return "location" in obj and "message" in obj and "level" in obj and "timestamp" in obj


def is_emf(obj: dict[str, Any]) -> bool:
    aws = obj.get("_aws")
    return isinstance(aws, dict) and "CloudWatchMetrics" in aws


def _arn_part(arn: Any, index: int) -> str | None:
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    # arn:aws:lambda:region:account:function:name[:qualifier]
    if len(parts) <= index or parts[2] != "lambda":
        return None
    return parts[index] or None


def _get(obj: dict[str, Any], snake: str) -> Any:
    """Python/TypeScript/.NET/Java v2 write snake_case; Powertools for Java v1 camelCase."""
    value = obj.get(snake)
    if value is None:
        head, *rest = snake.split("_")
        value = obj.get(head + "".join(w.title() for w in rest))
    return value


def _exception(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    """(type, message) of a logged exception, in each language's shape.

    Python: ``exception_name`` + ``exception`` (the traceback); TypeScript / Java:
    ``error: {name, message, stack}``; .NET: ``exception: {type, message, stack_trace}``.
    """
    if isinstance(obj.get("exception_name"), str):
        tb = obj.get("exception")
        last = tb.strip().splitlines()[-1] if isinstance(tb, str) and tb.strip() else None
        return obj["exception_name"], last
    for key in ("error", "exception"):
        err = obj.get(key)
        if isinstance(err, dict):
            name = err.get("name") or err.get("type") or err.get("errorType")
            message = err.get("message") or err.get("errorMessage")
            if name or message:
                return (str(name) if name else None), (str(message) if message else None)
    return None, None


def handle_powertools(
    obj: dict[str, Any], ctx: StreamContext, line: int | None, event_ts: datetime | None = None
) -> None:
    """One Logger line: a log row, and what it knows about its invocation.

    ``ts`` is always set: the line's own timestamp (UTC), else the CloudWatch event's.
    """
    ts = parse_ts(obj.get("timestamp")) or event_ts
    trace_id = xray_to_w3c(obj.get("xray_trace_id"))
    if trace_id is None and isinstance(obj.get("xray_trace_id"), str):
        raw = obj["xray_trace_id"].strip().lower()  # already W3C hex (OTel propagation)
        trace_id = raw if len(raw) == 32 and all(c in "0123456789abcdef" for c in raw) else None
    request_id = obj.get("function_request_id") or ctx.current_request
    arn = _get(obj, "function_arn")
    function_name = _get(obj, "function_name") or _arn_part(arn, 6) or ctx.function_name
    region = ctx.region or _arn_part(arn, 3)
    level = level_of(obj.get("level"))
    ctx.sink.log(
        {
            "ts": ts,
            "level": level,
            "message": text(obj.get("message")),
            "request_id": request_id,
            "trace_id": trace_id,
            "service": obj.get("service"),
            "function_name": function_name,
            "attributes": attrs_json(obj, _LOG_KNOWN),
            "source_file": ctx.path,
            "source_line": line,
        }
    )
    if request_id:
        qualifier = _arn_part(arn, 7)
        version = _get(obj, "function_version")
        if qualifier and qualifier.isdigit():
            version = qualifier
        row: dict[str, Any] = {
            "request_id": request_id,
            "service": obj.get("service"),
            "function_name": function_name,
            "function_version": version or ctx.stream_version,
            "function_alias": qualifier if qualifier and not qualifier.isdigit() else None,
            "cold_start": _get(obj, "cold_start"),
            "memory_size_mb": _get(obj, "function_memory_size"),
            "trace_id": trace_id,
            "log_stream": ctx.log_stream,
            "region": region,
        }
        error_type, error_message = _exception(obj)
        if level in ("error", "critical", "fatal") and (error_type or error_message):
            # a logged exception marks the invocation as failed (the handler's own view)
            row.update(outcome="error", error_type=error_type, error_message=error_message)
        ctx.sink.invocation(row, "powertools")


def handle_emf(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    aws = obj["_aws"]
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise ValueError("EMF: _aws.CloudWatchMetrics is not a list")
    names: list[str] = []
    namespaces: list[str] = []
    for d in directives:
        if not isinstance(d, dict):
            raise ValueError("EMF: metric directive is not an object")
        namespaces.append(str(d.get("Namespace")))
        names.extend(str(m.get("Name")) for m in d.get("Metrics", []) if isinstance(m, dict))
    ts = parse_ts(aws.get("Timestamp"))
    request_id = next((obj[k] for k in _REQUEST_KEYS if isinstance(obj.get(k), str)), None)
    function_name = obj.get("function_name") or ctx.function_name
    ctx.sink.log(
        {
            "ts": ts,
            "level": "metric",
            "message": f"EMF {'/'.join(dict.fromkeys(namespaces))}: {', '.join(names)}",
            "request_id": request_id,
            "trace_id": xray_to_w3c(obj.get("xray_trace_id")) or obj.get("trace_id"),
            "service": obj.get("service"),
            "function_name": function_name,
            "attributes": attrs_json(obj, frozenset()),
            "source_file": ctx.path,
            "source_line": line,
        }
    )
    if request_id:
        cold = obj.get("cold_start")
        if cold is None and "ColdStart" in names:
            cold = True
        ctx.sink.invocation(
            {
                "request_id": request_id,
                "ts": ts,
                "service": obj.get("service"),
                "function_name": function_name,
                "function_version": obj.get("function_version") or ctx.stream_version,
                "cold_start": cold if isinstance(cold, bool) else None,
                "log_stream": ctx.log_stream,
            },
            "emf",
        )
