"""Timestamps in the many shapes inputs use, normalised to naive UTC datetimes.

ISO 8601 with ``Z`` or offsets, Powertools' ``2024-01-01 12:00:00,123+0000``,
epoch seconds/milliseconds/nanoseconds (numbers or digit strings).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_EPOCH = datetime(1970, 1, 1)


def from_epoch(value: float) -> datetime:
    """Epoch in s, ms, µs or ns (guessed from magnitude) to naive UTC."""
    v = float(value)
    if v > 1e17:
        return _EPOCH + timedelta(microseconds=int(value) // 1000)
    if v > 1e14:
        return _EPOCH + timedelta(microseconds=v)
    if v > 1e11:
        return _EPOCH + timedelta(milliseconds=v)
    return _EPOCH + timedelta(seconds=v)


def parse_ts(value: object) -> datetime | None:
    """Parse a timestamp; ``None`` for missing values, ``ValueError`` for garbage."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return from_epoch(value)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    s = value.strip()
    if s.isdigit():
        return from_epoch(int(s))
    m = _ISO.match(s)
    if not m:
        raise ValueError(f"not a timestamp: {value!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        dt = dt - sign * offset
    return dt
