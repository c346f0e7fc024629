"""Google Cloud Logging ``LogEntry`` records (Cloud Run services, Cloud Run functions).

As ``gcloud logging read --format=json`` writes them (a JSON array) or as a Cloud Storage
sink does (one entry per line). A request log (``run.googleapis.com/requests``, with
``httpRequest``) is an invocation: the service is the function, the revision its version,
``httpRequest.latency`` (a protobuf Duration, ``"0.123456s"``) its duration, a 5xx status
an error. 1st-gen Cloud Functions write no request log but ``Function execution started``
and ``Function execution took 123 ms, finished with status: 'ok'`` lines, which are.

Every entry of one request shares a key, its request id. On Cloud Run it is the trace id
of ``trace`` (a request's request log and its stdout/stderr lines carry the same
``projects/P/traces/T``), else ``labels.execution_id``; on 1st-gen Cloud Functions
(``cloud_function``) ``labels.execution_id`` first, which every line of an execution has.
A request log with neither keeps its ``insertId``. fnlens records written to stdout
(``jsonPayload`` with ``"event": "invocation"``) take that key too, so they merge with
the request log.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from fnlens.analysis._formats import fnlens_jsonl
from fnlens.analysis._formats.context import StreamContext, attrs_json, level_of, text
from fnlens.analysis._formats.timeparse import parse_ts

SOURCE = "cloud-logging"

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s\s*$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
# 1st-gen Cloud Functions: the lines around each execution
_STARTED = "Function execution started"
_FINISHED = re.compile(
    r"^Function execution took (\d+(?:\.\d+)?) ms,? "
    r"finished with status(?: code)?:? '?([^']*)'?\s*$"
)
_STATUS_OUTCOME = {"ok": "success", "timeout": "timeout"}  # error, crash, … -> error
# LogSeverity as numbers (some exports write the enum's value)
_SEVERITY = {
    0: "default",
    100: "debug",
    200: "info",
    300: "notice",
    400: "warning",
    500: "error",
    600: "critical",
    700: "alert",
    800: "emergency",
}
_ENTRY_KNOWN = frozenset(
    {
        "timestamp",
        "severity",
        "trace",
        "spanId",
        "textPayload",
        "jsonPayload",
        "httpRequest",
        "resource",
        "labels",
        "receiveTimestamp",
    }
)
_JSON_MESSAGE_KEYS = ("message", "msg", "textPayload")


def is_log_entry(obj: dict[str, Any]) -> bool:
    """A LogEntry: ``logName`` and a monitored ``resource`` with a ``type``."""
    resource = obj.get("resource")
    return (
        isinstance(obj.get("logName"), str)
        and isinstance(resource, dict)
        and isinstance(resource.get("type"), str)
    )


def duration_ms(value: Any) -> float | None:
    """A protobuf Duration in JSON (``"0.123456s"``; ``{seconds, nanos}`` too) in ms."""
    if value is None:
        return None
    if isinstance(value, dict):
        try:
            return float(value.get("seconds") or 0) * 1000 + float(value.get("nanos") or 0) / 1e6
        except (TypeError, ValueError):
            raise ValueError(f"httpRequest.latency: not a duration: {value!r}") from None
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"httpRequest.latency: not a duration: {value!r}")
    return float(m.group(1)) * 1000


def trace_id_of(trace: Any) -> str | None:
    """``projects/P/traces/T`` (or a bare ``T``) to the W3C trace id ``T``."""
    if not isinstance(trace, str) or not trace:
        return None
    tail = trace.rsplit("/traces/", 1)[-1].strip()
    return tail.lower() if _HEX32.match(tail) else None


def _dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"LogEntry: {key} is not an object")
    return value


def _status(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ValueError(f"httpRequest.status: not a status code: {value!r}")
    return int(value)


def _filled(payload: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """The fnlens record, its empty fields filled from what the entry says."""
    out = dict(payload)
    for name, value in known.items():
        if out.get(name) in (None, ""):
            out[name] = value
    return out


def _level(severity: Any) -> str | None:
    if isinstance(severity, int) and not isinstance(severity, bool):
        return _SEVERITY.get(severity)
    return level_of(severity)


def handle_entry(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    """One LogEntry: an invocation (request log), a log row, or both (fnlens records)."""
    resource = _dict(obj, "resource")
    where = _dict(resource, "labels")
    labels = _dict(obj, "labels")
    http = _dict(obj, "httpRequest")
    ts = parse_ts(obj.get("timestamp")) or parse_ts(obj.get("receiveTimestamp"))
    trace_id = trace_id_of(obj.get("trace"))
    execution_id = labels.get("execution_id")
    if resource.get("type") == "cloud_function":  # every line of an execution has its id
        key = execution_id or trace_id
    else:  # Cloud Run: the request log has the trace, not always an execution id
        key = trace_id or execution_id
    function_name = where.get("service_name") or where.get("function_name") or where.get("job_name")
    identity = {
        "service": function_name,
        "function_name": function_name,
        "function_version": where.get("revision_name"),
        "region": where.get("location") or where.get("region"),
        "cloud_provider": "gcp",
        "log_stream": labels.get("instanceId"),
    }
    if http:
        status = _status(http.get("status"))
        outcome = None if status is None else ("error" if status >= 500 else "success")
        row = {
            **identity,
            "request_id": key or obj.get("insertId"),
            "ts": ts,
            "trace_id": trace_id,
            "duration_ms": duration_ms(http.get("latency")),
            "http_method": http.get("requestMethod"),
            "http_status_code": status,
            "trigger": "http",
            "outcome": outcome,
            "error_type": f"HTTP {status}" if outcome == "error" else None,
        }
        ctx.sink.invocation(row, SOURCE)
        return
    payload = obj.get("jsonPayload")
    if payload is not None and not isinstance(payload, dict):
        raise ValueError("LogEntry: jsonPayload is not an object")
    if payload and fnlens_jsonl.is_invocation(payload):
        known = {k: v for k, v in identity.items() if k != "log_stream"}
        record = _filled(
            payload, {**known, "trace_id": trace_id, "timestamp": obj.get("timestamp")}
        )
        record["request_id"] = key or payload.get("request_id")
        fnlens_jsonl.handle_invocation(record, ctx)
        return
    message = obj.get("textPayload")
    if isinstance(message, str) and _generation1(message, identity, key, ts, ctx):
        return
    context = {  # where the entry came from, kept in attributes
        "logName": unquote(obj["logName"]) if "%" in obj["logName"] else obj["logName"],
        "resource.type": resource.get("type"),
        "revision_name": where.get("revision_name"),
        "insertId": obj.get("insertId"),
    }
    level = _level(obj.get("severity"))
    if payload and fnlens_jsonl.is_fnlens_record(payload):
        known = {
            "function_name": function_name,
            "trace_id": trace_id,
            "span_id": obj.get("spanId"),
            "timestamp": obj.get("timestamp"),
        }
        record = _filled(payload, known)
        record["request_id"] = key or payload.get("request_id")
        fnlens_jsonl.handle_log(record, ctx, line)
        return
    extra: dict[str, Any] = {k: v for k, v in context.items() if v is not None}
    if labels:
        extra["labels"] = labels
    if payload:
        message = next((payload[k] for k in _JSON_MESSAGE_KEYS if k in payload), payload)
        extra.update({k: v for k, v in payload.items() if k not in _JSON_MESSAGE_KEYS})
    elif message is None and obj.get("protoPayload") is not None:
        proto = _dict(obj, "protoPayload")
        name = " ".join(str(proto[k]) for k in ("serviceName", "methodName") if proto.get(k))
        message = name or proto
        extra["protoPayload"] = proto
    for k, v in obj.items():  # traceSampled, sourceLocation, operation, ...
        if k not in _ENTRY_KNOWN and k not in context and k != "protoPayload":
            extra.setdefault(k, v)
    ctx.sink.log(
        {
            "ts": ts,
            "level": level,
            "message": text(message),
            "request_id": key,
            "trace_id": trace_id,
            "span_id": obj.get("spanId"),
            "service": function_name,
            "function_name": function_name,
            "attributes": attrs_json(extra, frozenset()),
            "source_file": ctx.path,
            "source_line": line,
        }
    )


def _generation1(
    message: str, identity: dict[str, Any], key: str | None, ts: Any, ctx: StreamContext
) -> bool:
    """1st-gen Cloud Functions' start / finish lines: parts of the invocation, not logs."""
    if not key:
        return False
    if message.strip() == _STARTED:
        ctx.sink.invocation({**identity, "request_id": key, "ts": ts}, SOURCE)
        return True
    m = _FINISHED.match(message.strip())
    if not m:
        return False
    took = float(m.group(1))
    status = m.group(2).strip()
    row: dict[str, Any] = {
        **identity,
        "request_id": key,
        "ts": ts - timedelta(milliseconds=took) if ts is not None else None,
        "duration_ms": took,
    }
    if status.isdigit():
        code = int(status)
        row.update(trigger="http", http_status_code=code)
        row["outcome"] = "error" if code >= 500 else "success"
        if code >= 500:
            row["error_type"] = f"HTTP {code}"
    else:
        row["outcome"] = _STATUS_OUTCOME.get(status, "error")
        if row["outcome"] == "error":
            row["error_type"] = status
    ctx.sink.invocation(row, SOURCE)
    return True
