"""CloudWatch Logs Insights query results: ``aws logs get-query-results`` JSON, console downloads.

``get-query-results`` gives ``{"results": [[{"field": "@timestamp", "value": …}, …], …],
"statistics": …, "status": "Complete"}``; the console downloads the same rows as CSV
(a header of field names) or as JSON objects keyed by field name. Each row is one log
event: ``@message`` is parsed by the line rules (a REPORT line becomes an invocation),
and the fields Insights discovered in Lambda logs (``@requestId``, ``@duration``,
``@billedDuration``, ``@memorySize``, ``@maxMemoryUsed``, ``@initDuration``,
``@xrayTraceId``) fill the invocation when the message is not there to parse.
Insights reports memory in bytes; the tables hold MB.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import IO, Any

from fnlens.analysis._formats.context import StreamContext, minus_ms, xray_to_w3c
from fnlens.analysis._formats.timeparse import parse_ts

__all__ = [
    "handle_document",
    "handle_row",
    "is_insights_csv_header",
    "is_insights_results",
    "is_insights_row",
    "read_csv",
]

# the largest field read by default (ingest passes its record limit, lower under --memory-limit)
DEFAULT_MAX_FIELD = 256 << 20
_METRICS = ("@duration", "@billedDuration", "@memorySize", "@maxMemoryUsed", "@initDuration")


def is_insights_results(obj: dict[str, Any]) -> bool:
    """``get-query-results`` output: a ``results`` list of rows of ``{field, value}``."""
    results = obj.get("results")
    if not isinstance(results, list) or not ("status" in obj or "statistics" in obj):
        return False
    first = results[0] if results else []
    return isinstance(first, list) and all(isinstance(c, dict) and "field" in c for c in first)


def is_insights_row(obj: dict[str, Any]) -> bool:
    """One row of a console JSON download: every key is an Insights field (``@…``)."""
    return (
        bool(obj)
        and ("@timestamp" in obj or "@message" in obj)
        and all(isinstance(k, str) and (k.startswith("@") or k.isidentifier()) for k in obj)
    )


def is_insights_csv_header(line: str) -> bool:
    """A CSV header naming Insights fields, as the console's CSV download starts."""
    if "," not in line and not line.strip().startswith("@"):
        return False
    try:
        names = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return False
    names = [n.strip() for n in names]
    known = "@timestamp" in names or "@message" in names
    return bool(names) and names[0].startswith("@") and known


def handle_document(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    """Every row of a ``get-query-results`` answer (``source_line`` is the row number)."""
    streams: dict[tuple[str | None, str | None], StreamContext] = {}
    for index, cells in enumerate(obj.get("results") or [], 1):
        if not isinstance(cells, list):
            ctx.error(line, f"Logs Insights row {index}: not a list of fields")
            continue
        row = {
            c["field"]: c.get("value")
            for c in cells
            if isinstance(c, dict) and isinstance(c.get("field"), str)
        }
        try:
            handle_row(row, ctx, index, streams)
        except ValueError as exc:
            ctx.error(line, f"Logs Insights row {index}: {exc}")


def handle_row(
    row: dict[str, Any],
    ctx: StreamContext,
    line: int | None,
    streams: dict[tuple[str | None, str | None], StreamContext] | None = None,
) -> None:
    """One result row; raises ValueError for a row that holds no log event."""
    from fnlens.analysis._formats.messages import handle_message

    message = row.get("@message")
    request_id = row.get("@requestId") or None
    if not isinstance(message, str) and not request_id:
        raise ValueError("neither @message nor @requestId (an aggregate result cannot be loaded)")
    ts = parse_ts(row.get("@timestamp"))
    child = _context(row, ctx, streams)
    if isinstance(message, str):
        before = child.current_request
        child.current_request = request_id or before
        try:
            handle_message(message, ts, line, child)
        finally:
            child.current_request = before
        if message.lstrip().startswith("REPORT"):
            return
    if request_id and any(row.get(k) not in (None, "") for k in _METRICS):
        duration = _num(row.get("@duration"), "@duration")
        init = _num(row.get("@initDuration"), "@initDuration")
        report = row.get("@type") == "REPORT" or not isinstance(message, str)
        child.sink.invocation(
            {
                "request_id": request_id,
                "ts": minus_ms(ts, duration) if report else None,
                "function_name": child.function_name,
                "function_version": child.stream_version,
                "log_stream": child.log_stream,
                "duration_ms": duration,
                "billed_duration_ms": _num(row.get("@billedDuration"), "@billedDuration"),
                "memory_size_mb": _mb(row.get("@memorySize"), "@memorySize"),
                "max_memory_used_mb": _mb(row.get("@maxMemoryUsed"), "@maxMemoryUsed"),
                "init_duration_ms": init,
                "cold_start": init is not None if report else None,
                "trace_id": xray_to_w3c(row.get("@xrayTraceId")),
                "outcome": "success" if report else None,
            },
            "report",
        )


def read_csv(
    stream: IO[bytes],
    ctx: StreamContext,
    on_error: Callable[[int | None, str], None],
    max_field: int = DEFAULT_MAX_FIELD,
) -> None:
    """Rows of a console CSV download; quoted multi-line messages keep their line number.

    A Lambda log event holds up to 256 KB, beyond the csv module's default field limit
    (128 KiB), so the limit is raised to ``max_field`` (the run's largest record) while
    this file is read, and put back afterwards.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, max_field))
    start = 1
    try:
        reader = csv.reader(text)
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        streams: dict[tuple[str | None, str | None], StreamContext] = {}
        start = reader.line_num + 1
        for cells in reader:
            if cells:
                if len(cells) != len(header):
                    on_error(start, f"{len(cells)} fields, the header has {len(header)}")
                else:
                    try:
                        handle_row(dict(zip(header, cells, strict=True)), ctx, start, streams)
                    except ValueError as exc:
                        on_error(start, str(exc))
            start = reader.line_num + 1
    except csv.Error as exc:
        on_error(start, f"invalid CSV: {exc}")
    finally:
        csv.field_size_limit(previous)
        text.detach()


def _context(
    row: dict[str, Any],
    ctx: StreamContext,
    streams: dict[tuple[str | None, str | None], StreamContext] | None,
) -> StreamContext:
    log = row.get("@log")
    group = log.split(":", 1)[1] if isinstance(log, str) and ":" in log else log
    stream = row.get("@logStream") or None
    if not group and not stream:
        return ctx
    key = (group, stream)
    if streams is not None and key in streams:
        return streams[key]
    child = ctx.for_stream(group, stream)
    child.function_name = child.function_name or ctx.function_name
    if streams is not None:
        streams[key] = child
    return child


def _num(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a number: {value!r}") from None


def _mb(value: Any, name: str) -> int | None:
    """Insights memory fields are bytes: 1024 MB is 1024000000 (or 1073741824)."""
    n = _num(value, name)
    if n is None:
        return None
    if n < 100_000:  # already MB
        return int(n)
    if n % (1024 * 1024) == 0:
        return int(n // (1024 * 1024))
    return round(n / 1_000_000)
