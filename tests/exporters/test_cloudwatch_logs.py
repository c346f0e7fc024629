"""CloudWatch Logs API exporter against moto_server: read back with GetLogEvents."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from fnlens.exporters._cloudwatch_logs import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_SPAN_MS,
    CloudWatchLogsSink,
    split_batches,
)

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def logs_client(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("logs", region_name="us-east-1", endpoint_url=moto_server, **CREDS)


def read_all(client, group, stream):
    messages = []
    token = None
    for _ in range(1000):  # bounded pagination
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        messages.extend(e["message"] for e in page["events"])
        if page["nextForwardToken"] == token or not page["events"]:
            break
        token = page["nextForwardToken"]
    return messages


def _event(i, ts, pad=0):
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{i % 1000:03d}000Z",
        "level": "info",
        "event": "invocation" if i % 2 else "log line",
        "seq": i,
        "pad": "x" * pad,
    }


@pytest.mark.e2e
def test_records_arrive_in_order_none_lost_across_batches(moto_server, logs_client):
    group, stream = "/fnlens/moto-test", "stream-1"
    sink = CloudWatchLogsSink(
        group, stream, region="us-east-1", endpoint_url=moto_server, max_queue_size=30_000
    )
    base = int(time.time()) - 60
    n = 12_500  # more than one batch of 10,000 events
    for i in range(n):
        sink.emit(_event(i, base + i // 1000))
    sink.queue.flush(60)
    assert sink.dropped() == 0
    assert sink.calls >= 2  # group/stream were missing: created, then batches sent
    messages = read_all(logs_client, group, stream)
    seqs = [json.loads(m)["seq"] for m in messages]
    assert seqs == list(range(n))
    first = json.loads(messages[0])
    assert list(first)[:3] == ["timestamp", "level", "event"]
    sink.shutdown()


@pytest.mark.e2e
def test_byte_limit_splits_large_events(moto_server, logs_client):
    group, stream = "/fnlens/moto-bytes", "stream-2"
    sink = CloudWatchLogsSink(group, stream, region="us-east-1", endpoint_url=moto_server)
    base = int(time.time()) - 10
    for i in range(30):
        sink.emit(_event(i, base, pad=100_000))  # ~100 KB each: 3 MB in total
    sink.queue.flush(60)
    assert sink.dropped() == 0
    assert sink.calls >= 3
    messages = read_all(logs_client, group, stream)
    assert [json.loads(m)["seq"] for m in messages] == list(range(30))
    sink.shutdown()


@pytest.mark.e2e
def test_throttling_is_retried(moto_server, logs_client):
    real = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_server, **CREDS)

    class Throttling:  # fault injection around the real client
        def __init__(self):
            self.failures = 2

        def __getattr__(self, name):
            return getattr(real, name)

        def put_log_events(self, **kwargs):
            if self.failures:
                self.failures -= 1
                raise real.exceptions.ThrottlingException(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                    "PutLogEvents",
                )
            return real.put_log_events(**kwargs)

    group, stream = "/fnlens/moto-throttle", "stream-3"
    sink = CloudWatchLogsSink(group, stream, client=Throttling())
    base = int(time.time()) - 10
    for i in range(5):
        sink.emit(_event(i, base))
    sink.queue.flush(30)
    assert sink.dropped() == 0
    assert [json.loads(m)["seq"] for m in read_all(logs_client, group, stream)] == list(range(5))
    sink.shutdown()


def test_split_batches_respects_every_limit():
    events = [{"timestamp": 1_000 + i, "message": "m" * 50} for i in range(25_000)]
    events += [{"timestamp": 2_000 + i, "message": "x" * 200_000} for i in range(12)]
    events += [{"timestamp": 1_000 + MAX_SPAN_MS + 5_000, "message": "late"}]
    events.reverse()  # out of order on input
    batches = list(split_batches(events))
    assert sum(len(b) for b in batches) == len(events)
    flat = [e for b in batches for e in b]
    assert [e["timestamp"] for e in flat] == sorted(e["timestamp"] for e in events)
    for batch in batches:
        assert len(batch) <= MAX_BATCH_EVENTS
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in batch)
        assert size <= MAX_BATCH_BYTES
        assert batch[-1]["timestamp"] - batch[0]["timestamp"] <= MAX_SPAN_MS
