"""Per-file / per-log-stream state shared by the parsers, and small helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnlens.analysis._sink import Sink

_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[([^\]]*)\]")
_XRAY = re.compile(r"1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")


@dataclass
class StreamContext:
    """Where records come from: file, log group/stream, and what earlier lines told us."""

    sink: Sink
    path: str
    function_name: str | None = None
    log_stream: str | None = None
    stream_version: str | None = None  # from the log stream name `2024/01/01/[42]abc`
    region: str | None = None
    init_type: str | None = None  # from a platform.initStart waiting for its invocation
    # the invocation between START and END in this stream: lines without an id belong to it
    current_request: str | None = None
    last_report: str | None = None  # the REPORT an `XRAY TraceId:` line right after belongs to
    # one event per line (the Lambda text formats): platform records carry their line
    line_records: bool = False
    on_error: Callable[[int | None, str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # (line, message) for things worth telling that are not errors (kept data, gaps)
    on_warning: Callable[[int | None, str], None] | None = None
    on_dropped: Callable[[int, int], None] | None = None

    def error(self, line: int | None, message: str) -> None:
        """Report one malformed record (raises in strict mode, through ``on_error``)."""
        if self.on_error is None:
            raise ValueError(message)
        self.on_error(line, message)

    def warn(self, line: int | None, message: str) -> None:
        """Report something kept but worth a look (never fails, not even in strict mode)."""
        if self.on_warning is not None:
            self.on_warning(line, message)

    def dropped(self, line: int | None, records: int, size: int, reason: str) -> None:
        """Lambda dropped log records (platform.logsDropped): a gap in what was exported."""
        if self.on_dropped is not None:
            self.on_dropped(records, size)
        why = f": {reason}" if reason else ""
        self.warn(line, f"Lambda dropped {records} log record(s), {size} bytes{why}")

    def for_stream(self, log_group: str | None, log_stream: str | None) -> StreamContext:
        """A child context for one CloudWatch log stream inside a multi-stream document."""
        ctx = StreamContext(
            self.sink,
            self.path,
            self.function_name,
            region=self.region,
            on_error=self.on_error,
            on_warning=self.on_warning,
            on_dropped=self.on_dropped,
        )
        if log_group and log_group.startswith("/aws/lambda/"):
            ctx.function_name = log_group[len("/aws/lambda/") :]
        ctx.set_stream(log_stream)
        return ctx

    def set_stream(self, log_stream: str | None) -> None:
        if not log_stream:
            return
        self.log_stream = log_stream
        m = _STREAM.match(log_stream)
        if m:
            self.stream_version = m.group(1)


def xray_to_w3c(value: str | None) -> str | None:
    """`1-5759e988-bd862e3fe1be46a994272793` (or a `Root=…;` header) to a W3C trace id."""
    if not value:
        return None
    m = _XRAY.search(value)
    if not m:
        return None
    return (m.group(1) + m.group(2)).lower()


def attrs_json(obj: dict[str, Any], known: frozenset[str] | set[str]) -> str | None:
    """The keys a table has no column for, as a JSON object (None when there are none)."""
    extra = {k: v for k, v in obj.items() if k not in known}
    return json.dumps(extra, default=str, separators=(",", ":")) if extra else None


def text(value: Any) -> str | None:
    """A message field as text: strings stay, structures become compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"))


_LEVELS = {
    "warn": "warning",
    "information": "info",
    "informational": "info",
    "fail": "error",
    "err": "error",
    "crit": "critical",
    "trce": "trace",
    "dbug": "debug",
    "verbose": "trace",
}


def level_of(value: Any) -> str | None:
    """A log level in lower case, the runtimes' spellings mapped to one name each.

    Node.js writes WARN, Python WARNING, .NET ``warn`` / ``Warning`` / ``fail``: a query for
    ``level = 'warning'`` or ``'error'`` must find all of them.
    """
    if not isinstance(value, str):
        return None
    low = value.strip().lower()
    return _LEVELS.get(low, low)


def minus_ms(ts: datetime | None, ms: float | None) -> datetime | None:
    """Start time from an end timestamp and a duration."""
    if ts is None or ms is None:
        return ts
    from datetime import timedelta

    return ts - timedelta(milliseconds=ms)
