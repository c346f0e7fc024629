"""A bounded export queue drained by one background thread.

Every fnlens exporter that talks to the network or disk sits behind one of
these: the handler's thread only appends to a deque (a few hundred
nanoseconds); a daemon worker exports in batches. ``flush(timeout_s)`` waits at
most ``timeout_s`` — never for a slow or dead backend beyond that. Items that
do not fit (queue full) or whose export failed are counted in ``dropped()``.

After the Lambda response, when nobody waits, the runtime's thread may send a
batch itself (:meth:`ExportQueue.export_here`): no export thread is woken and
requests to several exporters travel at once. Whatever is not answered within
the budget is handed to the worker, which finishes it — never lost.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from fnlens._state import register_reset

ExportFn = Callable[[Sequence[Any]], bool]
# Outcomes of an export started on the caller's thread (see ExportQueue.export_here)
OK, FAILED, RETRY = "ok", "failed", "retry"
_ALL: weakref.WeakSet[ExportQueue] = weakref.WeakSet()
FAILING_AFTER = 3  # consecutive failed exports after which flushes stop waiting
# a stalled collector is waited for again only by a flush this many times more patient
# than the one that gave up (every invocation's budget is about the same: they skip;
# fnlens.flush(5), the extension's drain or exit after a 5 ms budget wait)
STALL_PATIENCE = 2.0


class ExportQueue:
    """Bounded FIFO with a lazily started worker thread.

    ``export(batch) -> bool`` runs on the worker; ``False`` or an exception counts
    the whole batch as dropped. The worker exports when a batch is full, when a
    flush is requested, or every ``schedule_delay_s``.
    """

    def __init__(
        self,
        name: str,
        export: ExportFn,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        on_error: Callable[[BaseException], None] | None = None,
        start_export: Callable[[list[Any], float], Any] | None = None,
        prepare: Callable[[], Any] | None = None,
    ) -> None:
        self.name = name
        self._export = export
        # start_export(batch, send_within_s): send ``batch`` now and return an object
        # with ``wait(timeout_s) -> outcome | None`` and ``finish() -> outcome``; or an
        # outcome at once (FAILED, RETRY); or None when it cannot (the worker exports)
        self._start_export = start_export
        self.max_queue_size = max(1, int(max_queue_size))
        self.max_batch_size = max(1, int(max_batch_size))
        self.schedule_delay_s = schedule_delay_s
        self._on_error = on_error
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._in_flight = 0  # items in the batch being exported
        self._dropped = 0
        self._exported = 0
        self._flush_requested = False
        self._stopping = False
        self._export_seq = 0  # increments when the worker starts an export
        self._exporting = False
        self._failing = 0  # consecutive failed exports (the backend is down or refusing)
        # a flush ran out of time with an export still unanswered: until an export
        # succeeds, flushes no more patient than that one only nudge (a stalled
        # collector costs one budget in all, not one per invocation)
        self._stalled = False
        self._stalled_after = 0.0  # how long the flush that gave up had waited
        self._thread: threading.Thread | None = None
        # (batch, started export or None) the worker is to finish, or export in full
        self._handoff: tuple[list[Any], Any] | None = None
        self._abandoned = False  # see abandon()
        # prepare(): run first by the worker, started at once (imports, the resource):
        # the first export then costs no more than the others — at exit, on SIGTERM
        self._prepare = prepare
        _ALL.add(self)
        if prepare is not None:
            self._start()

    # hot path ---------------------------------------------------------------
    def put(self, item: Any) -> bool:
        """Queue one item; False (and one more drop) when the queue is full or stopped.

        No lock and no wake-up on the common path: ``deque.append`` is atomic, and the
        worker is woken only when a batch is full (or by a flush), so queuing never
        hands the handler's GIL to the worker. Several producers racing past the size
        check can overfill the queue by a few items, never more.
        """
        items = self._items
        if len(items) >= self.max_queue_size or self._stopping:
            with self._lock:
                self._dropped += 1
            return False
        items.append(item)
        if len(items) >= self.max_batch_size and not self._flush_requested:
            with self._lock:
                self._cond.notify_all()
        if self._thread is None:
            self._start()
        return True

    def flush(self, timeout_s: float, *, wait_when_failing: bool = False) -> bool:
        """Ask the worker to export everything queued; wait at most ``timeout_s``.

        Returns True when nothing is left pending. ``timeout_s <= 0`` only nudges.
        The circuit breaker: once a flush ran out of time on an unanswered export (a
        hung or very slow collector), or an export failed (down, refusing), flushes
        only nudge until an export succeeds again — a failing collector costs one
        budget, not one per invocation, and no extension drain waits for it; the
        worker's next export is the probe. ``wait_when_failing`` (exit) waits anyway.
        """
        if not self._items and not self._in_flight:
            return True
        deadline = time.perf_counter() + max(0.0, timeout_s)
        if timeout_s > 0:
            # Start every other queue's export now, so that waiting for several
            # exporters costs the slowest one, not their sum.
            for other in list(_ALL):
                if other is not self and other.pending():
                    other.nudge()
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            if not wait_when_failing and (
                self._failing >= FAILING_AFTER
                or (self._stalled and timeout_s <= STALL_PATIENCE * self._stalled_after)
            ):
                return False
            while self._items or self._in_flight:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    if self._exporting and timeout_s > 0:
                        self._stalled = True
                        self._stalled_after = max(self._stalled_after, timeout_s)
                    return False
                self._cond.wait(remaining)
        return True

    def _export_batch(self, batch: list[Any]) -> None:
        """Export one batch taken from the queue (``_in_flight`` set) and account for it."""
        ok = False
        try:
            ok = bool(self._export(batch))
        except Exception as exc:
            self._report(exc)
        finally:
            self._settle(len(batch), ok)

    def _settle(self, count: int, ok: bool) -> None:
        """Account for the batch in flight; the queue is free for the next export."""
        with self._cond:
            if self._abandoned:
                return  # counted as dropped when the queue was abandoned at exit
            if ok:
                self._exported += count
                self._failing = 0
                self._stalled = False
                self._stalled_after = 0.0
            else:
                self._dropped += count
                self._failing += 1
            self._in_flight = 0
            self._exporting = False
            self._cond.notify_all()

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:
                pass

    # exporting on the caller's thread ----------------------------------------------
    def export_here(self, send_within_s: float) -> InlineExport | None:
        """Take the next batch and send it from this thread; None when there is nothing
        to send here (empty, an export already under way, a failing backend, or an
        exporter that cannot start one): ``flush`` covers those.

        For the runtime's thread after the Lambda response, where nobody waits: no
        export thread is woken, and the requests of several exporters are on the wire
        at once. ``send_within_s`` bounds connecting and sending; the returned
        :class:`InlineExport` waits for the answer, and hands the request over to the
        worker if the answer is late (it is finished there, not abandoned)."""
        if self._start_export is None:
            return None
        with self._cond:
            if (
                self._stopping
                or self._exporting
                or self._handoff is not None
                or not self._items
                or self._failing >= FAILING_AFTER
                or self._stalled
            ):
                return None
            batch = self._take_batch()
        try:
            started = self._start_export(batch, send_within_s)
        except Exception as exc:
            self._report(exc)
            started = RETRY
        except BaseException:  # interrupted (SystemExit…): the batch is not left in flight
            self._hand_over(batch, None)
            raise
        if started is None or started == RETRY:
            self._hand_over(batch, None)  # the worker exports it, retries included
            return None
        if isinstance(started, str):  # OK or FAILED without a request on the wire
            self._settle(len(batch), started == OK)
            return None
        return InlineExport(self, batch, started, send_within_s)

    def _take_batch(self) -> list[Any]:
        """Move the next batch into flight (the lock is held)."""
        # in flight before the items leave the deque: flush() reads both unlocked
        self._in_flight = count = min(self.max_batch_size, len(self._items))
        batch = [self._items.popleft() for _ in range(count)]
        if not self._items:
            self._flush_requested = False
        self._export_seq += 1
        self._exporting = True
        return batch

    def _hand_over(self, batch: list[Any], started: Any) -> None:
        """Give a batch in flight to the worker: to finish ``started``, or export anew.
        After shutdown there is no worker: the batch is counted as dropped."""
        with self._cond:
            thread = self._thread
            if self._stopping and (thread is None or not thread.is_alive()):
                handed = False
            else:
                self._handoff = (batch, started)
                self._cond.notify_all()
                handed = True
        if not handed:
            self._settle(len(batch), False)
        elif self._thread is None:
            self._start()

    def _finish_handoff(self, batch: list[Any], started: Any) -> None:
        outcome = RETRY
        if started is not None:
            try:
                outcome = started.finish()
            except Exception as exc:
                self._report(exc)
                outcome = FAILED
        if outcome == RETRY:
            # a retryable answer (429, 503…) waits what it asked for, or the SDK's first
            # backoff, as the exporter's own retry loop would; a connection error none
            delay: float | None = 0.0
            if started is not None:
                try:
                    delay = started.retry_delay()
                except Exception:
                    delay = 0.0
            if delay is None:  # it asked for longer than the export may take: dropped
                self._settle(len(batch), False)
                return
            if delay > 0:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=delay)
            self._export_batch(batch)  # the whole export again, with the exporter's retries
        else:
            self._settle(len(batch), outcome == OK)

    def _mark_stalled(self, waited_s: float) -> None:
        with self._cond:
            self._stalled = True
            self._stalled_after = max(self._stalled_after, waited_s)

    def nudge(self) -> None:
        """Ask the worker to export what is queued now, without waiting."""
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()

    # introspection ------------------------------------------------------------
    def dropped(self) -> int:
        return self._dropped

    def exported(self) -> int:
        return self._exported

    def pending(self) -> int:
        """Items queued or being exported."""
        return len(self._items) + self._in_flight

    def count_drop(self, n: int) -> None:
        with self._cond:
            self._dropped += n

    # lifecycle -----------------------------------------------------------------
    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Export what is queued (waiting at most ``timeout_s``), then stop the worker."""
        self.flush(timeout_s)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            leftover = len(self._items)
            self._items.clear()
            self._dropped += leftover
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, min(timeout_s, 0.5)))
        if thread is None or not thread.is_alive():
            with self._cond:
                orphan, self._handoff = self._handoff, None
            if orphan is not None:  # handed over as the worker stopped: nobody finishes it
                self._settle(len(orphan[0]), False)

    def abandon(self) -> int:
        """At exit, past its bound: stop; what is still queued or unanswered is counted
        as dropped (exactly once) and the exporter's worker is not waited for. Returns
        that count."""
        with self._cond:
            if self._stopping and not self._items and not self._in_flight:
                return 0
            self._stopping = True
            lost = len(self._items) + self._in_flight
            self._items.clear()
            self._handoff = None  # (its batch is in flight: counted above)
            self._dropped += lost
            self._in_flight = 0
            self._abandoned = True
            self._cond.notify_all()
        return lost

    def _after_fork(self) -> None:
        """In a forked child: the parent's worker, batch in flight and queued items are
        the parent's (exporting them here too would send them twice)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._thread = None
        self._items.clear()
        self._in_flight = 0
        self._exporting = False
        self._handoff = None
        self._flush_requested = False

    def _start(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"fnlens-export-{self.name}", daemon=True
            )
        self._thread.start()

    def _run(self) -> None:
        if self._prepare is not None:
            try:
                self._prepare()
            except Exception as exc:
                self._report(exc)
        while True:
            started: Any = None
            handed_over = False
            with self._cond:
                due = False  # the schedule delay passed with items queued
                while True:
                    if self._handoff is not None:
                        (batch, started), self._handoff = self._handoff, None
                        handed_over = True
                        break
                    if self._stopping:
                        return
                    if (
                        self._items
                        and not self._exporting  # (a batch sent from another thread)
                        and (
                            due or self._flush_requested or len(self._items) >= self.max_batch_size
                        )
                    ):
                        batch = self._take_batch()
                        break
                    due = not self._cond.wait(self.schedule_delay_s) and bool(self._items)
            try:
                if handed_over:
                    self._finish_handoff(batch, started)
                else:
                    self._export_batch(batch)
            except BaseException:  # never let the worker die
                pass


def _reset_after_fork() -> None:
    for queue in list(_ALL):
        queue._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

RESET_JOIN_S = 1.0  # all workers together, at most


def _reset() -> None:
    """Stop every queue still running (fnlens.testing.reset): what they hold is counted
    as dropped, and their workers are joined within :data:`RESET_JOIN_S` in all."""
    queues = list(_ALL)
    for queue in queues:
        queue.abandon()
    deadline = time.monotonic() + RESET_JOIN_S
    for queue in queues:
        thread = queue._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


register_reset(__name__, _reset)


class InlineExport:
    """A batch whose request the caller's thread sent (:meth:`ExportQueue.export_here`)."""

    __slots__ = ("_batch", "_budget_s", "_done", "_queue", "_started")

    def __init__(
        self, queue: ExportQueue, batch: list[Any], started: Any, budget_s: float = 0.0
    ) -> None:
        self._queue = queue
        self._batch = batch
        self._started = started
        self._done = False  # settled here or handed over: exactly once
        self._budget_s = budget_s  # the time the caller had for this export

    def wait(self, deadline_perf: float) -> bool:
        """Wait for the answer until ``deadline_perf`` (``time.perf_counter()``); True
        when the batch is settled, False when it went to the worker to finish."""
        queue, batch = self._queue, self._batch
        if self._done:
            return True
        try:
            outcome = self._started.wait(max(0.0, deadline_perf - time.perf_counter()))
        except Exception as exc:
            queue._report(exc)
            outcome = FAILED
        self._done = True
        if outcome is None:  # not answered yet: the worker reads the answer
            queue._mark_stalled(self._budget_s)
            queue._hand_over(batch, self._started)
            return False
        if outcome == RETRY:  # e.g. a stale connection, 503: the worker exports it anew
            queue._hand_over(batch, self._started)  # (which knows how long to wait first)
            return False
        queue._settle(len(batch), outcome == OK)
        return True

    def hand_over(self) -> None:
        """Leave the answer to the worker without waiting for it."""
        if not self._done:
            self._done = True
            self._queue._hand_over(self._batch, self._started)
