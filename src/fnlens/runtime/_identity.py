"""Who is running: cloud provider, region and the function's platform identity."""

from __future__ import annotations

import os
from typing import Any

# The function's identity in an invocation record, in rendering order.
IDENTITY_FIELDS = (
    "service",
    "service_version",
    "cloud_provider",
    "region",
    "function_name",
    "function_version",
    "function_alias",
    "memory_limit_mb",
)


def cloud_provider(context: Any) -> str:
    env = os.environ
    if getattr(context, "aws_request_id", None) or env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "aws"
    if env.get("FUNCTIONS_WORKER_RUNTIME") or env.get("WEBSITE_SITE_NAME"):
        return "azure"
    if env.get("FUNCTION_TARGET") or env.get("K_SERVICE"):
        return "gcp"
    return "local"


def cloud_platform(provider: str) -> str | None:
    """``cloud.platform`` as the OpenTelemetry semantic conventions name it. Cloud Run
    functions (``FUNCTION_TARGET`` set, as functions-framework's deployments do) keep
    ``gcp_cloud_functions``: the conventions have no value of their own for the renamed
    product, and Google's resource detectors use that one; any other Cloud Run service
    is ``gcp_cloud_run``."""
    if provider == "aws":
        return "aws_lambda"
    if provider == "azure":
        return "azure_functions"
    if provider == "gcp":
        return "gcp_cloud_functions" if os.environ.get("FUNCTION_TARGET") else "gcp_cloud_run"
    return None


def region(provider: str) -> str | None:
    env = os.environ
    if provider == "aws":
        return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if provider == "azure":
        return env.get("REGION_NAME")
    if provider == "gcp":
        return env.get("FUNCTION_REGION") or env.get("GOOGLE_CLOUD_REGION")
    return None


def alias_from_arn(arn: Any) -> str | None:
    """The alias of a qualified invoked ARN (``…:function:name:live``); None for versions."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    if len(parts) < 8:
        return None
    qualifier = parts[7]
    if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
        return None
    return qualifier


def function_identity(context: Any, handler_name: str) -> dict[str, Any]:
    """Static identity of this process's function, from the context object and the env."""
    env = os.environ
    provider = cloud_provider(context)
    memory = getattr(context, "memory_limit_in_mb", None) or env.get(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    )
    try:
        memory_mb = int(memory) if memory is not None else None
    except (TypeError, ValueError):
        memory_mb = None
    name = (
        getattr(context, "function_name", None)
        or env.get("AWS_LAMBDA_FUNCTION_NAME")
        or env.get("K_SERVICE")
        or env.get("WEBSITE_SITE_NAME")
        or handler_name
    )
    version = (
        getattr(context, "function_version", None)
        or env.get("AWS_LAMBDA_FUNCTION_VERSION")
        or env.get("K_REVISION")
    )
    return {
        "cloud_provider": provider,
        "region": region(provider),
        "function_name": name,
        "function_version": version,
        "memory_limit_mb": memory_mb,
        "log_stream": getattr(context, "log_stream_name", None)
        or env.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
