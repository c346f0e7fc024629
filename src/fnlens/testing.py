"""Test kit for fnlens users: a fake Lambda context, event factories and capture.

Example::

    from fnlens.testing import LambdaContext, events, capture

    def test_get_order():
        with capture() as telemetry:
            handler(events.api_gateway_v2("GET /orders/{id}", path="/orders/7"), LambdaContext())
        record = telemetry.invocation()
        assert record["http_route"] == "/orders/{id}"
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fnlens.runtime._telemetry import TELEMETRY

__all__ = [
    "CapturedTelemetry",
    "LambdaContext",
    "capture",
    "events",
    "reset",
    "reset_cold_start",
]


@dataclass
class LambdaContext:
    """Behaves like the context object the Lambda runtime passes to handlers."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    timeout_ms: int = 3000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"
    account_id: str = "123456789012"
    alias: str | None = None
    log_group_name: str | None = None
    log_stream_name: str | None = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        qualifier = f":{self.alias}" if self.alias else ""
        self.invoked_function_arn = (
            f"arn:aws:lambda:{self.region}:{self.account_id}:function:"
            f"{self.function_name}{qualifier}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = (
            self.log_stream_name
            or f"{time.strftime('%Y/%m/%d')}/[{self.function_version}]{uuid.uuid4().hex}"
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the context's timeout, counted from its creation."""
        elapsed_ms = (time.monotonic() - self._started) * 1000.0
        return max(0, int(self.timeout_ms - elapsed_ms))


class CapturedTelemetry:
    """Everything fnlens emitted while capturing: invocation records and log lines."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    # sink protocol
    def emit(self, event: Mapping[str, Any]) -> None:
        """Keep a copy of one emitted event (a record or a log line)."""
        self.events.append(dict(event))

    def flush(self, timeout_s: float) -> None:
        """Nothing to flush: events are kept as they arrive."""
        return

    def shutdown(self) -> None:
        """Nothing to stop."""
        return

    @property
    def records(self) -> list[dict[str, Any]]:
        """Invocation records, in order."""
        return [e for e in self.events if e.get("event") == "invocation"]

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Log lines other than invocation records."""
        return [e for e in self.events if e.get("event") != "invocation"]

    def invocation(self) -> dict[str, Any]:
        """The single invocation record; fails loudly if there is not exactly one."""
        records = self.records
        if len(records) != 1:
            raise AssertionError(f"expected exactly 1 invocation record, got {len(records)}")
        return records[0]


@contextmanager
def capture() -> Iterator[CapturedTelemetry]:
    """Capture fnlens events for the duration of the block (stdout output is unchanged)."""
    captured = CapturedTelemetry()
    TELEMETRY.add_sink(captured)
    try:
        yield captured
    finally:
        TELEMETRY.remove_sink(captured)


def reset() -> None:
    """Put fnlens back as a fresh ``import fnlens`` has it.

    So one test's configuration cannot leak into the next: call it after each test,
    e.g. in an autouse fixture.

    Installed exporters get at most 0.5 s in all to deliver, then are shut down and
    forgotten (their queues stopped, worker threads joined within a bound; one stuck
    in a request to a hung collector ends with that request); the registry loses
    every sink and hook, the next decorated handler configures exporters again from the
    environment; the log pipeline, cold-start state, after-response window (the runtime
    client is unhooked), sampler, propagators, flush policy and one-time warnings start
    over. What it cannot undo: OpenTelemetry's global tracer provider, if a span
    exporter made fnlens set it (OpenTelemetry sets it once per process; it is left with
    no processors and exports nothing), and the exit/SIGTERM hooks (they flush what is
    installed when they run). fnlens never configures structlog globally.
    Raises ``RuntimeError`` naming each part that could not be reset.
    """
    from fnlens._state import reset_all

    reset_all()


def reset_cold_start(**kwargs: Any) -> None:
    """Make the next invocation in this process the first one again."""
    from fnlens.runtime._coldstart import TRACKER

    TRACKER.reset(**kwargs)


class _Events:
    """Factories for realistic trigger events (shapes from the AWS documentation)."""

    @staticmethod
    def api_gateway_v2(
        route_key: str = "GET /orders/{id}",
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        domain: str = "abc123.execute-api.us-east-1.amazonaws.com",
        path_parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        method, _, template = route_key.partition(" ")
        raw_path = path or template or "/"
        return {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", **dict(headers or {})},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": domain.split(".", maxsplit=1)[0],
                "domainName": domain,
                "http": {
                    "method": method or "GET",
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "fnlens-test",
                },
                "requestId": uuid.uuid4().hex[:16],
                "routeKey": route_key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "timeEpoch": int(time.time() * 1000),
            },
            "pathParameters": dict(path_parameters or {}),
            "body": body,
            "isBase64Encoded": False,
        }

    @staticmethod
    def function_url(
        method: str = "GET",
        path: str = "/",
        *,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        event = _Events.api_gateway_v2(
            "$default",
            path=path,
            headers=headers,
            body=body,
            domain="abcdefgh.lambda-url.us-east-1.on.aws",
        )
        event["requestContext"]["http"]["method"] = method
        return event

    @staticmethod
    def api_gateway_v1(
        resource: str = "/orders/{id}",
        *,
        method: str = "GET",
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        raw_path = path or resource
        return {
            "resource": resource,
            "path": raw_path,
            "httpMethod": method,
            "headers": dict(headers or {}),
            "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
            "queryStringParameters": None,
            "pathParameters": None,
            "requestContext": {
                "accountId": "123456789012",
                "resourcePath": resource,
                "httpMethod": method,
                "path": f"/prod{raw_path}",
                "stage": "prod",
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "192.0.2.1"},
            },
            "body": body,
            "isBase64Encoded": False,
        }

    @staticmethod
    def alb(
        method: str = "GET",
        path: str = "/",
        *,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        return {
            "requestContext": {
                "elb": {
                    "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                    "targetgroup/lambda/abcdef"
                }
            },
            "httpMethod": method,
            "path": path,
            "queryStringParameters": {},
            "headers": dict(headers or {}),
            "body": body or "",
            "isBase64Encoded": False,
        }

    @staticmethod
    def sqs(
        bodies: list[str] | None = None,
        *,
        queue: str = "orders",
        trace_headers: list[str | None] | None = None,
    ) -> dict[str, Any]:
        bodies = bodies if bodies is not None else ["{}"]
        records = []
        for i, body in enumerate(bodies):
            attributes = {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            }
            header = trace_headers[i] if trace_headers and i < len(trace_headers) else None
            if header:
                attributes["AWSTraceHeader"] = header
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": "AQEB" + uuid.uuid4().hex,
                    "body": body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": "0" * 32,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                    "awsRegion": "us-east-1",
                }
            )
        return {"Records": records}

    @staticmethod
    def sns(messages: list[str] | None = None, *, topic: str = "orders") -> dict[str, Any]:
        arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
        return {
            "Records": [
                {
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{arn}:{uuid.uuid4()}",
                    "EventSource": "aws:sns",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": str(uuid.uuid4()),
                        "TopicArn": arn,
                        "Message": message,
                        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                        "MessageAttributes": {},
                    },
                }
                for message in (messages if messages is not None else ["{}"])
            ]
        }

    @staticmethod
    def eventbridge(
        detail: Mapping[str, Any] | None = None,
        *,
        source: str = "com.example.orders",
        detail_type: str = "OrderPlaced",
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "us-east-1",
            "resources": [],
            "detail": dict(detail or {}),
        }

    @staticmethod
    def scheduled(rule: str = "every-5-minutes") -> dict[str, Any]:
        event = _Events.eventbridge({}, source="aws.events", detail_type="Scheduled Event")
        event["resources"] = [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"]
        return event

    @staticmethod
    def s3(keys: list[str] | None = None, *, bucket: str = "uploads") -> dict[str, Any]:
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": key, "size": 1024},
                    },
                }
                for key in (keys if keys is not None else ["file.txt"])
            ]
        }

    @staticmethod
    def dynamodb_stream(count: int = 1, *, table: str = "orders") -> dict[str, Any]:
        arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2024-01-01T00:00:00"
        return {
            "Records": [
                {
                    "eventID": uuid.uuid4().hex,
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "dynamodb": {"Keys": {"id": {"S": str(i)}}, "SequenceNumber": str(i)},
                    "eventSourceARN": arn,
                }
                for i in range(count)
            ]
        }

    @staticmethod
    def kinesis(payloads: list[Any] | None = None, *, stream: str = "clicks") -> dict[str, Any]:
        return {
            "Records": [
                {
                    "kinesis": {
                        "partitionKey": str(i),
                        "sequenceNumber": str(10**20 + i),
                        "data": base64.b64encode(json.dumps(p).encode()).decode(),
                        "approximateArrivalTimestamp": time.time(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventID": f"shardId-000000000000:{10**20 + i}",
                    "eventName": "aws:kinesis:record",
                    "eventSourceARN": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
                    "awsRegion": "us-east-1",
                }
                for i, p in enumerate(payloads if payloads is not None else [{}])
            ]
        }


events = _Events()
