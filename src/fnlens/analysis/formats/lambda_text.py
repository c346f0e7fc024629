"""Lambda platform lines in text: START / END / REPORT, timeouts, crashes, INIT_*.

Fields are tab separated in CloudWatch, but copies often turn tabs into spaces and
add trailing whitespace; the patterns accept both. Lines may carry a leading
timestamp (S3 exports, ``aws logs tail``) and a log stream name, which gives the
function version (``2024/01/01/[42]abcdef``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fnlens.analysis.formats.context import StreamContext, minus_ms, xray_to_w3c
from fnlens.analysis.formats.timeparse import parse_ts

PREFIX_TS = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)[ \t]+(.*)$", re.S
)
PREFIX_STREAM = re.compile(r"^(\d{4}/\d{2}/\d{2}/\[[^\]]*\][0-9a-zA-Z]+)[ \t]+(.*)$", re.S)
START = re.compile(r"^START RequestId: (\S+)(?:\s+Version: (\S+))?")
END = re.compile(r"^END RequestId: (\S+)")
REPORT = re.compile(r"^REPORT RequestId: (\S+)(.*)$", re.S)
_REPORT_FIELD = re.compile(
    r"(?:^|(?<=\s))(Billed Restore Duration|Restore Duration|Billed Duration|Init Duration|"
    r"Max Memory Used|Memory Size|Duration|XRAY TraceId|SegmentId|Sampled|Status|Error Type):"
    r"\s*(\S+)"
)
TIMEOUT = re.compile(r"^(?:(\S+)\s+)?Task timed out after\s+([\d.]+)\s+seconds")
CRASH = re.compile(
    r"^(?:RequestId: (\S+)\s+)?Error: (Runtime exited (?:with error|without).*)$", re.S
)
PLATFORM = re.compile(
    r"^(INIT_START|INIT_REPORT|INIT_RUNTIME_DONE|RESTORE_START|RESTORE_REPORT|"
    r"RESTORE_RUNTIME_DONE|EXTENSION|TELEMETRY|LOGS)\b"
)
PY_APP = re.compile(
    r"^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\s+(\d{4}-\d\d-\d\dT\S+)\s+(\S+)\s+(.*)$",
    re.S,
)
PY_BARE = re.compile(r"^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\s(.*)$", re.S)


def looks_like_lambda_text(message: str) -> bool:
    """Does a line look like something this parser knows (used by detection)?"""
    m = PREFIX_TS.match(message)
    if m:
        return True
    return bool(
        START.match(message)
        or END.match(message)
        or REPORT.match(message)
        or TIMEOUT.match(message)
        or CRASH.match(message)
        or PLATFORM.match(message)
        or PY_APP.match(message)
        or PY_BARE.match(message)
        or PREFIX_STREAM.match(message)
    )


def strip_prefixes(
    message: str, ts: datetime | None, ctx: StreamContext
) -> tuple[str, datetime | None]:
    """Remove leading timestamps and a log stream name, remembering what they say.

    An S3 export line of a timeout message carries two timestamps:
    ``<export ts> <message ts> <request id> Task timed out ...``.
    """
    for _ in range(3):
        m = PREFIX_TS.match(message)
        if m:
            try:
                ts = parse_ts(m.group(1))
            except ValueError:
                break
            message = m.group(2)
            continue
        m = PREFIX_STREAM.match(message)
        if m:
            ctx.set_stream(m.group(1))
            message = m.group(2)
            continue
        break
    return message, ts


def _ms(value: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"REPORT {field} is not a number: {value!r}") from None


def parse_report_fields(rest: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _REPORT_FIELD.finditer(rest)}


def handle_text(message: str, ts: datetime | None, line: int | None, ctx: StreamContext) -> None:
    """Parse one text message (prefixes already stripped); raises ValueError if malformed."""
    sink = ctx.sink
    msg = message.rstrip()
    base: dict[str, Any] = {
        "function_name": ctx.function_name,
        "log_stream": ctx.log_stream,
        "function_version": ctx.stream_version,
        "region": ctx.region,
    }
    m = REPORT.match(msg)
    if m:
        fields = parse_report_fields(m.group(2))
        if "Duration" not in fields:
            raise ValueError("REPORT line without Duration")
        duration = _ms(fields["Duration"], "Duration")
        init = _ms(fields["Init Duration"], "Init Duration") if "Init Duration" in fields else None
        restore = "Restore Duration" in fields
        status = fields.get("Status", "").lower()
        outcome = {"timeout": "timeout", "error": "error", "failure": "error"}.get(
            status, "success"
        )
        row = {
            **base,
            "request_id": m.group(1),
            "ts": minus_ms(ts, duration),
            "duration_ms": duration,
            "billed_duration_ms": _ms(fields["Billed Duration"], "Billed Duration")
            if "Billed Duration" in fields
            else None,
            "memory_size_mb": int(_ms(fields["Memory Size"], "Memory Size"))
            if "Memory Size" in fields
            else None,
            "max_memory_used_mb": int(_ms(fields["Max Memory Used"], "Max Memory Used"))
            if "Max Memory Used" in fields
            else None,
            "init_duration_ms": init,
            "cold_start": init is not None or restore,
            "init_type": "snap-start" if restore else None,
            "trace_id": xray_to_w3c(fields.get("XRAY TraceId")),
            "outcome": outcome,
            "error_type": fields.get("Error Type")
            or ("Sandbox.Timedout" if outcome == "timeout" else None),
        }
        sink.invocation(row, "report")
        return
    m = START.match(msg)
    if m:
        version = m.group(2) or ctx.stream_version
        row = {**base, "request_id": m.group(1), "ts": ts, "function_version": version, "_rank": 41}
        sink.invocation(row, "report")
        return
    if END.match(msg):
        return
    m = TIMEOUT.match(msg)
    if m:
        request_id = m.group(1)
        if request_id:
            sink.invocation(
                {
                    **base,
                    "request_id": request_id,
                    "outcome": "timeout",
                    "error_type": "Sandbox.Timedout",
                    "error_message": msg[len(request_id) :].strip(),
                },
                "report",
            )
        _log(
            ctx,
            ts,
            "error",
            msg[len(request_id) :].strip() if request_id else msg,
            request_id,
            line,
        )
        return
    m = CRASH.match(msg)
    if m:
        request_id = m.group(1)
        detail = m.group(2).splitlines()
        error_type = detail[-1].strip() if len(detail) > 1 else "Runtime.ExitError"
        if request_id:
            sink.invocation(
                {
                    **base,
                    "request_id": request_id,
                    "outcome": "error",
                    "error_type": error_type,
                    "error_message": detail[0],
                },
                "report",
            )
        _log(ctx, ts, "error", msg, request_id, line)
        return
    m = PY_APP.match(msg)
    if m:
        try:
            ts = parse_ts(m.group(2)) or ts
        except ValueError:
            pass
        request_id = m.group(3) if m.group(3) != "undefined" else None
        _log(ctx, ts, m.group(1).lower(), m.group(4), request_id, line)
        return
    m = PY_BARE.match(msg)
    if m:
        _log(ctx, ts, m.group(1).lower(), m.group(2), None, line)
        return
    level = "error" if PLATFORM.match(msg) and "Status: error" in msg else None
    _log(ctx, ts, level, msg, None, line)


def _log(
    ctx: StreamContext,
    ts: datetime | None,
    level: str | None,
    message: str,
    request_id: str | None,
    line: int | None,
) -> None:
    ctx.sink.log(
        {
            "ts": ts,
            "level": level,
            "message": message,
            "request_id": request_id,
            "function_name": ctx.function_name,
            "source_file": ctx.path,
            "source_line": line,
            "attributes": None,
        }
    )
