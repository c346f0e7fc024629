"""Bound the error text an invocation record carries.

CloudWatch Logs cuts an event at 256 KB, so a 5 MB exception message would make
the record unreadable (and twice as long: once as ``error_message``, once inside
``exception``). The limits below keep the whole record under that size even when
every character needs a six-byte JSON escape: (4,096 + 32,768) * 6 bytes, about 216 KiB.
"""

from __future__ import annotations

MAX_ERROR_MESSAGE_CHARS = 4096
MAX_STACK_TRACE_CHARS = 32768


def truncate(text: str, limit: int) -> str:
    """``text`` when it fits; else its first three quarters and its end around a
    marker saying how much was cut (``…[fnlens: 5242880 characters cut]…``), at
    most ``limit`` characters in all."""
    if len(text) <= limit:
        return text
    marker_room = 48  # the marker below is never longer
    keep = max(0, limit - marker_room)
    head = keep * 3 // 4
    tail = keep - head
    cut = len(text) - head - tail
    marker = f"…[fnlens: {cut} characters cut]…"
    return text[:head] + marker + (text[len(text) - tail :] if tail else "")
