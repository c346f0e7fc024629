"""Custom metrics of one invocation, held until its record is written (``fnlens.metrics``).

The runtime only collects and validates: values live in the invocation's ``hook_state``
under :data:`METRICS_KEY`, so concurrent invocations (threads, asyncio tasks) each keep
their own, and an exporter (the EMF hook) renders them with fnlens's own metrics when
the invocation ends. Validation follows the CloudWatch Embedded Metric Format: a
problem is one warning on the ``fnlens`` logger, never an exception into the handler.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from fnlens._config import warn_once
from fnlens.runtime import _scope as scope
from fnlens.runtime._telemetry import TELEMETRY

METRICS_KEY = "fnlens.metrics"

# EMF's units (CloudWatch's StandardUnit), as written in a MetricDefinition's Unit
UNITS = (
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
)
_UNITS = frozenset(UNITS)
RESOLUTIONS = (1, 60)
MAX_NAME_CHARS = 255  # CloudWatch metric and dimension names
MAX_DIMENSION_VALUE_CHARS = 1024
MAX_DIMENSIONS = 30  # keys in one dimension set
MAX_METRICS = 100  # metric definitions in one document
MAX_VALUES = 100  # values in one metric's array
# members fnlens's own EMF document writes: a custom name must not overwrite them
RESERVED_MEMBERS = frozenset(
    {
        "_aws",
        "service",
        "function_name",
        "function_version",
        "request_id",
        "trace_id",
        "Invocations",
        "Errors",
        "Timeouts",
        "ColdStarts",
        "Duration",
        "InitDuration",
    }
)
# fnlens's own metrics in each document: custom metrics get the rest of MAX_METRICS
OWN_METRICS = 6


@dataclass
class Metric:
    unit: str
    resolution: int
    values: list[float] = field(default_factory=list)


@dataclass
class MetricSet:
    """What one invocation recorded, in the order it was recorded."""

    metrics: dict[str, Metric] = field(default_factory=dict)
    dimensions: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _warn(key: str, message: str) -> None:
    warn_once(f"metrics:{key}", f"fnlens.metrics: {message}")


def _current_set(what: str) -> MetricSet | None:
    """The current invocation's set (created on first use), or None with a warning."""
    inv = scope.current_invocation()
    if inv is None or inv.finished:
        _warn(
            f"outside:{what}",
            f"{what}() called outside an instrumented invocation (or after it ended); "
            "nothing is emitted — call it inside the handler that @instrument wraps",
        )
        return None
    if not any(getattr(hook, "renders_metrics", False) for hook in TELEMETRY.hooks):
        _warn(
            "no-emf",
            "no exporter renders custom metrics: set FNLENS_EXPORTERS=emf "
            "(metrics are recorded but not emitted)",
        )
    state = inv.hook_state
    metric_set = state.get(METRICS_KEY)
    if metric_set is None:
        metric_set = state.setdefault(METRICS_KEY, MetricSet())
    return metric_set


def _name_problem(kind: str, name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return f"{kind} name {name!r} is not a non-empty string"
    if len(name) > MAX_NAME_CHARS:
        return f"{kind} name {name[:40]!r}… is longer than {MAX_NAME_CHARS} characters"
    if name in RESERVED_MEMBERS:
        return f"{kind} name {name!r} is one of fnlens's own EMF members"
    return None


def add_metric(name: str, unit: Any, value: Any, resolution: Any = 60) -> None:
    problem = _name_problem("metric", name)
    unit_name = getattr(unit, "value", unit)
    resolution = getattr(resolution, "value", resolution)
    if problem is None and unit_name not in _UNITS:
        problem = f"metric {name!r}: unit {unit!r} is not an EMF unit ({', '.join(UNITS)})"
    if problem is None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        problem = f"metric {name!r}: value {value!r} is not a number"
    if problem is None and not math.isfinite(value):
        problem = f"metric {name!r}: value {value!r} is not finite"
    if problem is None and (isinstance(resolution, bool) or resolution not in RESOLUTIONS):
        problem = f"metric {name!r}: resolution {resolution!r} is not 1 or 60 (seconds)"
    if problem is not None:
        _warn(f"metric:{name!r}:{problem[:60]}", problem + "; the value is dropped")
        return
    metric_set = _current_set("add_metric")
    if metric_set is None:
        return
    with metric_set.lock:
        metric = metric_set.metrics.get(name)
        if metric is None:
            if len(metric_set.metrics) >= MAX_METRICS - OWN_METRICS:
                problem = (
                    f"metric {name!r}: an EMF document holds at most {MAX_METRICS} metrics "
                    f"({OWN_METRICS} are fnlens's own)"
                )
            elif name in metric_set.dimensions or name in metric_set.metadata:
                problem = f"metric {name!r}: the name is already a dimension or metadata key"
            else:
                metric = metric_set.metrics[name] = Metric(unit_name, int(resolution))
        if metric is not None and problem is None:
            if (metric.unit, metric.resolution) != (unit_name, resolution):
                problem = (
                    f"metric {name!r} was first added as {metric.unit}/{metric.resolution}s, "
                    f"now as {unit_name}/{resolution}s"
                )
            elif len(metric.values) >= MAX_VALUES:
                problem = f"metric {name!r}: at most {MAX_VALUES} values per invocation"
            else:
                metric.values.append(float(value))
    if problem is not None:
        _warn(f"metric:{name!r}:{problem[:60]}", problem + "; the value is dropped")


def add_dimension(name: str, value: Any) -> None:
    problem = _name_problem("dimension", name)
    if problem is None and not isinstance(value, str):
        value = str(value)
    if problem is None and not (0 < len(value) <= MAX_DIMENSION_VALUE_CHARS):
        problem = (
            f"dimension {name!r}: the value must be 1 to {MAX_DIMENSION_VALUE_CHARS} characters"
        )
    if problem is None:
        metric_set = _current_set("add_dimension")
        if metric_set is None:
            return
        with metric_set.lock:
            dims = metric_set.dimensions
            if name in metric_set.metrics or name in metric_set.metadata:
                problem = f"dimension {name!r}: the name is already a metric or metadata key"
            elif name not in dims and len(dims) >= MAX_DIMENSIONS - 1:
                problem = (
                    f"dimension {name!r}: a dimension set holds at most {MAX_DIMENSIONS} keys "
                    "(service is always one)"
                )
            else:
                dims[name] = value
    if problem is not None:
        _warn(f"dimension:{name!r}", problem + "; the dimension is dropped")


def add_metadata(key: str, value: Any) -> None:
    problem = _name_problem("metadata", key)
    if problem is None:
        metric_set = _current_set("add_metadata")
        if metric_set is None:
            return
        with metric_set.lock:
            if key in metric_set.metrics or key in metric_set.dimensions:
                problem = f"metadata {key!r}: the key is already a metric or dimension"
            else:
                metric_set.metadata[key] = value
    if problem is not None:
        _warn(f"metadata:{key!r}", problem + "; the metadata is dropped")
