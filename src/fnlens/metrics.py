"""Custom CloudWatch metrics in the invocation's own EMF document (Powertools ``Metrics``' calls).

Called inside a handler that ``@instrument`` wraps, with the ``emf`` exporter on
(``FNLENS_EXPORTERS=emf``): the values go into the one EMF line fnlens writes for the
invocation, next to its own metrics, in the namespace ``FNLENS_EMF_NAMESPACE`` (else
``POWERTOOLS_METRICS_NAMESPACE``). Each invocation keeps its own values, also when
several run at once in threads or asyncio tasks. A bad name, unit or value is one
warning on the ``fnlens`` logger and is dropped; nothing here raises into the handler.
See docs/migrating-from-powertools.md.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from fnlens.runtime import _metrics

__all__ = ["MetricResolution", "MetricUnit", "add_dimension", "add_metadata", "add_metric"]


class MetricUnit(Enum):
    """The units the Embedded Metric Format defines (member names as in Powertools)."""

    Seconds = "Seconds"
    Microseconds = "Microseconds"
    Milliseconds = "Milliseconds"
    Bytes = "Bytes"
    Kilobytes = "Kilobytes"
    Megabytes = "Megabytes"
    Gigabytes = "Gigabytes"
    Terabytes = "Terabytes"
    Bits = "Bits"
    Kilobits = "Kilobits"
    Megabits = "Megabits"
    Gigabits = "Gigabits"
    Terabits = "Terabits"
    Percent = "Percent"
    Count = "Count"
    BytesPerSecond = "Bytes/Second"
    KilobytesPerSecond = "Kilobytes/Second"
    MegabytesPerSecond = "Megabytes/Second"
    GigabytesPerSecond = "Gigabytes/Second"
    TerabytesPerSecond = "Terabytes/Second"
    BitsPerSecond = "Bits/Second"
    KilobitsPerSecond = "Kilobits/Second"
    MegabitsPerSecond = "Megabits/Second"
    GigabitsPerSecond = "Gigabits/Second"
    TerabitsPerSecond = "Terabits/Second"
    CountPerSecond = "Count/Second"
    NoUnit = "None"


class MetricResolution(Enum):
    """EMF's ``StorageResolution``: 60 s (standard) or 1 s (high resolution)."""

    Standard = 60
    High = 1


def add_metric(
    name: str,
    unit: MetricUnit | str,
    value: float,
    resolution: MetricResolution | int = 60,
) -> None:
    """Record one value of a metric for the current invocation.

    Several values of one metric in an invocation become an EMF value array (at most 100).
    """
    _metrics.add_metric(name, unit, value, resolution)


def add_dimension(name: str, value: str) -> None:
    """Add a dimension to the current invocation's custom metrics.

    With ``service``, at most 30 keys.
    """
    _metrics.add_dimension(name, value)


def add_metadata(key: str, value: Any) -> None:
    """Add a member to the EMF document: searchable in Logs Insights, no metric.

    Neither a metric nor a dimension (a booking id, say).
    """
    _metrics.add_metadata(key, value)
