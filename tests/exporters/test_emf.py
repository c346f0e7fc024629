"""EMF metrics: documents on stdout, valid against the specification."""

from __future__ import annotations

import io
import json

import jsonschema
import pytest

import fnlens
from fnlens.exporters._emf import EMFHook, emf_document
from fnlens.testing import LambdaContext, events
from tests.support.emf_spec import validate


def test_every_outcome_gives_a_valid_document(capsys):
    fnlens.configure(hooks=[EMFHook("orders-metrics")])  # (removed by the autouse reset)

    @fnlens.instrument(service="orders")
    def handler(event, context):
        if event.get("rawPath") == "/fail":
            raise KeyError("missing")
        return {"statusCode": 200}

    ctx = LambdaContext(function_name="orders-api", function_version="7")
    handler(events.api_gateway_v2("GET /orders/{id}", path="/orders/1"), ctx)
    with pytest.raises(KeyError):
        handler(events.api_gateway_v2("GET /orders/{id}", path="/fail"), ctx)

    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(lines) == 2
    for doc in lines:
        validate(doc)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "orders-metrics"
        assert directive["Dimensions"] == [["service", "function_name", "function_version"]]
        assert (doc["service"], doc["function_name"], doc["function_version"]) == (
            "orders",
            "orders-api",
            "7",
        )
        assert doc["Invocations"] == 1
    cold, warm = lines
    assert cold["ColdStarts"] == 1 and cold["InitDuration"] >= 0 and cold["Errors"] == 0
    assert warm["ColdStarts"] == 0 and "InitDuration" not in warm and warm["Errors"] == 1
    assert "InitDuration" not in {
        m["Name"] for m in warm["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }


def test_timeout_and_missing_identity_stay_valid():
    doc = emf_document(
        {"outcome": "timeout", "duration_ms": 2900.5, "cold_start": False, "function_version": None}
    )
    validate(doc)
    assert doc["Timeouts"] == 1 and doc["Errors"] == 0 and doc["function_version"] == "$LATEST"


def test_hook_writes_one_line_per_invocation():
    stream = io.StringIO()
    hook = EMFHook(stream=stream)
    hook.on_end(None, {"outcome": "success", "duration_ms": 1.0, "service": "s"})
    hook.on_end(None, {"outcome": "error", "duration_ms": 2.0, "service": "s"})
    docs = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [d["Errors"] for d in docs] == [0, 1]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["_aws"].pop("Timestamp"),
        lambda d: d.pop("function_name"),  # dimension without a member
        lambda d: d.__setitem__("function_version", 42),  # dimension value not a string
        lambda d: d.__setitem__("Duration", "fast"),  # metric value not a number
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Dimensions"].__setitem__(
            0, [f"d{i}" for i in range(31)]
        ),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__(
            "Metrics", [{"Name": f"m{i}"} for i in range(101)]
        ),
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Fortnights"),
        lambda d: (
            d["_aws"].__setitem__("Namespace", "misplaced")
            or d["_aws"]["CloudWatchMetrics"][0].pop("Namespace")
        ),
    ],
)
def test_validator_rejects_invalid_documents(mutate):
    doc = emf_document({"outcome": "success", "duration_ms": 1.0, "cold_start": False})
    validate(doc)
    mutate(doc)
    with pytest.raises((AssertionError, jsonschema.ValidationError)):
        validate(doc)


@pytest.mark.parametrize(
    ("cold", "request_id", "duration"),
    [(False, "r-1", 3.25), (True, "r-1", 3.25), (False, 'we"ird\\\n✓\u2028', 7), (True, None, 0.1)],
)
def test_fast_line_encoding_equals_the_document(cold, request_id, duration):
    record = {
        "outcome": "error",
        "duration_ms": duration,
        "cold_start": cold,
        "init_duration_ms": 812.5 if cold else None,
        "service": "orders",
        "function_name": "orders-api",
        "function_version": "9",
        "request_id": request_id,
        "trace_id": "ab" * 16,
    }
    stream = io.StringIO()
    EMFHook("ns", stream=stream).on_end(None, record)
    line = json.loads(stream.getvalue())
    expected = emf_document(record, "ns")
    line["_aws"]["Timestamp"] = expected["_aws"]["Timestamp"]
    assert line == expected
    validate(line)
