"""The runtime's post-response window: telemetry work the caller need not wait for.

Lambda freezes an execution environment only when the runtime asks for the next
event (and every extension has too). Between posting an invocation's response
and that request the process runs as usual, billed but invisible to the caller.
The Python runtime interface client (``awslambdaric``, also inside AWS's managed
Python runtimes) makes both calls through ``LambdaRuntimeClient``:
``wait_next_invocation`` and ``post_invocation_result`` / ``post_invocation_error``.
Wrapping them tells fnlens

- that the current thread is the runtime loop handling an event (between
  ``wait_next_invocation`` returning and the response post): work handed to
  :meth:`ResponsePhase.defer` then runs right after the response is posted, in
  the same thread and ``contextvars`` context, before the runtime asks for the
  next event — nothing is lost to a freeze, and the caller does not wait for it;
- when a response is out (:meth:`ResponsePhase.add_listener`: the in-process
  extension starts its drain then).

Outside that window (no runtime client loaded, a handler called directly, a
thread the handler started) :meth:`ResponsePhase.defer` returns False and the
caller does the work at once. Anything still pending when the runtime asks for
the next event, or at :func:`run_pending`, runs then: deferred work is never
dropped.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from contextvars import copy_context
from typing import Any

from fnlens._state import register_reset

# where the runtime client lives: the awslambdaric package, or top-level modules in
# older managed runtimes
MODULES = ("awslambdaric.lambda_runtime_client", "lambda_runtime_client")
CLASSES = ("BaseLambdaRuntimeClient", "LambdaRuntimeClient")
NEXT_METHOD = "wait_next_invocation"
POST_METHODS = ("post_invocation_result", "post_invocation_error")
_MARK = "__fnlens_response_phase__"
_get_ident = threading.get_ident
ENVIRONMENT: Any = object()  # "no header from the runtime client: read the environment"


def runtime_client_class() -> type | None:
    """The loaded runtime client class that owns the next/post methods (or None)."""
    for module_name in MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for class_name in CLASSES:
            cls = getattr(module, class_name, None)
            if isinstance(cls, type) and all(
                name in vars(cls) for name in (NEXT_METHOD, *POST_METHODS)
            ):
                return cls
    return None


def _say_if_unknown_shape() -> None:
    """A runtime client is loaded but not in a shape fnlens knows (a release that
    renamed its methods): say so once; telemetry is then recorded before the response
    (the plain path), nothing is lost."""
    loaded = [name for name in MODULES if name in sys.modules]
    if not loaded:
        return
    from fnlens._config import warn_once

    version = getattr(sys.modules.get("awslambdaric"), "__version__", None)
    warn_once(
        "response-phase-shape",
        f"the Lambda runtime client ({loaded[0]}"
        f"{' ' + str(version) if version else ''}) does not have the "
        f"{NEXT_METHOD}/{'/'.join(POST_METHODS)} methods fnlens wraps; telemetry is "
        "recorded before the response instead of after it (set FNLENS_AFTER_RESPONSE=false "
        "to silence this)",
    )


class ResponsePhase:
    """Process-wide state of the runtime loop (one per process, :data:`PHASE`)."""

    def __init__(self) -> None:
        # thread id of the runtime loop while it handles an event (0: not handling one)
        self.handling = 0
        # the X-Ray header of the event being handled (awslambdaric copies it into
        # _X_AMZN_TRACE_ID; reading it here saves the environment lookup)
        self.trace_header: str | None = None
        self.pending: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.listeners: list[Callable[[], None]] = []
        self._unhook: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.failures = 0
        self.responding = 0  # thread id running deferred work after a response post

    @property
    def installed(self) -> bool:
        return self._unhook is not None

    def install(self) -> bool:
        """Wrap the loaded runtime client's methods (idempotent). False when no runtime
        client is loaded or another copy of fnlens already wrapped it."""
        with self._lock:
            if self._unhook is not None:
                return True
            cls = runtime_client_class()
            if cls is None:
                _say_if_unknown_shape()
                return False
            names = (NEXT_METHOD, *POST_METHODS)
            originals = {name: vars(cls)[name] for name in names}
            if any(getattr(method, _MARK, False) for method in originals.values()):
                return False
            setattr(cls, NEXT_METHOD, _wrap_next(originals[NEXT_METHOD], self))
            for name in POST_METHODS:
                setattr(cls, name, _wrap_post(originals[name], self))

            def unhook() -> None:
                for name, original in originals.items():
                    setattr(cls, name, original)

            self._unhook = unhook
        import atexit

        atexit.register(run_pending)  # a process that exits mid-event still records it
        return True

    def uninstall(self) -> None:
        with self._lock:
            unhook, self._unhook = self._unhook, None
        self.handling = 0
        if unhook is not None:
            unhook()
        self.run_pending()

    def in_response_phase(self) -> bool:
        """True on the runtime's thread while it runs deferred work after a response."""
        responding = self.responding
        return responding != 0 and responding == _get_ident()

    def busy(self) -> bool:
        """The runtime loop is between an event and the end of its after-response work
        (another thread may see no active invocation then: the scope was left)."""
        return bool(self.handling or self.responding or self.pending)

    def _after_fork(self) -> None:
        """In a forked child: the parent's event, its deferred work and its window are
        the parent's (the child would otherwise defer records to a response post that
        never comes, or write the parent's records a second time at exit)."""
        self.handling = 0
        self.responding = 0
        self.pending = []
        self.trace_header = None

    def lambda_trace_header(self) -> Any:
        """The Lambda X-Ray header of the event this thread handles, or ``ENVIRONMENT``
        (read ``_X_AMZN_TRACE_ID``) outside the window."""
        handling = self.handling
        if handling != 0 and handling == _get_ident():
            return self.trace_header
        return ENVIRONMENT

    def defer(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` after the response is posted, in a copy of the current
        ``contextvars`` context; False (nothing queued) outside the window."""
        handling = self.handling
        if handling == 0 or handling != _get_ident():
            return False
        self.pending.append((copy_context().run, (fn, *args)))
        return True

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every posted response (after deferred work)."""
        if callback not in self.listeners:
            self.listeners = [*self.listeners, callback]

    def remove_listener(self, callback: Callable[[], None]) -> None:
        self.listeners = [c for c in self.listeners if c != callback]

    def run_pending(self) -> None:
        """Run deferred work now (in the order it was deferred); failures are counted."""
        pending = self.pending
        while pending:
            try:
                run, args = pending.pop(0)
            except IndexError:
                return
            try:
                run(*args)
            except Exception:
                self.failures += 1

    def responded(self) -> None:
        """The runtime posted a response: deferred work, then listeners."""
        self.handling = 0
        if not (self.pending or self.listeners):
            return
        self.responding = _get_ident()
        try:
            if self.pending:
                self.run_pending()
            for callback in self.listeners:
                try:
                    callback()
                except Exception:
                    self.failures += 1
        finally:
            self.responding = 0


def _wrap_next(original: Callable[..., Any], phase: ResponsePhase) -> Callable[..., Any]:
    def wait_next_invocation(self: Any, *args: Any, **kwargs: Any) -> Any:
        phase.handling = 0
        if phase.pending:  # a response that never went through the post methods
            phase.run_pending()
        request = original(self, *args, **kwargs)
        header = getattr(request, "x_amzn_trace_id", ENVIRONMENT)
        phase.trace_header = header if header is None or isinstance(header, str) else ENVIRONMENT
        phase.handling = _get_ident()
        return request

    return _mark(wait_next_invocation, original)


def _wrap_post(original: Callable[..., Any], phase: ResponsePhase) -> Callable[..., Any]:
    def posted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            phase.responded()

    return _mark(posted, original)


def _mark(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    setattr(wrapper, _MARK, True)
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(original, "__name__", wrapper.__name__)
    wrapper.__qualname__ = getattr(original, "__qualname__", wrapper.__qualname__)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    return wrapper


PHASE = ResponsePhase()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=PHASE._after_fork)


def _reset() -> None:
    """Unhook the runtime client and run what waits for a response post, then forget
    the loop's state (fnlens.testing.reset)."""
    PHASE.uninstall()
    PHASE.trace_header = None
    PHASE.listeners = []
    PHASE.failures = 0
    PHASE.responding = 0


register_reset(__name__, _reset)


def run_pending() -> None:
    """Run any deferred telemetry work now (``fnlens.flush()`` and exit call this)."""
    if PHASE.pending:
        PHASE.run_pending()
