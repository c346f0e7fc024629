"""Run Python snippets in fresh interpreters, as a Lambda function's process would be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository (``tests.support`` importable)


def run_script(
    script: str, env: dict[str, str], timeout_s: float = 60.0, args: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh interpreter (exporters configure once per process);
    ``args`` become its ``sys.argv[1:]``."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "_X_AMZN"))
    }
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
    return subprocess.run(
        [sys.executable, "-c", script, *(args or [])],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=str(ROOT),
    )


def lambda_env(**extra: Any) -> dict[str, str]:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
        "AWS_LAMBDA_FUNCTION_VERSION": "42",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[42]abcdef0123456789",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders-api",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env
