"""Powertools Logger's field set for stdout lines (``log_fields="powertools"``).

A function moving from Powertools keeps its Logs Insights queries, metric filters and
alarms: lines carry the keys Powertools for AWS Lambda (Python) writes, in its order —
``level`` upper case, ``location`` as ``func:line``, ``message``, ``timestamp`` as
``2021-05-03 11:47:12,494+0000``, ``service``, ``cold_start``, ``function_name``,
``function_memory_size``, ``function_arn``, ``function_request_id``, the line's own
keys, ``exception`` / ``exception_name`` / ``stack_trace``, then ``xray_trace_id`` —
and, like Powertools, leave out keys whose value is None. Only the stdout rendering
changes: sinks (files, OTLP, the CloudWatch Logs API) keep fnlens's own keys.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from fnlens.runtime import _scope as scope

# fnlens keys a Powertools line renames or places itself
_MAPPED = frozenset(
    {
        "timestamp",
        "level",
        "event",
        "request_id",
        "service",
        "cold_start",
        "function_name",
        "exception",
        "xray_trace_id",
    }
)
# frames of these modules are logging machinery, not the caller a location names
_MACHINERY = ("structlog", "fnlens.runtime", "logging")


def powertools_timestamp(value: Any) -> Any:
    """fnlens's ``2026-11-22T10:00:00.123456Z`` as Powertools' ``2026-11-22 10:00:00,123+0000``
    (milliseconds cut, as Python's ``logging`` does); any other value is left as it is."""
    if isinstance(value, str) and len(value) == 27 and value[10] == "T" and value[-1] == "Z":
        return f"{value[:10]} {value[11:19]},{value[20:23]}+0000"
    return value


def caller_location() -> str | None:
    """``func:line`` of the first frame outside structlog, logging and fnlens's runtime."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(_MACHINERY):
            return f"{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def exception_of(exc_info: Any) -> BaseException | None:
    """The exception a structlog ``exc_info`` argument names (True: the one being handled)."""
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    return None


def stack_trace(error: BaseException) -> dict[str, Any]:
    """Powertools' ``stack_trace`` object: type, value, module and the traceback's frames."""
    return {
        "type": type(error).__name__,
        "value": str(error),
        "module": type(error).__module__,
        "frames": [
            {"file": fs.filename, "line": fs.lineno, "function": fs.name, "statement": fs.line}
            for fs in traceback.extract_tb(error.__traceback__)
        ],
    }


def memory_size(megabytes: Any) -> str | None:
    """``function_memory_size`` as Powertools writes it inside Lambda: the runtime
    client's ``context.memory_limit_in_mb``, a string (``"256"``)."""
    return None if megabytes is None else str(megabytes)


def _identity() -> tuple[Any, Any, Any]:
    """(memory size, invoked ARN, X-Ray trace id) of the current invocation."""
    inv = scope.current_invocation()
    if inv is None:
        return None, None, None
    identity = inv.identity
    memory = memory_size(identity.get("memory_limit_mb"))
    return memory, identity.get("invoked_arn"), inv.xray_trace_id


def _exception_fields(out: dict[str, Any], event_dict: dict, error: BaseException | None) -> None:
    trace = event_dict.get("exception")
    if trace is None and error is not None:
        trace = "".join(traceback.format_exception(error)).rstrip("\n")
    if trace is not None:
        out["exception"] = trace
    if error is not None:
        out["exception_name"] = type(error).__name__
        out["stack_trace"] = stack_trace(error)


def powertools_line(
    event_dict: dict[str, Any],
    error: BaseException | None = None,
    location: str | None = None,
    default_service: str | None = None,
) -> dict[str, Any]:
    """A log line (fnlens's event dict) with Powertools Logger's keys, Nones left out."""
    memory, arn, xray = _identity()
    level = event_dict.get("level")
    out: dict[str, Any] = {
        "level": level.upper() if isinstance(level, str) else level,
        "location": location or caller_location(),
        "message": event_dict.get("event"),
        "timestamp": powertools_timestamp(event_dict.get("timestamp")),
        "service": event_dict.get("service") or default_service or "service_undefined",
        "cold_start": event_dict.get("cold_start"),
        "function_name": event_dict.get("function_name"),
        "function_memory_size": memory,
        "function_arn": arn,
        "function_request_id": event_dict.get("request_id"),
    }
    for key, value in event_dict.items():
        if key not in _MAPPED and key not in out:
            out[key] = value
    _exception_fields(out, event_dict, error)
    out["xray_trace_id"] = event_dict.get("xray_trace_id") or xray
    return {key: value for key, value in out.items() if value is not None}


def powertools_record(
    record: dict[str, Any],
    error: BaseException | None = None,
    location: str | None = None,
    function_arn: str | None = None,
) -> dict[str, Any]:
    """An invocation record with Powertools Logger's keys in front of its own: Powertools
    queries (``level = "ERROR"``, ``function_request_id``, ``cold_start``) find it, and
    ``fnlens ingest`` still reads it as a record (``event``, ``duration_ms``, ``outcome``…)."""
    level = record.get("level")
    out: dict[str, Any] = {
        "level": level.upper() if isinstance(level, str) else level,
        "location": location,
        "message": record.get("event"),
        "timestamp": powertools_timestamp(record.get("timestamp")),
        "service": record.get("service"),
        "cold_start": record.get("cold_start"),
        "function_name": record.get("function_name"),
        "function_memory_size": memory_size(record.get("memory_limit_mb")),
        "function_arn": function_arn,
        "function_request_id": record.get("request_id"),
    }
    for key in ("function_memory_size", "function_arn", "location"):
        if out[key] is None:
            del out[key]
    for key, value in record.items():
        if key not in out and key not in ("exception", "xray_trace_id"):
            out[key] = value
    _exception_fields(out, record, error)
    out["xray_trace_id"] = record.get("xray_trace_id")
    return out
