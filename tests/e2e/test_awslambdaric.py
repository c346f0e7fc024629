"""@instrument under the real AWS runtime client (awslambdaric) and a Runtime API on 127.0.0.1.

The local runtime starts ``python -m awslambdaric e2e_app.handler`` as a child
process: the handler module is really imported on the first (cold) invocation,
request ids arrive in ``Lambda-Runtime-Aws-Request-Id`` and the X-Ray header in
``Lambda-Runtime-Trace-Id``, which awslambdaric copies into ``_X_AMZN_TRACE_ID``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")

from fnlens.localrt import FunctionCode, LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HANDLERS = Path(__file__).parent / "handlers"


def invocation_records(logs: list[str]) -> list[dict]:
    out = []
    for line in logs:
        if line.startswith("{"):
            obj = json.loads(line)
            if obj.get("event") == "invocation":
                out.append(obj)
    return out


def report_init_ms(logs: list[str]) -> float | None:
    for line in logs:
        if line.startswith("REPORT "):
            m = re.search(r"Init Duration: ([\d.]+) ms", line)
            return float(m.group(1)) if m else None
    raise AssertionError(f"no REPORT line in {logs}")


@pytest.fixture
def fn(tmp_path: Path):
    with LocalLambda("orders-e2e", out_dir=tmp_path / "logs") as lam:
        lam.update_code(FunctionCode("e2e_app.handler", HANDLERS, timeout_s=10.0))
        yield lam


def test_cold_then_warm_then_error(fn: LocalLambda) -> None:
    roots = [
        "1-6b000001-0123456789abcdef01234567",
        "1-6b000002-0123456789abcdef01234568",
        "1-6b000003-0123456789abcdef01234569",
        "1-6b000004-0123456789abcdef0123456a",
    ]
    request_ids = [
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
        "33333333-3333-4333-8333-333333333333",
        "44444444-4444-4444-8444-444444444444",
    ]
    results = []
    for i, (root, rid) in enumerate(zip(roots, request_ids, strict=True)):
        header = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=0"
        event = {"action": "fail" if i == 3 else "get"}
        results.append(fn.invoke(event, trace_header=header, request_id=rid))

    # one environment served all four: the first was cold, the rest warm
    assert len({r.environment_id for r in results}) == 1
    assert [r.cold_start for r in results] == [True, False, False, False]

    records = [invocation_records(r.logs) for r in results]
    assert all(len(rs) == 1 for rs in records), records
    recs = [rs[0] for rs in records]
    for rec, root, rid in zip(recs, roots, request_ids, strict=True):
        assert rec["request_id"] == rid  # the Runtime API's Lambda-Runtime-Aws-Request-Id
        assert rec["xray_trace_id"] == root  # from _X_AMZN_TRACE_ID set by awslambdaric
        assert rec["trace_id"] == root[2:].replace("-", "")  # the trace id keeps the X-Ray root
        assert rec["cloud_provider"] == "aws"
        assert rec["function_name"] == "orders-e2e"
        assert rec["function_version"] == "$LATEST"
        assert rec["memory_limit_mb"] == 128

    assert [r["cold_start"] for r in recs] == [True, False, False, False]
    assert recs[0]["init_type"] == "on-demand"
    assert recs[0]["init_duration_ms"] is not None and recs[0]["init_duration_ms"] > 0
    assert all(r["init_duration_ms"] is None for r in recs[1:])
    # fnlens's in-process measurement agrees with the platform's REPORT Init Duration
    platform_init = report_init_ms(results[0].logs)
    assert platform_init is not None and platform_init > 0
    assert abs(recs[0]["init_duration_ms"] - platform_init) < 150.0, (
        recs[0]["init_duration_ms"],
        platform_init,
    )
    assert all(report_init_ms(r.logs) is None for r in results[1:])

    # successful responses came back through /invocation/{id}/response
    body = results[1].json()
    assert body["ok"] is True and body["request_id"] == request_ids[1]
    assert body["xray"].startswith(f"Root={roots[1]};")
    assert 0 < body["remaining_ms"] <= 10_000

    # the error: recorded by fnlens, re-raised, reported by awslambdaric on /error
    err = recs[3]
    assert err["outcome"] == "error" and err["level"] == "error"
    assert err["error_type"] == "ValueError"
    assert err["error_message"] == "order 42 is broken"
    assert results[3].outcome == "error" and results[3].function_error == "Unhandled"
    assert results[3].json()["errorType"] == "ValueError"
    env = fn.environments()[0]
    posted = [path for method, path in env.api.calls if method == "POST"]
    assert f"/2018-06-01/runtime/invocation/{request_ids[3]}/error" in posted
    for rid in request_ids[:3]:
        assert f"/2018-06-01/runtime/invocation/{rid}/response" in posted

    # user log lines carry the invocation's ids
    lines = [json.loads(x) for x in results[2].logs if x.startswith('{"timestamp"')]
    handling = [x for x in lines if x.get("event") == "handling"]
    assert handling and handling[0]["request_id"] == request_ids[2]
    assert handling[0]["cold_start"] is False
