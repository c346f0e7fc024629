"""Runs inside a version-matrix virtualenv (tests/matrix/test_version_matrix.py), with
fnlens installed there from the checkout: the same handler driven by awslambdaric's
runtime loop against fnlens's local Runtime API (``loop``), or called directly in a
script that then exits normally (``direct``). Prints one JSON line: what it did and
the versions it ran with. Spans go to ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent / "handlers"
DIAGNOSTICS: list[str] = []  # fnlens's own stderr lines from the function


def versions() -> dict[str, str]:
    return {name: version(name) for name in ("opentelemetry-sdk", "awslambdaric", "fnlens")}


def loop(request_ids: list[str], environment: dict[str, str]) -> list[dict]:
    from fnlens.localrt import FunctionCode, LocalLambda

    results = []
    with LocalLambda("matrix-fn") as fn:
        fn.update_code(
            FunctionCode("matrix_app.handler", HANDLERS, timeout_s=10.0, environment=environment)
        )
        for n, rid in enumerate(request_ids):
            result = fn.invoke({"n": n}, request_id=rid)
            results.append({"outcome": result.outcome, "body": result.json()})
            DIAGNOSTICS.extend(line for line in result.logs if line.startswith("fnlens:"))
    return results


def direct(request_ids: list[str]) -> list[dict]:
    sys.path.insert(0, str(HANDLERS))
    import matrix_app

    from fnlens.testing import LambdaContext

    return [
        {
            "outcome": "success",
            "body": matrix_app.handler({"n": n}, LambdaContext(aws_request_id=rid)),
        }
        for n, rid in enumerate(request_ids)
    ]


def main() -> None:
    mode, request_ids = sys.argv[1], sys.argv[2].split(",")
    environment = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    results = loop(request_ids, environment) if mode == "loop" else direct(request_ids)
    print(json.dumps({"versions": versions(), "results": results, "diagnostics": DIAGNOSTICS}))


if __name__ == "__main__":
    main()
