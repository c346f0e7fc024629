"""Issue 19, item 5 end to end: under the real runtime client (awslambdaric, started by
the local runtime) the invocation record and the runtime's answer agree on every
result the runtime cannot serialise, and on those it can."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")

from fnlens.localrt import FunctionCode, LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HANDLERS = Path(__file__).parent / "handlers"
CASES = ["uuid", "set", "object", "tuple-key", "http-uuid", "decimal", "bytes", "fine"]


def test_record_says_what_the_runtime_answered(tmp_path: Path) -> None:
    with LocalLambda("marshal-e2e", out_dir=tmp_path / "logs") as fn:
        fn.update_code(FunctionCode("marshal_app.handler", HANDLERS, timeout_s=10.0))
        results = {name: fn.invoke({"result": name}) for name in CASES}
    for name, result in results.items():
        records = [
            json.loads(line)
            for line in result.logs
            if line.startswith("{") and json.loads(line).get("event") == "invocation"
        ]
        assert len(records) == 1, (name, result.logs)
        record = records[0]
        if result.outcome == "success":
            assert (record["outcome"], record["error_type"]) == ("success", None), name
            continue
        answer = json.loads(result.payload)  # what the caller of Invoke got
        assert answer["errorType"] == "Runtime.MarshalError", name
        assert record["outcome"] == "error", name
        assert record["error_type"] == answer["errorType"], name
        assert record["error_message"] == answer["errorMessage"], name
    failed = sorted(n for n, r in results.items() if r.outcome != "success")
    assert failed == ["http-uuid", "object", "set", "tuple-key", "uuid"]
