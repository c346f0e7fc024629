"""Cloud Run functions (``functions-framework``): one invocation from the handler's
argument, and log lines in Cloud Logging's structured form.

An HTTP function receives a Flask request; a CloudEvent function a ``cloudevents``
event, while Flask's request context is still active (its headers carry the trace
context). The identity comes from the environment Cloud Run sets: ``K_SERVICE``,
``K_REVISION`` and ``FUNCTION_TARGET``. Flask is looked up in ``sys.modules``
only: fnlens never imports it.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from fnlens.runtime import _scope as scope
from fnlens.runtime._platforms import PlatformCall
from fnlens.runtime._triggers import DATASOURCE, HTTP, OTHER, PUBSUB, TriggerInfo

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

# CloudEvent type prefix -> (trigger, event_source)
_EVENT_TYPES = (
    ("google.cloud.pubsub.", PUBSUB, "gcp:pubsub"),
    ("google.cloud.storage.", DATASOURCE, "gcp:storage"),
    ("google.cloud.firestore.", DATASOURCE, "gcp:firestore"),
    ("google.firebase.database.", DATASOURCE, "gcp:firebase-database"),
    ("google.cloud.audit.log.", PUBSUB, "gcp:audit-log"),
    ("google.cloud.scheduler.", "timer", "gcp:scheduler"),
)


def call(arg: Any, handler_name: str) -> PlatformCall:
    """The invocation a functions-framework argument describes."""
    env = os.environ
    if type(arg).__module__.startswith("cloudevents"):
        trigger = _event_trigger(arg, _request_headers(_flask_request()))
    else:
        trigger = _http_trigger(arg)
    request = arg if trigger.trigger == HTTP else _flask_request()
    request_id = None
    headers = getattr(request, "headers", None)
    if headers is not None:
        value = headers.get("Function-Execution-Id")
        request_id = value if isinstance(value, str) and value else None
    # functions-framework run outside Google Cloud (a laptop, a test) is no "gcp"
    on_gcp = bool(env.get("K_SERVICE") or env.get("FUNCTION_TARGET"))
    return PlatformCall(
        provider="gcp" if on_gcp else "local",
        request_id=request_id,
        trigger=trigger,
        function_name=env.get("K_SERVICE") or env.get("FUNCTION_TARGET") or handler_name,
        function_version=env.get("K_REVISION") or None,
        function_alias=None,
        region=env.get("FUNCTION_REGION") or env.get("GOOGLE_CLOUD_REGION") or None,
    )


def _flask_request() -> Any:
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    try:
        return flask.request if flask.has_request_context() else None
    except Exception:
        return None


def _request_headers(request: Any) -> dict[str, str] | None:
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    found: dict[str, str] = {}
    for name in ("traceparent", "tracestate", "baggage", "x-cloud-trace-context"):
        value = headers.get(name)
        if isinstance(value, str) and value:
            found[name] = value
    return found or None


def _http_trigger(request: Any) -> TriggerInfo:
    method = getattr(request, "method", None)
    rule = getattr(getattr(request, "url_rule", None), "rule", None)
    return TriggerInfo(
        trigger=HTTP,
        event_source="gcp:http",
        http_method=method.upper() if isinstance(method, str) and method else None,
        http_route=_CONVERTER.sub(r"{\1}", rule) if isinstance(rule, str) else None,
        headers=_request_headers(request),
        default_status=200,
        response_kind="flask",
    )


def _event_trigger(event: Any, headers: dict[str, str] | None) -> TriggerInfo:
    try:
        event_type = str(event["type"])
    except Exception:
        event_type = ""
    trigger, source = OTHER, "gcp:cloudevent"
    for prefix, kind, name in _EVENT_TYPES:
        if event_type.startswith(prefix):
            trigger, source = kind, name
            break
    if not headers or "traceparent" not in headers:
        # the CloudEvents distributed-tracing extension (ce-traceparent in binary mode)
        try:
            parent = event.get("traceparent")
            state = event.get("tracestate")
        except Exception:
            parent = state = None
        if isinstance(parent, str) and parent:
            headers = dict(headers or {})
            headers["traceparent"] = parent
            if isinstance(state, str) and state:
                headers["tracestate"] = state
    return TriggerInfo(trigger=trigger, event_source=source, headers=headers)


# Cloud Logging ---------------------------------------------------------------
_SEVERITY = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
    "exception": "ERROR",
}


def project_id() -> str | None:
    """The project trace names are built with (no metadata-server call)."""
    env = os.environ
    return env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or env.get("GCLOUD_PROJECT")


def cloud_logging_line(event_dict: dict[str, Any], sampled: bool | None) -> dict[str, Any]:
    """The line as Cloud Logging's structured form: the special fields it reads
    (``severity``, ``message``, ``time``, ``logging.googleapis.com/trace``, ``…/spanId``,
    ``…/trace_sampled``, ``…/labels``) first, then fnlens's own fields unchanged (they
    become the entry's ``jsonPayload``)."""
    level = event_dict.get("level")
    line: dict[str, Any] = {
        "severity": _SEVERITY.get(level, "DEFAULT") if isinstance(level, str) else "DEFAULT",
        "message": event_dict.get("event"),
    }
    timestamp = event_dict.get("timestamp")
    if isinstance(timestamp, str):
        line["time"] = timestamp
    trace_id = event_dict.get("trace_id")
    project = project_id()
    if isinstance(trace_id, str) and trace_id and project:
        line["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace_id}"
    span_id = event_dict.get("span_id")
    if isinstance(span_id, str) and span_id:
        line["logging.googleapis.com/spanId"] = span_id
    if sampled is not None and "logging.googleapis.com/trace" in line:
        line["logging.googleapis.com/trace_sampled"] = sampled
    labels = {}
    request_id = event_dict.get("request_id")
    if isinstance(request_id, str) and request_id:
        labels["execution_id"] = request_id
    target = os.environ.get("FUNCTION_TARGET")
    if target:
        labels["function_target"] = target
    if labels:
        line["logging.googleapis.com/labels"] = labels
    line.update(event_dict)
    return line


def _sampled() -> bool | None:
    """Whether the current invocation's span is sampled (what Cloud Trace will hold)."""
    inv = scope.current_invocation()
    if inv is None:
        return None
    span = inv.span
    if span is not None:
        sampled = getattr(span, "sampled", None)  # fnlens's own span recorder
        if isinstance(sampled, bool):
            return sampled
        try:
            return bool(span.span.get_span_context().trace_flags.sampled)
        except Exception:
            return None
    parent = inv.decision.parent if inv.decision is not None else None
    return parent.sampled if parent is not None else False


def cloud_logging_shape(event_dict: dict[str, Any]) -> dict[str, Any]:
    """The stdout shape on Cloud Run (``fnlens.runtime._logs.set_stdout_shape``)."""
    return cloud_logging_line(event_dict, _sampled())
