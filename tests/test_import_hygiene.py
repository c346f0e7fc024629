"""The middleware's import path stays light (docs/architecture.md, "Import rules"): a
Lambda bundle must not need DuckDB, boto3, the X-Ray SDK, gRPC or the CLI's libraries."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "duckdb",
    "boto3",
    "botocore",
    "aws_xray_sdk",
    "grpc",
    "click",
    "rich",
    "pyarrow",
    "plotly",
    "pyspark",
    "py4j",
    "sqlglot",
    "opentelemetry.sdk",
    "fnlens.analysis",
    "fnlens.cli",
    "fnlens.exporters",
)

SCRIPT = """
import json, sys
import fnlens
after_import = sorted(sys.modules)

@fnlens.instrument
def handler(event, context):
    fnlens.get_logger().info("hi")
    return {"statusCode": 200}

EVENT = {"version": "2.0", "routeKey": "GET /x", "requestContext": {"http": {"method": "GET"}}}
handler(EVENT, None)
print(json.dumps({"after_import": after_import, "after_use": sorted(sys.modules)}))
"""


def _loaded(env_extra=None):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FNLENS_", "OTEL_"))}
    env.update(env_extra or {})
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, env=env
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _forbidden(modules):
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_import_fnlens_loads_nothing_heavy():
    loaded = _loaded()
    assert _forbidden(loaded["after_import"]) == []
    # `import fnlens` alone does not even load structlog or OpenTelemetry
    assert "structlog" not in loaded["after_import"]
    assert not any(m.startswith("opentelemetry") for m in loaded["after_import"])


STRUCTLOG_ALONE = "import json, sys, structlog; print(json.dumps(sorted(sys.modules)))"


def test_decorating_and_invoking_loads_nothing_heavy():
    loaded = _loaded()
    # structlog itself imports `rich` when it happens to be installed (for its dev
    # console renderer); that is structlog's choice, present with or without fnlens,
    # and absent from a Lambda bundle built from `pip install fnlens`.
    baseline = json.loads(
        subprocess.run(
            [sys.executable, "-c", STRUCTLOG_ALONE], capture_output=True, text=True, check=True
        ).stdout
    )
    extra = set(_forbidden(loaded["after_use"])) - set(baseline)
    assert sorted(extra) == []
    assert not any(m.startswith("opentelemetry") for m in loaded["after_use"])
