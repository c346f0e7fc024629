"""Handler for the marshal-error tests: each event asks for one kind of result."""

from __future__ import annotations

import decimal
import uuid

from fnlens import instrument

RESULTS = {
    "uuid": lambda: {"id": uuid.UUID(int=7)},
    "set": lambda: {"tags": {"a"}},
    "object": object,
    "tuple-key": lambda: {(1, 2): "pair"},
    "decimal": lambda: {"price": decimal.Decimal("9.99")},
    "bytes": lambda: b"\x00\x01raw",
    "http-uuid": lambda: {"statusCode": 200, "body": uuid.UUID(int=8)},
    "fine": lambda: {"statusCode": 200, "body": "ok"},
}


@instrument(service="marshal")
def handler(event, context):
    return RESULTS[event["result"]]()
