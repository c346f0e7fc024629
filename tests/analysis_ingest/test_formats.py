"""Every supported input format, from real-shaped fixtures, lands in the right columns."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from fnlens.analysis.ingest import ingest

from .conftest import FIXTURES, R, invocation, one, rows


def _ingest(db: Path, *names: str, **kw):
    report = ingest([FIXTURES / n for n in names], db=db, progress=False, **kw)
    assert report.malformed_count == 0, report.summary_lines()
    return report


def test_fnlens_jsonl(db: Path) -> None:
    report = _ingest(db, "fnlens.jsonl")
    assert report.files[0].format == "fnlens-jsonl"
    assert report.totals == {"invocations": 3, "spans": 0, "logs": 2}
    r1 = invocation(db, R[1])
    assert r1["ts"] == dt.datetime(2026, 11, 22, 10, 0, 0, 180000)
    assert (r1["cold_start"], r1["init_type"], r1["init_duration_ms"]) == (True, "on-demand", 170.0)
    assert (r1["version"], r1["function_alias"], r1["memory_size_mb"]) == ("42", "live", 512)
    assert (r1["http_route"], r1["http_status_code"], r1["trigger"]) == (
        "/orders/{id}",
        200,
        "http",
    )
    assert r1["source"] == "fnlens"
    r3 = invocation(db, R[3])
    assert (r3["outcome"], r3["error_type"], r3["http_status_code"]) == (
        "timeout",
        "TimeoutError",
        504,
    )
    level, message, attrs, line = one(
        db, "SELECT level, message, attributes, source_line FROM logs WHERE request_id = ?", R[1]
    )
    assert (level, message, line) == ("info", "loading order", 1)
    assert json.loads(attrs)["order_id"] == 17


def _check_platform_text(db: Path, *, with_stream: bool) -> None:
    r1 = invocation(db, R[1])
    assert r1["duration_ms"] == 20.51
    assert (r1["billed_duration_ms"], r1["memory_size_mb"], r1["max_memory_used_mb"]) == (
        21,
        512,
        81,
    )
    assert (r1["cold_start"], r1["init_duration_ms"]) == (True, 174.26)
    assert r1["trace_id"] == "6740d2a05c4e2f1a9b8d7c6e5f4a3b2c"
    assert r1["version"] == "42"
    assert r1["source"] == "report"
    r2 = invocation(db, R[2])
    assert (r2["cold_start"], r2["init_duration_ms"], r2["outcome"]) == (False, None, "success")
    r3 = invocation(db, R[3])
    assert (r3["outcome"], r3["duration_ms"]) == ("timeout", 3000.0)
    r4 = invocation(db, R[4])
    assert (r4["outcome"], r4["error_type"], r4["max_memory_used_mb"]) == (
        "error",
        "Runtime.ExitError",
        512,
    )
    if with_stream:
        assert r1["log_stream"] == "2026/11/22/[42]0a1b2c3d4e5f60718293a4b5c6d7e8f9"
        assert r1["ts"] == dt.datetime(2026, 11, 22, 10, 0, 0, 180000)  # from START
    msgs = [m for (m,) in rows(db, "SELECT message FROM logs WHERE request_id = ?", R[1])]
    assert msgs == ["loading order 17"]
    (timeout_msg,) = one(db, "SELECT message FROM logs WHERE request_id = ?", R[3])
    assert timeout_msg == "Task timed out after 3.00 seconds"


def test_lambda_text_tabs(db: Path) -> None:
    report = _ingest(db, "lambda_text.log")
    assert report.files[0].format == "lambda-text"
    assert report.totals["invocations"] == 4
    _check_platform_text(db, with_stream=False)


def test_lambda_text_spaces_timestamp_and_stream_prefix(db: Path) -> None:
    _ingest(db, "lambda_text_tail.log")
    _check_platform_text(db, with_stream=True)


def test_version_from_log_stream_name_when_no_start_line(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "report_only.log"
    f.write_text(
        "2026-11-22T10:00:00.000Z 2024/01/01/[7]abcdef0123456789 REPORT RequestId: r-1 "
        "Duration: 1.00 ms Billed Duration: 1 ms Memory Size: 128 MB Max Memory Used: 40 MB \t \n"
    )
    ingest([f], db=db, progress=False)
    r = invocation(db, "r-1")
    assert (r["version"], r["memory_size_mb"], r["max_memory_used_mb"]) == ("7", 128, 40)
    assert r["ts"] == dt.datetime(2026, 11, 22, 9, 59, 59, 999000)  # end minus duration


def test_lambda_json_platform_records(db: Path) -> None:
    report = _ingest(db, "lambda_json.jsonl")
    assert report.files[0].format == "lambda-json"
    r5 = invocation(db, R[5])
    assert r5["ts"] == dt.datetime(2026, 11, 22, 10, 1, 40, 300000)
    assert (r5["cold_start"], r5["init_type"], r5["init_duration_ms"]) == (
        True,
        "provisioned-concurrency",
        240.5,
    )
    assert (r5["duration_ms"], r5["billed_duration_ms"], r5["memory_size_mb"]) == (30.12, 31, 1024)
    assert (r5["version"], r5["function_name"], r5["outcome"]) == ("43", "orders-api", "success")
    assert r5["trace_id"] == "6740d2a0aaaabbbbccccddddeeeeffff"
    r6 = invocation(db, R[6])
    assert (r6["outcome"], r6["error_type"], r6["cold_start"]) == ("error", "ValueError", False)
    (msg,) = one(db, "SELECT message FROM logs WHERE request_id = ? AND level = 'error'", R[6])
    assert json.loads(msg)["errorType"] == "ValueError"
    (app,) = one(db, "SELECT message FROM logs WHERE request_id = ? AND level = 'info'", R[5])
    assert app == "loading order 18"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("get_log_events.json", "cloudwatch-get-log-events"),
        ("filter_log_events_pages.json", "cloudwatch-filter-log-events"),
        (
            "s3_export/0f3c9a1e-task/2026/11/22/[42]0a1b2c3d4e5f60718293a4b5c6d7e8f9/000000.gz",
            "cloudwatch-s3-export",
        ),
    ],
)
def test_cloudwatch_exports(db: Path, name: str, fmt: str) -> None:
    report = _ingest(db, name)
    assert report.files[0].format == fmt
    assert report.totals["invocations"] == 4
    _check_platform_text(db, with_stream=name != "get_log_events.json")


def test_filter_log_events_reads_every_page(db: Path) -> None:
    _ingest(db, "filter_log_events_pages.json")
    # page 1 holds R1 and R2, page 2 R3 and R4
    assert invocation(db, R[4])["log_stream"].startswith("2026/11/22/[42]")


@pytest.mark.parametrize("name", ["subscription_event.json", "subscription_decoded.json"])
def test_subscription_payloads(db: Path, name: str) -> None:
    report = _ingest(db, name)
    assert report.files[0].format == "cloudwatch-subscription"
    r7 = invocation(db, R[7])
    assert (r7["function_name"], r7["version"], r7["cold_start"]) == ("orders-api", "42", True)
    assert r7["ts"] == dt.datetime(2026, 11, 22, 10, 3, 20, 180000)
    assert invocation(db, R[8])["billed_duration_ms"] == 13


def test_firehose_object_concatenated_gzip_without_extension(db: Path) -> None:
    report = _ingest(db, "firehose-orders-1-2026-11-22-10-03-20-4b1f")
    assert report.files[0].format == "firehose"
    assert report.totals["invocations"] == 3  # R7, R8 and R9; the control message is skipped
    r9 = invocation(db, R[9])
    assert (r9["duration_ms"], r9["log_stream"]) == (
        9.99,
        "2026/11/22/[42]ffff0000ffff0000ffff0000ffff0000",
    )


def test_otlp_traces_one_request_per_line(db: Path) -> None:
    report = _ingest(db, "otlp_traces.jsonl")
    assert report.files[0].format == "otlp-json"
    assert report.totals == {"invocations": 2, "spans": 4, "logs": 0}
    kind, status, parent, dur, attrs, res = one(
        db,
        "SELECT kind, status_code, parent_span_id, duration_ms, attributes, resource_attributes "
        "FROM spans WHERE span_id = 'eee19b7ec3c1b174'",
    )
    assert (kind, status, parent, dur) == ("SERVER", "UNSET", None, 42.5)
    assert attrs["faas.coldstart"] == "true" and attrs["http.route"] == "/orders"
    assert json.loads(attrs["fnlens.tags"]) == ["a", "b"]
    assert res["service.name"] == "orders"
    a = invocation(db, "0a0b0c0d-0001-4000-8000-000000000001")
    assert (a["cold_start"], a["duration_ms"], a["memory_size_mb"]) == (True, 42.5, 512)
    assert (a["version"], a["function_version"], a["http_status_code"]) == ("1.4.0", "44", 201)
    assert a["trace_id"] == "5b8efff798038103d269b633813fc60c"
    b = invocation(db, "0a0b0c0d-0002-4000-8000-000000000002")
    assert (b["outcome"], b["error_type"], b["error_message"]) == (
        "error",
        "KeyError",
        "KeyError: 'sku'",
    )


def test_otlp_logs_and_metrics_pretty_printed(db: Path) -> None:
    report = _ingest(db, "otlp_logs_metrics.json")
    assert report.files[0].format == "otlp-json"
    got = rows(db, "SELECT level, message, request_id, span_id FROM logs ORDER BY ts, message")
    assert got[0] == (
        "info",
        "order created",
        "0a0b0c0d-0001-4000-8000-000000000001",
        "eee19b7ec3c1b174",
    )
    assert got[1][0] == "error" and json.loads(got[1][1]) == {"error": "KeyError", "detail": "sku"}
    metrics = {
        m: json.loads(a)
        for m, a in rows(db, "SELECT message, attributes FROM logs WHERE level = 'metric'")
    }
    assert metrics["fnlens.invocations"]["value"] == 2.0
    assert metrics["fnlens.duration"] == {
        "metric_type": "histogram",
        "unit": "ms",
        "count": 2,
        "sum": 59.75,
        "attributes": {},
    }


def test_otlp_from_the_real_sdk_protobuf_json(db: Path, tmp_path: Path) -> None:
    """The SDK's own encoder + protobuf's JSON mapping: base64 ids, enum names."""
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "sdk-svc", "faas.name": "fn-x"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(
        "handler",
        kind=SpanKind.SERVER,
        attributes={"faas.invocation_id": "sdk-req-1", "faas.coldstart": True},
    ) as span:
        ctx = span.get_span_context()
    spans = exporter.get_finished_spans()
    f = tmp_path / "sdk.json"
    f.write_text(MessageToJson(encode_spans(spans)))
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 0, report.summary_lines()
    trace_id, span_id, kind = one(db, "SELECT trace_id, span_id, kind FROM spans")
    assert (trace_id, span_id, kind) == (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", "SERVER")
    inv = invocation(db, "sdk-req-1")
    assert (inv["function_name"], inv["service"], inv["cold_start"]) == ("fn-x", "sdk-svc", True)


def test_powertools_logger_and_emf(db: Path) -> None:
    report = _ingest(db, "powertools.jsonl")
    assert report.files[0].format == "powertools"
    a = invocation(db, "52fdfc07-2182-154f-163f-5f0f9a621d72")
    assert (a["cold_start"], a["function_name"], a["memory_size_mb"], a["version"]) == (
        True,
        "payment-fn",
        256,
        "7",
    )
    assert a["trace_id"] == "5759e988bd862e3fe1be46a994272793"
    assert a["ts"] == dt.datetime(2026, 11, 22, 10, 0, 0, 180000)
    b = invocation(db, "7b4ed8c1-0e0a-4b6f-9a43-2f3c7f1d2e11")
    assert b["cold_start"] is False
    (attrs,) = one(db, "SELECT attributes FROM logs WHERE level = 'error'")
    assert json.loads(attrs)["exception_name"] == "ZeroDivisionError"
    emf = rows(db, "SELECT message FROM logs WHERE level = 'metric' ORDER BY source_line")
    assert emf == [
        ("EMF Shop: ColdStart",),
        ("EMF Shop: PaymentsCollected",),
        ("EMF Shop: PaymentsCollected",),
    ]


def test_snapstart_restore_and_init_report(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "snap.log"
    f.write_text(
        "RESTORE_START Runtime Version: python:3.12.v38\n"
        "RESTORE_REPORT Restore Duration: 310.52 ms\n"
        "START RequestId: s-1 Version: 5\n"
        "REPORT RequestId: s-1\tDuration: 8.00 ms\tBilled Duration: 9 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 70 MB\tRestore Duration: 310.52 ms\tBilled Restore Duration: 150 ms\t\n"
        "INIT_REPORT Init Duration: 9999.99 ms\tPhase: init\tStatus: error\t"
        "Error Type: Runtime.Unknown\n"
    )
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 0
    s = invocation(db, "s-1")
    assert (s["cold_start"], s["init_type"], s["init_duration_ms"], s["version"]) == (
        True,
        "snap-start",
        None,
        "5",
    )
    levels = dict(rows(db, "SELECT substr(message, 1, 11), level FROM logs"))
    assert levels["INIT_REPORT"] == "error"


def test_json_array_of_pages(db: Path, tmp_path: Path) -> None:
    pages = (FIXTURES / "filter_log_events_pages.json").read_text()
    p1, p2 = pages.split("\n}\n", 1)
    f = tmp_path / "pages.json"
    f.write_text("[" + p1 + "\n}," + p2 + "]")
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 0
    assert report.files[0].format == "cloudwatch-filter-log-events"
    assert report.totals["invocations"] == 4
