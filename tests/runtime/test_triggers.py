"""Trigger detection for every supported event source; HTTP routes are templates."""

from __future__ import annotations

import pytest

import fnlens
from fnlens.testing import LambdaContext, events


def _run(telemetry, event, response=None, raises=None):
    @fnlens.instrument
    def handler(evt, context):
        if raises is not None:
            raise raises
        return response

    if raises is not None:
        with pytest.raises(type(raises)):
            handler(event, LambdaContext())
    else:
        handler(event, LambdaContext())
    return telemetry.records[-1]


@pytest.mark.parametrize(
    ("event", "trigger", "source", "method", "route"),
    [
        (
            events.api_gateway_v2("GET /orders/{id}", path="/orders/123"),
            "http",
            "aws:apigateway:http",
            "GET",
            "/orders/{id}",
        ),
        (
            events.api_gateway_v1("/orders/{id}", method="PUT", path="/orders/9"),
            "http",
            "aws:apigateway:rest",
            "PUT",
            "/orders/{id}",
        ),
        (events.alb("POST", "/checkout/77"), "http", "aws:elb", "POST", None),
        (events.function_url("PATCH", "/users/5"), "http", "aws:lambda-url", "PATCH", None),
        (events.sqs(["a", "b", "c"]), "pubsub", "aws:sqs", None, None),
        (events.sns(["m"]), "pubsub", "aws:sns", None, None),
        (events.eventbridge({"id": 1}), "pubsub", "aws:events", None, None),
        (events.s3(["k1", "k2"]), "datasource", "aws:s3", None, None),
        (events.dynamodb_stream(4), "datasource", "aws:dynamodb", None, None),
        (events.kinesis([{"a": 1}, {"b": 2}]), "pubsub", "aws:kinesis", None, None),
        (events.scheduled(), "timer", "aws:scheduled", None, None),
        ({"anything": "else"}, "other", None, None, None),
        ("not even a dict", "other", None, None, None),
    ],
)
def test_trigger_detection(telemetry, event, trigger, source, method, route):
    record = _run(telemetry, event)
    assert record["trigger"] == trigger
    assert record["event_source"] == source
    assert record["http_method"] == method
    assert record["http_route"] == route


def test_raw_path_never_recorded_as_route(telemetry):
    record = _run(telemetry, events.api_gateway_v2("GET /orders/{id}", path="/orders/secret-42"))
    assert "secret-42" not in str(record)


def test_http_status_from_response(telemetry):
    assert _run(telemetry, events.api_gateway_v1(), {"statusCode": 404})["http_status_code"] == 404
    assert _run(telemetry, events.alb(), {"statusCode": "302"})["http_status_code"] == 302
    # API Gateway v2 treats a plain return value as 200
    assert _run(telemetry, events.api_gateway_v2(), {"id": 1})["http_status_code"] == 200
    assert _run(telemetry, events.api_gateway_v2(), raises=ValueError())["http_status_code"] == 500


def test_default_route_key_has_no_template(telemetry):
    event = events.api_gateway_v2("$default", path="/anything/1")
    event["requestContext"]["http"]["method"] = "GET"
    record = _run(telemetry, event)
    assert record["http_route"] is None
    assert record["http_method"] == "GET"


def test_batch_size_and_partial_failures(telemetry):
    event = events.sqs(["1", "2", "3", "4"])
    response = {"batchItemFailures": [{"itemIdentifier": "x"}, {"itemIdentifier": "y"}]}
    record = _run(telemetry, event, response)
    assert record["batch_size"] == 4
    assert record["batch_failures"] == 2
    assert record["outcome"] == "success"
    assert record["http_status_code"] is None

    record = _run(telemetry, events.kinesis([1, 2]), None)
    assert record["batch_size"] == 2
    assert record["batch_failures"] is None
