"""@instrument on Cloud Run functions, driven through functions-framework's own app
(``create_app(...).test_client()``): HTTP and CloudEvent targets, ``traceparent`` and the
legacy ``X-Cloud-Trace-Context`` header, Cloud Logging's structured lines."""

from __future__ import annotations

import pytest

from tests.clouds._drive import APPS, run

pytest.importorskip("functions_framework")

SOURCE = str(APPS / "gcp_main.py")
REVISION = "orders-00003-abc"


def _env(target, **extra):
    env = {
        "K_SERVICE": "orders",
        "K_REVISION": REVISION,
        "K_CONFIGURATION": "orders",
        "FUNCTION_TARGET": target,
        "GOOGLE_CLOUD_PROJECT": "demo-project",
    }
    env.update(extra)
    return env


def _drive(tmp_path, target, scenario, **extra):
    return run("drive_gcp.py", [SOURCE, target, scenario], _env(target, **extra), tmp_path)


def _records(driven):
    return [line for line in driven["lines"] if line.get("event") == "invocation"]


def _parent(sent):
    """The caller's trace context, decoded here independently of fnlens."""
    headers = sent["headers"]
    if "traceparent" in headers:
        _, trace_id, span_id, flags = headers["traceparent"].split("-")
        return trace_id, span_id, flags == "01"
    trace_id, rest = headers["X-Cloud-Trace-Context"].split("/")
    decimal, options = rest.split(";o=")
    return trace_id, f"{int(decimal):016x}", options == "1"


@pytest.mark.parametrize("scenario", ["traceparent", "cloudtrace"])
def test_http_function_records_spans_and_cloud_logging_lines(tmp_path, scenario):
    driven = _drive(tmp_path, "hello", scenario)
    sent, records = driven["sent"], _records(driven)
    assert [s["status"] for s in sent] == [202, 202, 202]
    assert len(records) == len(sent) == 3
    for call, record in zip(sent, records, strict=True):
        trace_id, _, sampled = _parent(call)
        assert record["request_id"] == call["headers"]["Function-Execution-Id"]
        assert record["trace_id"] == trace_id
        assert (record["cloud_provider"], record["function_name"]) == ("gcp", "orders")
        assert record["function_version"] == REVISION
        assert (record["trigger"], record["event_source"]) == ("http", "gcp:http")
        assert (record["http_method"], record["http_status_code"]) == ("GET", 202)
        assert record["http_route"] == "/"
        # Cloud Logging's special fields, so that it correlates the entry with the trace
        assert record["severity"] == "INFO"
        assert record["message"] == "invocation"
        assert record["time"] == record["timestamp"]
        assert record["logging.googleapis.com/trace"] == (
            f"projects/demo-project/traces/{trace_id}"
        )
        assert record["logging.googleapis.com/spanId"] == record["span_id"]
        assert record["logging.googleapis.com/trace_sampled"] is sampled
        assert record["logging.googleapis.com/labels"] == {
            "execution_id": call["headers"]["Function-Execution-Id"],
            "function_target": "hello",
        }
    assert [r["cold_start"] for r in records] == [True, False, False]

    lines = [line for line in driven["lines"] if line.get("event") == "hello called"]
    assert len(lines) == 3
    for line, record in zip(lines, records, strict=True):
        assert line["severity"] == "WARNING"
        assert line["logging.googleapis.com/trace"] == record["logging.googleapis.com/trace"]
        assert line["logging.googleapis.com/spanId"] == record["span_id"]

    sampled_calls = [call for call in sent if _parent(call)[2]]
    spans = sorted(driven["spans"], key=lambda s: int(s["startTimeUnixNano"]))
    assert len(spans) == len(sampled_calls)  # a caller that did not sample: no span
    for call, span in zip(sampled_calls, spans, strict=True):
        trace_id, parent, _ = _parent(call)
        assert (span["traceId"], span["parentSpanId"]) == (trace_id, parent)
        assert span["attrs"]["faas.invocation_id"] == call["headers"]["Function-Execution-Id"]
        assert span["name"] == "GET /"
        resource = span["resource"]
        assert (resource["cloud.provider"], resource["cloud.platform"]) == (
            "gcp",
            "gcp_cloud_functions",
        )
        assert (resource["faas.name"], resource["faas.version"]) == ("orders", REVISION)


def test_cloudevent_function(tmp_path):
    driven = _drive(tmp_path, "on_message", "cloudtrace")
    sent, records = driven["sent"], _records(driven)
    assert [s["status"] for s in sent] == [200, 200, 200]
    assert len(records) == 3
    for call, record in zip(sent, records, strict=True):
        trace_id, _, sampled = _parent(call)
        assert (record["trigger"], record["event_source"]) == ("pubsub", "gcp:pubsub")
        assert record["http_status_code"] is None
        assert record["trace_id"] == trace_id
        assert record["request_id"] == call["headers"]["Function-Execution-Id"]
        assert record["logging.googleapis.com/trace_sampled"] is sampled
    messages = [line for line in driven["lines"] if line.get("event") == "message"]
    assert [m["message_id"] for m in messages] == ["m0", "m1", "m2"]
    assert [m["request_id"] for m in messages] == [r["request_id"] for r in records]
    assert len(driven["spans"]) == 1  # only o=1 (the second call) is sampled
    assert driven["spans"][0]["attrs"]["faas.trigger"] == "pubsub"


def test_execution_id_generated_by_functions_framework_is_the_request_id(tmp_path):
    """With LOG_EXECUTION_ID=true functions-framework makes an execution id when the
    request has none and rewrites every stdout line, adding it as a label: the record
    must carry the same id, and the rewritten lines must still be Cloud Logging's."""
    driven = _drive(tmp_path, "hello", "generated", LOG_EXECUTION_ID="true")
    records = _records(driven)
    assert len(records) == 3
    ids = [r["logging.googleapis.com/labels"]["execution_id"] for r in records]
    assert [r["request_id"] for r in records] == ids
    assert len(set(ids)) == 3 and all(len(i) == 12 for i in ids)  # the framework's ids
    for call, record in zip(driven["sent"], records, strict=True):
        assert record["trace_id"] == _parent(call)[0]
        assert record["logging.googleapis.com/spanId"] == record["span_id"]
    assert len(driven["spans"]) == 3


def test_failure_is_recorded_and_json_format_can_be_chosen(tmp_path):
    driven = _drive(tmp_path, "broken", "traceparent", FNLENS_LOG_FORMAT="json")
    assert [s["status"] for s in driven["sent"]] == [500, 500, 500]
    records = _records(driven)
    assert len(records) == 3
    for record in records:
        assert (record["outcome"], record["error_type"]) == ("error", "RuntimeError")
        assert record["http_status_code"] == 500
        assert "severity" not in record  # FNLENS_LOG_FORMAT=json: fnlens's own lines
    assert len(driven["spans"]) == 3
    assert {s["status"].get("code") for s in driven["spans"]} == {2}  # STATUS_CODE_ERROR
