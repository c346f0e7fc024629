"""fnlens JSONL: invocation records (`"event": "invocation"`) and user log lines.

Also holds the fast path: a clean fnlens file is loaded by DuckDB's own
``read_json`` (parallel, typed) instead of the Python line parser.
"""

from __future__ import annotations

from typing import Any

from fnlens.analysis._formats.context import StreamContext, attrs_json, level_of, text
from fnlens.analysis._formats.timeparse import parse_ts

# invocation record field -> invocations column (same name unless listed)
_INVOCATION_FIELDS = (
    "service",
    "function_name",
    "function_version",
    "function_alias",
    "service_version",
    "request_id",
    "trace_id",
    "cold_start",
    "init_type",
    "init_duration_ms",
    "duration_ms",
    "outcome",
    "error_type",
    "error_message",
    "trigger",
    "http_method",
    "http_route",
    "http_status_code",
    "region",
    "cloud_provider",
)

# typed columns for DuckDB's read_json on the fast path
FAST_COLUMNS: dict[str, str] = {
    "timestamp": "TIMESTAMPTZ",
    "event": "VARCHAR",
    **{
        name: {
            "cold_start": "BOOLEAN",
            "init_duration_ms": "DOUBLE",
            "duration_ms": "DOUBLE",
            "http_status_code": "INTEGER",
        }.get(name, "VARCHAR")
        for name in _INVOCATION_FIELDS
    },
    "memory_limit_mb": "INTEGER",
}

_LOG_KNOWN = frozenset(
    {
        "timestamp",
        "level",
        "event",
        "request_id",
        "trace_id",
        "span_id",
        "service",
        "function_name",
    }
)


def is_fnlens_record(obj: dict[str, Any]) -> bool:
    """fnlens lines always carry `event` and `timestamp` (structlog's shape)."""
    return isinstance(obj.get("event"), str) and "timestamp" in obj and "level" in obj


def is_invocation(obj: dict[str, Any]) -> bool:
    return obj.get("event") == "invocation" and ("request_id" in obj or "outcome" in obj)


def handle_invocation(obj: dict[str, Any], ctx: StreamContext) -> None:
    row: dict[str, Any] = {name: obj.get(name) for name in _INVOCATION_FIELDS}
    row["ts"] = parse_ts(obj.get("timestamp"))
    row["memory_size_mb"] = obj.get("memory_limit_mb")
    row["log_stream"] = ctx.log_stream
    if not row["trace_id"] and obj.get("xray_trace_id"):
        from fnlens.analysis._formats.context import xray_to_w3c

        row["trace_id"] = xray_to_w3c(obj["xray_trace_id"])
    ctx.sink.invocation(row, "fnlens")


def handle_log(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    ctx.sink.log(
        {
            "ts": parse_ts(obj.get("timestamp")),
            "level": level_of(obj.get("level")),
            "message": text(obj.get("event")),
            "request_id": obj.get("request_id"),
            "trace_id": obj.get("trace_id"),
            "span_id": obj.get("span_id"),
            "service": obj.get("service"),
            "function_name": obj.get("function_name") or ctx.function_name,
            "attributes": attrs_json(obj, _LOG_KNOWN),
            "source_file": ctx.path,
            "source_line": line,
        }
    )


def fast_select_sql() -> str:
    """SELECT list mapping read_json's typed columns to the invocations staging table."""
    from fnlens.analysis._sink import RANK, STAGE_COLUMNS

    exprs = {name: name for name in _INVOCATION_FIELDS}
    exprs.update(
        {
            "ts": "CAST(timestamp AS TIMESTAMP)",
            "memory_size_mb": "memory_limit_mb",
            "version": "coalesce(nullif(service_version, ''), function_version)",
            "source": "'fnlens'",
            "_rank": str(RANK["fnlens"]),
        }
    )
    return ", ".join(f"{exprs.get(col, 'NULL')} AS {col}" for col in STAGE_COLUMNS["invocations"])
