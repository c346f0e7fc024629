"""Azure Monitor / Application Insights exports: requests, traces and exceptions.

Two shapes of the same telemetry, one JSON object per line (or a JSON array):

* the workspace-based tables as a diagnostic setting, a Log Analytics data export or
  ``az monitor log-analytics query`` (``Properties`` as JSON text) writes them:
  ``AppRequests`` (``TimeGenerated``, ``Id``, ``Name``, ``Success``, ``ResultCode``,
  ``DurationMs``, ``OperationId``, ``AppRoleName``, ``Properties``…), ``AppTraces``
  (``Message``, ``SeverityLevel``) and ``AppExceptions`` (``ExceptionType``,
  ``OuterMessage``), recognised by ``Type`` or by their columns;
* Continuous Export's documents (``request[0]`` with ``durationMetric.value`` in ticks of
  100 ns, ``message[0]``, ``basicException[0]``, ``context.operation.id``,
  ``context.custom.dimensions`` as a list of one-key objects).

The classic shape is renamed to the workspace columns, then read by one parser. An
Azure Functions app is a role name; the request id is ``Properties.InvocationId`` (the
Functions host sets it on requests and on the logs of an invocation), else ``Id``; the
function is ``<app>/<function>``; the deployment slot is the version.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fnlens.analysis._formats.context import StreamContext, attrs_json, level_of, text
from fnlens.analysis._formats.timeparse import parse_ts
from fnlens.analysis._sink import RANK

SOURCE = "app-insights"
TABLES = frozenset({"AppRequests", "AppTraces", "AppExceptions"})

# App Service names a slot's role `<app>-<slot>` (the production slot: `<app>`); a
# `<app>-<word>` role is only read as a slot for these conventional slot names
SLOT_NAMES = frozenset(
    {"staging", "stage", "canary", "preview", "test", "testing", "qa", "dev", "blue", "green"}
)
_SLOT_KEYS = ("SlotName", "slot", "deployment.environment", "WEBSITE_SLOT_NAME")
_SEVERITY = {0: "trace", 1: "info", 2: "warning", 3: "error", 4: "critical"}
_TRIGGERS = frozenset({"http", "pubsub", "datasource", "timer", "other"})
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_METHOD = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) ")
_TRACE_KNOWN = frozenset(
    {"TimeGenerated", "Message", "SeverityLevel", "OperationId", "ParentId", "Properties", "Type"}
)

_CLASSIC_PARTS = {
    "request": "AppRequests",
    "message": "AppTraces",
    "basicException": "AppExceptions",
}


def table_of(obj: dict[str, Any]) -> str | None:
    """``AppRequests`` / ``AppTraces`` / ``AppExceptions`` for any of the three shapes."""
    kind = obj.get("Type")
    if isinstance(kind, str) and kind in TABLES:
        return kind
    if "DurationMs" in obj and "ResultCode" in obj and "OperationId" in obj:
        return "AppRequests"
    if "SeverityLevel" in obj and "Message" in obj and "OperationId" in obj:
        return "AppTraces"
    if isinstance(obj.get("context"), dict):
        for part, table in _CLASSIC_PARTS.items():
            if isinstance(obj.get(part), list):
                return table
    return None


def is_app_insights(obj: dict[str, Any]) -> bool:
    return table_of(obj) is not None


def handle_record(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    table = table_of(obj)
    if "context" in obj and "Type" not in obj:
        obj = _from_continuous_export(obj, table)
    if table == "AppRequests":
        _request(obj, ctx)
    elif table == "AppTraces":
        _trace(obj, ctx, line)
    else:
        _exception(obj, ctx, line)


def _properties(obj: dict[str, Any]) -> dict[str, Any]:
    """``Properties`` (``customDimensions``): an object, or JSON text in query results."""
    props = obj.get("Properties")
    if props is None or props == "":
        return {}
    if isinstance(props, str):
        try:
            props = json.loads(props)
        except ValueError:
            raise ValueError("Properties is not a JSON object") from None
    if not isinstance(props, dict):
        raise ValueError("Properties is not an object")
    return props


def _identity(obj: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    role = obj.get("AppRoleName") or None
    slot = next((str(props[k]) for k in _SLOT_KEYS if props.get(k)), None)
    app = role
    if isinstance(role, str):
        head, sep, tail = role.rpartition("-")
        if slot and role.endswith(f"-{slot}"):
            app = role[: -len(slot) - 1]
        elif not slot and sep and head and tail.lower() in SLOT_NAMES:
            app, slot = head, tail.lower()
    if app and not slot:
        slot = "production"
    function = _function(obj, props)
    name = f"{app}/{function}" if app and function else (app or function)
    return {
        "service": app,
        "function_name": name,
        "function_version": slot,
        "log_stream": obj.get("AppRoleInstance") or None,
        "cloud_provider": "azure",
    }


def _function(obj: dict[str, Any], props: dict[str, Any]) -> str | None:
    full = props.get("FullName")
    if isinstance(full, str) and full:
        return full.split(".", 1)[1] if full.startswith("Functions.") else full
    category = props.get("Category")  # Function.<name>.User on a function's own logs
    if isinstance(category, str) and category.startswith("Function."):
        return category.split(".")[1] or None
    if obj.get("Type") == "AppRequests" or "DurationMs" in obj:
        return obj.get("OperationName") or obj.get("Name") or None
    return obj.get("OperationName") or None


def _trace_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("OperationId")
    return value.lower() if isinstance(value, str) and _HEX32.match(value) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"Success: expected true/false, got {value!r}")


def _request(obj: dict[str, Any], ctx: StreamContext) -> None:
    props = _properties(obj)
    ok = _bool(obj.get("Success"))
    code = obj.get("ResultCode")
    status = int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None
    name = obj.get("Name") if isinstance(obj.get("Name"), str) else ""
    method = props.get("HttpMethod") or (m.group(1) if (m := _METHOD.match(name)) else None)
    trigger = str(props.get("FaaSTrigger") or props.get("faas.trigger") or "").lower() or None
    if trigger and trigger not in _TRIGGERS:
        trigger = "other"  # faas.trigger has five values; anything else is "other"
    if trigger is None and (method or obj.get("Url")):
        trigger = "http"
    http = trigger == "http" and status is not None and 100 <= status <= 599
    duration = obj.get("DurationMs")
    row = {
        **_identity(obj, props),
        "request_id": props.get("InvocationId") or obj.get("Id"),
        "ts": parse_ts(obj.get("TimeGenerated") or obj.get("time")),
        "trace_id": _trace_id(obj),
        "duration_ms": float(duration) if duration not in (None, "") else None,
        "outcome": None if ok is None else ("success" if ok else "error"),
        "trigger": trigger,
        "http_method": method,
        "http_status_code": status if http else None,
    }
    if ok is False and code not in (None, ""):
        row["error_type"] = f"HTTP {code}" if http else f"result {code}"
    ctx.sink.invocation(row, SOURCE)


def _trace(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    props = _properties(obj)
    ident = _identity(obj, props)
    severity = obj.get("SeverityLevel")
    if isinstance(severity, str) and severity.isdigit():
        severity = int(severity)
    level = _SEVERITY.get(severity) if isinstance(severity, int) else level_of(severity)
    extra = {k: v for k, v in {**obj, **props}.items() if k not in _TRACE_KNOWN and v is not None}
    ctx.sink.log(
        {
            "ts": parse_ts(obj.get("TimeGenerated") or obj.get("time")),
            "level": level,
            "message": text(obj.get("Message")),
            "request_id": props.get("InvocationId") or obj.get("ParentId") or None,
            "trace_id": _trace_id(obj),
            "service": ident["service"],
            "function_name": ident["function_name"],
            "attributes": attrs_json(extra, frozenset()),
            "source_file": ctx.path,
            "source_line": line,
        }
    )


def _exception(obj: dict[str, Any], ctx: StreamContext, line: int | None) -> None:
    """A log row (level error) and, within an invocation, its error type and message."""
    props = _properties(obj)
    ident = _identity(obj, props)
    error_type = obj.get("ExceptionType") or obj.get("ProblemId")
    message = obj.get("OuterMessage") or obj.get("InnermostMessage")
    ts = parse_ts(obj.get("TimeGenerated") or obj.get("time"))
    request_id = props.get("InvocationId") or obj.get("ParentId") or None
    extra = {k: v for k, v in {**obj, **props}.items() if k not in _TRACE_KNOWN and v is not None}
    ctx.sink.log(
        {
            "ts": ts,
            "level": "error",
            "message": text(": ".join(str(p) for p in (error_type, message) if p) or None),
            "request_id": request_id,
            "trace_id": _trace_id(obj),
            "service": ident["service"],
            "function_name": ident["function_name"],
            "attributes": attrs_json(extra, frozenset()),
            "source_file": ctx.path,
            "source_line": line,
        }
    )
    if props.get("InvocationId"):  # ParentId may name a dependency, not the request
        ctx.sink.invocation(
            {
                **ident,
                "request_id": request_id,
                "trace_id": _trace_id(obj),
                "outcome": "error",
                "error_type": error_type,
                "error_message": message,
                # ahead of its request's record, so the exception names the error
                "_rank": RANK[SOURCE] - 1,
            },
            SOURCE,
        )


def _from_continuous_export(doc: dict[str, Any], table: str | None) -> dict[str, Any]:
    """A Continuous Export document in the workspace columns."""
    context = doc["context"]
    parts = {name: doc.get(name) for name in _CLASSIC_PARTS}
    part_name = next(n for n, t in _CLASSIC_PARTS.items() if t == table)
    items = parts[part_name]
    if not items or not isinstance(items[0], dict):
        raise ValueError(f"Continuous Export: {part_name} is empty or not a list of objects")
    item = items[0]
    operation = _sub(context, "operation")
    device = _sub(context, "device")
    dims: dict[str, Any] = {}
    custom = _sub(context, "custom").get("dimensions") or []
    if not isinstance(custom, list):
        raise ValueError("Continuous Export: context.custom.dimensions is not a list")
    for entry in custom:
        if not isinstance(entry, dict):
            raise ValueError("Continuous Export: a custom dimension is not an object")
        dims.update(entry)
    out: dict[str, Any] = {
        "Type": table,
        "TimeGenerated": _sub(context, "data").get("eventTime"),
        "OperationId": operation.get("id"),
        "OperationName": operation.get("name"),
        "ParentId": operation.get("parentId"),
        "AppRoleName": device.get("roleName"),
        "AppRoleInstance": device.get("roleInstance"),
        "AppVersion": _sub(context, "application").get("version"),
        "Properties": dims,
    }
    if table == "AppRequests":
        ticks = _sub(item, "durationMetric").get("value")
        out.update(
            Id=item.get("id"),
            Name=item.get("name"),
            Url=item.get("url"),
            Success=item.get("success"),
            ResultCode=item.get("responseCode"),
            DurationMs=float(ticks) / 10_000 if ticks is not None else None,  # 1e7 ticks = 1 s
        )
    elif table == "AppTraces":
        out.update(Message=item.get("raw"), SeverityLevel=item.get("severityLevel"))
    else:
        out.update(
            ExceptionType=item.get("exceptionType") or item.get("outerExceptionType"),
            OuterMessage=item.get("outerExceptionMessage") or item.get("message"),
        )
    return out


def _sub(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} is not an object")
    return value
