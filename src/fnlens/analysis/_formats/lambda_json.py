"""Lambda's JSON log format and the Telemetry / Logs API events: `platform.*` and app lines.

``{"time": …, "type": "platform.report", "record": {"requestId": …, "metrics": {…}}}``;
application lines are ``{"timestamp", "level", "message", "logger", "requestId"}``. The
Telemetry API (schemas 2022-07-01 to 2025-01-29) and the older Logs API deliver the same
events in batches (JSON arrays) plus ``function`` / ``extension`` records holding the log
lines, ``platform.runtimeDone`` (status, duration, produced bytes, response spans),
``platform.restore*`` (SnapStart) and ``platform.logsDropped`` (a gap in the data, which
the ingest report shows as a warning).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fnlens.analysis._formats.context import (
    StreamContext,
    attrs_json,
    level_of,
    minus_ms,
    text,
    xray_to_w3c,
)
from fnlens.analysis._formats.timeparse import parse_ts

_STATUS = {"success": "success", "error": "error", "failure": "error", "timeout": "timeout"}
_SKIP_LOG = {"platform.start", "platform.report", "platform.runtimeDone", "platform.end"}
_APP_KNOWN = frozenset({"timestamp", "level", "message", "requestId", "traceId", "spanId"})
# event types only the Telemetry API / Logs API deliver (CloudWatch's JSON format has the rest)
TELEMETRY_ONLY = frozenset(
    {
        "function",
        "extension",
        "platform.telemetrySubscription",
        "platform.logsSubscription",
        "platform.logsDropped",
        "platform.extension",
        "platform.fault",
        "platform.end",
    }
)
# runtimeDone's spans (2022-12-13 and later schemas) -> invocations columns
_SPAN_COLUMNS = {
    "responseLatency": "response_latency_ms",
    "responseDuration": "response_duration_ms",
    "runtimeOverhead": "runtime_overhead_ms",
}
# platform.runtimeDone ranks just after platform.report: the report's duration (which
# includes the extensions' time after the runtime finished) wins when both are there
_RUNTIME_DONE_RANK = 40.5


def is_platform(obj: dict[str, Any]) -> bool:
    t = obj.get("type")
    return isinstance(t, str) and t.startswith("platform.") and "time" in obj


def is_telemetry(obj: dict[str, Any]) -> bool:
    """A Telemetry API / Logs API event of a type CloudWatch's JSON log format never writes."""
    return obj.get("type") in TELEMETRY_ONLY and "time" in obj and "record" in obj


def is_app_line(obj: dict[str, Any]) -> bool:
    return "requestId" in obj and "message" in obj and "level" in obj


def handle_telemetry(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    """Telemetry API events: ``function`` / ``extension`` log lines and the platform ones."""
    kind = obj["type"]
    if kind not in ("function", "extension"):
        handle_platform(obj, ctx, line)
        return
    from fnlens.analysis._formats.messages import handle_json, handle_message

    ts = parse_ts(obj.get("time"))
    record = obj.get("record")
    if isinstance(record, str):
        handle_message(record, ts, line, ctx)  # text format: the runtime's own prefixes
    elif isinstance(record, dict):
        if "timestamp" not in record and "time" not in record:
            record = {**record, "timestamp": obj.get("time")}
        handle_json(record, ts, line, ctx)
    elif record is not None:
        raise ValueError(f"{kind}: 'record' is neither text nor an object")


def handle_platform(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    kind = obj["type"]
    ts = parse_ts(obj.get("time"))
    record = obj.get("record") or {}
    if not isinstance(record, dict):
        if kind == "platform.fault" and isinstance(record, str):  # Logs API: a text record
            _log(ctx, ts, "error", f"{kind}: {record}", None, None, None, line)
            return
        raise ValueError(f"{kind}: 'record' is not an object")
    base: dict[str, Any] = {
        "function_name": record.get("functionName") or ctx.function_name,
        "function_version": record.get("version") or ctx.stream_version,
        "log_stream": ctx.log_stream,
        "region": ctx.region,
        "request_id": record.get("requestId"),
        "trace_id": xray_to_w3c((record.get("tracing") or {}).get("value")),
    }
    if kind in ("platform.initStart", "platform.restoreStart"):
        ctx.init_type = record.get("initializationType") or (
            "snap-start" if kind == "platform.restoreStart" else None
        )
        ctx.function_name = ctx.function_name or record.get("functionName")
        if record.get("functionVersion"):
            ctx.stream_version = ctx.stream_version or record.get("functionVersion")
    elif kind == "platform.restoreReport":
        metrics = _metrics(record, kind)
        ctx.extra["restore_ms"] = _num(metrics.get("durationMs"), "durationMs")
    elif kind == "platform.logsDropped":
        records = _num(record.get("droppedRecords"), "droppedRecords") or 0
        size = _num(record.get("droppedBytes"), "droppedBytes") or 0
        ctx.dropped(line, int(records), int(size), str(record.get("reason") or ""))
    if kind == "platform.start":
        ctx.sink.invocation({**base, "ts": ts, "_rank": 39}, "platform")
        ctx.current_request = base["request_id"]
    elif kind == "platform.end":
        ctx.current_request = None
    elif kind == "platform.report":
        metrics = _metrics(record, kind)
        duration = _num(metrics.get("durationMs"), "durationMs")
        init = _num(metrics.get("initDurationMs"), "initDurationMs")
        restore_ms = _num(metrics.get("restoreDurationMs"), "restoreDurationMs")
        if restore_ms is None:
            restore_ms = ctx.extra.pop("restore_ms", None)
        else:
            ctx.extra.pop("restore_ms", None)
        restore = restore_ms is not None
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
            "restore_duration_ms": restore_ms,
            "billed_restore_duration_ms": _num(
                metrics.get("billedRestoreDurationMs"), "billedRestoreDurationMs"
            ),
            "cold_start": init is not None or restore,
            "init_type": init_type,
            "outcome": status,
            "error_type": record.get("errorType"),
            **_spans(record.get("spans")),
        }
        ctx.sink.invocation(row, "platform")
        if ctx.current_request == base["request_id"]:
            ctx.current_request = None
    elif kind == "platform.runtimeDone" and base["request_id"]:
        metrics = _metrics(record, kind)
        duration = _num(metrics.get("durationMs"), "durationMs")
        status = _STATUS.get(str(record.get("status", "success")).lower(), "error")
        produced = _num(metrics.get("producedBytes"), "producedBytes")
        ctx.sink.invocation(
            {
                **base,
                # `time` is when the runtime finished: the start is that minus its duration
                "ts": minus_ms(ts, duration),
                "duration_ms": duration,
                "outcome": status,
                "error_type": record.get("errorType"),
                "produced_bytes": int(produced) if produced is not None else None,
                "_rank": _RUNTIME_DONE_RANK,
                **_spans(record.get("spans")),
            },
            "platform",
        )
    if kind not in _SKIP_LOG:
        status = str(record.get("status", "")).lower()
        level = "error" if status in ("error", "failure", "timeout") else "info"
        if kind == "platform.logsDropped":
            level = "warning"
        _log(ctx, ts, level, kind, base["request_id"], None, record, line)


def _metrics(record: dict[str, Any], kind: str) -> dict[str, Any]:
    metrics = record.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError(f"{kind}: 'metrics' is not an object")
    return metrics


def _spans(spans: Any) -> dict[str, float]:
    """responseLatency / responseDuration / runtimeOverhead durations, in ms."""
    out: dict[str, float] = {}
    if not isinstance(spans, list):
        return out
    for span in spans:
        if isinstance(span, dict) and span.get("name") in _SPAN_COLUMNS:
            value = _num(span.get("durationMs"), f"spans[{span['name']}].durationMs")
            if value is not None:
                out[_SPAN_COLUMNS[span["name"]]] = value
    return out


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
