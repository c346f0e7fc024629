"""AWS Lambda Powertools Logger lines and EMF (Embedded Metric Format) documents.

Powertools' ``timestamp`` is ``2024-01-01 12:00:00,123+0000``; each line carries
``function_request_id``, ``cold_start``, ``function_name``, ``function_memory_size``
and ``xray_trace_id``, so besides a log row it contributes what it knows about the
invocation. EMF documents (``{"_aws": {"CloudWatchMetrics": …}}``) become log rows,
and invocation rows when they carry a request id.
"""

from __future__ import annotations

from typing import Any

from fnlens.analysis.formats.context import StreamContext, attrs_json, level_of, text, xray_to_w3c
from fnlens.analysis.formats.timeparse import parse_ts

_LOG_KNOWN = frozenset(
    {
        "level",
        "message",
        "timestamp",
        "service",
        "function_request_id",
        "xray_trace_id",
        "function_name",
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


def _version_from_arn(arn: Any) -> str | None:
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    # arn:aws:lambda:region:account:function:name[:qualifier]
    return parts[7] if len(parts) >= 8 else None


def handle_powertools(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    ts = parse_ts(obj.get("timestamp"))
    trace_id = xray_to_w3c(obj.get("xray_trace_id"))
    request_id = obj.get("function_request_id")
    function_name = obj.get("function_name") or ctx.function_name
    ctx.sink.log(
        {
            "ts": ts,
            "level": level_of(obj.get("level")),
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
        qualifier = _version_from_arn(obj.get("function_arn"))
        ctx.sink.invocation(
            {
                "request_id": request_id,
                "service": obj.get("service"),
                "function_name": function_name,
                "function_version": qualifier
                if qualifier and qualifier.isdigit()
                else ctx.stream_version,
                "function_alias": qualifier if qualifier and not qualifier.isdigit() else None,
                "cold_start": obj.get("cold_start"),
                "memory_size_mb": obj.get("function_memory_size"),
                "trace_id": trace_id,
                "log_stream": ctx.log_stream,
                "region": ctx.region,
            },
            "powertools",
        )


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
