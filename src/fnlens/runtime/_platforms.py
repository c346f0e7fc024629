"""Which platform called the handler: Azure Functions, Cloud Run functions, or neither.

Decided from the handler's arguments alone (the module of their type and their
public attributes), so neither ``azure.functions`` nor ``functions_framework``,
Flask or ``cloudevents`` is ever imported by fnlens: they are only looked at once
the platform hands one of their objects to the handler. A Lambda call (a ``dict``
event, positional arguments) never gets past the first test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fnlens.runtime._triggers import TriggerInfo


@dataclass(slots=True)
class PlatformCall:
    """One invocation as a non-Lambda platform describes it."""

    provider: str  # "azure" | "gcp"
    request_id: str | None
    trigger: TriggerInfo
    function_name: str
    function_version: str | None
    function_alias: str | None  # Azure: the deployment slot
    region: str | None
    service: str | None = None  # the default service name (else the function name)
    extra_fields: dict[str, Any] | None = None


def detect_call(args: tuple, kwargs: dict, handler_name: str) -> PlatformCall | None:
    """The platform call behind these handler arguments, or None (Lambda, local calls,
    fnlens's own ASGI/WSGI adapters). Never raises for arguments it does not know."""
    values = (*args, *kwargs.values()) if kwargs else args
    for value in values:
        module = type(value).__module__
        if module.startswith("azure.functions") or _is_azure_context(value):
            from fnlens.runtime import _azure

            return _azure.call(values, handler_name)
        if module.startswith("cloudevents") or (
            module.startswith(("flask", "werkzeug"))
            and hasattr(value, "method")
            and hasattr(value, "headers")
        ):
            from fnlens.runtime import _gcp

            return _gcp.call(value, handler_name)
        if isinstance(value, list) and value:
            first_module = type(value[0]).__module__
            if first_module.startswith("azure.functions"):  # a batch (cardinality "many")
                from fnlens.runtime import _azure

                return _azure.call(values, handler_name)
    return None


def _is_azure_context(value: Any) -> bool:
    """``azure.functions.Context``'s documented interface (the worker's own class lives
    outside ``azure.functions``). The id must be a string: a ``Mock`` has every
    attribute."""
    return (
        isinstance(getattr(value, "invocation_id", None), str)
        and hasattr(value, "trace_context")
        and hasattr(value, "function_name")
        and not isinstance(value, dict)
    )


def stdout_format(log_format: str = "auto") -> str:
    """The resolved ``FNLENS_LOG_FORMAT`` (``Settings.log_format``, already checked):
    ``json`` (fnlens's lines on stdout), ``gcp`` (Cloud Logging's structured form),
    ``azure`` (fnlens's lines through Python ``logging``, which the Azure Functions
    worker sends to the host with the invocation id); ``auto`` (the default) is ``gcp``
    on Cloud Run, ``azure`` on Azure Functions, else ``json``."""
    value = log_format
    if value == "auto":
        env = os.environ
        if env.get("AWS_LAMBDA_FUNCTION_NAME"):
            return "json"
        if env.get("FUNCTIONS_WORKER_RUNTIME"):
            return "azure"
        on_gcp = bool(env.get("K_SERVICE") or env.get("FUNCTION_TARGET"))
        return "gcp" if on_gcp else "json"
    return value
