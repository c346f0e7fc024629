"""Azure Functions (Python v2 programming model): one invocation from the handler's
arguments.

The worker passes bindings by parameter name (``req``, ``msg``, ``context``…); the
``func.Context`` carries the invocation id, the function's name, the host's W3C
trace context and the retry context. The app's name, slot and region come from
the host's environment (``WEBSITE_SITE_NAME``, ``WEBSITE_SLOT_NAME``,
``REGION_NAME``). Only public attributes of the ``azure.functions`` types are
read; the package itself is never imported here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from fnlens.runtime._platforms import PlatformCall, _is_azure_context
from fnlens.runtime._triggers import DATASOURCE, HTTP, OTHER, PUBSUB, TIMER, TriggerInfo

# class name (in the argument's MRO, module azure.functions…) -> (trigger, event_source)
_TRIGGERS = {
    "HttpRequest": (HTTP, "azure:http"),
    "QueueMessage": (PUBSUB, "azure:queue"),
    "ServiceBusMessage": (PUBSUB, "azure:servicebus"),
    "EventHubEvent": (PUBSUB, "azure:eventhub"),
    "EventGridEvent": (PUBSUB, "azure:eventgrid"),
    "CloudEvent": (PUBSUB, "azure:eventgrid"),
    "KafkaEvent": (PUBSUB, "azure:kafka"),
    "TimerRequest": (TIMER, "azure:timer"),
    "InputStream": (DATASOURCE, "azure:blob"),
    "Document": (DATASOURCE, "azure:cosmosdb"),
    "DocumentList": (DATASOURCE, "azure:cosmosdb"),
    "SqlRow": (DATASOURCE, "azure:sql"),
    "SqlRowList": (DATASOURCE, "azure:sql"),
}


def _kind(value: Any) -> tuple[str, str] | None:
    for cls in type(value).__mro__:
        if cls.__module__.startswith("azure.functions"):
            found = _TRIGGERS.get(cls.__name__)
            if found is not None:
                return found
    return None


def call(values: Iterable[Any], handler_name: str) -> PlatformCall:
    """The invocation the worker's arguments describe (``handler_name``: the function's
    name when no ``context`` parameter tells it; the v2 model names functions so)."""
    context = None
    trigger_arg: Any = None
    kind: tuple[str, str] | None = None
    batch: int | None = None
    for value in values:
        if context is None and _is_azure_context(value):
            context = value
            continue
        if kind is not None:
            continue
        if isinstance(value, list) and value:
            found = _kind(value[0])
            if found is not None:
                kind, trigger_arg, batch = found, value[0], len(value)
            continue
        found = _kind(value)
        if found is not None:
            kind, trigger_arg = found, value
    trigger = _trigger(kind, trigger_arg, batch, context)
    env = os.environ
    function = _text(getattr(context, "function_name", None)) or handler_name
    site = env.get("WEBSITE_SITE_NAME")
    # semantic conventions: faas.name is "<FUNCAPP>/<FUNC>" on Azure
    name = f"{site}/{function}" if site else function
    extra = None
    retry = getattr(context, "retry_context", None)
    retry_count = getattr(retry, "retry_count", None)
    if type(retry_count) is int and retry_count >= 0:
        extra = {"attempt": retry_count + 1}
    return PlatformCall(
        provider="azure",
        request_id=_text(getattr(context, "invocation_id", None)),
        trigger=trigger,
        function_name=name,
        service=site or name,  # one function app, one service
        function_version=None,  # semantic conventions: not applicable on Azure
        function_alias=env.get("WEBSITE_SLOT_NAME") or None,
        region=env.get("REGION_NAME") or None,
        extra_fields=extra,
    )


def _trigger(
    kind: tuple[str, str] | None, arg: Any, batch: int | None, context: Any
) -> TriggerInfo:
    headers = _trace_headers(context)
    if kind is None:
        return TriggerInfo(trigger=OTHER, event_source="azure", headers=headers)
    trigger, source = kind
    if trigger != HTTP:
        return TriggerInfo(trigger=trigger, event_source=source, headers=headers, batch_size=batch)
    request_headers = getattr(arg, "headers", None)
    if headers is None and request_headers is not None:
        found = {}
        for name in ("traceparent", "tracestate", "baggage"):
            value = request_headers.get(name)
            if isinstance(value, str):
                found[name] = value
        headers = found or None
    elif headers is not None and request_headers is not None:
        baggage = request_headers.get("baggage")
        if isinstance(baggage, str):
            headers["baggage"] = baggage
    method = getattr(arg, "method", None)
    return TriggerInfo(
        trigger=HTTP,
        event_source=source,
        http_method=method.upper() if isinstance(method, str) and method else None,
        http_route=_route(arg),
        headers=headers,
        default_status=200,  # a str or None result is a 200 response
        response_kind="azure",
    )


def _trace_headers(context: Any) -> dict[str, str] | None:
    """The host's trace context (the host's own span, which is the caller's child)."""
    trace = getattr(context, "trace_context", None)
    parent = _text(getattr(trace, "trace_parent", None))
    if not parent:
        return None
    headers = {"traceparent": parent}
    state = _text(getattr(trace, "trace_state", None))
    if state:
        headers["tracestate"] = state
    return headers


def _route(request: Any) -> str | None:
    """The path template, rebuilt from the URL and the matched route parameters
    (``/api/orders/42`` with ``{"id": "42"}`` -> ``/api/orders/{id}``, the host's route
    prefix included): ``HttpRequest`` carries the values, not the ``route=`` template.
    ``fnlens.set_route`` in the function overrides it."""
    url = _text(getattr(request, "url", None))
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    segments = [s for s in path.split("/") if s]
    params = getattr(request, "route_params", None) or {}
    by_value: dict[str, str] = {}
    if hasattr(params, "items"):
        for key, value in params.items():
            if isinstance(key, str) and isinstance(value, str) and value:
                by_value.setdefault(value, key)
    return "/" + "/".join(f"{{{by_value[s]}}}" if s in by_value else s for s in segments)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Worker logging ----------------------------------------------------------------
# The Python worker sends what reaches the root logger's handler to the host with the
# current invocation's id (Application Insights: customDimensions.InvocationId, the
# function's category); a line on stdout is console output of no invocation. The
# logger's own level is set so that the root's level (or a user's "fnlens" level, for
# fnlens's warnings) never filters a record out.
_LINES = logging.getLogger("fnlens.lines")
_LINES.setLevel(logging.DEBUG)
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_LEVEL_KEY = '"level":"'


def _line_level(line: str) -> int:
    """The level of one of fnlens's JSON lines (``level`` is its second key)."""
    start = line.find(_LEVEL_KEY, 0, 80)
    if start < 0:
        return logging.INFO
    start += len(_LEVEL_KEY)
    return _LEVELS.get(line[start : line.find('"', start, start + 12)], logging.INFO)


def write_lines(text: str) -> None:
    """``fnlens.runtime._logs.set_line_writer`` on Azure: one log record per line."""
    for line in text.split("\n"):
        if line:
            _LINES.log(_line_level(line), line)
