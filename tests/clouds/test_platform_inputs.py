"""The platform adapters' edges: trace headers that are malformed, the log format
setting, and that no platform package is imported by fnlens itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

import fnlens
from fnlens._config import settings_from_env
from fnlens.runtime import _propagation as propagation
from fnlens.runtime._gcp import cloud_logging_line
from fnlens.runtime._platforms import stdout_format
from fnlens.testing import capture, reset_cold_start

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("header", "parent"),
    [
        (f"{TRACE}/1;o=1", ("0000000000000001", True)),
        (f"{TRACE}/18446744073709551615;o=0", ("ffffffffffffffff", False)),
        (f"{TRACE}/12345", ("0000000000003039", False)),
        (f"{TRACE.upper()}/255;o=3", ("00000000000000ff", True)),
    ],
)
def test_x_cloud_trace_context_parents_the_span(header, parent):
    decision = propagation.decide({"x-cloud-trace-context": header}, "auto", None)
    assert decision.parent is not None
    assert decision.trace_id == TRACE
    assert (decision.parent.span_id, decision.parent.sampled) == parent


@pytest.mark.parametrize(
    "header",
    [
        f"{TRACE}/18446744073709551616;o=1",  # beyond 64 bits: trace kept, no parent span
        f"{TRACE}/0;o=1",  # span id 0 is invalid
        f"{TRACE};o=1",
    ],
)
def test_x_cloud_trace_context_without_a_usable_span_keeps_the_trace(header):
    decision = propagation.decide({"x-cloud-trace-context": header}, "auto", None)
    assert decision.trace_id == TRACE
    assert decision.parent is None or decision.parent.span_id is None


@pytest.mark.parametrize("header", ["", "nothex/1;o=1", "0" * 32 + "/5;o=1", f"{TRACE}/-1"])
def test_malformed_x_cloud_trace_context_starts_a_new_trace(header):
    decision = propagation.decide({"x-cloud-trace-context": header}, "auto", None)
    assert decision.parent is None
    assert decision.trace_id != TRACE and len(decision.trace_id) == 32


def test_traceparent_wins_over_x_cloud_trace_context():
    other = "0af7651916cd43dd8448eb211c80319c"
    headers = {
        "traceparent": f"00-{other}-b7ad6b7169203331-01",
        "x-cloud-trace-context": f"{TRACE}/1;o=1",
    }
    decision = propagation.decide(headers, "auto", None)
    assert (decision.trace_id, decision.parent.span_id) == (other, "b7ad6b7169203331")


def test_cloud_logging_line_without_a_project_has_no_trace_field(monkeypatch):
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    event = {"timestamp": "t", "level": "error", "event": "e", "trace_id": TRACE, "span_id": "ab"}
    line = cloud_logging_line(event, True)
    assert "logging.googleapis.com/trace" not in line
    assert "logging.googleapis.com/trace_sampled" not in line
    assert (line["severity"], line["logging.googleapis.com/spanId"]) == ("ERROR", "ab")
    assert {k: line[k] for k in event} == event  # fnlens's own fields, unchanged


def _resolved_format() -> str:
    """FNLENS_LOG_FORMAT as the decorator resolves it: read with the settings, then auto."""
    return stdout_format(settings_from_env(os.environ).log_format)


def test_log_format_setting(monkeypatch, caplog):
    for name in ("K_SERVICE", "FUNCTION_TARGET", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FNLENS_LOG_FORMAT", raising=False)
    monkeypatch.delenv("FUNCTIONS_WORKER_RUNTIME", raising=False)
    assert _resolved_format() == "json"
    monkeypatch.setenv("FUNCTIONS_WORKER_RUNTIME", "python")
    assert _resolved_format() == "azure"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")  # Lambda always wins
    assert _resolved_format() == "json"
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.delenv("FUNCTIONS_WORKER_RUNTIME")
    monkeypatch.setenv("K_SERVICE", "orders")
    assert _resolved_format() == "gcp"
    monkeypatch.setenv("FNLENS_LOG_FORMAT", "json")
    assert _resolved_format() == "json"
    monkeypatch.setenv("FNLENS_LOG_FORMAT", "stackdriver")
    with caplog.at_level(logging.WARNING, logger="fnlens"):
        assert _resolved_format() == "gcp"  # warned once, auto
    assert any("FNLENS_LOG_FORMAT='stackdriver'" in r.getMessage() for r in caplog.records)


SCRIPT = """
import json, sys
import fnlens

@fnlens.instrument
def handler(event, context):
    return {"statusCode": 200}

handler({"version": "2.0", "routeKey": "GET /x", "requestContext": {}}, None)
handler("a string event", None)
handler(event={"k": 1}, context=None)
print(json.dumps(sorted(sys.modules)))
"""

PLATFORM_PACKAGES = ("azure", "functions_framework", "flask", "werkzeug", "cloudevents")


def test_no_platform_package_is_imported_by_fnlens():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = [m for m in modules if m.split(".")[0] in PLATFORM_PACKAGES]
    assert loaded == []
    records = [json.loads(line) for line in done.stdout.strip().splitlines()[:-1]]
    assert len(records) == 3
    assert [r["cloud_provider"] for r in records] == ["local"] * 3


def test_lookalike_arguments_are_not_a_platform(monkeypatch):
    """A Mock has every attribute and a werkzeug object need not be a request: neither
    makes an invocation Azure's or Google's."""
    from unittest import mock

    from werkzeug.datastructures import Headers

    for name in ("FUNCTIONS_WORKER_RUNTIME", "WEBSITE_SITE_NAME", "K_SERVICE", "FUNCTION_TARGET"):
        monkeypatch.delenv(name, raising=False)

    @fnlens.instrument
    def handler(event, context=None):
        return "done"

    reset_cold_start()
    with capture() as captured:
        assert handler(mock.MagicMock(), mock.MagicMock()) == "done"
        assert handler(event=Headers({"traceparent": "x"}), context=mock.Mock()) == "done"
    records = captured.records
    assert len(records) == 2
    for record in records:  # (a Mock context passes for Lambda's: that path is older)
        assert record["cloud_provider"] not in ("azure", "gcp")
        assert (record["trigger"], record["event_source"]) == ("other", None)
        assert "attempt" not in record
