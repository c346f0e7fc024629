"""Issue 19, item 3: odd values from the handler or the platform never lose a record
nor stop the watchdog."""

from __future__ import annotations

import threading

import pytest

import fnlens
from fnlens.runtime import _triggers as triggers
from fnlens.testing import LambdaContext, events


class _Context:
    """A context whose remaining time is whatever the test says (any runtime can pass
    one: only ``get_remaining_time_in_millis`` and ``aws_request_id`` are read)."""

    def __init__(self, remaining_ms: float, request_id: str) -> None:
        self._remaining = remaining_ms
        self.aws_request_id = request_id
        self.function_name = "fn"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> float:
        return self._remaining


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("²", None),  # str.isdigit() is true, int() refuses it
        ("٣٠٠", None),  # Arabic-Indic digits: int() takes them, no HTTP status is one
        ("404", 404),
        (" 201 ", 201),
        ("2000", None),
        ("", None),
        (True, None),
        (10**20, None),
        (99, None),
        (503, 503),
        (200.0, None),
    ],
)
def test_status_codes_only_count_when_they_are_three_digit_integers(status, expected):
    info = triggers.detect_trigger(events.api_gateway_v2("GET /items"))
    assert triggers.response_status(info, {"statusCode": status}) == expected


def test_a_superscript_status_keeps_the_record(telemetry):
    @fnlens.instrument
    def handler(event, context):
        return {"statusCode": "²", "body": "odd"}

    assert handler(events.api_gateway_v2("GET /items"), LambdaContext()) == {
        "statusCode": "²",
        "body": "odd",
    }
    record = telemetry.invocation()
    assert record["outcome"] == "success"
    assert record["http_status_code"] is None


@pytest.mark.parametrize("remaining", [float("inf"), 1e13, float("nan")])
def test_an_endless_remaining_time_leaves_the_watchdog_working(remaining, telemetry):
    release = threading.Event()

    @fnlens.instrument(timeout_margin_ms=100)
    def handler(event, context):
        release.wait(event["wait_s"])  # (long enough for the watchdog to look)
        return "done"

    assert handler({"wait_s": 0.2}, _Context(remaining, "odd-context")) == "done"
    # a later real deadline is still kept by the (same) watchdog thread
    assert handler({"wait_s": 1.5}, LambdaContext(timeout_ms=300)) == "done"
    outcomes = [r["outcome"] for r in telemetry.records]
    assert outcomes == ["success", "timeout"], outcomes
    names = [t.name for t in threading.enumerate()]
    assert names.count("fnlens-watchdog") == 1


def test_a_far_deadline_wakes_the_thread_for_an_earlier_one():
    import time

    from fnlens.runtime._watchdog import WATCHDOG

    fired = threading.Event()
    far = WATCHDOG.arm(time.perf_counter() + 1e10, lambda: None)  # ~317 years: in steps
    try:
        time.sleep(0.05)  # the thread is waiting for the far one now
        WATCHDOG.arm(time.perf_counter() + 0.05, fired.set)
        assert fired.wait(5.0)
    finally:
        WATCHDOG.disarm(far)
    assert WATCHDOG.arm(float("inf"), fired.set) == 0
    assert WATCHDOG.arm(float("nan"), fired.set) == 0
