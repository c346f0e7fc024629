"""fnlens's own TracerProvider is built at its first use: a function whose code creates
no spans never imports the OpenTelemetry SDK during its init phase, and one that does
gets the SDK provider, with the function's resource and fnlens's processors, as soon
as it asks for a tracer."""

from __future__ import annotations

import json

import pytest

from tests.support.scripts import lambda_env, run_script

SCRIPT = r"""
import json, sys
import fnlens
from fnlens.testing import LambdaContext, events

@fnlens.instrument
def handler(event, context):
    if event.get("rawPath") == "/traced":
        from opentelemetry import trace
        with trace.get_tracer("app").start_as_current_span("db.query"):
            pass
    return {"statusCode": 200}

def sdk_loaded():
    return sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))

from opentelemetry import trace
provider = trace.get_tracer_provider()
report = {"after_init": sdk_loaded(), "provider": type(provider).__name__}
ctx = LambdaContext(function_name="orders-api", function_version="42")
handler(events.api_gateway_v2("GET /orders/{id}", path="/plain"), ctx)
if sys.argv[1:] == ["own-processor"]:
    # the common pattern: check for an SDK provider, add a processor of one's own
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    report["isinstance_sdk"] = isinstance(trace.get_tracer_provider(), TracerProvider)
    report["fnlens_provider_is_sdk"] = isinstance(fnlens.tracer_provider(), TracerProvider)
    memory = InMemorySpanExporter()
    fnlens.tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
handler(events.api_gateway_v2("GET /orders/{id}", path="/traced"), ctx)
fnlens.flush(10.0)
if sys.argv[1:] == ["own-processor"]:
    report["own_processor_saw"] = sorted(s.name for s in memory.get_finished_spans())
report["resource"] = dict(provider.resource.attributes)
from opentelemetry.sdk.trace import TracerProvider as SDKProvider
report["sdk_type"] = isinstance(provider.sdk_provider(), SDKProvider)
sys.stderr.write("REPORT " + json.dumps(report, default=list) + "\n")
"""


def _run(otlp_sink, *args: str) -> dict:
    env = lambda_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_sink.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        FNLENS_FLUSH_MODE="budget",
    )
    proc = run_script(SCRIPT, env, args=list(args))
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("REPORT "))
    return json.loads(line[len("REPORT ") :])


@pytest.mark.e2e
def test_the_sdk_is_imported_only_when_the_function_asks_for_a_tracer(otlp_sink):
    report = _run(otlp_sink)
    assert report["after_init"] == []  # not during init
    # (the first export imports it, on the export thread, after the first invocation)
    assert report["provider"] == "DeferredTracerProvider"
    assert report["sdk_type"] is True  # a real SDK provider
    assert report["resource"]["faas.name"] == "orders-api"
    assert report["resource"]["cloud.region"] == "eu-west-1"
    assert otlp_sink.wait_for(lambda s: len(s.spans) >= 3)
    by_name = {s["name"]: s for s in otlp_sink.spans}
    query, invocation = by_name["db.query"], by_name["GET /orders/{id}"]
    # the function's own span: a child of the invocation span, with the same resource
    traced = [s for s in otlp_sink.spans if s["span_id"] == query["parent_span_id"]]
    assert len(traced) == 1 and traced[0]["kind"] == 2
    assert query["trace_id"] == traced[0]["trace_id"]
    assert query["resource"]["faas.name"] == invocation["resource"]["faas.name"] == "orders-api"
    assert len([s for s in otlp_sink.spans if s["kind"] == 2]) == 2


@pytest.mark.e2e
def test_an_application_processor_on_fnlens_provider_sees_every_span(otlp_sink):
    """fnlens's provider is an API provider of its own (it does not claim to be the
    SDK's); ``fnlens.tracer_provider()`` is the real SDK provider, and a processor the
    application adds there sees the invocation span too."""
    report = _run(otlp_sink, "own-processor")
    assert report["isinstance_sdk"] is False
    assert report["fnlens_provider_is_sdk"] is True
    assert report["own_processor_saw"] == ["GET /orders/{id}", "db.query"]
    assert otlp_sink.wait_for(lambda s: len([x for x in s.spans if x["kind"] == 2]) >= 2)
