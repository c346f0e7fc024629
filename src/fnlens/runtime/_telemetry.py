"""Where telemetry goes: the registry of sinks and invocation hooks.

The runtime produces events (one invocation record per invocation, plus the
user's log lines) and hands them to *sinks*; *hooks* see every invocation
start and end (EMF metrics, X-Ray subsegments…). Exporters in
``fnlens.exporters`` register themselves here. Every call into a sink or hook
is guarded: an exporter failure is counted, never raised into the handler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from fnlens._state import register_reset


@runtime_checkable
class RecordSink(Protocol):
    """Receives finished event dicts (records and log lines). Must not block.

    Nothing changes an event after it was emitted, so a sink may queue the dict
    itself rather than a copy (and must not change it either)."""

    def emit(self, event: Mapping[str, Any]) -> None: ...

    def flush(self, timeout_s: float) -> None: ...

    def shutdown(self) -> None: ...


@runtime_checkable
class InvocationHook(Protocol):
    """Sees the start and end of every invocation.

    A hook that does nothing at the start (or end) says so with a class attribute
    ``needs_start = False`` (``needs_end = False``) and is not called there."""

    def on_start(self, invocation: Any) -> None: ...

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None: ...

    def flush(self, timeout_s: float) -> None: ...

    def shutdown(self) -> None: ...


class Telemetry:
    """Process-wide registry; cheap to consult on every invocation.

    Registration precomputes what the hot path needs: the hooks that act on an
    invocation's start or end (a hook with ``needs_start = False`` /
    ``needs_end = False`` is skipped there) and the drop counters."""

    def __init__(self) -> None:
        self.sinks: list[Any] = []
        self.hooks: list[Any] = []
        self.start_hooks: list[Any] = []
        self.end_hooks: list[Any] = []
        # Called after an invocation has left its scope (the in-process extension).
        self.after_invocation: list[Callable[[], None]] = []
        # False when exporters never make the caller wait (background and extension
        # flush modes): the decorator then skips the per-invocation flush entirely.
        self.waits_in_invocation = True
        # Inside the Lambda runtime loop, the flush after the response is posted: on
        # (budget and extension modes) or off (background), and how long it may take
        # (None: the handler's flush budget; the extension mode's drain limit).
        self.flushes_after_response = True
        self.after_response_budget_s: float | None = None
        self.after_response_explicit = False  # FNLENS_AFTER_RESPONSE_BUDGET_MS was set
        # what the caller waited for the flush at the end of the last invocation that
        # flushed before returning (the next record reports it)
        self.last_flush_ms = 0.0
        # the first invoked function ARN seen in this process (the resource's
        # cloud.resource_id and cloud.account.id come from it)
        self.invoked_arn: str | None = None
        # the telemetry_dropped the last invocation record carried (at exit, what was
        # dropped after it is reported on the fnlens logger)
        self.reported_dropped = 0
        self._counters: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self._errors = 0
        self._dropped_extra = 0
        self._reported: set[str] = set()
        self.configured = False

    # registration -------------------------------------------------------
    def add_sink(self, sink: RecordSink) -> None:
        with self._lock:
            if sink not in self.sinks:
                self.sinks = [*self.sinks, sink]
                self._derive()

    def remove_sink(self, sink: RecordSink) -> None:
        with self._lock:
            self.sinks = [s for s in self.sinks if s is not sink]
            self._derive()

    def add_hook(self, hook: InvocationHook) -> None:
        with self._lock:
            if hook not in self.hooks:
                self.hooks = [*self.hooks, hook]
                self._derive()

    def remove_hook(self, hook: InvocationHook) -> None:
        with self._lock:
            self.hooks = [h for h in self.hooks if h is not hook]
            self._derive()

    def add_after_invocation(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback not in self.after_invocation:
                self.after_invocation = [*self.after_invocation, callback]

    def remove_after_invocation(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self.after_invocation = [c for c in self.after_invocation if c != callback]

    def _derive(self) -> None:
        self.start_hooks = [h for h in self.hooks if getattr(h, "needs_start", True)]
        self.end_hooks = [h for h in self.hooks if getattr(h, "needs_end", True)]
        counters: list[Callable[[], Any]] = []
        for part in (*self.hooks, *self.sinks):
            counter = getattr(part, "dropped", None)
            if counter is None:
                continue
            if callable(counter):
                counters.append(counter)
            else:
                counters.append(lambda part=part: part.dropped)
        self._counters = counters

    # hot path ------------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:
                self.report_failure(sink, "emit", exc)

    def on_start(self, invocation: Any) -> None:
        for hook in self.start_hooks:
            try:
                hook.on_start(invocation)
            except Exception as exc:
                self.report_failure(hook, "on_start", exc)

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None:
        for hook in self.end_hooks:
            try:
                hook.on_end(invocation, record)
            except Exception as exc:
                self.report_failure(hook, "on_end", exc)

    def left_invocation(self) -> None:
        """The invocation has left its scope: tell whoever waits for that."""
        for callback in self.after_invocation:
            try:
                callback()
            except Exception as exc:
                self.report_failure(callback, "after_invocation", exc)

    def flush(self, budget_s: float, *, here: bool = False) -> float:
        """Flush hooks then sinks, sharing ``budget_s``; returns the milliseconds spent.

        ``here``: exporters that can (``export_here``) send from this thread first, all
        of them before any answer is awaited; for the runtime's thread after the
        response, where no export thread then needs waking. Answers that miss the
        budget are finished by the export threads."""
        parts = [*self.hooks, *self.sinks]
        if not parts:
            return 0.0
        start = time.perf_counter()
        deadline = start + max(0.0, budget_s)
        if here and budget_s > 0 and any(hasattr(p, "export_here") for p in parts):
            self._flush_here(parts, deadline)
            return (time.perf_counter() - start) * 1000.0
        for part in parts:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                part.flush(remaining)
            except Exception as exc:
                self.report_failure(part, "flush", exc)
        return (time.perf_counter() - start) * 1000.0

    def _flush_here(self, parts: list[Any], deadline: float) -> None:
        """``flush(here=True)``: send, flush the other parts, then read the answers."""
        sent: list[Any] = []
        try:
            for part in parts:
                export_here = getattr(part, "export_here", None)
                if export_here is None:
                    continue
                try:
                    inline = export_here(max(0.0, deadline - time.perf_counter()))
                except Exception as exc:
                    self.report_failure(part, "export_here", exc)
                    continue
                if inline is not None:
                    sent.append(inline)
            for part in parts:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                if hasattr(part, "export_here"):
                    continue  # after the answers below (its queue waits on them)
                try:
                    part.flush(remaining)
                except Exception as exc:
                    self.report_failure(part, "flush", exc)
            while sent:
                try:
                    sent[0].wait(deadline)
                except Exception as exc:
                    self.report_failure(sent[0], "wait", exc)
                sent.pop(0)
        finally:
            for inline in sent:  # interrupted (e.g. SystemExit): the workers finish them
                inline.hand_over()
        for part in parts:  # what was queued meanwhile or beyond one batch: at least
            if hasattr(part, "export_here"):  # a nudge, when no time is left to wait
                try:
                    part.flush(max(0.0, deadline - time.perf_counter()))
                except Exception as exc:
                    self.report_failure(part, "flush", exc)

    def dropped(self) -> int:
        """Telemetry lost so far (cumulative over the process), as reported by exporters."""
        total = self._dropped_extra
        if not self._counters:
            return total
        for counter in self._counters:
            try:
                total += int(counter())
            except Exception:
                continue
        return total

    def count_drop(self, n: int = 1) -> None:
        self._dropped_extra += n

    def shutdown(self) -> None:
        for part in (*self.hooks, *self.sinks):
            try:
                part.shutdown()
            except Exception as exc:
                self.report_failure(part, "shutdown", exc)

    def report_failure(self, part: Any, stage: str, exc: BaseException) -> None:
        """An exporter failed: count it and say so once per exporter and stage."""
        self._errors += 1
        key = f"{type(part).__name__}.{stage}"
        if key in self._reported:
            return
        self._reported.add(key)
        try:
            logging.getLogger("fnlens").warning(
                "fnlens: %s.%s failed: %s: %s (telemetry only; the handler is unaffected)",
                type(part).__name__,
                stage,
                type(exc).__name__,
                exc,
            )
        except Exception:
            pass

    @property
    def errors(self) -> int:
        return self._errors


TELEMETRY = Telemetry()


def _reset() -> None:
    """A fresh registry (fnlens.testing.reset): no sinks, hooks, counters or settings.
    In place, because every module holds this one object."""
    TELEMETRY.__init__()  # type: ignore[misc]


register_reset(__name__, _reset)
