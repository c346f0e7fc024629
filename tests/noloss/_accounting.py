"""What fnlens reports as lost, read from its public outputs only."""

from __future__ import annotations

import re

__all__ = ["reported_drops"]

_INT = re.compile(r"(?<![\w.])\d+(?![\w.])")


def reported_drops(stderr: str) -> set[int]:
    """Every integer on a stderr line that speaks of dropped or lost telemetry.

    The wording is fnlens's to choose; what these tests hold it to is that the number of
    items given up at exit (or the process's cumulative count) appears in such a line."""
    found: set[int] = set()
    for line in stderr.splitlines():
        lower = line.lower()
        if "dropped" in lower or "lost" in lower:
            found.update(int(m) for m in _INT.findall(line))
    return found
