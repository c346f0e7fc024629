"""The page's before (real aws-lambda-powertools) and after (fnlens, ``log_fields="powertools"``)
handlers, run in awslambdaric: the same log keys in the same order and value formats, the
same custom metric identity, X-Ray segments from both, and the same responses.

What the lines should hold is counted here with plain Python (the events, the handler
source's line numbers, the runtime's request ids and trace headers), not by fnlens."""

from __future__ import annotations

import json
import re

import pytest

from ._doc import line_of
from .conftest import EVENTS
from .emf_check import check

pytestmark = pytest.mark.e2e

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000$")
XRAY_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
# keys fnlens adds that Powertools does not write (docs/migrating-from-powertools.md)
FNLENS_EXTRA = ("trace_id", "span_id", "function_version")


def _root(trace_header: str) -> str:
    return dict(part.split("=", 1) for part in trace_header.split(";"))["Root"]


def test_both_handlers_answer_alike(migration_runs):
    before, after = migration_runs["before"], migration_runs["after"]
    assert len(before.invocations) == len(after.invocations) == len(EVENTS)
    for old, new in zip(before.invocations, after.invocations, strict=True):
        assert old.result.outcome == new.result.outcome == "success"
        assert old.result.json() == new.result.json() == {"statusCode": 200}
    assert [i.result.cold_start for i in after.invocations] == [True, False, False]


def test_log_lines_carry_powertools_keys_in_its_order(migration_runs):
    before, after = migration_runs["before"], migration_runs["after"]
    for old, new, event in zip(before.invocations, after.invocations, EVENTS, strict=True):
        old_lines, new_lines = old.app_lines(), new.app_lines()
        assert len(old_lines) == len(new_lines) == (2 if event.get("fail") else 1)
        assert [x["message"] for x in old_lines] == [x["message"] for x in new_lines]
        for pt, fn in zip(old_lines, new_lines, strict=True):
            extra = [k for k in fn if k in FNLENS_EXTRA]
            assert extra == list(FNLENS_EXTRA)
            # the same keys, in the same order, once fnlens's three extra keys are set aside
            assert [k for k in fn if k not in FNLENS_EXTRA] == list(pt)


def test_log_line_values_have_powertools_formats(migration_runs):
    before, after = migration_runs["before"], migration_runs["after"]
    for run in (before, after):
        info_line = line_of(run.code, "logger.info(")
        exception_line = line_of(run.code, "logger.exception(")
        for invocation, event in zip(run.invocations, EVENTS, strict=True):
            result = invocation.result
            lines = invocation.app_lines()
            assert len(lines) == (2 if event.get("fail") else 1)
            for line in lines:
                assert TIMESTAMP.match(line["timestamp"]), line["timestamp"]
                assert line["service"] == "payment"
                assert line["cold_start"] is result.cold_start
                assert line["function_name"] == "payment-fn"
                assert line["function_memory_size"] == "256"  # a string, as awslambdaric gives it
                assert line["function_arn"] == (
                    "arn:aws:lambda:us-east-1:123456789012:function:payment-fn:$LATEST"
                )
                assert line["function_request_id"] == result.request_id
                assert XRAY_ID.match(line["xray_trace_id"])
                assert line["xray_trace_id"] == _root(result.trace_header)
            assert lines[0]["level"] == "INFO"
            assert lines[0]["location"] == f"handler:{info_line}"
            assert lines[0]["order_id"] == event["order_id"]
            if event.get("fail"):
                assert lines[1]["level"] == "ERROR"
                assert lines[1]["location"] == f"handler:{exception_line}"


def test_exception_fields_match(migration_runs):
    before, after = migration_runs["before"], migration_runs["after"]
    pt, fn = before.invocations[2].app_lines()[1], after.invocations[2].app_lines()[1]
    expected_message = f"card declined for order {EVENTS[2]['order_id']}"
    for line, run in ((pt, before), (fn, after)):
        assert line["exception_name"] == "ValueError"
        trace = line["exception"]
        assert trace.startswith("Traceback (most recent call last):")
        assert trace.splitlines()[-1] == f"ValueError: {expected_message}"
        stack = line["stack_trace"]
        assert list(stack) == ["type", "value", "module", "frames"]
        assert (stack["type"], stack["value"], stack["module"]) == (
            "ValueError",
            expected_message,
            "builtins",
        )
        frame = stack["frames"][-1]
        assert list(frame) == ["file", "line", "function", "statement"]
        raise_line = line_of(run.code, "raise ValueError")
        assert (frame["line"], frame["function"]) == (raise_line, "handler")
        assert frame["statement"] == run.code.splitlines()[raise_line - 1].strip()
        assert frame["file"].endswith("/app.py")


def _custom_directive(doc: dict) -> dict:
    (directive,) = [d for d in doc["_aws"]["CloudWatchMetrics"] if "PaymentsCollected" in _names(d)]
    return directive


def _names(directive: dict) -> list[str]:
    return [m["Name"] for m in directive["Metrics"]]


def _values(value) -> list[float]:
    return value if isinstance(value, list) else [value]


def test_custom_metric_keeps_its_cloudwatch_identity(migration_runs):
    """Namespace, metric name, unit, dimension keys and values: what an alarm matches."""
    before, after = migration_runs["before"], migration_runs["after"]
    for old, new, event in zip(before.invocations, after.invocations, EVENTS, strict=True):
        (pt_doc,) = [d for d in old.emf() if "PaymentsCollected" in d]
        (fn_doc,) = new.emf()  # one EMF document per invocation: fnlens's and the custom one
        for doc in (pt_doc, fn_doc):
            check(doc)
            directive = _custom_directive(doc)
            assert directive["Namespace"] == "Shop"
            assert sorted(directive["Dimensions"][0]) == ["channel", "service"]
            assert [m for m in directive["Metrics"] if m["Name"] == "PaymentsCollected"] == [
                {"Name": "PaymentsCollected", "Unit": "Count"}
            ]
            assert (doc["service"], doc["channel"]) == ("payment", event["channel"])
            assert _values(doc["PaymentsCollected"]) == [1.0]
        # fnlens's own metrics are in the same document
        assert "Invocations" in fn_doc and fn_doc["request_id"] == new.result.request_id


def test_both_send_xray_segments_to_the_daemon(migration_runs):
    for which in ("before", "after"):
        segments = migration_runs[which].segments
        assert len(segments) >= len(EVENTS), (which, len(segments))
        for datagram in segments:
            header, _, body = datagram.partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            assert json.loads(body)["trace_id"].startswith("1-")


def test_fnlens_record_has_powertools_keys_in_front(migration_runs):
    after = migration_runs["after"]
    for invocation in after.invocations:
        (record,) = [x for x in invocation.lines if x.get("event") == "invocation"]
        head = list(record)[:10]
        assert head == [
            "level",
            "location",
            "message",
            "timestamp",
            "service",
            "cold_start",
            "function_name",
            "function_memory_size",
            "function_arn",
            "function_request_id",
        ]
        assert list(record)[-1] == "xray_trace_id"
        assert (record["level"], record["message"]) == ("INFO", "invocation")
        assert record["function_request_id"] == record["request_id"]
        assert record["request_id"] == invocation.result.request_id
        assert record["outcome"] == "success" and record["duration_ms"] >= 0
        assert TIMESTAMP.match(record["timestamp"])
