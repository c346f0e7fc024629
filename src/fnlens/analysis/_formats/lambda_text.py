"""Lambda text lines: START / END / REPORT, timeouts, crashes, INIT_*, runtime app lines.

Fields are tab separated in CloudWatch, but copies often turn tabs into spaces and
add trailing whitespace; the patterns accept both. Lines may carry a leading
timestamp (S3 exports, ``aws logs tail``) and a log stream name, which gives the
function version (``2024/01/01/[42]abcdef``); ``sam logs`` puts the stream name first.

The managed runtimes prefix application lines: Node.js and .NET
``<ts>\t<request id>\t<LEVEL>\t<message>``, Python ``[LEVEL]\t<ts>\t<request id>\t<message>``,
Java's log4j2 appender ``<yyyy-MM-dd HH:mm:ss> <request id> <LEVEL> <logger> - <message>``.
A line with no request id between an invocation's START and END belongs to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fnlens.analysis._formats.context import StreamContext, level_of, minus_ms, xray_to_w3c
from fnlens.analysis._formats.timeparse import parse_ts
from fnlens.analysis._sink import START_RANK

# the patterns as text too: the SQL text path (analysis/_text_sql.py) uses the same ones
TS_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
STREAM_PATTERN = r"\d{4}/\d{2}/\d{2}/\[[^\]]*\][0-9a-zA-Z]+"
PREFIX_TS = re.compile(rf"^({TS_PATTERN})[ \t]+(.*)$", re.DOTALL)
PREFIX_STREAM = re.compile(rf"^({STREAM_PATTERN})[ \t]+(.*)$", re.DOTALL)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
START = re.compile(r"^START RequestId: (\S+)(?:\s+Version: (\S+))?")
END = re.compile(r"^END RequestId: (\S+)")
REPORT = re.compile(r"^REPORT RequestId: (\S+)(.*)$", re.DOTALL)
XRAY = re.compile(r"^XRAY TraceId: (\S+)(?:\s+SegmentId: (\S+))?(?:\s+Sampled: (\S+))?\s*$")
_REPORT_FIELD = re.compile(
    r"(?:^|(?<=\s))(Billed Restore Duration|Restore Duration|Billed Duration|Init Duration|"
    r"Max Memory Used|Memory Size|Duration|XRAY TraceId|SegmentId|Sampled|Status|Error Type):"
    r"\s*(\S+)"
)
# a timeout / crash line ranks just ahead of its REPORT (42), which has the same outcome
# but no message: the merge then keeps the message whatever order the rows arrive in
TIMEOUT_RANK = 41.9
TIMEOUT = re.compile(r"^(?:(\S+)\s+)?Task timed out after\s+([\d.]+)\s+seconds")
CRASH = re.compile(
    r"^(?:RequestId: (\S+)\s+)?Error: (Runtime exited (?:with error|without).*)$", re.DOTALL
)
PLATFORM = re.compile(
    r"^(INIT_START|INIT_REPORT|INIT_RUNTIME_DONE|RESTORE_START|RESTORE_REPORT|"
    r"RESTORE_RUNTIME_DONE|EXTENSION|TELEMETRY|LOGS)\b"
)
PY_APP = re.compile(
    r"^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\s+(\d{4}-\d\d-\d\dT\S+)\s+(\S+)\s+(.*)$",
    re.DOTALL,
)
PY_BARE = re.compile(r"^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\s(.*)$", re.DOTALL)
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
LEVEL_PATTERN = (
    r"TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|"
    r"trce|dbug|info|warn|fail|crit|trace|debug|error|critical|Information|Warning|Error"
)
# Node.js / .NET after the leading timestamp was stripped: `<request id>\t<LEVEL>\t<message>`
NODE_APP = re.compile(
    rf"^({UUID_PATTERN}|undefined)[ \t]+({LEVEL_PATTERN})(?:[ \t]+(.*))?$", re.DOTALL
)
# Java (aws-lambda-java-log4j2 default pattern): `2024-01-01 10:00:00 <request id> INFO  Cls - msg`
JAVA_APP = re.compile(
    rf"^(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)[ \t]+"
    rf"({UUID_PATTERN})[ \t]+({LEVEL_PATTERN})[ \t]+(.*)$",
    re.DOTALL,
)
# where a raw text copy continues the event above: indented stack frames, Python's
# traceback header, the closing brackets of a pretty-printed object, a crash's error type
CONTINUATION_PATTERN = (
    r"^(?:[ \t]+\S|Traceback \(most recent call last\):|[}\]]+[,;]?\s*$|Caused by: |"
    r"Runtime\.[A-Za-z]+\s*$)"
)
_CONTINUATION = re.compile(CONTINUATION_PATTERN)
_EVENT_START: dict[str, re.Pattern[str]] = {
    "cloudwatch-s3-export": PREFIX_TS,
    "aws-logs-tail": PREFIX_TS,
    "sam-logs": PREFIX_STREAM,
}


def continuation_rule(fmt: str) -> Callable[[str], bool] | None:
    """For a text format, a test telling whether a line continues the previous event.

    In S3 exports, ``aws logs tail`` and ``sam logs`` output every event starts with its
    prefix, so a line without one (a stack frame, a line of a pretty-printed object) is
    the rest of the event above. Raw text copies have no prefix: there only indented
    lines and the usual continuation shapes join the event above.
    """
    start = _EVENT_START.get(fmt)
    if start is not None:
        match = start.match
        return lambda line: match(ANSI.sub("", line) if "\x1b" in line else line) is None
    if fmt == "lambda-text":
        cont = _CONTINUATION.match
        return lambda line: cont(line) is not None
    return None


def line_kind(line: str) -> str | None:
    """Which text format one line looks like (for detection), or None."""
    if "\x1b" in line:
        line = ANSI.sub("", line)
    m = PREFIX_STREAM.match(line)
    if m:
        return "sam-logs" if PREFIX_TS.match(m.group(2)) else "lambda-text"
    m = PREFIX_TS.match(line)
    if m:
        if PREFIX_STREAM.match(m.group(2)):
            return "aws-logs-tail"
        sep = line[len(line) - len(m.group(2)) - 1]
        return "cloudwatch-s3-export" if sep == " " else "lambda-text"
    return "lambda-text" if looks_like_lambda_text(line) else None


def unprefixed_platform_line(line: str) -> bool:
    """START / END / REPORT at the start of a line: a raw copy, not an export with prefixes."""
    return line.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:"))


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
        or XRAY.match(message)
        or JAVA_APP.match(message)
    )


def strip_prefixes(
    message: str, ts: datetime | None, ctx: StreamContext
) -> tuple[str, datetime | None]:
    """Remove leading timestamps and a log stream name, remembering what they say.

    An S3 export line of a timeout message carries two timestamps:
    ``<export ts> <message ts> <request id> Task timed out ...``.
    """
    if "\x1b" in message:
        message = ANSI.sub("", message)
    for _ in range(4):
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


def timeout_start(ts: datetime | None, seconds: str) -> datetime | None:
    """When a timed-out invocation started: the line's time less its timeout.

    The time places the record in its attempt (a retry of the same request id is its
    own row); a value that is not a plausible timeout gives no time.
    """
    try:
        value = float(seconds)
    except ValueError:
        return None
    return minus_ms(ts, value * 1000) if 0 <= value < 1e6 else None


def handle_text(message: str, ts: datetime | None, line: int | None, ctx: StreamContext) -> None:
    """Parse one text message (prefixes already stripped); raises ValueError if malformed."""
    sink = ctx.sink
    msg = message.rstrip()
    # a line-oriented text file: records say their line, so START + REPORT can pair up
    line_of_record = line if ctx.line_records else None
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
        restore_ms = _ms(fields["Restore Duration"], "Restore Duration") if restore else None
        billed_restore = (
            _ms(fields["Billed Restore Duration"], "Billed Restore Duration")
            if "Billed Restore Duration" in fields
            else None
        )
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
            "restore_duration_ms": restore_ms,
            "billed_restore_duration_ms": billed_restore,
            "cold_start": init is not None or restore,
            "init_type": "snap-start" if restore else None,
            "trace_id": xray_to_w3c(fields.get("XRAY TraceId")),
            "outcome": outcome,
            "error_type": fields.get("Error Type")
            or ("Sandbox.Timedout" if outcome == "timeout" else None),
            "_line": line_of_record,
        }
        sink.invocation(row, "report")
        ctx.last_report = m.group(1)
        if ctx.current_request == m.group(1):
            ctx.current_request = None
        return
    m = START.match(msg)
    if m:
        version = m.group(2) or ctx.stream_version
        row = {
            **base,
            "request_id": m.group(1),
            "ts": ts,
            "function_version": version,
            "_rank": START_RANK,
            "_line": line_of_record,
        }
        sink.invocation(row, "report")
        ctx.current_request = m.group(1)
        ctx.last_report = None
        return
    m = END.match(msg)
    if m:
        ctx.current_request = None
        return
    m = XRAY.match(msg)
    if m and ctx.last_report:
        # the X-Ray line CloudWatch shows after a REPORT (its own line in text copies)
        trace_id = xray_to_w3c(m.group(1))
        if trace_id:
            sink.invocation(
                {
                    **base,
                    "request_id": ctx.last_report,
                    "trace_id": trace_id,
                    "_line": line_of_record,
                },
                "report",
            )
            return
    m = TIMEOUT.match(msg)
    if m:
        request_id = m.group(1)
        if request_id:
            sink.invocation(
                {
                    **base,
                    "request_id": request_id,
                    "ts": timeout_start(ts, m.group(2)),
                    "outcome": "timeout",
                    "error_type": "Sandbox.Timedout",
                    "error_message": msg[len(request_id) :].strip(),
                    "_rank": TIMEOUT_RANK,
                    "_line": line_of_record,
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
                    "error_message": detail[0].strip(),
                    "_rank": TIMEOUT_RANK,
                    "_line": line_of_record,
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
        _log(ctx, ts, level_of(m.group(1)), m.group(4), request_id, line)
        return
    m = NODE_APP.match(msg)
    if m:
        request_id = m.group(1) if m.group(1) != "undefined" else None
        _log(ctx, ts, level_of(m.group(2)), m.group(3) or "", request_id, line)
        return
    m = JAVA_APP.match(msg)
    if m:
        try:
            ts = parse_ts(m.group(1)) or ts
        except ValueError:
            pass
        _log(ctx, ts, level_of(m.group(3)), m.group(4), m.group(2), line)
        return
    m = PY_BARE.match(msg)
    if m:
        _log(ctx, ts, level_of(m.group(1)), m.group(2), None, line)
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
            "request_id": request_id or ctx.current_request,
            "function_name": ctx.function_name,
            "source_file": ctx.path,
            "source_line": line,
            "attributes": None,
        }
    )


def join_continuations(
    lines: Iterator[tuple[int, str | None, str | None]], is_continuation: Callable[[str], bool]
) -> Iterator[tuple[int, str | None, str | None]]:
    """Join continuation lines to the event above: ``(first line number, text, error)``.

    A continuation before any event, or after a line that is a platform line, stays on
    its own (it has nothing it could belong to).
    """
    pending_no: int = 0
    pending: list[str] = []
    for number, text, error in lines:
        if error is not None or text is None:
            yield number, None, error
            continue
        body = text.rstrip("\r\n")
        if pending and is_continuation(body):
            pending.append(body)
            continue
        if pending:
            yield pending_no, "\n".join(pending), None
        pending_no, pending = number, [body]
    if pending:
        yield pending_no, "\n".join(pending), None
