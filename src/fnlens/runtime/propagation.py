"""Choose the parent of the invocation span (a documented, configurable policy).

Candidates, from the event and the environment:

* ``http``: W3C ``traceparent`` (and ``tracestate``) from the HTTP request headers;
* ``xray``: the X-Ray header, from ``_X_AMZN_TRACE_ID`` (set by Lambda for each
  invocation) or from an ``X-Amzn-Trace-Id`` request header.

Policy (``FNLENS_TRACE_PARENT`` / ``trace_parent=``):

* ``auto`` (default): the caller's ``traceparent`` wins; else the X-Ray context
  when it is sampled (``Sampled=1``, i.e. active tracing is on); else a new trace
  that keeps the X-Ray root id, so logs, REPORT lines and X-Ray still join. This
  avoids the OpenTelemetry Lambda instrumentation's long-standing bug of parenting
  every span to the unsampled Lambda X-Ray context and losing the caller's trace.
* ``http``: only ``traceparent``; ``xray``: only the X-Ray context;
  ``none``: always a new root (the candidates become span links by the exporter).

``OTEL_PROPAGATORS`` (read once per process) limits the candidates: when it is
set, ``traceparent`` is read only if it lists ``tracecontext``, and the X-Ray
header only if it lists ``xray`` or ``xray-lambda``; ``none`` reads neither.
Unset, both are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fnlens.runtime import ids


@dataclass(frozen=True)
class ParentContext:
    trace_id: str
    span_id: str | None
    sampled: bool
    source: str  # "http" | "xray"
    tracestate: str | None = None


@dataclass(frozen=True)
class TraceDecision:
    trace_id: str
    parent: ParentContext | None
    xray_trace_id: str | None
    candidates: tuple[ParentContext, ...]


def _from_http(headers: dict[str, str]) -> ParentContext | None:
    parsed = ids.parse_traceparent(headers.get("traceparent"))
    if parsed is None:
        return None
    trace_id, span_id, sampled = parsed
    return ParentContext(trace_id, span_id, sampled, "http", headers.get("tracestate"))


def _from_xray(header: str | None) -> tuple[ParentContext | None, str | None]:
    fields = ids.parse_xray_header(header)
    root = fields.get("Root")
    if not root:
        return None, None
    trace_id = ids.xray_to_w3c(root)
    if trace_id is None:
        return None, None
    parent = fields.get("Parent")
    span_id = parent.lower() if parent and len(parent) == 16 else None
    sampled = fields.get("Sampled") == "1"
    return ParentContext(trace_id, span_id, sampled, "xray"), root


def _enabled_propagators() -> tuple[bool, bool]:
    raw = os.environ.get("OTEL_PROPAGATORS")
    if raw is None or not raw.strip():
        return True, True
    names = {name.strip().lower() for name in raw.split(",")}
    return "tracecontext" in names, bool(names & {"xray", "xray-lambda"})


_USE_TRACECONTEXT, _USE_XRAY = _enabled_propagators()


def reload_propagators() -> None:
    """Re-read ``OTEL_PROPAGATORS`` (tests; the runtime reads it once at import)."""
    global _USE_TRACECONTEXT, _USE_XRAY
    _USE_TRACECONTEXT, _USE_XRAY = _enabled_propagators()


def decide(headers: dict[str, str], policy: str) -> TraceDecision:
    """Pick the trace id and parent for a new invocation span."""
    http = _from_http(headers) if headers and _USE_TRACECONTEXT else None
    if _USE_XRAY:
        xray_header = os.environ.get("_X_AMZN_TRACE_ID") or (
            headers.get("x-amzn-trace-id") if headers else None
        )
        xray, xray_root = _from_xray(xray_header)
    else:
        xray, xray_root = None, None
    candidates = tuple(c for c in (http, xray) if c is not None)

    parent: ParentContext | None = None
    if policy == "auto":
        if http is not None:
            parent = http
        elif xray is not None and xray.sampled and xray.span_id:
            parent = xray
    elif policy == "http":
        parent = http
    elif policy == "xray":
        parent = xray if xray is not None and xray.span_id else None

    if parent is not None:
        trace_id = parent.trace_id
    elif xray is not None:
        trace_id = xray.trace_id  # a new root that still joins X-Ray and REPORT lines
    else:
        trace_id = ids.new_trace_id()
    return TraceDecision(trace_id, parent, xray_root, candidates)
