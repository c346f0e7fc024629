"""Span links for SQS batches, OTEL_PROPAGATORS, X-Ray-compatible trace ids."""

from __future__ import annotations

import json
import re
import time

import pytest

import fnlens
from fnlens.exporters import reset_exporters
from fnlens.runtime import _propagation as propagation
from fnlens.testing import LambdaContext, events


def _spans(directory):
    spans = []
    for line in (directory / "traces.otlp.jsonl").read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans.extend(ss["spans"])
    return spans


def test_sqs_batch_gets_one_link_per_traced_message(install, tmp_path):
    install(["file"], file_dir=str(tmp_path), flush_mode="budget")

    @fnlens.instrument
    def handler(event, context):
        return {"batchItemFailures": []}

    headers = [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        None,
        "Root=1-5759e989-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=0",
    ]
    handler(events.sqs(["a", "b", "c"], trace_headers=headers), LambdaContext())
    reset_exporters(timeout_s=5)
    (span,) = _spans(tmp_path)
    links = span["links"]
    assert [(x["traceId"], x["spanId"]) for x in links] == [
        ("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"),
        ("5759e989bd862e3fe1be46a994272794", "53995c3f42cd8ad9"),
    ]
    assert span.get("parentSpanId", "") == ""  # a batch has no single parent


def test_trace_ids_are_valid_xray_ids(install, tmp_path):
    install(["file"], file_dir=str(tmp_path), flush_mode="budget")

    @fnlens.instrument
    def handler(event, context):
        return 1

    for _ in range(3):
        handler({}, LambdaContext())
    reset_exporters(timeout_s=5)
    for span in _spans(tmp_path):
        assert abs(int(span["traceId"][:8], 16) - time.time()) < 600


def test_otel_propagators_limits_the_candidates(monkeypatch):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", xray)
    monkeypatch.setenv("OTEL_PROPAGATORS", "xray")
    propagation.reload_propagators()
    decision = propagation.decide({"traceparent": traceparent}, "auto")
    assert decision.parent is not None and decision.parent.source == "xray"

    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext,baggage")
    propagation.reload_propagators()
    decision = propagation.decide({}, "auto")
    assert decision.parent is None and decision.candidates == ()

    monkeypatch.delenv("OTEL_PROPAGATORS")
    propagation.reload_propagators()
    decision = propagation.decide({"traceparent": traceparent}, "auto")
    assert decision.parent.source == "http" and len(decision.candidates) == 2
    # (the autouse fnlens.testing.reset() reads OTEL_PROPAGATORS again afterwards)


XRAY_HEADERS = [
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "Root=1-5759E988-BD862e3fe1be46a994272793;Parent=53995C3F42cd8ad8;Sampled=0;Lineage=a:1",
    "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1",
    (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
        "Root=1-11111111-bd862e3fe1be46a994272793"
    ),
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1x",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Parent=53995c3f42cd8ad8",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a994272793",
]


@pytest.mark.parametrize("header", XRAY_HEADERS)
def test_lambda_xray_fast_path_reads_headers_like_the_general_parser(header, monkeypatch):
    # (a unit test of the private parser: its fast path against its general one)
    fast = propagation._from_xray(header)
    propagation._XRAY_CACHE.clear()
    monkeypatch.setattr(propagation, "_LAMBDA_XRAY", re.compile("(?!)"))  # never matches
    assert propagation._from_xray(header) == fast
