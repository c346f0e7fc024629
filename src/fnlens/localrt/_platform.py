"""The lines Lambda's platform writes into a log stream, in its text and JSON formats.

Text (the default log format; fields separated by tabs)::

    INIT_START Runtime Version: python:3.11.local  Runtime Version ARN: …
    START RequestId: <id> Version: 1
    END RequestId: <id>
    REPORT RequestId: <id>  Duration: 12.34 ms  Billed Duration: 13 ms  Memory Size: 128 MB
        Max Memory Used: 41 MB  Init Duration: 210.55 ms  XRAY TraceId: 1-…  SegmentId: …
        Sampled: true
    <id> Task timed out after 3.00 seconds

REPORT is one line; Init Duration appears on cold starts only, the XRAY part
only with active tracing, ``Status: timeout`` / ``Status: error`` when not a success.

JSON (``AWS_LAMBDA_LOG_FORMAT=JSON``): ``platform.initStart``, ``platform.start`` and
``platform.report`` records, as CloudWatch receives them.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

TEXT = "text"
JSON = "json"


def iso_now(now: float | None = None) -> str:
    """``2026-11-22T10:00:00.123Z``: CloudWatch's millisecond UTC timestamps."""
    t = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def runtime_version() -> str:
    return f"python:{sys.version_info.major}.{sys.version_info.minor}.local"


@dataclass(frozen=True)
class Report:
    """What one REPORT line says about one invocation."""

    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None = None
    trace_header: str | None = None
    sampled: bool = False
    status: str = "success"  # success | timeout | error (runtime crash)
    error_type: str | None = None
    restore_duration_ms: float | None = None  # SnapStart: the first invocation after a restore
    billed_restore_duration_ms: int | None = None


def _json(kind: str, record: dict[str, Any], now: float | None) -> str:
    return json.dumps({"time": iso_now(now), "type": kind, "record": record}, separators=(",", ":"))


def _tracing(trace_header: str | None) -> dict[str, Any] | None:
    if not trace_header:
        return None
    fields = dict(p.split("=", 1) for p in trace_header.split(";") if "=" in p)
    tracing: dict[str, Any] = {"type": "X-Amzn-Trace-Id", "value": trace_header}
    if fields.get("Parent"):
        tracing["spanId"] = fields["Parent"]
    return tracing


def tracing_record(trace_header: str | None) -> dict[str, Any] | None:
    """The ``tracing`` object of ``platform.*`` records."""
    return _tracing(trace_header)


def report_record(r: Report) -> dict[str, Any]:
    """The ``record`` of a ``platform.report`` event."""
    return json.loads(report(JSON, r))["record"]


def init_start(
    fmt: str,
    function_name: str,
    version: str,
    region: str,
    initialization_type: str = "on-demand",
) -> str:
    arn = f"arn:aws:lambda:{region}::runtime:{runtime_version()}"
    if fmt == JSON:
        record = {
            "initializationType": initialization_type,
            "phase": "init",
            "runtimeVersion": runtime_version(),
            "runtimeVersionArn": arn,
            "functionName": function_name,
            "functionVersion": version,
        }
        return _json("platform.initStart", record, None)
    return f"INIT_START Runtime Version: {runtime_version()}\tRuntime Version ARN: {arn}"


def restore_start(fmt: str, function_name: str, version: str, region: str) -> str:
    """SnapStart: a new environment resumes from the version's snapshot."""
    arn = f"arn:aws:lambda:{region}::runtime:{runtime_version()}"
    if fmt == JSON:
        record = {
            "runtimeVersion": runtime_version(),
            "runtimeVersionArn": arn,
            "functionName": function_name,
            "functionVersion": version,
        }
        return _json("platform.restoreStart", record, None)
    return f"RESTORE_START Runtime Version: {runtime_version()}\tRuntime Version ARN: {arn}"


def restore_report(fmt: str, duration_ms: float, status: str = "success") -> str:
    """The restore is over: the after-restore hooks ran and the runtime asked for work."""
    if fmt == JSON:
        record = {"status": status, "metrics": {"durationMs": duration_ms}}
        return _json("platform.restoreReport", record, None)
    line = f"RESTORE_REPORT Restore Duration: {duration_ms:.2f} ms"
    return line if status == "success" else f"{line}\tStatus: {status}"


def start(fmt: str, request_id: str, version: str, trace_header: str | None) -> str:
    if fmt == JSON:
        record: dict[str, Any] = {"requestId": request_id, "version": version}
        tracing = _tracing(trace_header)
        if tracing:
            record["tracing"] = tracing
        return _json("platform.start", record, None)
    return f"START RequestId: {request_id} Version: {version}"


def end(fmt: str, request_id: str) -> str | None:
    """The END line (text only: the JSON format has no separate end record)."""
    if fmt == JSON:
        return None
    return f"END RequestId: {request_id}"


def timed_out(fmt: str, request_id: str, timeout_s: float) -> str:
    message = f"Task timed out after {timeout_s:.2f} seconds"
    if fmt == JSON:
        line = {"timestamp": iso_now(), "level": "ERROR", "message": message}
        line["requestId"] = request_id
        return json.dumps(line, separators=(",", ":"))
    return f"{request_id} {message}"


def crashed(fmt: str, request_id: str, detail: str, error_type: str) -> str:
    message = f"Error: {detail}"
    if fmt == JSON:
        line = {
            "timestamp": iso_now(),
            "level": "ERROR",
            "message": message,
            "errorType": error_type,
            "requestId": request_id,
        }
        return json.dumps(line, separators=(",", ":"))
    return f"RequestId: {request_id} {message}"


def report(fmt: str, r: Report) -> str:
    if fmt == JSON:
        metrics: dict[str, Any] = {
            "durationMs": r.duration_ms,
            "billedDurationMs": r.billed_duration_ms,
            "memorySizeMB": r.memory_size_mb,
            "maxMemoryUsedMB": r.max_memory_used_mb,
        }
        if r.init_duration_ms is not None:
            metrics["initDurationMs"] = r.init_duration_ms
        if r.restore_duration_ms is not None:
            metrics["restoreDurationMs"] = r.restore_duration_ms
            metrics["billedRestoreDurationMs"] = r.billed_restore_duration_ms
        record: dict[str, Any] = {"requestId": r.request_id, "metrics": metrics, "status": r.status}
        if r.error_type:
            record["errorType"] = r.error_type
        tracing = _tracing(r.trace_header)
        if tracing:
            record["tracing"] = tracing
        return _json("platform.report", record, None)
    parts = [
        f"REPORT RequestId: {r.request_id}",
        f"Duration: {r.duration_ms:.2f} ms",
        f"Billed Duration: {r.billed_duration_ms} ms",
        f"Memory Size: {r.memory_size_mb} MB",
    ]
    if r.max_memory_used_mb is not None:
        parts.append(f"Max Memory Used: {r.max_memory_used_mb} MB")
    if r.init_duration_ms is not None:
        parts.append(f"Init Duration: {r.init_duration_ms:.2f} ms")
    if r.restore_duration_ms is not None:
        parts.append(f"Restore Duration: {r.restore_duration_ms:.2f} ms")
        parts.append(f"Billed Restore Duration: {r.billed_restore_duration_ms} ms")
    if r.status != "success":
        parts.append(f"Status: {r.status}")
        if r.error_type:
            parts.append(f"Error Type: {r.error_type}")
    line = "\t".join(parts) + "\t"
    if r.sampled and r.trace_header:
        fields = dict(p.split("=", 1) for p in r.trace_header.split(";") if "=" in p)
        # Lambda starts this part on a new line of the same event; a stream file keeps
        # one event per line, so it follows a tab instead.
        line += f"XRAY TraceId: {fields.get('Root', '')}\tSegmentId: {fields.get('Parent', '')}\t"
        line += "Sampled: true\t"
    return line
