"""Choose the parent of the invocation span (a documented, configurable policy).

Candidates, from the event and the environment:

* ``http``: W3C ``traceparent`` (and ``tracestate``) from the HTTP request headers
  (an Azure host's ``trace_context``); on Cloud Run, where the platform may send only
  the legacy ``X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1`` (decimal span id), that
  header when there is no ``traceparent``;
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
import re
from dataclasses import dataclass
from typing import Any

from fnlens._state import register_reset
from fnlens.runtime import _ids as ids


@dataclass(slots=True)
class ParentContext:
    trace_id: str
    span_id: str | None
    sampled: bool
    source: str  # "http" | "xray"
    tracestate: str | None = None


@dataclass(slots=True)
class TraceDecision:
    trace_id: str
    parent: ParentContext | None
    xray_trace_id: str | None
    candidates: tuple[ParentContext, ...]
    baggage: str | None = None  # the W3C ``baggage`` request header, applied with OTel

    @property
    def passed_over(self) -> bool:
        """Some candidate is not the parent (the exporter links it to the span)."""
        candidates = self.candidates  # at most two, distinct objects
        if not candidates:
            return False
        return len(candidates) > 1 or candidates[0] is not self.parent


def _from_http(headers: dict[str, str]) -> ParentContext | None:
    parsed = ids.parse_traceparent(headers.get("traceparent"))
    if parsed is None:
        cloud = headers.get("x-cloud-trace-context")  # only Cloud Run's adapter adds it
        return _from_cloud_trace(cloud) if cloud else None
    trace_id, span_id, sampled = parsed
    return ParentContext(trace_id, span_id, sampled, "http", headers.get("tracestate"))


_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([0-9]+))?")
_MAX_SPAN = 2**64 - 1


def _from_cloud_trace(header: str) -> ParentContext | None:
    """Google's ``X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS``: the span id is
    an unsigned 64-bit decimal (written as 16 hex digits here), ``o=1`` means sampled."""
    match = _CLOUD_TRACE.fullmatch(header.strip())
    if match is None:
        return None
    trace_id, span, options = match.groups()
    trace_id = trace_id.lower()
    if trace_id == _ZERO_TRACE:
        return None
    span_id = None
    if span is not None and 0 < int(span) <= _MAX_SPAN:
        span_id = f"{int(span):016x}"
    sampled = options is not None and bool(int(options) & 1)
    return ParentContext(trace_id, span_id, sampled, "http")


_XRAY_CACHE: dict[str, tuple[ParentContext | None, str | None]] = {}


# The header as Lambda writes it into ``_X_AMZN_TRACE_ID`` (optionally followed by
# more fields, e.g. ``Lineage``): one regular expression instead of the general parser.
_LAMBDA_XRAY = re.compile(
    r"Root=(1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24}));Parent=([0-9a-fA-F]{16});Sampled=([01])(?:;|$)"
)
_ZERO_TRACE = "0" * 32


def _from_xray(header: str | None) -> tuple[ParentContext | None, str | None]:
    if not header:
        return None, None
    match = _LAMBDA_XRAY.match(header)
    if match is not None:
        rest = header[match.end() :]
        if not rest or not ("Root=" in rest or "Parent=" in rest or "Sampled=" in rest):
            root, epoch, random_part, parent, sampled = match.groups()
            trace_id = (epoch + random_part).lower()
            if trace_id != _ZERO_TRACE:
                return ParentContext(trace_id, parent.lower(), sampled == "1", "xray"), root
    cached = _XRAY_CACHE.get(header)  # the same header is seen again on retries
    if cached is not None:
        return cached
    fields = ids.parse_xray_header(header)
    root = fields.get("Root")
    parent = fields.get("Parent")
    result: tuple[ParentContext | None, str | None] = (None, None)
    trace_id = ids.xray_to_w3c(root) if root else None
    if trace_id is not None:
        span_id = parent.lower() if parent and len(parent) == 16 else None
        result = (ParentContext(trace_id, span_id, fields.get("Sampled") == "1", "xray"), root)
    if len(_XRAY_CACHE) >= 8:
        _XRAY_CACHE.clear()
    _XRAY_CACHE[header] = result
    return result


def xray_parent(header: str | None) -> ParentContext | None:
    """The trace context an X-Ray header (``Root=…;Parent=…;Sampled=…``) carries."""
    return _from_xray(header)[0]


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


def _reset() -> None:
    """Read ``OTEL_PROPAGATORS`` again and forget parsed headers (fnlens.testing.reset)."""
    reload_propagators()
    _XRAY_CACHE.clear()


register_reset(__name__, _reset)


_ENVIRONMENT: Any = object()


def decide(
    headers: dict[str, str] | None, policy: str, lambda_header: Any = _ENVIRONMENT
) -> TraceDecision:
    """Pick the trace id and parent for a new invocation span.

    ``lambda_header`` is Lambda's X-Ray header when the caller has it at hand (the
    runtime client's copy of ``_X_AMZN_TRACE_ID``); by default the variable is read."""
    http = _from_http(headers) if headers and _USE_TRACECONTEXT else None
    if _USE_XRAY:
        if lambda_header is _ENVIRONMENT or not (
            lambda_header is None or isinstance(lambda_header, str)
        ):
            lambda_header = os.environ.get("_X_AMZN_TRACE_ID")
        xray_header = lambda_header or (headers.get("x-amzn-trace-id") if headers else None)
        xray, xray_root = _from_xray(xray_header)
    else:
        xray, xray_root = None, None
    if http is None:
        candidates: tuple[ParentContext, ...] = () if xray is None else (xray,)
    else:
        candidates = (http,) if xray is None else (http, xray)

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
    baggage = headers.get("baggage") if headers else None
    return TraceDecision(trace_id, parent, xray_root, candidates, baggage)
