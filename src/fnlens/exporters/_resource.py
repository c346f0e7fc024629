"""The OpenTelemetry resource of a function: FaaS semantic conventions.

Built once, when exporters are installed (during the function's init phase), from
the platform's environment variables. ``OTEL_RESOURCE_ATTRIBUTES`` overrides what
is detected; ``service.name`` follows fnlens's own precedence (argument,
``FNLENS_SERVICE``, ``OTEL_SERVICE_NAME``, the function name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fnlens._config import Settings, parse_resource_attributes
from fnlens._version import __version__
from fnlens.runtime._identity import cloud_platform, function_identity


def resource_attributes(
    settings: Settings,
    *,
    identity: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Resource attributes (``service.*``, ``cloud.*``, ``faas.*``, ``telemetry.sdk.*``)."""
    env = os.environ if env is None else env
    ident = dict(identity) if identity is not None else function_identity(None, "handler")
    provider = ident.get("cloud_provider") or "local"
    attrs: dict[str, Any] = {
        "telemetry.distro.name": "fnlens",
        "telemetry.distro.version": __version__,
    }
    if provider != "local":
        attrs["cloud.provider"] = provider
        attrs["cloud.platform"] = cloud_platform(provider) or provider
    if ident.get("region"):
        attrs["cloud.region"] = ident["region"]
    name = ident.get("function_name")
    # Azure: faas.name is "<app>/<function>", a span attribute (one app, many functions)
    if name and name != "handler" and provider != "azure":
        attrs["faas.name"] = name
    if ident.get("function_version"):
        attrs["faas.version"] = ident["function_version"]
    if ident.get("log_stream"):
        attrs["faas.instance"] = ident["log_stream"]
    memory_mb = ident.get("memory_limit_mb")
    if memory_mb:
        attrs["faas.max_memory"] = int(memory_mb) * 1024 * 1024  # semconv: bytes
    if provider == "aws" and env.get("AWS_LAMBDA_LOG_GROUP_NAME"):
        attrs["aws.log.group.names"] = (env["AWS_LAMBDA_LOG_GROUP_NAME"],)

    attrs.update(parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES")))
    attrs.update(settings.resource_attributes)
    attrs["service.name"] = (
        settings.service or env.get("OTEL_SERVICE_NAME") or name or "unknown_service"
    )
    if settings.service_version:
        attrs["service.version"] = settings.service_version
    return attrs


def arn_attributes(invoked_arn: str | None, version: str | None) -> dict[str, str]:
    """``cloud.account.id`` and ``cloud.resource_id`` from an invoked function ARN. The
    resource id is the function's ARN with the version this process runs (an alias
    replaced by it, as the semantic conventions ask: one environment serves several
    aliases), unqualified for ``$LATEST``."""
    if not invoked_arn:
        return {}
    parts = invoked_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[5] != "function":
        return {}
    out = {"cloud.account.id": parts[4]}
    base = ":".join(parts[:7])
    if version and version != "$LATEST":
        out["cloud.resource_id"] = f"{base}:{version}"
    else:
        out["cloud.resource_id"] = base
    return out


def full_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` with the ``telemetry.sdk.*`` attributes the SDK's
    ``Resource.create`` adds (the spans fnlens records itself and the SDK's spans then
    share one resource, byte for byte)."""
    full = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": _sdk_version(),
    }
    full.update(attributes)
    from fnlens.runtime._telemetry import TELEMETRY

    for key, value in arn_attributes(TELEMETRY.invoked_arn, attributes.get("faas.version")).items():
        full.setdefault(key, value)
    return full


def _sdk_version() -> str:
    """The OpenTelemetry version (the API's: API and SDK are released together). Not
    ``importlib.metadata``: scanning the installed distributions takes 100+ ms; not
    the SDK's module: the SDK is not imported until the function's code needs it."""
    from opentelemetry.version import __version__ as otel_version

    return str(otel_version)


def wire_resource(attributes: Mapping[str, Any]) -> Any:
    """The resource as fnlens's own OTLP encoder writes it (no SDK import)."""
    from fnlens.exporters._otlp_wire import ResourceData

    return ResourceData(full_attributes(attributes))


def build_resource(attributes: Mapping[str, Any]) -> Any:
    """An SDK ``Resource`` with the same attributes as :func:`wire_resource` (imports the
    SDK: for the SDK's own tracer provider and the gRPC exporters)."""
    from opentelemetry.sdk.resources import Resource

    return Resource(full_attributes(attributes))
