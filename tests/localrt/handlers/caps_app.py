"""Handler for the caps tests: each event asks for one result or one output."""

from __future__ import annotations

from fnlens import instrument

RAW = b"\xff\xfe\x00 raw bytes, not UTF-8"


@instrument(service="caps")
def handler(event, context):
    if "print_bytes" in event:
        print("y" * event["print_bytes"])
        return {"printed": event["print_bytes"]}
    if "string_of" in event:
        return "x" * event["string_of"]  # JSON adds two quotes
    if event.get("raw"):
        return RAW
    if "raise_chars" in event:
        raise ValueError("m" * event["raise_chars"])
    return {"ok": True}
