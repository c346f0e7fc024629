"""@instrument: records, pass-through of results and exceptions, decoration forms."""

from __future__ import annotations

import asyncio
import inspect
import json
import re

import pytest

import fnlens
from fnlens.testing import LambdaContext, events

RECORD_FIELDS = {
    "timestamp",
    "level",
    "event",
    "service",
    "service_version",
    "cloud_provider",
    "region",
    "function_name",
    "function_version",
    "function_alias",
    "memory_limit_mb",
    "request_id",
    "trace_id",
    "span_id",
    "xray_trace_id",
    "cold_start",
    "init_type",
    "init_duration_ms",
    "duration_ms",
    "outcome",
    "error_type",
    "error_message",
    "trigger",
    "event_source",
    "http_method",
    "http_route",
    "http_status_code",
    "telemetry_flush_ms",
    "telemetry_dropped",
}


def test_bare_decorator_emits_one_record_with_every_field(telemetry, capsys):
    @fnlens.instrument
    def handler(event, context):
        return {"statusCode": 201, "body": "{}"}

    context = LambdaContext(function_name="orders", function_version="42", memory_limit_in_mb=256)
    result = handler(events.api_gateway_v2("POST /orders", path="/orders"), context)

    assert result == {"statusCode": 201, "body": "{}"}
    record = telemetry.invocation()
    assert set(record) >= RECORD_FIELDS
    assert record["event"] == "invocation"
    assert record["level"] == "info"
    assert record["outcome"] == "success"
    assert record["request_id"] == context.aws_request_id
    assert record["function_name"] == "orders"
    assert record["function_version"] == "42"
    assert record["memory_limit_mb"] == 256
    assert record["cloud_provider"] == "aws"
    assert record["http_status_code"] == 201
    assert re.fullmatch(r"[0-9a-f]{32}", record["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", record["span_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])
    assert record["duration_ms"] >= 0

    # and the same record is one JSON line on stdout
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stdout_records = [line for line in lines if line.get("event") == "invocation"]
    assert len(stdout_records) == 1
    assert stdout_records[0]["request_id"] == context.aws_request_id


def test_decorator_with_arguments_sets_service(telemetry):
    @fnlens.instrument(service="orders", service_version="1.4.0")
    def handler(event, context):
        return "ok"

    assert handler({}, LambdaContext()) == "ok"
    record = telemetry.invocation()
    assert record["service"] == "orders"
    assert record["service_version"] == "1.4.0"


def test_environment_configures_service_and_arguments_win(telemetry, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "service.version=9.9,deployment.environment=prod"
    )

    @fnlens.instrument
    def from_env(event, context):
        return None

    @fnlens.instrument(service="from-arg")
    def from_arg(event, context):
        return None

    from_env({}, LambdaContext())
    from_arg({}, LambdaContext())
    first, second = telemetry.records
    assert (first["service"], first["service_version"]) == ("from-otel", "9.9")
    assert second["service"] == "from-arg"


def test_keeps_signature_and_metadata():
    def handler(event: dict, context: object) -> dict:
        """Docstring kept."""
        return event

    wrapped = fnlens.instrument(handler)
    assert wrapped.__name__ == "handler"
    assert wrapped.__doc__ == "Docstring kept."
    assert wrapped.__wrapped__ is handler
    assert inspect.signature(wrapped) == inspect.signature(handler)


def test_double_wrap_emits_one_record(telemetry):
    @fnlens.instrument
    @fnlens.instrument(service="inner")
    def handler(event, context):
        return 1

    handler({}, LambdaContext())
    assert len(telemetry.records) == 1


def test_nested_instrumented_call_emits_one_record(telemetry):
    @fnlens.instrument
    def inner(event, context):
        return 2

    @fnlens.instrument
    def outer(event, context):
        return inner(event, context) + 1

    assert outer({}, LambdaContext()) == 3
    assert len(telemetry.records) == 1


def test_exception_passes_through_unchanged_and_is_recorded(telemetry):
    error = KeyError("missing order")

    @fnlens.instrument
    def handler(event, context):
        raise error

    with pytest.raises(KeyError) as info:
        handler(events.api_gateway_v2("GET /orders/{id}", path="/orders/1"), LambdaContext())
    assert info.value is error
    # the original frames are still in the traceback
    frames = [tb.tb_frame.f_code.co_name for tb in _walk(info.value.__traceback__)]
    assert "handler" in frames

    record = telemetry.invocation()
    assert record["outcome"] == "error"
    assert record["level"] == "error"
    assert record["error_type"] == "KeyError"
    assert record["error_message"] == "'missing order'"
    assert record["http_status_code"] == 500
    assert "Traceback" in record["exception"] and "raise error" in record["exception"]


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_async_handler(telemetry):
    @fnlens.instrument
    async def handler(event, context):
        await asyncio.sleep(0)
        fnlens.get_logger().info("inside")
        return {"statusCode": 204}

    assert inspect.iscoroutinefunction(handler)
    result = asyncio.run(handler(events.api_gateway_v2("DELETE /orders/{id}"), LambdaContext()))
    assert result == {"statusCode": 204}
    record = telemetry.invocation()
    assert record["http_status_code"] == 204
    assert telemetry.logs[0]["request_id"] == record["request_id"]


def test_async_exception_passes_through(telemetry):
    error = RuntimeError("async boom")

    @fnlens.instrument
    async def handler(event, context):
        raise error

    with pytest.raises(RuntimeError) as info:
        asyncio.run(handler({}, LambdaContext()))
    assert info.value is error
    assert telemetry.invocation()["error_type"] == "RuntimeError"


def test_local_run_without_context(telemetry):
    @fnlens.instrument
    def handler(event):
        return event["x"] * 2

    assert handler({"x": 21}) == 42
    record = telemetry.invocation()
    assert record["cloud_provider"] == "local"
    assert record["function_name"] == "handler"
    assert re.fullmatch(r"[0-9a-f-]{36}", record["request_id"])


def test_alias_from_invoked_arn(telemetry):
    @fnlens.instrument
    def handler(event, context):
        return None

    handler({}, LambdaContext(alias="live", function_version="7"))
    handler({}, LambdaContext(function_version="7"))
    aliased, plain = telemetry.records
    assert aliased["function_alias"] == "live"
    assert plain["function_alias"] is None


def test_disabled_is_a_pass_through(monkeypatch, telemetry):
    monkeypatch.setenv("FNLENS_DISABLED", "true")

    def handler(event, context):
        return "raw"

    assert fnlens.instrument(handler) is handler
    assert handler({}, None) == "raw"
    assert telemetry.events == []


def test_bad_environment_value_warns_once_and_falls_back(monkeypatch, capsys, telemetry, caplog):
    monkeypatch.setenv("FNLENS_FLUSH_BUDGET_MS", "fast please")

    @fnlens.instrument
    def handler(event, context):
        return "fine"

    assert handler({}, LambdaContext()) == "fine"
    assert "FNLENS_FLUSH_BUDGET_MS" in caplog.text  # (the fnlens logger)
    assert telemetry.invocation()["outcome"] == "success"


def test_unknown_argument_is_a_clear_error():
    with pytest.raises(TypeError, match="servce"):
        fnlens.instrument(servce="typo")


def test_broken_sink_never_reaches_the_handler(telemetry, capsys, caplog):
    class Broken:
        def emit(self, event):
            raise OSError("disk full")

        def flush(self, timeout_s):
            raise OSError("still full")

        def shutdown(self):
            pass

    fnlens.configure(sinks=[Broken()])

    @fnlens.instrument
    def handler(event, context):
        return "result"

    assert handler({}, LambdaContext()) == "result"
    assert telemetry.invocation()["outcome"] == "success"
    assert "disk full" in caplog.text  # (the fnlens logger)


def test_user_processor_extends_the_pipeline(telemetry):
    def add_team(_logger, _method, event_dict):
        event_dict["team"] = "payments"
        return event_dict

    fnlens.configure(processors=[add_team])
    try:

        @fnlens.instrument
        def handler(event, context):
            fnlens.get_logger().info("hello")

        handler({}, LambdaContext())
    finally:
        fnlens.configure(processors=[])
    assert telemetry.invocation()["team"] == "payments"
    assert telemetry.logs[0]["team"] == "payments"


def test_set_route_overrides_template(telemetry):
    @fnlens.instrument
    def handler(event, context):
        fnlens.set_route("/items/{sku}")
        return {"statusCode": 200}

    handler(events.function_url("GET", "/items/abc-123"), LambdaContext())
    record = telemetry.invocation()
    assert record["http_route"] == "/items/{sku}"
    assert record["event_source"] == "aws:lambda-url"


def test_timestamps_are_iso8601_utc_with_microseconds():
    from datetime import datetime, timezone

    from fnlens.runtime._logs import format_timestamp

    for value in (0.0, 1700000000.000001, 1700000000.5, 1795386352.999999, 1795386353.0):
        expected = datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert format_timestamp(value) == expected


def test_w3c_baggage_reaches_the_handler(telemetry):
    from opentelemetry import baggage

    seen = {}

    @fnlens.instrument
    def handler(event, context):
        seen.update(baggage.get_all())
        return {"statusCode": 200}

    event = events.api_gateway_v2(headers={"baggage": "tenant=acme,plan=pro"})
    handler(event, LambdaContext())
    assert seen == {"tenant": "acme", "plan": "pro"}
    assert baggage.get_all() == {}  # nothing leaks out of the invocation
