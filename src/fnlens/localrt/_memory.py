"""Peak resident memory of a child process: what REPORT calls ``Max Memory Used``."""

from __future__ import annotations

import math


def peak_rss_mb(pid: int) -> int | None:
    """``VmHWM`` (the high-water mark of resident memory) of ``pid`` in MB, rounded up.

    Linux only; returns None where ``/proc`` is unavailable or the process is gone.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
                    return max(1, math.ceil(kib / 1024))
    except (OSError, ValueError, IndexError):
        return None
    return None
