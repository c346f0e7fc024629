"""Under the real AWS runtime client (awslambdaric) and the local Runtime API: spans reach
rotel, and ``_X_AMZN_TRACE_ID`` ties them to the invocation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")

from fnlens.localrt import FunctionCode, LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HANDLERS = Path(__file__).parent.parent / "e2e" / "handlers"


def test_spans_reach_rotel_with_the_lambda_trace_context(rotel, otlp_sink, tmp_path):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "FNLENS_FLUSH_BUDGET_MS": "50",
    }
    invocations = [
        ("1-6b000001-0123456789abcdef01234567", "53995c3f42cd8ad8", "1"),
        ("1-6b000002-0123456789abcdef01234568", "53995c3f42cd8ad9", "1"),
        ("1-6b000003-0123456789abcdef01234569", "53995c3f42cd8ada", "0"),
    ]
    records = []
    with LocalLambda("orders-spans", out_dir=tmp_path / "logs") as fn:
        fn.update_code(FunctionCode("e2e_app.handler", HANDLERS, timeout_s=10.0, environment=env))
        for root, parent, sampled in invocations:
            header = f"Root={root};Parent={parent};Sampled={sampled}"
            result = fn.invoke({"action": "get"}, trace_header=header)
            lines = [json.loads(x) for x in result.logs if x.startswith("{")]
            records += [x for x in lines if x.get("event") == "invocation"]
        assert len(records) == 3
        assert otlp_sink.wait_for(lambda s: len([x for x in s.spans if x["kind"] == 2]) >= 3)

    spans = {s["attributes"]["faas.invocation_id"]: s for s in otlp_sink.spans if s["kind"] == 2}
    assert len(spans) == 3
    for record, (root, parent, sampled) in zip(records, invocations, strict=True):
        span = spans[record["request_id"]]
        trace_id = root[2:].replace("-", "")
        assert span["trace_id"] == trace_id == record["trace_id"]
        assert record["xray_trace_id"] == root
        assert span["span_id"] == record["span_id"]
        # auto policy: a sampled X-Ray context is the parent; an unsampled one only
        # lends its trace id (and becomes a link), so the caller's trace is not lost
        if sampled == "1":
            assert span["parent_span_id"] == parent
        else:
            assert span["parent_span_id"] == ""
            assert [link["span_id"] for link in span["links"]] == [parent]
        assert span["resource"]["faas.name"] == "orders-spans"
        assert span["resource"]["cloud.provider"] == "aws"
        assert span["attributes"]["faas.coldstart"] is (record is records[0])
