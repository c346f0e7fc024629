"""One message in, rows out: the dispatcher every line-based and CloudWatch input uses.

A message is a text line (platform line, Python runtime line, plain text) or a JSON
object, recognised by its keys: fnlens record, EMF, Lambda ``platform.*``,
Powertools, OTLP request, CloudWatch document, Cloud Logging LogEntry, Application
Insights record, Lambda JSON app line, other JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fnlens.analysis._formats import (
    app_insights,
    cloud_logging,
    cloudwatch,
    fnlens_jsonl,
    insights,
    lambda_json,
    otlp_json,
    powertools,
)
from fnlens.analysis._formats.context import StreamContext, attrs_json, level_of, text
from fnlens.analysis._formats.lambda_text import handle_text, strip_prefixes
from fnlens.analysis._formats.timeparse import parse_ts

_GENERIC_KNOWN = frozenset({"timestamp", "time", "level", "message", "msg"})


def classify(obj: dict[str, Any]) -> str:
    """The format name of a JSON object (used by detection and the report)."""
    if otlp_json.is_otlp(obj):
        return "otlp-json"
    if cloud_logging.is_log_entry(obj):
        return "cloud-logging"
    if app_insights.is_app_insights(obj):
        return "app-insights"
    cw = cloudwatch.kind(obj)
    if cw:
        return cw
    if insights.is_insights_results(obj) or insights.is_insights_row(obj):
        return "logs-insights"
    if powertools.is_emf(obj):
        return "emf"
    if fnlens_jsonl.is_invocation(obj) or fnlens_jsonl.is_fnlens_record(obj):
        return "fnlens-jsonl"
    if lambda_json.is_telemetry(obj):
        return "lambda-telemetry"
    if lambda_json.is_platform(obj) or lambda_json.is_app_line(obj):
        return "lambda-json"
    if powertools.is_powertools(obj):
        return "powertools"
    return "json-lines"


def handle_message(message: str, ts: datetime | None, line: int | None, ctx: StreamContext) -> None:
    """Parse one message; raises ValueError when it is malformed."""
    if not message.startswith("{"):
        message, ts = strip_prefixes(message, ts, ctx)
    s = message.strip()
    if not s:
        return
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except ValueError as exc:
            if not python_repr(s):
                raise ValueError(f"invalid JSON: {exc}") from None
            handle_text(s, ts, line, ctx)  # `{'key': 'value'}` from print(dict) is a message
            return
        except RecursionError:
            raise ValueError("invalid JSON: nested too deeply to read") from None
        handle_json(obj, ts, line, ctx)
    else:
        handle_text(s, ts, line, ctx)


def python_repr(text: str) -> bool:
    """``{'key': 'value'}`` (Python's ``print(dict)``): text that only resembles JSON."""
    return text.startswith("{") and text[1:].lstrip().startswith("'")


def handle_json(obj: Any, ts: datetime | None, line: int | None, ctx: StreamContext) -> None:
    """Route one JSON object to the parser for its shape."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    kind = classify(obj)
    if kind == "fnlens-jsonl":
        if fnlens_jsonl.is_invocation(obj):
            fnlens_jsonl.handle_invocation(obj, ctx)
        else:
            fnlens_jsonl.handle_log(obj, ctx, line)
    elif kind == "emf":
        powertools.handle_emf(obj, ctx, line)
    elif kind == "lambda-telemetry":
        lambda_json.handle_telemetry(obj, ctx, line)
    elif kind == "logs-insights":
        if insights.is_insights_results(obj):
            insights.handle_document(obj, ctx, line)
        else:
            insights.handle_row(obj, ctx, line)
    elif kind == "lambda-json":
        if lambda_json.is_platform(obj):
            lambda_json.handle_platform(obj, ctx, line)
        else:
            lambda_json.handle_app_line(obj, ctx, line)
    elif kind == "powertools":
        powertools.handle_powertools(obj, ctx, line, ts)
    elif kind == "otlp-json":
        otlp_json.handle_document(obj, ctx, line)
    elif kind == "cloud-logging":
        cloud_logging.handle_entry(obj, ctx, line)
    elif kind == "app-insights":
        app_insights.handle_record(obj, ctx, line)
    elif kind.startswith("cloudwatch"):
        cloudwatch.handle_document(obj, ctx, line)
    else:
        _generic(obj, ts, line, ctx)


def _generic(
    obj: dict[str, Any], ts: datetime | None, line: int | None, ctx: StreamContext
) -> None:
    own_ts = obj.get("timestamp", obj.get("time"))
    try:
        own = parse_ts(own_ts)
    except ValueError:
        own = None
    ctx.sink.log(
        {
            "ts": own or ts,
            "level": level_of(obj.get("level")),
            # an object with no message key (a pretty-printed payload) is its own message
            "message": text(obj.get("message", obj.get("msg", obj))),
            "request_id": obj.get("request_id") or obj.get("requestId") or ctx.current_request,
            "trace_id": obj.get("trace_id"),
            "span_id": obj.get("span_id"),
            "service": obj.get("service"),
            "function_name": ctx.function_name,
            "attributes": attrs_json(obj, _GENERIC_KNOWN),
            "source_file": ctx.path,
            "source_line": line,
        }
    )
