"""Regenerate the real-shaped input fixtures (run by hand; the files are committed).

Shapes follow AWS and OpenTelemetry documentation and real output: REPORT lines are
tab separated with a trailing tab, the CLI prints pretty JSON with 4-space indents,
subscription payloads are base64(gzip(json)), Firehose objects concatenate records,
S3 exports are gzip `timestamp message` lines, Powertools lines were captured from
aws-lambda-powertools 3 (timestamps fixed), OTLP follows the collector file exporter.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

F = Path(__file__).parent / "fixtures"
FN = "orders-api"
GROUP = f"/aws/lambda/{FN}"
STREAM = "2026/11/22/[42]0a1b2c3d4e5f60718293a4b5c6d7e8f9"
R = {i: f"8f507cfc-000{i}-4697-b07a-ac58fc914c95" for i in range(1, 10)}
XRAY = "1-6740d2a0-5c4e2f1a9b8d7c6e5f4a3b2c"
T0 = 1795341600000  # 2026-11-22T10:00:00Z in ms


def iso(ms: int) -> str:
    from datetime import datetime, timezone

    return (
        datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )


def platform_messages(base: int) -> list[tuple[int, str]]:
    """(timestamp ms, message) for R1 cold+ok, R2 warm+ok, R3 timeout, R4 crash."""
    r1, r2, r3, r4 = R[1], R[2], R[3], R[4]
    return [
        (
            base,
            "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0cdc5f0d9b3e\n",
        ),
        (base + 180, f"START RequestId: {r1} Version: 42\n"),
        (base + 181, f"[INFO]\t{iso(base + 181)}\t{r1}\tloading order 17\n"),
        (base + 200, f"END RequestId: {r1}\n"),
        (
            base + 200,
            f"REPORT RequestId: {r1}\tDuration: 20.51 ms\tBilled Duration: 21 ms\tMemory Size: 512 MB\tMax Memory Used: 81 MB\tInit Duration: 174.26 ms\tXRAY TraceId: {XRAY}\tSegmentId: 07f5a1b2c3d4e5f6\tSampled: true\t\n",
        ),
        (base + 1000, f"START RequestId: {r2} Version: 42\n"),
        (base + 1012, f"END RequestId: {r2}\n"),
        (
            base + 1012,
            f"REPORT RequestId: {r2}\tDuration: 12.02 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 82 MB\t\n",
        ),
        (base + 2000, f"START RequestId: {r3} Version: 42\n"),
        (base + 5003, f"{iso(base + 5003)} {r3} Task timed out after 3.00 seconds\n"),
        (base + 5003, f"END RequestId: {r3}\n"),
        (
            base + 5003,
            f"REPORT RequestId: {r3}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\tStatus: timeout\n",
        ),
        (base + 6000, f"START RequestId: {r4} Version: 42\n"),
        (
            base + 6050,
            f"RequestId: {r4} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
        ),
        (base + 6050, f"END RequestId: {r4}\n"),
        (
            base + 6050,
            f"REPORT RequestId: {r4}\tDuration: 50.00 ms\tBilled Duration: 50 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\tStatus: error\tError Type: Runtime.ExitError\n",
        ),
    ]


def fnlens_lines() -> list[str]:
    def inv(i: int, ms: int, **kw: object) -> dict:
        rec = {
            "timestamp": iso(ms)[:-1] + "000Z",
            "level": "info",
            "event": "invocation",
            "service": "orders",
            "service_version": None,
            "cloud_provider": "aws",
            "region": "us-east-1",
            "function_name": FN,
            "function_version": "42",
            "function_alias": "live",
            "memory_limit_mb": 512,
            "request_id": R[i],
            "trace_id": "6740d2a05c4e2f1a9b8d7c6e5f4a3b2c",
            "span_id": f"00f067aa0ba902b{i}",
            "xray_trace_id": XRAY,
            "cold_start": False,
            "init_type": None,
            "init_duration_ms": None,
            "duration_ms": 10.0,
            "outcome": "success",
            "error_type": None,
            "error_message": None,
            "trigger": "http",
            "event_source": "aws:apigateway:v2",
            "http_method": "GET",
            "http_route": "/orders/{id}",
            "http_status_code": 200,
            "telemetry_flush_ms": 0.4,
            "telemetry_dropped": 0,
        }
        rec.update(kw)
        return rec

    log = {
        "timestamp": iso(T0 + 181)[:-1] + "000Z",
        "level": "info",
        "event": "loading order",
        "request_id": R[1],
        "trace_id": "6740d2a05c4e2f1a9b8d7c6e5f4a3b2c",
        "span_id": "00f067aa0ba902b1",
        "cold_start": True,
        "service": "orders",
        "function_name": FN,
        "function_version": "42",
        "order_id": 17,
    }
    recs = [
        log,
        inv(
            1,
            T0 + 180,
            cold_start=True,
            init_type="on-demand",
            init_duration_ms=170.0,
            duration_ms=19.8,
        ),
        inv(2, T0 + 1000, duration_ms=11.7),
        inv(
            3,
            T0 + 2000,
            level="error",
            outcome="timeout",
            error_type="TimeoutError",
            error_message="handler did not finish before the deadline",
            duration_ms=2950.0,
            http_status_code=504,
        ),
        {
            **log,
            "event": "order not found",
            "level": "warning",
            "request_id": R[2],
            "cold_start": False,
        },
    ]
    return [json.dumps(r) for r in recs]


def main() -> None:
    F.mkdir(exist_ok=True)
    msgs = platform_messages(T0)
    # 1. fnlens JSONL
    (F / "fnlens.jsonl").write_text("\n".join(fnlens_lines()) + "\n")
    # 2. Lambda text, tabs, as the console / `sam logs` shows raw messages
    (F / "lambda_text.log").write_text(
        "".join(m for _, m in msgs) + "[INFO]\t2026-11-22T10:00:06.100Z\tundefined\tshutting down\n"
    )
    # 3. the same with spaces instead of tabs, timestamp + stream prefix (`aws logs tail`)
    lines = []
    for ms, m in msgs:
        first, *rest = m.replace("\t", "  ").splitlines()
        lines.append(f"{iso(ms)[:-1]}000+00:00 {STREAM} {first}   ")
        lines.extend(rest)
    (F / "lambda_text_tail.log").write_text("\n".join(lines) + "\n")
    # 4. Lambda JSON log format
    b = T0 + 100_000
    r5, r6 = R[5], R[6]
    tracing = {
        "spanId": "296e2a2c5f3a1b9d",
        "type": "X-Amzn-Trace-Id",
        "value": "Root=1-6740d2a0-aaaabbbbccccddddeeeeffff;Parent=296e2a2c5f3a1b9d;Sampled=1",
    }
    lj = [
        {
            "time": iso(b),
            "type": "platform.initStart",
            "record": {
                "initializationType": "provisioned-concurrency",
                "phase": "init",
                "runtimeVersion": "python:3.12.v38",
                "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:0cdc5f0d9b3e",
                "functionName": FN,
                "functionVersion": "43",
            },
        },
        {
            "time": iso(b + 250),
            "type": "platform.initReport",
            "record": {
                "initializationType": "provisioned-concurrency",
                "phase": "init",
                "status": "success",
                "metrics": {"durationMs": 250.11},
            },
        },
        {
            "time": iso(b + 300),
            "type": "platform.start",
            "record": {"requestId": r5, "version": "43", "tracing": tracing},
        },
        {
            "timestamp": iso(b + 301),
            "level": "INFO",
            "message": "loading order 18",
            "logger": "root",
            "requestId": r5,
        },
        {
            "time": iso(b + 330),
            "type": "platform.runtimeDone",
            "record": {
                "requestId": r5,
                "status": "success",
                "tracing": tracing,
                "spans": [{"name": "responseLatency", "start": iso(b + 300), "durationMs": 29.5}],
                "metrics": {"durationMs": 30.1, "producedBytes": 52},
            },
        },
        {
            "time": iso(b + 331),
            "type": "platform.report",
            "record": {
                "requestId": r5,
                "metrics": {
                    "durationMs": 30.12,
                    "billedDurationMs": 31,
                    "memorySizeMB": 1024,
                    "maxMemoryUsedMB": 95,
                    "initDurationMs": 240.5,
                },
                "tracing": tracing,
                "status": "success",
            },
        },
        {
            "time": iso(b + 1000),
            "type": "platform.start",
            "record": {"requestId": r6, "version": "43"},
        },
        {
            "timestamp": iso(b + 1001),
            "level": "ERROR",
            "message": {
                "errorMessage": "boom",
                "errorType": "ValueError",
                "requestId": r6,
                "stackTrace": [
                    '  File "/var/task/app.py", line 9, in handler\n    raise ValueError("boom")\n'
                ],
            },
            "requestId": r6,
        },
        {
            "time": iso(b + 1040),
            "type": "platform.report",
            "record": {
                "requestId": r6,
                "metrics": {
                    "durationMs": 40.0,
                    "billedDurationMs": 40,
                    "memorySizeMB": 1024,
                    "maxMemoryUsedMB": 96,
                },
                "status": "error",
                "errorType": "ValueError",
            },
        },
    ]
    (F / "lambda_json.jsonl").write_text(
        "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lj)
    )
    # 5. get-log-events, pretty printed by the AWS CLI
    gle = {
        "events": [{"timestamp": ms, "message": m, "ingestionTime": ms + 40} for ms, m in msgs],
        "nextForwardToken": "f/38000000000000000000000000000000000000000000000000000000",
        "nextBackwardToken": "b/38000000000000000000000000000000000000000000000000000000",
    }
    (F / "get_log_events.json").write_text(json.dumps(gle, indent=4) + "\n")
    # 6. filter-log-events: two pages appended to one file (`>>`)
    ev = [
        {
            "logStreamName": STREAM,
            "timestamp": ms,
            "message": m,
            "ingestionTime": ms + 40,
            "eventId": f"3{ms}{i:04d}",
        }
        for i, (ms, m) in enumerate(msgs)
    ]
    p1 = {
        "events": ev[:8],
        "searchedLogStreams": [],
        "nextToken": "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCr",
    }
    p2 = {"events": ev[8:], "searchedLogStreams": []}
    (F / "filter_log_events_pages.json").write_text(
        json.dumps(p1, indent=4) + "\n" + json.dumps(p2, indent=4) + "\n"
    )
    # 7/8. subscription payloads (encoded as a Lambda receives them; decoded)
    b2 = T0 + 200_000
    sub_msgs = [(ms + 200_000, m.replace(R[1], R[7]).replace(R[2], R[8])) for ms, m in msgs[:8]]
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": GROUP,
        "logStream": STREAM,
        "subscriptionFilters": ["fnlens"],
        "logEvents": [
            {"id": f"3{ms}{i:04d}", "timestamp": ms, "message": m}
            for i, (ms, m) in enumerate(sub_msgs)
        ],
    }
    enc = base64.b64encode(gzip.compress(json.dumps(data).encode(), mtime=0)).decode()
    (F / "subscription_event.json").write_text(
        json.dumps({"awslogs": {"data": enc}}, indent=2) + "\n"
    )
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": b2,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }
    (F / "subscription_decoded.json").write_text(json.dumps(data, indent=2) + "\n")
    # 9. Firehose object: records concatenated without separators, gzip (multi-member)
    data2 = dict(
        data,
        logStream="2026/11/22/[42]ffff0000ffff0000ffff0000ffff0000",
        logEvents=[
            {
                "id": "1",
                "timestamp": b2 + 9000,
                "message": f"START RequestId: {R[9]} Version: 42\n",
            },
            {
                "id": "2",
                "timestamp": b2 + 9010,
                "message": f"REPORT RequestId: {R[9]}\tDuration: 9.99 ms\tBilled Duration: 10 ms\tMemory Size: 512 MB\tMax Memory Used: 70 MB\t\n",
            },
        ],
    )
    firehose = gzip.compress(json.dumps(control).encode(), mtime=0) + gzip.compress(
        (json.dumps(data) + json.dumps(data2)).encode(), mtime=0
    )
    (F / "firehose-orders-1-2026-11-22-10-03-20-4b1f").write_bytes(firehose)
    # 10. S3 export (CreateExportTask): `timestamp message` lines, gzip
    # layout: <prefix>/<task id>/<log stream name>/000000.gz
    s3_dir = F / "s3_export" / "0f3c9a1e-task" / STREAM
    s3_dir.mkdir(parents=True, exist_ok=True)
    s3 = "".join(f"{iso(ms)} {m if m.endswith(chr(10)) else m + chr(10)}" for ms, m in msgs)
    (s3_dir / "000000.gz").write_bytes(gzip.compress(s3.encode(), mtime=0))
    # 12. Powertools Logger + Metrics, captured from aws-lambda-powertools 3
    (F / "powertools.jsonl").write_text(
        (Path(__file__).parent / "powertools_capture.txt").read_text()
    )
    # 11. OTLP JSON from the collector's file exporter
    write_otlp()


def _kv(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def write_otlp() -> None:
    ns = T0 * 1_000_000 + 300_000_000_000
    resource = {
        "attributes": [
            _kv("service.name", "orders"),
            _kv("service.version", "1.4.0"),
            _kv("cloud.provider", "aws"),
            _kv("cloud.region", "us-east-1"),
            _kv("faas.name", FN),
            _kv("faas.version", "44"),
            _kv("faas.max_memory", 536870912),
        ]
    }
    scope = {"name": "fnlens", "version": "0.1.0"}

    def server(i: int, trace: str, span: str, start: int, dur_ms: float, error: bool) -> dict:
        attrs = [
            _kv("faas.trigger", "http"),
            _kv("faas.invocation_id", f"0a0b0c0d-000{i}-4000-8000-00000000000{i}"),
            _kv("faas.coldstart", i == 1),
            _kv("http.request.method", "POST"),
            _kv("http.route", "/orders"),
            _kv("http.response.status_code", 500 if error else 201),
            {
                "key": "fnlens.tags",
                "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}},
            },
        ]
        span_obj = {
            "traceId": trace,
            "spanId": span,
            "parentSpanId": "",
            "flags": 257,
            "name": "POST /orders",
            "kind": 2,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + int(dur_ms * 1e6)),
            "attributes": attrs,
            "status": {"code": 2, "message": "KeyError: 'sku'"} if error else {},
        }
        if error:
            span_obj["events"] = [
                {
                    "timeUnixNano": str(start + 1000),
                    "name": "exception",
                    "attributes": [
                        _kv("exception.type", "KeyError"),
                        _kv("exception.message", "'sku'"),
                    ],
                }
            ]
        child = {
            "traceId": trace,
            "spanId": span[:-1] + "f",
            "parentSpanId": span,
            "name": "dynamodb.PutItem",
            "kind": 3,
            "startTimeUnixNano": str(start + 1_000_000),
            "endTimeUnixNano": str(start + 5_000_000),
            "attributes": [_kv("rpc.system", "aws-api"), _kv("rpc.service", "DynamoDB")],
            "status": {"code": 0},
        }
        return {
            "resourceSpans": [
                {
                    "resource": resource,
                    "scopeSpans": [{"scope": scope, "spans": [span_obj, child]}],
                    "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
                }
            ]
        }

    lines = [
        server(1, "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", ns, 42.5, False),
        server(2, "6c9f00089914921e37ac744924ad071d", "fff20c8fd4d2c285", ns + 10**9, 17.25, True),
    ]
    (F / "otlp_traces.jsonl").write_text(
        "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)
    )
    logs = {
        "resourceLogs": [
            {
                "resource": resource,
                "scopeLogs": [
                    {
                        "scope": scope,
                        "logRecords": [
                            {
                                "timeUnixNano": str(ns + 2_000_000),
                                "observedTimeUnixNano": str(ns + 2_100_000),
                                "severityNumber": 9,
                                "severityText": "INFO",
                                "body": {"stringValue": "order created"},
                                "attributes": [
                                    _kv(
                                        "faas.invocation_id", "0a0b0c0d-0001-4000-8000-000000000001"
                                    ),
                                    _kv("order_id", 17),
                                ],
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            },
                            {
                                "timeUnixNano": "0",
                                "observedTimeUnixNano": str(ns + 10**9 + 3_000_000),
                                "severityNumber": 17,
                                "body": {
                                    "kvlistValue": {
                                        "values": [_kv("error", "KeyError"), _kv("detail", "sku")]
                                    }
                                },
                                "traceId": "6c9f00089914921e37ac744924ad071d",
                                "spanId": "fff20c8fd4d2c285",
                            },
                        ],
                    }
                ],
            }
        ]
    }
    metrics = {
        "resourceMetrics": [
            {
                "resource": resource,
                "scopeMetrics": [
                    {
                        "scope": scope,
                        "metrics": [
                            {
                                "name": "fnlens.invocations",
                                "unit": "1",
                                "sum": {
                                    "aggregationTemporality": 1,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": str(ns),
                                            "timeUnixNano": str(ns + 60 * 10**9),
                                            "asInt": "2",
                                            "attributes": [_kv("faas.trigger", "http")],
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "fnlens.duration",
                                "unit": "ms",
                                "histogram": {
                                    "aggregationTemporality": 1,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": str(ns),
                                            "timeUnixNano": str(ns + 60 * 10**9),
                                            "count": "2",
                                            "sum": 59.75,
                                            "bucketCounts": ["1", "1"],
                                            "explicitBounds": [20.0],
                                        }
                                    ],
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }
    (F / "otlp_logs_metrics.json").write_text(
        json.dumps(logs, indent=2) + "\n" + json.dumps(metrics, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
