"""Handler for the Telemetry API tests: prints lines the function stream carries."""

from __future__ import annotations


def handler(event, context):
    for i in range(event.get("lines", 1)):
        print(f"function line {i} of {context.aws_request_id}" + "x" * event.get("pad", 0))
    return {"ok": True}
