"""Process-wide configuration and control of fnlens's telemetry pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fnlens.runtime import _logs as logs
from fnlens.runtime import _response_phase as response_phase
from fnlens.runtime import _scope as scope
from fnlens.runtime._telemetry import TELEMETRY, InvocationHook, RecordSink

if TYPE_CHECKING:  # pragma: no cover
    from structlog.typing import Processor


def configure(
    *,
    processors: Iterable[Processor] | None = None,
    sinks: Iterable[RecordSink] | None = None,
    hooks: Iterable[InvocationHook] | None = None,
    stdout: bool | None = None,
    log_level: str | None = None,
) -> None:
    """Extend the pipeline: structlog ``processors`` run after fnlens's own (context,
    level, timestamp, redaction) and before events reach the sinks; ``sinks`` receive
    every finished event; ``hooks`` see every invocation start and end."""
    logs.PIPELINE.configure(
        processors=list(processors) if processors is not None else None,
        stdout=stdout,
        level=log_level,
    )
    for sink in sinks or ():
        TELEMETRY.add_sink(sink)
    for hook in hooks or ():
        TELEMETRY.add_hook(hook)


def tracer_provider() -> Any:
    """The OpenTelemetry SDK ``TracerProvider`` the function's spans go through (built
    now if it was not yet): fnlens's own, or the one the application installed. None
    when no span exporter is installed. Use it to add span processors of your own or
    to read its resource and sampler."""
    from fnlens.exporters._tracer import sdk_tracer_provider

    return sdk_tracer_provider()


def current_context() -> dict[str, Any]:
    """Correlation fields of the current invocation (empty outside one)."""
    inv = scope.current_invocation()
    return dict(inv.log_context) if inv is not None else {}


def flush(timeout_s: float = 2.0) -> float:
    """Flush every exporter, waiting at most ``timeout_s``; returns milliseconds spent.

    Invocations whose recording waits for the runtime's response post are recorded
    first."""
    response_phase.run_pending()
    return TELEMETRY.flush(timeout_s)


def shutdown() -> None:
    """Flush and stop every exporter (at process exit)."""
    response_phase.run_pending()
    TELEMETRY.flush(2.0)
    TELEMETRY.shutdown()
