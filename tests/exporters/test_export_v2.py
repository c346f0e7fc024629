"""Export path v2: the sampler of invocation spans, the resource from the invoked ARN,
the OTLP settings of the specification fnlens's own exporters honour."""

from __future__ import annotations

import random

import pytest

import fnlens
from fnlens.exporters._resource import arn_attributes
from fnlens.runtime._sampling import Sampler, sampler_from_env
from fnlens.testing import LambdaContext, capture, events


def test_ratio_sampler_decides_like_the_sdks():
    """fnlens's ``traceidratio`` keeps exactly the traces the SDK's TraceIdRatioBased
    keeps (lower 64 bits of the id below ratio * 2**64), so both halves of a trace that
    crosses fnlens's spans and the SDK's agree."""
    from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

    rng = random.Random(7)
    for ratio in (0.0, 0.1, 0.5, 0.9, 1.0):
        sdk = TraceIdRatioBased(ratio)
        ours = Sampler("traceidratio", ratio)
        for _ in range(2000):
            trace_id = rng.getrandbits(128)
            kept = sdk.should_sample(None, trace_id, "x").decision == Decision.RECORD_AND_SAMPLE
            assert ours.sampled(None, f"{trace_id:032x}") is kept


@pytest.mark.parametrize(
    "name,parent,expected",
    [
        ("parentbased_always_on", None, True),
        ("parentbased_always_on", False, False),
        ("parentbased_always_off", None, False),
        ("parentbased_always_off", True, True),
        ("always_on", False, True),
        ("always_off", True, False),
    ],
)
def test_parent_based_samplers_follow_the_parent(name, parent, expected):
    assert Sampler(name).sampled(parent, "0" * 32) is expected


def test_sampler_variables_warn_and_fall_back(caplog):
    assert sampler_from_env({}) == Sampler()
    assert sampler_from_env({"OTEL_TRACES_SAMPLER": "xray"}) == Sampler()
    assert "OTEL_TRACES_SAMPLER='xray'" in caplog.text
    assert sampler_from_env(
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "nan"}
    ) == Sampler("traceidratio", 1.0)
    assert sampler_from_env(
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    ) == Sampler("parentbased_traceidratio", 0.25)


@pytest.mark.e2e
@pytest.mark.parametrize("sampler,exported", [("always_off", 0), ("always_on", 20)])
def test_invocation_spans_follow_otel_traces_sampler(
    install, otlp_sink, monkeypatch, sampler, exported
):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)  # (read at the first span)
    install(["otlp"], otlp_endpoint=otlp_sink.endpoint, flush_mode="background")

    @fnlens.instrument
    def handler(event, context):
        return {"statusCode": 200}

    with capture() as captured:
        for _ in range(20):
            handler(events.api_gateway_v2(), LambdaContext())
    assert len(captured.records) == 20  # records are written whatever the sampler says
    fnlens.flush(5.0)
    assert otlp_sink.wait_for(lambda s: len(s.logs) >= 20, timeout_s=10)
    assert len(otlp_sink.spans) == exported


def test_resource_id_replaces_the_alias_with_the_version():
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api:live"
    assert arn_attributes(arn, "42") == {
        "cloud.account.id": "123456789012",
        "cloud.resource_id": "arn:aws:lambda:eu-west-1:123456789012:function:orders-api:42",
    }
    unqualified = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"
    assert arn_attributes(arn, "$LATEST")["cloud.resource_id"] == unqualified
    assert arn_attributes("not-an-arn", "1") == {}
    assert arn_attributes(None, "1") == {}


@pytest.mark.e2e
def test_gzip_compression_and_headers_reach_the_collector(install, otlp_sink):
    env = {
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme%20corp",
    }
    install(["otlp"], otlp_endpoint=otlp_sink.endpoint, flush_mode="background", env=env)

    @fnlens.instrument
    def handler(event, context):
        return {"statusCode": 200}

    with capture():
        handler(events.api_gateway_v2(), LambdaContext(alias="live"))
    fnlens.flush(5.0)
    assert otlp_sink.wait_for(lambda s: len(s.spans) == 1 and len(s.logs) == 1, timeout_s=10)
    assert otlp_sink.gzipped >= 2  # both requests arrived compressed
    assert otlp_sink.headers[-1].get("x-tenant") == "acme corp"
    assert otlp_sink.spans[0]["resource"]["cloud.account.id"] == "123456789012"
