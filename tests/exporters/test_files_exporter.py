"""Files exporter: JSONL events and spans in the OpenTelemetry Collector file-exporter encoding."""

from __future__ import annotations

import base64
import copy
import json
import re

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import fnlens
from fnlens.exporters import reset_exporters
from fnlens.testing import LambdaContext, events

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _walk_values(obj):
    if isinstance(obj, dict):
        if "intValue" in obj:
            yield obj
        for value in obj.values():
            yield from _walk_values(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _walk_values(value)


def test_files_round_trip_in_collector_encoding(install, tmp_path):
    installed = install(["file"], file_dir=str(tmp_path), flush_mode="budget")
    assert installed.names == ["file"]

    @fnlens.instrument(service="files-test")
    def handler(event, context):
        fnlens.get_logger().info("working", step=1)
        if event.get("rawPath") == "/fail":
            raise RuntimeError("nope")
        return {"statusCode": 200}

    n = 5
    for i in range(n):
        path = "/fail" if i == 2 else f"/orders/{i}"
        try:
            handler(events.api_gateway_v2("GET /orders/{id}", path=path), LambdaContext())
        except RuntimeError:
            pass
    reset_exporters(timeout_s=5.0)

    lines = (tmp_path / "fnlens.jsonl").read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    records = [o for o in objects if o["event"] == "invocation"]
    logs = [o for o in objects if o["event"] == "working"]
    assert len(records) == n and len(logs) == n
    assert [r["outcome"] for r in records].count("error") == 1
    assert all(list(o)[:3] == ["timestamp", "level", "event"] for o in objects)

    span_lines = (tmp_path / "traces.otlp.jsonl").read_text().splitlines()
    assert span_lines
    spans = []
    for line in span_lines:
        doc = json.loads(line)
        assert set(doc) == {"resourceSpans"}
        for rs in doc["resourceSpans"]:
            keys = {a["key"] for a in rs["resource"]["attributes"]}
            assert "service.name" in keys
            for ss in rs["scopeSpans"]:
                assert ss["scope"]["name"] == "fnlens"
                spans.extend(ss["spans"])
        # int64 as strings, enums as integers
        for value in _walk_values(doc):
            assert isinstance(value["intValue"], str)
        # a valid OTLP JSON document once ids are turned back into protobuf's base64
        doc = copy.deepcopy(doc)
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in span:
                            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        json_format.ParseDict(doc, ExportTraceServiceRequest())

    assert len(spans) == n
    by_span = {s["spanId"]: s for s in spans}
    for record in records:
        span = by_span[record["span_id"]]
        assert HEX32.match(span["traceId"]) and span["traceId"] == record["trace_id"]
        assert HEX16.match(span["spanId"])
        assert span["kind"] == 2  # SPAN_KIND_SERVER, as an integer
        assert isinstance(span["startTimeUnixNano"], str) and span["startTimeUnixNano"].isdigit()
        attrs = {a["key"]: a["value"] for a in span["attributes"]}
        assert attrs["faas.invocation_id"] == {"stringValue": record["request_id"]}
        if record["outcome"] == "error":
            assert span["status"]["code"] == 2
        else:
            assert attrs["http.response.status_code"] == {"intValue": "200"}


def test_analysis_layer_recognises_the_span_file(install, tmp_path):
    from fnlens.analysis._formats import otlp_json

    install(["file"], file_dir=str(tmp_path), flush_mode="budget")

    @fnlens.instrument
    def handler(event, context):
        return "ok"

    handler({}, LambdaContext())
    reset_exporters(timeout_s=5.0)
    doc = json.loads((tmp_path / "traces.otlp.jsonl").read_text().splitlines()[0])
    assert otlp_json.is_otlp(doc)
