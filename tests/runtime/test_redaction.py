"""Secrets never reach logs by default; the event body only when asked."""

from __future__ import annotations

import json

import fnlens
from fnlens.runtime._redaction import REDACTED
from fnlens.testing import LambdaContext, events

SECRET_HEADERS = {
    "Authorization": "Bearer eyJhbGciOi.secret",
    "Cookie": "session=abc",
    "x-api-key": "key-123",
}


def test_secret_fields_in_log_lines_are_masked(telemetry, capsys):
    @fnlens.instrument
    def handler(event, context):
        fnlens.get_logger().info(
            "login",
            user="ada",
            password="hunter2",
            headers={"set-cookie": "sid=1", "accept": "json"},
            nested=[{"client_secret": "s3"}],
            access_token="t0k",
        )

    handler({}, LambdaContext())
    (line,) = telemetry.logs
    assert line["user"] == "ada"
    assert line["password"] == REDACTED
    assert line["access_token"] == REDACTED
    assert line["headers"] == {"set-cookie": REDACTED, "accept": "json"}
    assert line["nested"] == [{"client_secret": REDACTED}]
    out = capsys.readouterr().out
    for secret in ("hunter2", "sid=1", "s3", "t0k"):
        assert secret not in out


def test_event_logging_masks_headers_and_omits_body(telemetry, capsys):
    @fnlens.instrument(log_event=True)
    def handler(event, context):
        return None

    handler(events.api_gateway_v2(headers=SECRET_HEADERS, body='{"card": "4111"}'), LambdaContext())
    out = capsys.readouterr().out
    assert "eyJhbGciOi" not in out and "session=abc" not in out and "key-123" not in out
    assert "4111" not in out
    logged = next(line for line in telemetry.logs if line["event"] == "event received")
    headers = logged["lambda_event"]["headers"]
    assert headers["Authorization"] == REDACTED
    assert headers["x-api-key"] == REDACTED
    assert headers["content-type"] == "application/json"


def test_event_is_not_logged_by_default(telemetry, capsys):
    @fnlens.instrument
    def handler(event, context):
        return None

    handler(events.api_gateway_v2(headers=SECRET_HEADERS, body="payload-xyz"), LambdaContext())
    out = capsys.readouterr().out
    assert "payload-xyz" not in out and "eyJhbGciOi" not in out
    assert telemetry.logs == []


def test_body_logged_only_when_asked(telemetry):
    @fnlens.instrument(log_event=True, log_event_body=True)
    def handler(event, context):
        return None

    handler(events.api_gateway_v2(body="payload-xyz"), LambdaContext())
    logged = telemetry.logs[0]
    assert logged["lambda_event"]["body"] == "payload-xyz"


def test_redaction_keys_are_configurable(telemetry, monkeypatch):
    monkeypatch.setenv("FNLENS_REDACT_KEYS", "ssn")

    @fnlens.instrument
    def handler(event, context):
        fnlens.get_logger().info("kyc", ssn="123-45-6789", password="p")

    handler({}, LambdaContext())
    line = telemetry.logs[0]
    assert line["ssn"] == REDACTED and line["password"] == REDACTED


def test_redaction_can_be_turned_off(telemetry):
    @fnlens.instrument(redact=False)
    def handler(event, context):
        fnlens.get_logger().info("debugging", token="visible")

    try:
        handler({}, LambdaContext())
    finally:
        # restore the default redactor for other tests
        fnlens.instrument(lambda e, c: None)
    assert telemetry.logs[0]["token"] == "visible"
    assert json.dumps(telemetry.logs[0])
