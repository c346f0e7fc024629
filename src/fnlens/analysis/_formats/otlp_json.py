"""OTLP JSON as the OpenTelemetry Collector's file exporter writes it.

``{"resourceSpans" | "resourceLogs" | "resourceMetrics": [...]}`` per request, one per
line or pretty-printed. Ids are hex (base64 accepted too), 64-bit integers are
strings, enums are integers (their names accepted too). Server spans with
``faas.*`` attributes also yield invocation rows, keyed by ``faas.invocation_id``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fnlens.analysis._formats.context import StreamContext, text
from fnlens.analysis._formats.timeparse import from_epoch

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS = ("UNSET", "OK", "ERROR")
_SEVERITY = [(21, "fatal"), (17, "error"), (13, "warning"), (9, "info"), (5, "debug"), (1, "trace")]
_REQUEST_ATTRS = ("faas.invocation_id", "faas.execution", "aws.lambda.request_id", "request_id")


def is_otlp(obj: dict[str, Any]) -> bool:
    return any(k in obj for k in ("resourceSpans", "resourceLogs", "resourceMetrics"))


def any_value(v: Any) -> Any:
    """Decode an OTLP AnyValue."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attributes((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    if not items:
        return {}
    if not isinstance(items, list):
        raise ValueError("attributes is not a list")
    return {
        kv["key"]: any_value(kv.get("value"))
        for kv in items
        if isinstance(kv, dict) and "key" in kv
    }


def _id(value: Any, size: int) -> str | None:
    """Hex id (as OTLP/JSON specifies); base64 from generic protobuf JSON converted."""
    if not value:
        return None
    s = str(value)
    if len(s) == size * 2:
        try:
            int(s, 16)
            return s.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"bad id {s!r}") from None
    if len(raw) != size:
        raise ValueError(f"bad id {s!r}")
    return raw.hex()


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if value is None:
        return names[0]
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else str(value)
    s = str(value)
    if s.isdigit():
        return _enum(int(s), names, prefix)
    return s.removeprefix(prefix)


def _nanos(value: Any) -> Any:
    if value in (None, "", 0, "0"):
        return None
    return from_epoch(int(value))


def _flat(d: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in d.items()}


def handle_document(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    for rs in obj.get("resourceSpans") or []:
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans") or []:
                _guard(ctx, line, _span, span, resource)
    for rl in obj.get("resourceLogs") or []:
        resource = attributes((rl.get("resource") or {}).get("attributes"))
        for sl in rl.get("scopeLogs") or []:
            for rec in sl.get("logRecords") or []:
                _guard(ctx, line, _log, rec, resource)
    for rm in obj.get("resourceMetrics") or []:
        resource = attributes((rm.get("resource") or {}).get("attributes"))
        for sm in rm.get("scopeMetrics") or []:
            for metric in sm.get("metrics") or []:
                _guard(ctx, line, _metric, metric, resource)


def _guard(
    ctx: StreamContext, line: int | None, fn: Any, item: Any, resource: dict[str, Any]
) -> None:
    try:
        if not isinstance(item, dict):
            raise ValueError("OTLP item is not an object")
        fn(item, resource, ctx, line)
    except (ValueError, TypeError, KeyError) as exc:
        ctx.error(line, f"OTLP: {exc}")


def _span(
    span: dict[str, Any], resource: dict[str, Any], ctx: StreamContext, line: int | None
) -> None:
    trace_id = _id(span.get("traceId"), 16)
    span_id = _id(span.get("spanId"), 8)
    if not trace_id or not span_id:
        # the specification's own file-exporter example has empty ids: keep the span
        missing = " and ".join(n for n, v in (("traceId", trace_id), ("spanId", span_id)) if not v)
        ctx.warn(
            line,
            f"OTLP span {span.get('name')!r} has no {missing}: kept, but it cannot be "
            "joined to its trace or parent",
        )
    start = _nanos(span.get("startTimeUnixNano"))
    end = _nanos(span.get("endTimeUnixNano"))
    duration = (end - start).total_seconds() * 1000 if start and end else None
    attrs = attributes(span.get("attributes"))
    status = span.get("status") or {}
    status_code = _enum(status.get("code"), STATUS, "STATUS_CODE_")
    service = resource.get("service.name")
    kind = _enum(span.get("kind"), KINDS, "SPAN_KIND_")
    ctx.sink.span(
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": _id(span.get("parentSpanId"), 8),
            "name": span.get("name"),
            "kind": kind,
            "start_ts": start,
            "end_ts": end,
            "duration_ms": duration,
            "status_code": status_code,
            "status_message": status.get("message") or None,
            "service": service,
            "attributes": _flat(attrs),
            "resource_attributes": _flat(resource),
            "source": ctx.path,
        }
    )
    merged = {**resource, **attrs}
    if not any(k.startswith("faas.") for k in merged):
        return
    request_id = next((merged[k] for k in _REQUEST_ATTRS if merged.get(k)), None)
    if not request_id or kind not in ("SERVER", "CONSUMER", "UNSPECIFIED", "INTERNAL"):
        return
    memory = merged.get("faas.max_memory")
    if isinstance(memory, (int, float)) and memory > 100_000:  # semconv >= 1.21: bytes
        memory = memory / (1024 * 1024)
    error_type = merged.get("error.type") or merged.get("exception.type")
    for event in span.get("events") or []:
        if isinstance(event, dict) and event.get("name") == "exception":
            error_type = error_type or attributes(event.get("attributes")).get("exception.type")
    ctx.sink.invocation(
        {
            "request_id": str(request_id),
            "ts": start,
            "service": service,
            "service_version": resource.get("service.version"),
            "function_name": merged.get("faas.name") or ctx.function_name,
            "function_version": merged.get("faas.version"),
            "trace_id": trace_id,
            "cold_start": merged.get("faas.coldstart"),
            "duration_ms": duration,
            "memory_size_mb": memory,
            "outcome": "error" if status_code == "ERROR" else "success",
            "error_type": error_type if status_code == "ERROR" else None,
            "error_message": (status.get("message") or None) if status_code == "ERROR" else None,
            "trigger": merged.get("faas.trigger"),
            "http_method": merged.get("http.request.method") or merged.get("http.method"),
            "http_route": merged.get("http.route"),
            "http_status_code": merged.get("http.response.status_code")
            or merged.get("http.status_code"),
            "region": merged.get("cloud.region"),
        },
        "otlp",
    )


def _log(
    rec: dict[str, Any], resource: dict[str, Any], ctx: StreamContext, line: int | None
) -> None:
    attrs = attributes(rec.get("attributes"))
    level = rec.get("severityText") or None
    number = rec.get("severityNumber")
    if isinstance(number, str) and not number.isdigit():
        number = None
    if not level and number:
        level = next((name for floor, name in _SEVERITY if int(number) >= floor), None)
    ctx.sink.log(
        {
            "ts": _nanos(rec.get("timeUnixNano")) or _nanos(rec.get("observedTimeUnixNano")),
            "level": level.lower() if isinstance(level, str) else None,
            "message": text(any_value(rec.get("body"))),
            "request_id": next((str(attrs[k]) for k in _REQUEST_ATTRS if attrs.get(k)), None),
            "trace_id": _id(rec.get("traceId"), 16),
            "span_id": _id(rec.get("spanId"), 8),
            "service": resource.get("service.name"),
            "function_name": resource.get("faas.name") or ctx.function_name,
            "attributes": json.dumps(attrs, default=str) if attrs else None,
            "source_file": ctx.path,
            "source_line": line,
        }
    )


def _metric(
    metric: dict[str, Any], resource: dict[str, Any], ctx: StreamContext, line: int | None
) -> None:
    name = metric.get("name")
    for mtype in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
        body = metric.get(mtype)
        if not isinstance(body, dict):
            continue
        for dp in body.get("dataPoints") or []:
            value: Any = dp.get("asDouble", dp.get("asInt"))
            data = {
                "metric_type": mtype,
                "unit": metric.get("unit") or None,
                "value": float(value) if value is not None else None,
                "count": int(dp["count"]) if dp.get("count") is not None else None,
                "sum": float(dp["sum"]) if dp.get("sum") is not None else None,
                "attributes": attributes(dp.get("attributes")),
            }
            ctx.sink.log(
                {
                    "ts": _nanos(dp.get("timeUnixNano")),
                    "level": "metric",
                    "message": name,
                    "service": resource.get("service.name"),
                    "function_name": resource.get("faas.name") or ctx.function_name,
                    "attributes": json.dumps({k: v for k, v in data.items() if v is not None}),
                    "source_file": ctx.path,
                    "source_line": line,
                }
            )
