"""How long the handler's caller waits for telemetry at the end of an invocation.

``FNLENS_FLUSH_MODE``:

* ``budget`` — wait for the queues to drain, at most the flush budget
  (``FNLENS_FLUSH_BUDGET_MS``, default 5 ms, never past the function's remaining
  time). The right choice inside Lambda without an extension: the process is
  frozen as soon as the handler returns.
* ``background`` — never wait; the worker threads export while the process
  lives and the queues are flushed at exit. For servers, containers, local runs.
* ``extension`` — inside Lambda, an in-process Lambda extension
  (:mod:`fnlens.exporters._extension`) keeps the execution environment alive
  after the response is sent until the queues are drained, so the caller waits
  for nothing. Falls back to ``budget`` when registration fails.
* ``auto`` (default) — ``budget`` inside Lambda (``AWS_LAMBDA_RUNTIME_API`` set),
  ``background`` elsewhere and on Lambda Managed Instances (never frozen, several
  invocations at once).

Outside an invocation (``fnlens.flush()``, shutdown, the extension's own drain)
a flush always waits for the timeout it was given.

Inside the Lambda runtime loop (:mod:`fnlens.runtime._response_phase`) the
``budget`` flush happens after the response is posted, and the caller waits for
none of it: the runtime's thread sends the OTLP/HTTP requests itself
(``ExportQueue.export_here``) and waits for their answers at most the budget; an
answer that is late is read by the export thread, which the request is handed to
(never abandoned, never sent twice).
"""

from __future__ import annotations

import os
from typing import Any

from fnlens._state import register_reset
from fnlens.runtime import _scope as scope
from fnlens.runtime._response_phase import PHASE
from fnlens.runtime._telemetry import TELEMETRY

MODES = ("auto", "budget", "background", "extension")
# After the Lambda response nobody waits: the wait for the collector's answers there is
# billed, never felt, and what is still unanswered when the runtime asks for the next
# event may be lost with the environment. So it waits longer than the in-invocation
# budget — only as long as the answers take (about a round trip), and a collector that
# misses it once is not waited for again until an export succeeds.
AFTER_RESPONSE_BUDGET_MS = 100.0


def after_response_budget_s() -> float:
    from fnlens._config import parse_number

    raw = os.environ.get("FNLENS_AFTER_RESPONSE_BUDGET_MS")
    return (
        parse_number("FNLENS_AFTER_RESPONSE_BUDGET_MS", raw, AFTER_RESPONSE_BUDGET_MS, minimum=0.0)
        / 1000.0
    )


class FlushPolicy:
    """Process-wide: turns the decorator's flush budget into a wait for each exporter."""

    def __init__(self) -> None:
        self.mode = "budget"

    def resolve(self, requested: str) -> str:
        """Set the effective mode from the requested one (``auto`` looks at the platform)."""
        if requested == "auto":
            requested = "budget" if os.environ.get("AWS_LAMBDA_RUNTIME_API") else "background"
            if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "lambda-managed-instances":
                requested = "background"  # never frozen; several invocations at once
        self.mode = requested
        # the decorator skips its per-invocation flush when nothing would wait anyway
        TELEMETRY.waits_in_invocation = requested == "budget"
        TELEMETRY.flushes_after_response = requested in ("budget", "extension")
        if requested == "budget":
            TELEMETRY.after_response_budget_s = after_response_budget_s()
            TELEMETRY.after_response_explicit = bool(
                os.environ.get("FNLENS_AFTER_RESPONSE_BUDGET_MS")
            )
        elif requested != "extension":
            TELEMETRY.after_response_budget_s = None
        return requested

    def wait_s(self, timeout_s: float) -> float:
        """How long an exporter may block in ``flush(timeout_s)``."""
        if self.mode == "budget" or PHASE.in_response_phase() or not scope.in_invocation():
            return timeout_s
        return 0.0

    def flush(self, queue: Any, timeout_s: float) -> None:
        """Flush one exporter's queue as the mode says.

        Inside an invocation in ``extension`` or ``background`` mode nothing happens
        at all — not even a nudge to the worker, whose export would otherwise compete
        with the handler's thread for the GIL: the extension's drain (after the
        response) or the worker's schedule exports it.
        """
        # (work deferred to after the response still runs in the handler's context)
        if self.mode == "budget" or PHASE.in_response_phase() or not scope.in_invocation():
            queue.flush(timeout_s)


POLICY = FlushPolicy()


def _reset() -> None:
    POLICY.mode = "budget"  # (the registry's flags are reset with the registry)


register_reset(__name__, _reset)
