"""OTLP over HTTP and gRPC through rotel (a real collector) to a recording OTLP sink."""

from __future__ import annotations

import json

import pytest

from tests.support.scripts import lambda_env, run_script

SCRIPT = r"""
import os, sys, json
import fnlens
from fnlens.testing import LambdaContext, events

@fnlens.instrument
def handler(event, context):
    from opentelemetry import trace
    with trace.get_tracer("app").start_as_current_span("db.query"):
        fnlens.get_logger().info("inside handler", item=7)
    if event.get("rawPath") == "/boom":
        raise ValueError("boom")
    return {"statusCode": 201}

n = int(os.environ["TEST_N"])
for i in range(n):
    path = "/boom" if i == n - 1 else f"/orders/{i}"
    ctx = LambdaContext(function_name="orders-api", function_version="42", memory_limit_in_mb=256)
    try:
        handler(events.api_gateway_v2("GET /orders/{id}", path=path), ctx)
    except ValueError:
        pass
spent = fnlens.flush(10.0)
from fnlens.exporters._setup import installed_exporters
for inst in installed_exporters():
    for p in inst.span_processors:
        sys.stderr.write(f"SPANQ exported={p.queue.exported()} dropped={p.queue.dropped()}\n")
    for p in inst.sinks:
        sys.stderr.write(f"SINKQ exported={p.queue.exported()} dropped={p.queue.dropped()}\n")
sys.stderr.write(f"FLUSHED {spent}\n")
"""


def _records(stdout: str) -> list[dict]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            if obj.get("event") == "invocation":
                rows.append(obj)
    return rows


@pytest.mark.e2e
@pytest.mark.parametrize("span_path", ["fast", "sdk"])
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_spans_and_logs_reach_the_backend_through_rotel(rotel, otlp_sink, protocol, span_path):
    n = 12
    endpoint = rotel.http_endpoint if protocol == "http/protobuf" else rotel.grpc_endpoint
    env = lambda_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        FNLENS_SERVICE_VERSION="1.2.3",
        OTEL_SERVICE_NAME="orders",
        TEST_N=n,
        FNLENS_SPAN_PATH=span_path,
    )
    proc = run_script(SCRIPT, env)
    assert proc.returncode == 0, proc.stderr
    records = _records(proc.stdout)
    assert len(records) == n

    def server_spans(sink):
        return [s for s in sink.spans if s["kind"] == 2]

    arrived = otlp_sink.wait_for(lambda s: len(server_spans(s)) >= n and len(s.spans) >= 2 * n)
    assert arrived, (len(otlp_sink.spans), proc.stderr[-3000:], rotel.log.read_text()[-3000:])
    # rotel batches; give a straggler a moment to show up, then the count must be exact
    otlp_sink.wait_for(lambda s: False, timeout_s=0.5)
    spans = server_spans(otlp_sink)
    assert len(spans) == n, [s["name"] for s in spans]
    assert {s["attributes"]["faas.invocation_id"] for s in spans} == {
        r["request_id"] for r in records
    }

    by_id = {s["attributes"]["faas.invocation_id"]: s for s in spans}
    for index, record in enumerate(records):
        span = by_id[record["request_id"]]
        assert span["trace_id"] == record["trace_id"]
        assert span["span_id"] == record["span_id"]
        assert span["name"] == "GET /orders/{id}"
        attrs = span["attributes"]
        assert attrs["faas.trigger"] == "http"
        assert attrs["faas.coldstart"] is (index == 0)
        assert attrs["aws.lambda.invoked_arn"].endswith(":function:orders-api")
        assert attrs["http.route"] == "/orders/{id}"
        assert attrs["http.request.method"] == "GET"
        resource = span["resource"]
        assert resource["service.name"] == "orders"
        assert resource["service.version"] == "1.2.3"
        assert resource["cloud.provider"] == "aws"
        assert resource["cloud.platform"] == "aws_lambda"
        assert resource["cloud.region"] == "eu-west-1"
        assert resource["faas.name"] == "orders-api"
        assert resource["faas.version"] == "42"
        assert resource["faas.instance"] == "2024/01/01/[42]abcdef0123456789"
        assert resource["faas.max_memory"] == 256 * 1024 * 1024
        if record["outcome"] == "error":
            assert span["status_code"] == 2  # STATUS_CODE_ERROR
            assert "exception" in span["events"]
            assert attrs["http.response.status_code"] == 500
        else:
            assert span["status_code"] != 2
            assert attrs["http.response.status_code"] == 201

    # spans created by the handler with the OpenTelemetry API are children
    children = [s for s in otlp_sink.spans if s["name"] == "db.query"]
    assert len(children) == n
    parents = {(s["trace_id"], s["span_id"]) for s in spans}
    assert {(c["trace_id"], c["parent_span_id"]) for c in children} == parents

    # invocation records and user log lines as OTLP log records with trace context
    assert otlp_sink.wait_for(lambda s: len(s.logs) >= 2 * n)
    invocation_logs = [r for r in otlp_sink.logs if r["body"] == "invocation"]
    assert len(invocation_logs) == n
    for log in invocation_logs:
        rid = log["attributes"]["request_id"]
        span = by_id[rid]
        assert (log["trace_id"], log["span_id"]) == (span["trace_id"], span["span_id"])
    user_lines = [r for r in otlp_sink.logs if r["body"] == "inside handler"]
    assert len(user_lines) == n
    assert all(r["attributes"]["item"] == 7 and r["trace_id"] for r in user_lines)
