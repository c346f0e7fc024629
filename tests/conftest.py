"""Shared test configuration.

Each test starts from a clean fnlens runtime state: no leftover sinks, a fresh
cold-start tracker and no Lambda environment variables from the host.
"""

from __future__ import annotations

import pytest

_LAMBDA_ENV = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "_X_AMZN_TRACE_ID",
    "FNLENS_DISABLED",
    "FNLENS_SERVICE",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "FNLENS_EXPORTERS",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


@pytest.fixture(autouse=True)
def _clean_lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _LAMBDA_ENV:
        monkeypatch.delenv(name, raising=False)
