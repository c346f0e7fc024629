"""The invocation scope: what every log line and span of one invocation shares.

Held in a ContextVar so concurrent asyncio invocations never mix. Threads the
handler starts do not inherit ContextVars, so while exactly one invocation is
active in the process (always the case inside Lambda) it is also visible from
any thread. Nothing survives the end of an invocation.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from fnlens.runtime._triggers import TriggerInfo

_finish_lock = threading.Lock()


@dataclass(eq=False, slots=True)
class Invocation:
    """Mutable state of one invocation, shared by the handler thread and the watchdog."""

    request_id: str
    trace_id: str
    span_id: str
    xray_trace_id: str | None
    started_at: float  # epoch seconds
    started_perf: float  # perf_counter at start
    cold_start: bool
    init_type: str
    init_duration_ms: float | None
    trigger: TriggerInfo
    identity: dict[str, Any]  # service, function name/version/alias, region, memory…
    log_context: dict[str, Any]  # merged into every log line of this invocation
    snapstart_restore: bool = False
    parent_span_id: str | None = None
    http_route_override: str | None = None
    span: Any = None  # fnlens.runtime._tracing.SpanHandle when OpenTelemetry is loaded
    hook_state: dict[str, Any] = field(default_factory=dict)  # exporters' per-invocation state
    decision: Any = None  # fnlens.runtime._propagation.TraceDecision
    event: Any = None  # the event the handler received
    deadline_perf: float | None = None  # perf_counter() at the function's deadline
    finished: bool = False
    watchdog_token: int | None = None
    ended_at: float | None = None  # epoch seconds when the handler returned (or timed out)
    error: BaseException | None = None  # what the handler raised
    extra_fields: dict[str, Any] | None = None  # adapters' own record fields (http_ttfb_ms)

    def claim_finish(self) -> bool:
        """True for exactly one caller: the handler's return or the timeout watchdog."""
        with _finish_lock:
            if self.finished:
                return False
            self.finished = True
            return True


_current: ContextVar[Invocation | None] = ContextVar("fnlens_invocation", default=None)
_active: list[Invocation] = []


def current_invocation() -> Invocation | None:
    """The invocation the caller runs in, if any."""
    inv = _current.get()
    if inv is not None:
        return inv
    active = _active
    if len(active) == 1:
        return active[0]
    return None


def enter(inv: Invocation) -> Token:
    _active.append(inv)  # list.append and list.remove are atomic: no lock needed
    return _current.set(inv)


def leave(inv: Invocation, token: Token | None) -> None:
    try:
        _active.remove(inv)
    except ValueError:
        pass
    if token is not None:
        try:
            _current.reset(token)
        except ValueError:  # reset from another context: clear it instead
            _current.set(None)


def in_invocation() -> bool:
    return _current.get() is not None
