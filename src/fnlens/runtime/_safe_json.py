"""Last-resort JSON for log lines that orjson and ``json.dumps`` both refuse.

A log call must never raise into the handler (stdlib logging and Powertools do
not), so a value neither encoder takes is rebuilt into one that any encoder
takes: keys become strings, a container met again on its own path becomes
:data:`CYCLE`, nesting past :data:`MAX_DEPTH` becomes :data:`DEPTH_CUT`, and an
object whose ``repr`` raises becomes ``[UNREPRESENTABLE <type>]``. Only the
exceptional path pays for this: the normal path is one orjson call.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any

# Nesting kept in a rebuilt line (orjson itself stops at 254 levels).
MAX_DEPTH = 100
CYCLE = "[CYCLE]"
DEPTH_CUT = f"[TRUNCATED: nested deeper than {MAX_DEPTH} levels]"
_SEPARATORS = (",", ":")


def unrepresentable(value: Any) -> str:
    """The marker for an object that cannot be rendered (its ``repr`` raised)."""
    try:
        name = type(value).__qualname__
    except Exception:  # pragma: no cover - a metaclass that breaks even this
        name = "object"
    return f"[UNREPRESENTABLE {name}]"


def safe_repr(value: Any) -> str:
    """``repr(value)``, or the unrepresentable marker when ``repr`` raises."""
    try:
        text = repr(value)
    except Exception:
        return unrepresentable(value)
    return text if isinstance(text, str) else unrepresentable(value)


def _key(key: Any) -> str:
    """A dict key as orjson's ``OPT_NON_STR_KEYS`` and ``json`` write it."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return safe_repr(key) if not isinstance(key, float) or math.isfinite(key) else "null"
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, (datetime, date, time)):
        return key.isoformat()
    return safe_repr(key)


def sanitize(value: Any, depth: int = 0, path: set[int] | None = None) -> Any:
    """A copy of ``value`` made only of ``dict``/``list``/``str``/numbers/``None``.

    ``path`` holds the ids of the containers being visited (a container reached
    again from inside itself is a cycle; one shared by two siblings is not)."""
    if value is None or type(value) in (str, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a subclass (StrEnum…) as its plain text
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value) if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if depth >= MAX_DEPTH:
            return DEPTH_CUT
        if path is None:
            path = set()
        marker = id(value)
        if marker in path:
            return CYCLE
        path.add(marker)
        try:
            if isinstance(value, dict):
                return {_key(k): sanitize(v, depth + 1, path) for k, v in value.items()}
            return [sanitize(item, depth + 1, path) for item in value]
        finally:
            path.discard(marker)
    return safe_repr(value)


def dumps_rebuilt(event_dict: Any) -> str:
    """One JSON line for an event no encoder took as it is; never raises."""
    try:
        return json.dumps(sanitize(event_dict), separators=_SEPARATORS, allow_nan=False)
    except Exception as exc:  # e.g. RecursionError when called near the stack's limit
        return _minimal_line(event_dict, exc)


def _minimal_line(event_dict: Any, exc: BaseException) -> str:
    """The fields a reader needs to find the line, and why the rest is missing."""
    line: dict[str, Any] = {}
    if isinstance(event_dict, dict):
        for key in ("timestamp", "level", "event", "request_id", "trace_id", "span_id"):
            item = event_dict.get(key)
            line[key] = item if item is None or isinstance(item, (str, bool)) else safe_repr(item)
    line["fnlens_render_error"] = f"{type(exc).__name__}: {safe_repr(exc)[:200]}"
    try:
        return json.dumps(line, separators=_SEPARATORS)
    except Exception:  # pragma: no cover - only str values remain
        return '{"fnlens_render_error":"unrenderable log line"}'
