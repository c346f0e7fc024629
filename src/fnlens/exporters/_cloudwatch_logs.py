"""CloudWatch Logs API exporter for code running outside Lambda (containers, servers, laptops).

Inside Lambda, stdout already is CloudWatch Logs; elsewhere this sink ships the
same JSON lines with ``PutLogEvents`` through boto3 — imported on the worker
thread at the first export, never on the caller's path. Batches respect the
API's limits: at most 10,000 events and 1,048,576 bytes (UTF-8 message bytes +
26 bytes per event), events in chronological order, a batch spanning at most
24 hours. The log group and stream are created when missing; throttling is
retried with bounded exponential backoff; what cannot be delivered is counted
as dropped. Queued events are flushed at exit.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from fnlens.exporters._flushing import POLICY
from fnlens.exporters._queue import ExportQueue
from fnlens.runtime._telemetry import TELEMETRY

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD_BYTES  # one event, message bytes
MAX_SPAN_MS = 24 * 3600 * 1000
RETRYABLE = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "InternalFailure", "RequestExpired"}
)
_TRUNCATED = "…[truncated by fnlens]"


def _timestamp_ms(event: Mapping[str, Any]) -> int:
    value = event.get("timestamp")
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return int(time.time() * 1000)


def _message(event: Mapping[str, Any]) -> str:
    ordered = {
        "timestamp": event.get("timestamp"),
        "level": event.get("level"),
        "event": event.get("event"),
    }
    ordered.update(event)
    text = json.dumps(ordered, default=str, separators=(",", ":"))
    data = text.encode("utf-8")
    if len(data) > MAX_EVENT_BYTES:
        keep = MAX_EVENT_BYTES - len(_TRUNCATED.encode("utf-8"))
        text = data[:keep].decode("utf-8", "ignore") + _TRUNCATED
    return text


def split_batches(events: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Sort ``{"timestamp": ms, "message": str}`` events and cut them into valid batches."""
    ordered = sorted(events, key=lambda e: e["timestamp"])  # stable: keeps emission order
    batch: list[dict[str, Any]] = []
    size = 0
    first_ts = 0
    for event in ordered:
        event_size = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if batch and (
            len(batch) >= MAX_BATCH_EVENTS
            or size + event_size > MAX_BATCH_BYTES
            or event["timestamp"] - first_ts > MAX_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        if not batch:
            first_ts = event["timestamp"]
        batch.append(event)
        size += event_size
    if batch:
        yield batch


def default_stream_name() -> str:
    return (
        f"{time.strftime('%Y/%m/%d')}/{socket.gethostname()}/{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )


class CloudWatchLogsSink:
    """fnlens events → CloudWatch Logs through ``PutLogEvents``, on a background thread."""

    def __init__(
        self,
        log_group: str,
        log_stream: str | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        max_queue_size: int = 50_000,
        max_retries: int = 6,
        schedule_delay_s: float = 1.0,
    ) -> None:
        self.log_group = log_group
        self.log_stream = log_stream or default_stream_name()
        self.region = region
        self.endpoint_url = endpoint_url or os.environ.get("FNLENS_CLOUDWATCH_ENDPOINT")
        self._client = client
        self._client_lock = threading.Lock()
        self.max_retries = max_retries
        self._created = False
        self.calls = 0  # PutLogEvents requests made (for tests and diagnostics)
        self.queue = ExportQueue(
            "cloudwatch-logs",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=MAX_BATCH_EVENTS,
            schedule_delay_s=schedule_delay_s,
            on_error=lambda exc: TELEMETRY.report_failure(self, "export", exc),
        )

    # sink protocol -----------------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> None:
        self.queue.put(event)  # events are not changed after emit

    def flush(self, timeout_s: float) -> None:
        POLICY.flush(self.queue, timeout_s)

    def dropped(self) -> int:
        return self.queue.dropped()

    def shutdown(self) -> None:
        self.queue.shutdown(5.0)

    # worker ------------------------------------------------------------------------
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import boto3  # here, on the worker thread: never on the handler's path

                self._client = boto3.client(
                    "logs", region_name=self.region, endpoint_url=self.endpoint_url
                )
            return self._client

    def _export(self, batch: Sequence[dict[str, Any]]) -> bool:
        events = [{"timestamp": _timestamp_ms(e), "message": _message(e)} for e in batch]
        lost = 0
        for chunk in split_batches(events):
            lost += self._put(chunk)
        if lost:
            self.queue.count_drop(lost)
        return True  # delivered or counted above

    def _put(self, events: list[dict[str, Any]]) -> int:
        """Send one valid batch; returns how many events were lost."""
        client = self.client()
        delay = 0.1
        for attempt in range(self.max_retries + 1):
            try:
                self.calls += 1
                response = client.put_log_events(
                    logGroupName=self.log_group, logStreamName=self.log_stream, logEvents=events
                )
                return _rejected(response, len(events))
            except Exception as exc:
                code = _error_code(exc)
                if code == "ResourceNotFoundException" and not self._created:
                    self._create(client)
                    continue
                if code in RETRYABLE and attempt < self.max_retries:
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 2.0)
                    continue
                TELEMETRY.report_failure(self, f"put_log_events:{code}", exc)
                return len(events)
        return len(events)

    def _create(self, client: Any) -> None:
        self._created = True
        for call, kwargs in (
            (client.create_log_group, {"logGroupName": self.log_group}),
            (
                client.create_log_stream,
                {"logGroupName": self.log_group, "logStreamName": self.log_stream},
            ),
        ):
            try:
                call(**kwargs)
            except Exception as exc:
                if _error_code(exc) != "ResourceAlreadyExistsException":
                    raise


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__


def _rejected(response: Mapping[str, Any], count: int) -> int:
    """Events CloudWatch refused (too old, too new, expired) from ``rejectedLogEventsInfo``."""
    info = response.get("rejectedLogEventsInfo") or {}
    lost = 0
    if "tooNewLogEventStartIndex" in info:
        lost += count - int(info["tooNewLogEventStartIndex"])
    old_end = max(
        int(info.get("tooOldLogEventEndIndex", -1)), int(info.get("expiredLogEventEndIndex", -1))
    )
    if old_end >= 0:
        lost += old_end + 1
    return min(lost, count)
