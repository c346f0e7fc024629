"""Where telemetry goes: the registry of sinks and invocation hooks.

The runtime produces events (one invocation record per invocation, plus the
user's log lines) and hands them to *sinks*; *hooks* see every invocation
start and end (EMF metrics, X-Ray subsegments…). Exporters in
``fnlens.exporters`` register themselves here. Every call into a sink or hook
is guarded: an exporter failure is counted, never raised into the handler.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RecordSink(Protocol):
    """Receives finished event dicts (records and log lines). Must not block."""

    def emit(self, event: Mapping[str, Any]) -> None: ...

    def flush(self, timeout_s: float) -> None: ...

    def shutdown(self) -> None: ...


@runtime_checkable
class InvocationHook(Protocol):
    """Sees the start and end of every invocation."""

    def on_start(self, invocation: Any) -> None: ...

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None: ...

    def flush(self, timeout_s: float) -> None: ...

    def shutdown(self) -> None: ...


class Telemetry:
    """Process-wide registry; cheap to consult on every invocation."""

    def __init__(self) -> None:
        self.sinks: list[Any] = []
        self.hooks: list[Any] = []
        self._lock = threading.Lock()
        self._errors = 0
        self._dropped_extra = 0
        self._reported: set[str] = set()
        self.configured = False

    # registration -------------------------------------------------------
    def add_sink(self, sink: Any) -> None:
        with self._lock:
            if sink not in self.sinks:
                self.sinks = [*self.sinks, sink]

    def remove_sink(self, sink: Any) -> None:
        with self._lock:
            self.sinks = [s for s in self.sinks if s is not sink]

    def add_hook(self, hook: Any) -> None:
        with self._lock:
            if hook not in self.hooks:
                self.hooks = [*self.hooks, hook]

    def remove_hook(self, hook: Any) -> None:
        with self._lock:
            self.hooks = [h for h in self.hooks if h is not hook]

    # hot path ------------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:
                self.report_failure(sink, "emit", exc)

    def on_start(self, invocation: Any) -> None:
        for hook in self.hooks:
            try:
                hook.on_start(invocation)
            except Exception as exc:
                self.report_failure(hook, "on_start", exc)

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None:
        for hook in self.hooks:
            try:
                hook.on_end(invocation, record)
            except Exception as exc:
                self.report_failure(hook, "on_end", exc)

    def flush(self, budget_s: float) -> float:
        """Flush hooks then sinks, sharing ``budget_s``; returns the milliseconds spent."""
        parts = [*self.hooks, *self.sinks]
        if not parts:
            return 0.0
        start = time.perf_counter()
        deadline = start + max(0.0, budget_s)
        for part in parts:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                part.flush(remaining)
            except Exception as exc:
                self.report_failure(part, "flush", exc)
        return (time.perf_counter() - start) * 1000.0

    def dropped(self) -> int:
        """Telemetry lost so far (cumulative over the process), as reported by exporters."""
        total = self._dropped_extra
        for part in (*self.hooks, *self.sinks):
            counter = getattr(part, "dropped", None)
            if counter is None:
                continue
            try:
                total += int(counter() if callable(counter) else counter)
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
            sys.stderr.write(
                f"fnlens: {type(part).__name__}.{stage} failed: {type(exc).__name__}: {exc} "
                "(telemetry only; the handler is unaffected)\n"
            )
        except Exception:
            pass

    @property
    def errors(self) -> int:
        return self._errors


TELEMETRY = Telemetry()
