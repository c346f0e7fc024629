"""@instrument on Azure Functions (Python v2 model), driven through the azure-functions
package: the app's registered functions called with the package's own binding types."""

from __future__ import annotations

import pytest

from tests.clouds._drive import APPS, run

pytest.importorskip("azure.functions")

ENV = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "WEBSITE_SITE_NAME": "orders-app",
    "WEBSITE_SLOT_NAME": "staging",
    "REGION_NAME": "West Europe",
}

# what each function of apps/azure_app.py is: (trigger, event_source, batch_size)
EXPECTED = {
    "get_order": ("http", "azure:http", None),
    "broken": ("http", "azure:http", None),
    "health": ("http", "azure:http", None),
    "on_queue": ("pubsub", "azure:queue", None),
    "every_five_minutes": ("timer", "azure:timer", None),
    "on_blob": ("datasource", "azure:blob", None),
    "on_service_bus": ("pubsub", "azure:servicebus", None),
    "on_events": ("pubsub", "azure:eventhub", 3),
}


@pytest.fixture(scope="module")
def driven(tmp_path_factory):
    driven = run("drive_azure.py", [str(APPS)], ENV, tmp_path_factory.mktemp("azure"))
    driven["worker"] = driven["lines"]  # what the worker's logging handler received
    driven["lines"] = [entry["line"] for entry in driven["worker"]]
    return driven


def _records(driven):
    return [line for line in driven["lines"] if line.get("event") == "invocation"]


def test_one_record_per_invocation_with_the_context_ids(driven):
    sent, records = driven["sent"], _records(driven)
    assert len(sent) == 9
    assert len(records) == len(sent)  # one each, in order
    for call, record in zip(sent, records, strict=True):
        function = call["function"]
        trigger, source, batch = EXPECTED[function]
        assert record["cloud_provider"] == "azure"
        assert record["function_name"] == f"orders-app/{function}"  # faas.name: app/function
        assert record["service"] == "orders-app"
        assert record["function_alias"] == "staging"  # the deployment slot
        assert record["function_version"] is None  # semconv: not applicable on Azure
        assert record["region"] == "West Europe"
        assert record["trigger"] == trigger
        assert record["event_source"] == source
        assert record["batch_size"] == batch
        assert record["outcome"] == call["outcome"]
        assert record["xray_trace_id"] is None
        if call["invocation_id"] is not None:  # the function takes a context
            assert record["request_id"] == call["invocation_id"]
            assert record["trace_id"] == call["trace_id"]  # parented on trace_context
            assert record["attempt"] == call["retry_count"] + 1
        else:
            assert len(record["request_id"]) == 36
            assert "attempt" not in record


def test_http_method_route_and_status(driven):
    by_function = {}
    for call, record in zip(driven["sent"], _records(driven), strict=True):
        by_function.setdefault(call["function"], []).append(record)
    orders = by_function["get_order"]
    assert [r["http_route"] for r in orders] == ["/api/orders/{order_id}"] * 2  # no raw ids
    assert [r["http_method"] for r in orders] == ["GET", "GET"]
    assert [r["http_status_code"] for r in orders] == [201, 201]  # HttpResponse.status_code
    (broken,) = by_function["broken"]
    assert (broken["http_status_code"], broken["error_type"]) == (500, "ValueError")
    assert broken["error_message"] == "no such order"
    (health,) = by_function["health"]  # async, returns a str: a 200
    assert (health["http_route"], health["http_status_code"]) == ("/api/health", 200)


def test_cold_start_once_per_worker_process(driven):
    records = _records(driven)
    assert [r["cold_start"] for r in records] == [True] + [False] * (len(records) - 1)
    assert records[0]["init_duration_ms"] > 0


def test_log_lines_carry_the_invocation_id(driven):
    records = {r["request_id"] for r in _records(driven)}
    lines = [line for line in driven["lines"] if line.get("event") != "invocation"]
    assert len(lines) == 7  # every call but broken and health logs one line
    for line in lines:
        assert line["request_id"] in records
        assert line["function_name"].startswith("orders-app/")


def test_lines_go_through_the_workers_logging_with_the_invocation_id(driven):
    """Every line reaches the root logger's handler (the worker's path to Application
    Insights) inside its invocation, at its own level; none is lost to the root's
    default WARNING level, none goes to stdout."""
    worker = driven["worker"]
    assert len(worker) == 9 + 7  # records + log lines, nothing else on stdout
    by_call = {c["invocation_id"]: c for c in driven["sent"] if c["invocation_id"]}
    for entry in worker:
        line = entry["line"]
        assert entry["logger"] == "fnlens.lines"
        assert entry["level"] == line["level"].upper()
        if line["request_id"] in by_call:
            assert entry["invocation_id"] == line["request_id"]
    assert [e["level"] for e in worker if e["line"]["event"] == "invocation"].count(
        "ERROR"
    ) == 1  # broken


def test_spans_follow_the_faas_conventions_for_azure(driven):
    sent = driven["sent"]
    spans = sorted(driven["spans"], key=lambda s: int(s["startTimeUnixNano"]))
    assert len(spans) == len(sent)  # every span arrives (all sampled)
    for call, span in zip(sent, spans, strict=True):
        attrs = span["attrs"]
        assert span["resource"]["cloud.provider"] == "azure"
        assert span["resource"]["cloud.platform"] == "azure_functions"
        assert span["resource"]["cloud.region"] == "West Europe"
        assert span["resource"]["service.name"] == "orders-app"
        assert "faas.name" not in span["resource"]  # one app, many functions
        assert "faas.version" not in span["resource"]
        assert attrs["faas.name"] == f"orders-app/{call['function']}"
        assert attrs["faas.trigger"] == EXPECTED[call["function"]][0]
        if call["invocation_id"] is not None:
            assert attrs["faas.invocation_id"] == call["invocation_id"]
            assert span["traceId"] == call["trace_id"]
            assert span["parentSpanId"] == call["parent"]
    first = spans[0]
    assert first["name"] == "GET /api/orders/{order_id}"
    assert first["attrs"]["faas.coldstart"] is True
    assert first["attrs"]["http.response.status_code"] in (201, "201")
