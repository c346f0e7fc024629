"""Cold start: one source of truth for logs, spans and metrics.

``cold_start`` is true only on the first invocation of a process that Lambda
initialised on demand, i.e. when a caller actually waited for the init phase.
It is false under provisioned concurrency, after a SnapStart restore (marked
with ``init_type="snap-start"`` and ``snapstart_restore``), and when the first
invocation arrives long after init finished (proactive initialisation:
``init_type="proactive"``).

``init_duration_ms`` is reported on the first invocation of every process. It is
measured from the moment the operating system started the process (Linux
``/proc/self/stat``; fnlens's own import time where that is unavailable) to the
end of initialisation: the start of the first invocation for on-demand cold
starts, or the last ``@instrument`` decoration (the end of module init) when
the first invocation came later. It therefore covers the runtime's start-up,
every import and the module-level code, like the ``Init Duration`` of Lambda's
REPORT line, plus the runtime's first poll of the Runtime API.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from fnlens._state import register_reset

_IMPORTED_AT = time.time()

ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"
SNAP_START = "snap-start"
# Lambda Managed Instances: several runtime processes per environment, each with its
# own init; the first invocation of each process is its cold start
MANAGED_INSTANCES = "managed-instances"
_MANAGED_ENV = "lambda-managed-instances"
PROACTIVE = "proactive"


@dataclass(frozen=True)
class ColdStartInfo:
    cold_start: bool
    init_type: str
    init_duration_ms: float | None
    snapstart_restore: bool = False


def process_start_time() -> float:
    """Epoch seconds at which the OS started this process (best effort)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            stat = fh.read()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        # /proc/stat's btime is truncated to whole seconds (up to 1 s too early);
        # /proc/uptime is centisecond-accurate, so measure the process's age from it.
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        started = time.time() - max(0.0, age)
        # never report a start after our own import
        return min(started, _IMPORTED_AT)
    except Exception:
        return _IMPORTED_AT


class ColdStartTracker:
    """Decides, once per process, whether the first invocation was a cold start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(
        self,
        *,
        process_started_at: float | None = None,
        init_finished_at: float | None = None,
    ) -> None:
        """Forget the first invocation (tests, and forked workers)."""
        self._first_seen = False
        self._warm = ColdStartInfo(False, ON_DEMAND, None)
        self._process_started_at = process_started_at
        self._init_finished_at = init_finished_at

    def mark_init_progress(self) -> None:
        """Called at decoration time: module init is still running at this moment."""
        if not self._first_seen:
            self._init_finished_at = time.time()

    def on_invocation(self, started_at: float, proactive_threshold_ms: float) -> ColdStartInfo:
        if self._first_seen:
            return self._warm
        with self._lock:
            if self._first_seen:
                return self._warm
            self._first_seen = True
            info = self._classify(started_at, proactive_threshold_ms)
            # warm invocations keep reporting how this process was initialised
            self._warm = ColdStartInfo(False, info.init_type, None)
        return info

    def _classify(self, started_at: float, proactive_threshold_ms: float) -> ColdStartInfo:
        env_type = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", ON_DEMAND).strip().lower()
        process_start = self._process_started_at or process_start_time()
        init_end = self._init_finished_at or _IMPORTED_AT
        init_ms = max(0.0, (init_end - process_start) * 1000.0)
        if env_type == PROVISIONED:
            return ColdStartInfo(False, PROVISIONED, round(init_ms, 3))
        if env_type == SNAP_START:
            return ColdStartInfo(False, SNAP_START, None, snapstart_restore=True)
        if env_type == _MANAGED_ENV:
            cold_ms = max(0.0, (started_at - process_start) * 1000.0)
            return ColdStartInfo(True, MANAGED_INSTANCES, round(cold_ms, 3))
        gap_ms = (started_at - init_end) * 1000.0
        if gap_ms > proactive_threshold_ms:
            return ColdStartInfo(False, PROACTIVE, round(init_ms, 3))
        cold_ms = max(0.0, (started_at - process_start) * 1000.0)
        return ColdStartInfo(True, ON_DEMAND, round(cold_ms, 3))


TRACKER = ColdStartTracker()


def _reset() -> None:
    """A process starting now (fnlens.testing.reset): the next invocation is cold and
    its init is measured from here, also for a handler decorated before the reset (a
    handler module imported once by a test suite)."""
    now = time.time()
    TRACKER.reset(process_started_at=now, init_finished_at=now)


register_reset(__name__, _reset)
