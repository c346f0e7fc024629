"""Number formatting shared by the HTML and terminal reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

DASH = "\u2013"  # en dash for a missing value
TIMES = "\u00d7"


def num(value: Any) -> str:
    """An integer count with thousands separators."""
    return DASH if value is None else f"{int(value):,}"


def ms(value: Any) -> str:
    """A duration in ms, switching to seconds past 10 s."""
    if value is None:
        return DASH
    value = float(value)
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms"


def pct(value: Any) -> str:
    if value is None:
        return DASH
    value = float(value)
    return f"{value:.2f} %" if value < 10 else f"{value:.1f} %"


def usd(value: Any) -> str:
    if value is None:
        return DASH
    value = float(value)
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.6f}"
    return f"${value:,.2f}"


def change(value: float | None) -> str:
    """A relative change as a signed percentage, e.g. ``+35%``."""
    if value is None:
        return ""
    if value >= 9:
        return f"{1 + value:.0f}{TIMES}"  # large jumps read better as multiples
    return f"{100 * value:+.0f}%"


def when(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def span(value: timedelta) -> str:
    """A bucket size in words: ``5 min``, ``1 h``, ``1 day``."""
    seconds = int(value.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            plural = "s" if n > 1 and unit in ("week", "day") else ""
            return f"{n} {unit}{plural}"
    return f"{seconds} s"
