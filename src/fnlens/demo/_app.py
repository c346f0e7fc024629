"""Where the example orders API lives, and how the demo deploys it (v1, v2, a canary alias)."""

from __future__ import annotations

import os
from dataclasses import replace
from importlib import resources
from pathlib import Path

from fnlens.localrt import FunctionCode, LocalLambda

FUNCTION_NAME = "orders-api"
ALIAS = "live"
HANDLER = "app.handler"


def example_dir() -> Path:
    """``examples/orders_api`` of a checkout, or the copy shipped inside the wheel."""
    checkout = Path(__file__).resolve().parents[3] / "examples" / "orders_api"
    if (checkout / "app.py").is_file():
        return checkout
    packaged = resources.files("fnlens").joinpath("_data", "examples", "orders_api")
    if packaged.is_dir() and packaged.joinpath("app.py").is_file():
        return Path(str(packaged))
    raise FileNotFoundError("the example app (examples/orders_api) is not in this installation")


def telemetry_env(telemetry_dir: Path) -> tuple[dict[str, str], str]:
    """Exporter settings for the function, and a sentence saying where spans go.

    A collector configured by the standard OTLP variables wins (they pass
    through to the function); otherwise spans are written to local files.
    """
    env = os.environ
    endpoint = next(
        (
            env[k]
            for k in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
            if env.get(k)
        ),
        None,
    )
    if endpoint:
        return {}, f"spans → OTLP collector at {endpoint}"
    return (
        {"FNLENS_EXPORTERS": "file", "FNLENS_FILE_DIR": str(telemetry_dir)},
        f"spans → {telemetry_dir}",
    )


def deploy(
    fn: LocalLambda,
    *,
    canary_weight: float,
    extra_env: dict[str, str],
    memory_mb: int = 256,
    timeout_s: float = 6.0,
) -> tuple[str, str]:
    """Publish v1 and v2 of the example and point the ``live`` alias at both."""
    base = FunctionCode(
        HANDLER,
        example_dir(),
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        environment={"ORDERS_API_VARIANT": "v1", **extra_env},
        description="orders API v1",
    )
    v1 = fn.publish_version(base)
    v2_code = replace(
        base,
        environment={**base.environment, "ORDERS_API_VARIANT": "v2"},
        description="orders API v2: currency conversion, customer enrichment",
    )
    v2 = fn.publish_version(v2_code)
    fn.create_alias(ALIAS, v1, additional_version=v2, weight=canary_weight)
    return v1, v2
