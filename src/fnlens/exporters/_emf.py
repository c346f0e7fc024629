"""CloudWatch metrics in the Embedded Metric Format, one JSON line on stdout per invocation.

Inside Lambda, stdout *is* the transport: CloudWatch Logs extracts the metrics, so
nothing needs flushing. Metrics: ``Invocations``, ``Errors``, ``Timeouts``,
``ColdStarts``, ``Duration`` and, on cold starts, ``InitDuration``; dimensions
``service``, ``function_name``, ``function_version`` (per-version dashboards need
the version). Documents follow the EMF specification: at most 100 metrics and 30
dimensions, every member at the top level, dimension values strings. Custom metrics
recorded with ``fnlens.metrics`` during the invocation go into the same document as a
second directive, dimensioned by ``service`` and their own dimensions (as Powertools
Metrics dimensions them, so existing alarms find them).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from fnlens.runtime._metrics import METRICS_KEY, MetricSet
from fnlens.runtime._safe_json import safe_repr

DEFAULT_NAMESPACE = "fnlens"
DIMENSIONS = ("service", "function_name", "function_version")
METRICS = (
    ("Invocations", "Count"),
    ("Errors", "Count"),
    ("Timeouts", "Count"),
    ("ColdStarts", "Count"),
    ("Duration", "Milliseconds"),
)
INIT_METRIC = ("InitDuration", "Milliseconds")
MAX_METRICS = 100
MAX_DIMENSIONS = 30


def _directive(namespace: str, with_init: bool) -> list[dict[str, Any]]:
    chosen = (*METRICS, INIT_METRIC) if with_init else METRICS
    metrics = [{"Name": name, "Unit": unit} for name, unit in chosen]
    return [{"Namespace": namespace, "Dimensions": [list(DIMENSIONS)], "Metrics": metrics}]


def emf_document(record: Mapping[str, Any], namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The EMF document for one invocation record."""
    outcome = record.get("outcome")
    init_ms = record.get("init_duration_ms") if record.get("cold_start") else None
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": _directive(namespace, init_ms is not None),
        },
        "service": str(record.get("service") or "unknown"),
        "function_name": str(record.get("function_name") or "unknown"),
        "function_version": str(record.get("function_version") or "$LATEST"),
        "Invocations": 1,
        "Errors": 1 if outcome == "error" else 0,
        "Timeouts": 1 if outcome == "timeout" else 0,
        "ColdStarts": 1 if record.get("cold_start") else 0,
        "Duration": float(record.get("duration_ms") or 0.0),
        # properties (not metrics): searchable in Logs Insights, joinable to the record
        "request_id": record.get("request_id"),
        "trace_id": record.get("trace_id"),
    }
    if init_ms is not None:
        doc["InitDuration"] = float(init_ms)
    return doc


def _custom_directive(namespace: str, metric_set: MetricSet) -> dict[str, Any]:
    metrics: list[dict[str, Any]] = []
    for name, metric in metric_set.metrics.items():
        definition: dict[str, Any] = {"Name": name, "Unit": metric.unit}
        if metric.resolution == 1:
            definition["StorageResolution"] = 1
        metrics.append(definition)
    return {
        "Namespace": namespace,
        "Dimensions": [["service", *metric_set.dimensions]],
        "Metrics": metrics,
    }


def with_custom_metrics(
    doc: dict[str, Any], metric_set: MetricSet, namespace: str = DEFAULT_NAMESPACE
) -> dict[str, Any]:
    """``doc`` (fnlens's own document) with the invocation's custom metrics, dimensions
    and metadata: one value is a number, several an array, as EMF allows."""
    with metric_set.lock:
        if metric_set.metrics:
            doc["_aws"]["CloudWatchMetrics"].append(_custom_directive(namespace, metric_set))
            doc.update(metric_set.dimensions)
        for name, metric in metric_set.metrics.items():
            values = metric.values
            doc[name] = values[0] if len(values) == 1 else list(values)
        for key, value in metric_set.metadata.items():
            doc.setdefault(key, value)
    return doc


_COMPACT = json.JSONEncoder(separators=(",", ":"))
_quote = json.encoder.encode_basestring  # a JSON string literal (C speedups when present)


def _encode(value: Any) -> str:
    # json.dumps with non-default separators builds a new encoder on every call
    return _COMPACT.encode(value)


def _encode_any(doc: dict[str, Any], metadata: Any = ()) -> str:
    """A document with the user's metadata: values JSON cannot hold become strings
    (``nan`` and cycles in metadata too, so the metrics still leave)."""
    try:
        return json.dumps(doc, separators=(",", ":"), default=str, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        for key in metadata:
            if key in doc:
                doc[key] = safe_repr(doc[key])
        return json.dumps(doc, separators=(",", ":"), default=str, allow_nan=False)


class _LineEncoder:
    """``emf_document`` rendered to a line with one f-string: the directive and the
    dimension members are constant per function version and encoded once; only the
    metric values, the timestamp and the two ids are formatted per invocation."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._heads: dict[tuple[Any, Any, Any, bool], str] = {}

    def _head(self, key: tuple[Any, Any, Any, bool]) -> str:
        service, function_name, function_version, with_init = key
        dimensions = {
            "service": str(service or "unknown"),
            "function_name": str(function_name or "unknown"),
            "function_version": str(function_version or "$LATEST"),
        }
        head = (
            f',"CloudWatchMetrics":{_encode(_directive(self.namespace, with_init))}}},'
            f'{_encode(dimensions)[1:-1]},"Invocations":1,'
        )
        if len(self._heads) < 64:
            self._heads[key] = head
        return head

    def line(self, record: Mapping[str, Any], timestamp_ms: int) -> str:
        get = record.get
        outcome = get("outcome")
        cold = bool(get("cold_start"))
        init_ms = get("init_duration_ms") if cold else None
        key = (get("service"), get("function_name"), get("function_version"), init_ms is not None)
        head = self._heads.get(key) or self._head(key)
        request_id, trace_id = get("request_id"), get("trace_id")
        line = (
            f'{{"_aws":{{"Timestamp":{timestamp_ms:d}{head}'
            f'"Errors":{1 if outcome == "error" else 0},'
            f'"Timeouts":{1 if outcome == "timeout" else 0},'
            f'"ColdStarts":{1 if cold else 0},'
            f'"Duration":{float(get("duration_ms") or 0.0)!r},'
            f'"request_id":{"null" if request_id is None else _quote(str(request_id))},'
            f'"trace_id":{"null" if trace_id is None else _quote(str(trace_id))}'
        )
        if init_ms is not None:
            return f'{line},"InitDuration":{float(init_ms)!r}}}'
        return line + "}"


class EMFHook:
    """Writes one EMF line per invocation to stdout (a TELEMETRY hook; nothing to flush)."""

    needs_start = False
    renders_metrics = True  # fnlens.metrics' values go into this hook's document

    def __init__(self, namespace: str = DEFAULT_NAMESPACE, stream: TextIO | None = None) -> None:
        self.namespace = namespace
        self._encoder = _LineEncoder(namespace)
        self._stream = stream
        self._lock = threading.Lock()
        self._dropped = 0

    def on_start(self, invocation: Any) -> None:
        return None

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None:
        ended_at = getattr(invocation, "ended_at", None) or time.time()
        hook_state = getattr(invocation, "hook_state", None)
        custom = hook_state.get(METRICS_KEY) if hook_state else None
        if custom is None:
            line = self._encoder.line(record, int(ended_at * 1000))
        else:
            doc = emf_document(record, self.namespace)
            doc["_aws"]["Timestamp"] = int(ended_at * 1000)
            doc = with_custom_metrics(doc, custom, self.namespace)
            line = _encode_any(doc, tuple(custom.metadata))
        if self._stream is None and hook_state is not None:
            # leaves in the same write system call as the invocation record
            hook_state.setdefault("stdout_lines", []).append(line + "\n")
            return
        out = self._stream or sys.stdout
        try:
            with self._lock:
                out.write(line + "\n")
                out.flush()
        except Exception:
            self._dropped += 1

    def flush(self, timeout_s: float) -> None:
        return None

    def dropped(self) -> int:
        return self._dropped

    def shutdown(self) -> None:
        return None
