"""Recognise what invoked the function from the shape of the event.

Only the route *template* is ever recorded (``resource`` / ``routeKey``), never
the raw path: raw paths carry ids and explode the cardinality of every
dashboard built on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HTTP = "http"
PUBSUB = "pubsub"
DATASOURCE = "datasource"
TIMER = "timer"
OTHER = "other"


# Request headers that carry trace context; only these are kept (lower-cased).
PROPAGATION_HEADERS = ("traceparent", "tracestate", "baggage", "x-amzn-trace-id")


@dataclass(slots=True)
class TriggerInfo:
    trigger: str = OTHER
    event_source: str | None = None
    http_method: str | None = None
    http_route: str | None = None
    headers: dict[str, str] | None = None  # trace-context headers only, lower-cased keys
    batch_size: int | None = None
    # HTTP responses: API Gateway v2 / Function URL treat a non-dict result as 200
    default_status: int | None = None
    # how the handler's result says its HTTP status: None (Lambda's ``statusCode``),
    # "azure" (``func.HttpResponse``), "flask" (a Flask response or ``(body, status)``)
    response_kind: str | None = None

    @property
    def is_http(self) -> bool:
        return self.trigger == HTTP


_RECORD_SOURCES = {
    "aws:sqs": (PUBSUB, "aws:sqs"),
    "aws:sns": (PUBSUB, "aws:sns"),
    "aws:s3": (DATASOURCE, "aws:s3"),
    "aws:dynamodb": (DATASOURCE, "aws:dynamodb"),
    "aws:kinesis": (PUBSUB, "aws:kinesis"),
    "aws:kafka": (PUBSUB, "aws:kafka"),
    "aws:ses": (PUBSUB, "aws:ses"),
}


@dataclass(frozen=True)
class WebRequest:
    """An HTTP request served by a web application (ASGI / WSGI) rather than handed in
    as a platform event: the adapters in ``fnlens.asgi`` / ``fnlens.wsgi`` pass one as
    the invocation's event."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    source: str = "asgi"  # the event_source of the record

    def trigger_info(self) -> TriggerInfo:
        found = {k: v for k, v in self.headers.items() if k in PROPAGATION_HEADERS}
        return TriggerInfo(
            trigger=HTTP,
            event_source=self.source,
            http_method=self.method.upper() or None,
            headers=found or None,
            default_status=200,
        )


def detect_trigger(event: Any) -> TriggerInfo:
    """Classify an event; unknown shapes give ``trigger="other"`` and never raise."""
    if not isinstance(event, dict):
        if isinstance(event, WebRequest):
            return event.trigger_info()
        return TriggerInfo()
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        return _http_trigger(event, request_context)
    records = event.get("Records")
    if isinstance(records, list) and records:
        first = records[0] if isinstance(records[0], dict) else {}
        source = str(first.get("eventSource") or first.get("EventSource") or "").lower()
        kind = _RECORD_SOURCES.get(source)
        if kind is not None:
            return TriggerInfo(trigger=kind[0], event_source=kind[1], batch_size=len(records))
        return TriggerInfo(event_source=source or None, batch_size=len(records))
    if "detail-type" in event and "source" in event:
        if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
            return TriggerInfo(trigger=TIMER, event_source="aws:scheduled")
        return TriggerInfo(trigger=PUBSUB, event_source="aws:events")
    return TriggerInfo()


def _http_trigger(event: dict, request_context: dict) -> TriggerInfo:
    v2 = event.get("version") == "2.0"
    headers = _propagation_headers(event.get("headers"), v2)
    if "elb" in request_context:
        return TriggerInfo(
            trigger=HTTP,
            event_source="aws:elb",
            http_method=_upper(event.get("httpMethod")),
            headers=headers,
        )
    if v2 or "routeKey" in event:
        http = request_context.get("http")
        method = http.get("method") if isinstance(http, dict) else None
        method = method.upper() if isinstance(method, str) and method else None
        route = None
        route_key = event.get("routeKey") or request_context.get("routeKey")
        if isinstance(route_key, str) and route_key != "$default":
            verb, _, template = route_key.partition(" ")
            route = template or None
            method = method or _upper(verb)
        domain = str(request_context.get("domainName") or "")
        source = "aws:lambda-url" if ".lambda-url." in domain else "aws:apigateway:http"
        return TriggerInfo(
            trigger=HTTP,
            event_source=source,
            http_method=method,
            http_route=route,
            headers=headers,
            default_status=200,
        )
    if "httpMethod" in event or "resource" in event:
        return TriggerInfo(
            trigger=HTTP,
            event_source="aws:apigateway:rest",
            http_method=_upper(event.get("httpMethod") or request_context.get("httpMethod")),
            http_route=event.get("resource") or request_context.get("resourcePath"),
            headers=headers,
        )
    return TriggerInfo(headers=headers)


def _propagation_headers(headers: Any, lower_cased: bool) -> dict[str, str] | None:
    """The trace-context headers of a request. API Gateway v2 and Function URLs
    lower-case header names already; REST APIs and ALBs keep the client's spelling."""
    if not isinstance(headers, dict) or not headers:
        return None
    found: dict[str, str] = {}
    if lower_cased:
        for name in PROPAGATION_HEADERS:  # four lookups, no comprehension frame
            value = headers.get(name)
            if value is not None and isinstance(value, str):
                found[name] = value
    else:
        for key, value in headers.items():
            if isinstance(key, str) and isinstance(value, str):
                lowered = key.lower()
                if lowered in PROPAGATION_HEADERS:
                    found[lowered] = value
    return found or None


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def response_status(info: TriggerInfo, response: Any) -> int | None:
    """The HTTP status the caller saw, from the handler's return value."""
    if info.response_kind is not None:
        return _platform_status(info, response)
    if isinstance(response, dict):
        status = response.get("statusCode")
        if type(status) is int:  # (not bool)
            return status if _STATUS_MIN <= status <= _STATUS_MAX else None
        if isinstance(status, str):
            text = status.strip()
            # ASCII digits only: str.isdigit() is true for "²" or "٣", which int() refuses
            if 0 < len(text) <= 3 and text.isascii() and text.isdigit():
                code = int(text)
                return code if code >= _STATUS_MIN else None
            return None
        if status is not None:
            return None  # a float, a list…: not a status API Gateway would pass on
    return info.default_status


def _platform_status(info: TriggerInfo, response: Any) -> int | None:
    """Azure's ``HttpResponse.status_code``; Flask's ``Response.status_code`` or the
    status of a ``(body, status[, headers])`` tuple. Anything else is a 200 body."""
    status: Any = None
    if info.response_kind == "flask" and isinstance(response, tuple) and len(response) >= 2:
        status = response[1]
        if isinstance(status, str):
            head = status.strip().split(" ", 1)[0]
            status = int(head) if head.isascii() and head.isdigit() else None
    elif not isinstance(response, (str, bytes, dict, list, tuple)) and response is not None:
        status = getattr(response, "status_code", None)
    if type(status) is int:
        return status if _STATUS_MIN <= status <= _STATUS_MAX else None
    return info.default_status


# RFC 9110 §15: a status code is a three-digit integer (100-599 are defined classes;
# anything outside three digits is no status the caller can have seen)
_STATUS_MIN, _STATUS_MAX = 100, 999


def batch_failures(response: Any) -> int | None:
    """How many records the handler reported as failed (partial batch responses)."""
    if isinstance(response, dict):
        failures = response.get("batchItemFailures")
        if isinstance(failures, list):
            return len(failures)
    return None
