"""One reusable daemon thread that fires just before an invocation's deadline.

No SIGALRM (it would steal the application's signal handler and only works on
the main thread) and no thread per invocation: the thread is started on first
use and sleeps on a condition variable between deadlines.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from fnlens._state import register_reset

# A deadline armed less than this before the thread's next wake-up does not wake it
# early: it fires at most this late (well inside the default 100 ms timeout margin).
# Without it, invocations whose deadlines jitter by a millisecond would each hand the
# watchdog thread the GIL.
COALESCE_S = 0.002
# The longest single wait: Condition.wait() raises OverflowError past
# threading.TIMEOUT_MAX (about 292 years on Linux, far less elsewhere), which would
# end the thread and every later timeout with it. A later deadline is waited for in
# steps of this.
MAX_WAIT_S = 3600.0


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._armed: dict[int, tuple[float, Callable[..., None], tuple[Any, ...]]] = {}
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None
        # When the thread will wake up on its own (None: it sleeps until notified).
        # Arming a later deadline and disarming need no wake-up: the thread re-reads
        # the armed set when it wakes, so the handler's thread never hands it the GIL.
        self._next_wake: float | None = None

    def arm(self, deadline_perf: float, callback: Callable[..., None], *args: Any) -> int:
        """Call ``callback(*args)`` (on the watchdog thread) at ``deadline_perf`` (a
        ``time.perf_counter()`` value) unless disarmed.

        No lock on the common path (the dict update is atomic): only a deadline earlier
        than the thread's next wake-up, or a thread that is not in a timed wait, takes
        the lock and notifies. A deadline that is not a finite number (a context
        reporting ``inf`` or ``nan`` milliseconds left) arms nothing: 0 is returned."""
        if not isinstance(deadline_perf, (int, float)) or not math.isfinite(deadline_perf):
            return 0
        token = next(self._tokens)
        self._armed[token] = (deadline_perf, callback, args)
        next_wake = self._next_wake
        if next_wake is not None and deadline_perf >= next_wake - COALESCE_S:
            return token  # the thread wakes before this deadline and re-reads the set
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fnlens-watchdog", daemon=True
                )
                self._thread.start()
            next_wake = self._next_wake
            if next_wake is None or deadline_perf < next_wake - COALESCE_S:
                self._cond.notify()
        return token

    def disarm(self, token: int | None) -> None:
        if token:
            self._armed.pop(token, None)  # atomic; no wake-up: see _next_wake

    def _run(self) -> None:
        while True:  # nothing ends the thread: it serves every later invocation
            try:
                self._loop()
            except Exception:  # pragma: no cover - defensive; _loop catches callbacks
                time.sleep(0.01)

    def _loop(self) -> None:
        # Invariant: _next_wake is set only while this thread is in a timed wait (it is
        # published under the lock just before waiting and cleared on waking), so an
        # arm() that reads a stale value armed before this thread's next read of the set.
        while True:
            with self._cond:
                self._next_wake = None
                if not self._armed:
                    self._cond.wait()
                    continue
                # a copy (taken atomically): other threads arm and disarm without the lock
                token, (deadline, callback, args) = min(
                    list(self._armed.items()), key=lambda kv: kv[1][0]
                )
                remaining = deadline - time.perf_counter()
                if remaining > 0:
                    if remaining > MAX_WAIT_S:
                        # wake early and look again (no _next_wake: arm() notifies)
                        self._cond.wait(MAX_WAIT_S)
                        continue
                    self._next_wake = deadline
                    self._cond.wait(remaining)
                    continue
                if self._armed.pop(token, None) is None:
                    continue  # disarmed meanwhile
            try:
                callback(*args)
            except Exception:
                pass


WATCHDOG = Watchdog()


def _reset() -> None:
    """Disarm every deadline (fnlens.testing.reset); the idle thread serves later ones."""
    with WATCHDOG._cond:
        WATCHDOG._armed.clear()


register_reset(__name__, _reset)
