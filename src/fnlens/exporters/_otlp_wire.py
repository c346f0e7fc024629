"""OTLP protobuf bytes written straight from fnlens's own data.

Used on the export threads only (never imported by the runtime). The SDK path builds a
``ReadableSpan`` / ``ReadableLogRecord`` per item, then a protobuf object tree, then
serializes it, and posts it through ``requests``: most of an export's CPU time, which
competes with the handler's thread for the GIL. Here:

* fnlens event dicts (invocation records, log lines) and fast-path invocation spans
  (:class:`fnlens.runtime._tracing.FastSpan`) are written directly in the protobuf wire
  format, field for field what the SDK encoders produce for the same data
  (``tests/exporters/test_otlp_wire.py`` decodes both and compares them); the
  resource and scope are encoded once. Spans from the SDK (the handler's own spans)
  and invocation spans with links are encoded from SDK objects; the serialized
  requests are concatenated (``resource_spans`` is a repeated field).
* SDK spans (the handler's own) are written from their public attributes too
  (:func:`readable_spans_request`); resources and scopes from their public
  ``attributes``, ``name`` and ``version``. No SDK encoder, no private module.

The bytes are sent by fnlens's own exporter (:mod:`fnlens.exporters._otlp_http`).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fnlens._version import __version__

_pack_d = struct.Struct("<d").pack
_pack_q = struct.Struct("<Q").pack
_pack_i = struct.Struct("<I").pack


# wire format --------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


# tags: (field << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)
_T1 = b"\x0a"
_T2 = b"\x12"
_T3 = b"\x1a"


def _str(tag: bytes, value: str) -> bytes:
    data = value.encode("utf-8")
    return tag + _varint(len(data)) + data


def any_value(value: Any) -> bytes:
    """``AnyValue`` body, as ``opentelemetry.exporter.otlp.proto.common`` encodes it."""
    if value is None:
        return b""
    # oneof members are written even when they hold the default value
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _str(_T1, value)
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise ValueError(f"int out of range: {value}")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_d(value)
    if isinstance(value, bytes):
        return _len_field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _len_field(b"\x2a", b"".join(_len_field(_T1, any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _len_field(
            b"\x32",
            b"".join(_len_field(_T1, key_value(str(k), v)) for k, v in value.items()),
        )
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def key_value(key: str, value: Any) -> bytes:
    return _str(_T1, key) + _len_field(_T2, any_value(value))


# Encoded ``KeyValue`` fields of recurring (key, scalar value) pairs. Most attributes
# repeat from one invocation to the next (function name, version, trigger, route,
# outcome…): their bytes are looked up instead of written again, which keeps the
# export after each response short. Bounded: at most _KV_VALUES_PER_KEY values per
# key (ids and durations stop being cached at once) and _KV_LIMIT entries in all.
_KV: dict[tuple[bytes, str, type, Any], bytes] = {}
_KV_PER_KEY: dict[tuple[bytes, str], int] = {}
_KV_LIMIT = 4096
_KV_VALUES_PER_KEY = 32


def attribute(tag: bytes, key: str, value: Any) -> bytes:
    """One ``KeyValue`` as field ``tag`` (the encoding of recurring scalars is cached)."""
    kind = type(value)
    if kind is not str and kind is not bool and kind is not int:
        return _len_field(tag, key_value(key, value))
    cache_key = (tag, key, kind, value)  # the type keeps True and 1 apart
    encoded = _KV.get(cache_key)
    if encoded is None:
        encoded = _len_field(tag, key_value(key, value))
        per_key = (tag, key)
        seen = _KV_PER_KEY.get(per_key, 0)
        if seen < _KV_VALUES_PER_KEY and len(_KV) < _KV_LIMIT:
            _KV_PER_KEY[per_key] = seen + 1
            _KV[cache_key] = encoded
    return encoded


def attributes(tag: bytes, attrs: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` field; a value the SDK cannot encode is skipped, as there."""
    if not attrs:
        return b""
    parts = []
    for key, value in attrs.items():
        try:
            parts.append(attribute(tag, key, value))
        except Exception:
            continue
    return b"".join(parts)


# resource and scope, encoded once per object ------------------------------------------
_HEADS: dict[tuple[int, int], tuple[Any, Any, bytes, bytes, bytes, bytes]] = {}


@dataclass(frozen=True)
class ResourceData:
    """A resource as the wire needs it: its attributes (and schema URL). An SDK
    ``Resource`` has the same two public attributes and encodes the same way."""

    attributes: Mapping[str, Any]
    schema_url: str = ""


@dataclass(frozen=True)
class ScopeData:
    """An instrumentation scope as the wire needs it (the SDK's ``InstrumentationScope``
    has the same public attributes)."""

    name: str
    version: str | None = None
    schema_url: str | None = None
    attributes: Mapping[str, Any] | None = None


FNLENS_SCOPE = ScopeData("fnlens", __version__)


def encode_resource(resource: Any) -> bytes:
    """``Resource`` from the public ``attributes`` of an SDK Resource or ResourceData."""
    return attributes(_T1, getattr(resource, "attributes", None) or {})


def encode_scope(scope: Any) -> bytes:
    """``InstrumentationScope`` from its public ``name``, ``version`` and ``attributes``."""
    if scope is None:
        return b""
    out = b""
    if scope.name:
        out += _str(_T1, scope.name)
    if getattr(scope, "version", None):
        out += _str(_T2, scope.version)
    return out + attributes(_T3, getattr(scope, "attributes", None) or {})


def _heads(resource: Any, scope: Any) -> tuple[bytes, bytes, bytes, bytes]:
    """The resource field and schema_url of ``Resource*``, the scope field and schema_url
    of ``Scope*``, as the SDK encoders write them."""
    key = (id(resource), id(scope))
    cached = _HEADS.get(key)
    if cached is not None and cached[0] is resource and cached[1] is scope:
        return cached[2:]
    res = _len_field(_T1, encode_resource(resource))
    res_schema = getattr(resource, "schema_url", None) or ""
    res_tail = _str(_T3, res_schema) if res_schema else b""
    sc = _len_field(_T1, encode_scope(scope))
    sc_schema = (getattr(scope, "schema_url", None) or "") if scope else ""
    sc_tail = _str(_T3, sc_schema) if sc_schema else b""
    if len(_HEADS) > 16:
        _HEADS.clear()
    _HEADS[key] = (resource, scope, res, res_tail, sc, sc_tail)
    return res, res_tail, sc, sc_tail


def _wrap(resource: Any, scope: Any, items: list[bytes]) -> bytes:
    """``Export*ServiceRequest{resource_*: [{resource, scope_*: [{scope, items}]}]}``."""
    if not items:
        return b""
    res, res_tail, sc, sc_tail = _heads(resource, scope)
    scope_msg = sc + b"".join(_len_field(_T2, i) for i in items) + sc_tail
    return _len_field(_T1, res + _len_field(_T2, scope_msg) + res_tail)


# log records ------------------------------------------------------------------------
def plain_value(value: Any) -> Any:
    """A log attribute value OTLP carries as is, or its JSON text (``repr`` at worst)."""
    if isinstance(value, (str, bool, int, float)):
        return value
    try:
        return json.dumps(value, default=str, separators=(",", ":"))
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unrepresentable {type(value).__name__}>"


_SEVERITY = {
    "debug": 5,
    "info": 9,
    "warning": 13,
    "warn": 13,
    "error": 17,
    "exception": 17,
    "critical": 21,
    "fatal": 21,
}
_SKIP = frozenset({"timestamp", "level", "event", "trace_id", "span_id"})
_TS_CACHE: dict[str, int] = {}


def _ns(timestamp: Any) -> int | None:
    if not isinstance(timestamp, str):
        return None
    ns = _TS_CACHE.get(timestamp)
    if ns is None:
        try:
            ns = int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            return None
        if len(_TS_CACHE) > 4096:
            _TS_CACHE.clear()
        _TS_CACHE[timestamp] = ns
    return ns


def log_record(event: Mapping[str, Any]) -> bytes:
    """One ``LogRecord``: what ``LogRecordFactory.make`` + the SDK's ``_encode_log`` give."""
    level = str(event.get("level") or "info").lower()
    timestamp = _ns(event.get("timestamp")) or time.time_ns()
    out = [b"\x09", _pack_q(timestamp), b"\x10", _varint(_SEVERITY.get(level, 9))]
    out.append(_str(b"\x1a", level.upper()))
    body = event.get("event")
    out.append(_len_field(b"\x2a", any_value(body if isinstance(body, str) else plain_value(body))))
    for key, value in event.items():  # every field but the ones above, as attributes
        if value is None or key in _SKIP:
            continue
        kind = type(value)
        if kind is not str and kind is not int and kind is not bool and kind is not float:
            value = plain_value(value)
        try:
            out.append(attribute(b"\x32", key, value))
        except Exception:
            continue
    trace_id, span_id = event.get("trace_id"), event.get("span_id")
    if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id and span_id:
        try:
            tid, sid = int(trace_id, 16), int(span_id, 16)
        except ValueError:
            pass
        else:
            out.append(b"\x45" + _pack_i(1))  # flags: SAMPLED
            if tid:
                out.append(b"\x4a\x10" + tid.to_bytes(16, "big"))
            if sid:
                out.append(b"\x52\x08" + sid.to_bytes(8, "big"))
    out.append(b"\x59" + _pack_q(timestamp))  # observed_time_unix_nano
    return b"".join(out)


def logs_request(events: Sequence[Mapping[str, Any]], resource: Any, scope: Any) -> bytes:
    return _wrap(resource, scope, [log_record(e) for e in events])


# spans --------------------------------------------------------------------------------
def fast_span(span: Any) -> bytes:
    """One ``Span`` from a :class:`FastSpan` (no links): ``to_readable`` + ``_encode_span``."""
    out = [b"\x0a\x10", int(span.trace_id, 16).to_bytes(16, "big")]
    out.append(b"\x12\x08" + int(span.span_id, 16).to_bytes(8, "big"))
    if span.tracestate:
        state = _trace_state(span.tracestate)
        if state:
            out.append(_str(b"\x1a", state))
    if span.parent_span_id:
        out.append(b"\x22\x08" + int(span.parent_span_id, 16).to_bytes(8, "big"))
    out.append(_str(b"\x2a", span.name))
    out.append(b"\x30\x02")  # kind: SERVER
    if span.start_ns:
        out.append(b"\x39" + _pack_q(span.start_ns))
    if span.end_ns:
        out.append(b"\x41" + _pack_q(span.end_ns))
    out.append(attributes(b"\x4a", span.attributes))
    for name, ts, attrs in span.events:
        event = _str(_T2, name) + attributes(_T3, attrs)
        if ts:
            event = b"\x09" + _pack_q(ts) + event
        out.append(_len_field(b"\x5a", event))
    if span.status_code == 2:
        status = (_str(_T2, span.status_message) if span.status_message else b"") + b"\x18\x02"
    else:
        status = b""
    out.append(_len_field(b"\x7a", status))
    flags = 0x300 if span.parent_span_id else 0x100
    out.append(b"\x85\x01" + _pack_i(flags))
    return b"".join(out)


def _trace_state(raw: str) -> str:
    from opentelemetry.trace.span import TraceState

    try:
        state = TraceState.from_header([raw])
    except Exception:
        return ""
    return ",".join(f"{k}={v}" for k, v in state.items())


def spans_request(fast: Sequence[Any], resource: Any, scope: Any) -> bytes:
    return _wrap(resource, scope, [fast_span(s) for s in fast])


def _id(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def _flags(parent: Any) -> int:
    """``Span.flags``: the is-remote bits of the parent, as the SDK encoder writes them."""
    flags = 0x100
    if parent is not None and getattr(parent, "is_remote", False):
        flags |= 0x200
    return flags


def _state_of(context: Any) -> str:
    state = getattr(context, "trace_state", None)
    if not state:
        return ""
    return ",".join(f"{k}={v}" for k, v in state.items())


def readable_span(span: Any) -> bytes:
    """One ``Span`` from an SDK ``ReadableSpan``, read through its public attributes
    (the handler's own spans, and invocation spans with links)."""
    context = span.get_span_context()
    out = [b"\x0a\x10", _id(context.trace_id, 16), b"\x12\x08", _id(context.span_id, 8)]
    state = _state_of(context)
    if state:
        out.append(_str(b"\x1a", state))
    parent = span.parent
    if parent is not None and parent.span_id:
        out.append(b"\x22\x08" + _id(parent.span_id, 8))
    out.append(_str(b"\x2a", span.name))
    kind = int(getattr(span.kind, "value", 0)) + 1  # the API's INTERNAL is 0, OTLP's is 1
    out.append(b"\x30" + _varint(kind))
    if span.start_time:
        out.append(b"\x39" + _pack_q(span.start_time))
    if span.end_time:
        out.append(b"\x41" + _pack_q(span.end_time))
    out.append(attributes(b"\x4a", span.attributes))
    if span.dropped_attributes:
        out.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:
        body = (b"\x09" + _pack_q(event.timestamp)) if event.timestamp else b""
        body += _str(_T2, event.name) + attributes(_T3, event.attributes)
        dropped = getattr(event, "dropped_attributes", 0)
        if dropped:
            body += b"\x20" + _varint(dropped)
        out.append(_len_field(b"\x5a", body))
    if span.dropped_events:
        out.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:
        linked = link.context
        body = b"\x0a\x10" + _id(linked.trace_id, 16) + b"\x12\x08" + _id(linked.span_id, 8)
        link_state = _state_of(linked)
        if link_state:
            body += _str(b"\x1a", link_state)
        body += attributes(b"\x22", link.attributes)
        dropped = getattr(link, "dropped_attributes", 0)
        if dropped:
            body += b"\x28" + _varint(dropped)
        body += b"\x35" + _pack_i(_flags(linked))
        out.append(_len_field(b"\x6a", body))
    if span.dropped_links:
        out.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    status_body = b""
    if status is not None:
        if status.description:
            status_body += _str(_T2, status.description)
        code = int(status.status_code.value)
        if code:
            status_body += b"\x18" + _varint(code)
    out.append(_len_field(b"\x7a", status_body))
    out.append(b"\x85\x01" + _pack_i(_flags(parent)))
    return b"".join(out)


def readable_spans_request(spans: Sequence[Any]) -> bytes:
    """``ExportTraceServiceRequest`` bytes for SDK spans: one ``ResourceSpans`` per
    resource, one ``ScopeSpans`` per instrumentation scope in it (as the SDK groups them)."""
    by_resource: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope
        scopes = by_resource.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(readable_span(span))
    out = []
    for resource, scopes in by_resource.values():
        res, res_tail, _, _ = _heads(resource, None)
        body = []
        for scope, items in scopes.values():
            _, _, sc, sc_tail = _heads(resource, scope)
            scope_msg = sc + b"".join(_len_field(_T2, i) for i in items) + sc_tail
            body.append(_len_field(_T2, scope_msg))
        out.append(_len_field(_T1, res + b"".join(body) + res_tail))
    return b"".join(out)
