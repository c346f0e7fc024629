"""Lambda's JSON log format: `platform.*` records and JSON application lines.

``{"time": …, "type": "platform.report", "record": {"requestId": …, "metrics": {…}}}``;
application lines are ``{"timestamp", "level", "message", "logger", "requestId"}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fnlens.analysis.formats.context import (
    StreamContext,
    attrs_json,
    level_of,
    minus_ms,
    text,
    xray_to_w3c,
)
from fnlens.analysis.formats.timeparse import parse_ts

_STATUS = {"success": "success", "error": "error", "failure": "error", "timeout": "timeout"}
_SKIP_LOG = {"platform.start", "platform.report", "platform.runtimeDone"}
_APP_KNOWN = frozenset({"timestamp", "level", "message", "requestId", "traceId", "spanId"})


def is_platform(obj: dict[str, Any]) -> bool:
    t = obj.get("type")
    return isinstance(t, str) and t.startswith("platform.") and "time" in obj


def is_app_line(obj: dict[str, Any]) -> bool:
    return "requestId" in obj and "message" in obj and "level" in obj


def handle_platform(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    kind = obj["type"]
    ts = parse_ts(obj.get("time"))
    record = obj.get("record") or {}
    if not isinstance(record, dict):
        raise ValueError(f"{kind}: 'record' is not an object")
    base: dict[str, Any] = {
        "function_name": record.get("functionName") or ctx.function_name,
        "function_version": record.get("version") or ctx.stream_version,
        "log_stream": ctx.log_stream,
        "region": ctx.region,
        "request_id": record.get("requestId"),
        "trace_id": xray_to_w3c((record.get("tracing") or {}).get("value")),
    }
    if kind == "platform.initStart":
        ctx.init_type = record.get("initializationType")
        ctx.function_name = ctx.function_name or record.get("functionName")
        if record.get("functionVersion"):
            ctx.stream_version = ctx.stream_version or record.get("functionVersion")
    if kind == "platform.start":
        ctx.sink.invocation({**base, "ts": ts, "_rank": 39}, "platform")
    elif kind == "platform.report":
        metrics = record.get("metrics") or {}
        duration = _num(metrics.get("durationMs"), "durationMs")
        init = _num(metrics.get("initDurationMs"), "initDurationMs")
        restore = metrics.get("restoreDurationMs") is not None
        init_type = None
        if init is not None or restore:
            init_type = ctx.init_type or ("snap-start" if restore else "on-demand")
            ctx.init_type = None
        status = _STATUS.get(str(record.get("status", "success")).lower(), "error")
        row = {
            **base,
            "ts": minus_ms(ts, duration),
            "duration_ms": duration,
            "billed_duration_ms": _num(metrics.get("billedDurationMs"), "billedDurationMs"),
            "memory_size_mb": metrics.get("memorySizeMB"),
            "max_memory_used_mb": metrics.get("maxMemoryUsedMB"),
            "init_duration_ms": init,
            "cold_start": init is not None or restore,
            "init_type": init_type,
            "outcome": status,
            "error_type": record.get("errorType"),
        }
        ctx.sink.invocation(row, "platform")
    elif kind == "platform.runtimeDone" and base["request_id"]:
        status = _STATUS.get(str(record.get("status", "success")).lower(), "error")
        if status != "success":
            ctx.sink.invocation(
                {**base, "outcome": status, "error_type": record.get("errorType")}, "platform"
            )
    if kind not in _SKIP_LOG:
        status = str(record.get("status", "")).lower()
        _log(
            ctx,
            ts,
            "error" if status in ("error", "failure", "timeout") else "info",
            kind,
            base["request_id"],
            None,
            record,
            line,
        )


def handle_app_line(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    _log(
        ctx,
        parse_ts(obj.get("timestamp")),
        level_of(obj.get("level")),
        text(obj.get("message")),
        obj.get("requestId"),
        obj.get("traceId"),
        {k: v for k, v in obj.items() if k not in _APP_KNOWN} or None,
        line,
    )


def _num(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} is not a number: {value!r}")
    return float(value)


def _log(
    ctx: StreamContext,
    ts: datetime | None,
    level: str | None,
    message: str | None,
    request_id: str | None,
    trace_id: str | None,
    attributes: dict[str, Any] | None,
    line: int | None,
) -> None:
    ctx.sink.log(
        {
            "ts": ts,
            "level": level,
            "message": message,
            "request_id": request_id,
            "trace_id": xray_to_w3c(trace_id)
            if trace_id and trace_id.startswith(("1-", "Root="))
            else trace_id,
            "function_name": ctx.function_name,
            "attributes": attrs_json(attributes, frozenset()) if attributes else None,
            "source_file": ctx.path,
            "source_line": line,
        }
    )
