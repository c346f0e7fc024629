"""A span processor with a flush budget, in the style of the SDK's BatchSpanProcessor.

The SDK's ``BatchSpanProcessor.force_flush`` exports on the *caller's* thread and
ignores its timeout while the exporter blocks (up to ``OTEL_EXPORTER_OTLP_TIMEOUT``,
10 s). ``BudgetSpanProcessor`` keeps the export on its worker: the caller waits at
most what :class:`fnlens.exporters.flushing.FlushPolicy` allows, queues are
bounded and every span that is not exported is counted as dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from fnlens.exporters.flushing import POLICY
from fnlens.exporters.queue import ExportQueue
from fnlens.runtime.telemetry import TELEMETRY


class BudgetSpanProcessor(SpanProcessor):
    """Queue finished sampled spans; export them in batches on a background thread."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
    ) -> None:
        self.exporter = exporter
        self.queue = ExportQueue(
            f"spans-{type(exporter).__name__}",
            self._export,
            max_queue_size=max_queue_size,
            max_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            on_error=lambda exc: TELEMETRY.report_failure(exporter, "export", exc),
        )

    def _export(self, batch: Sequence[ReadableSpan]) -> bool:
        return self.exporter.export(batch) == SpanExportResult.SUCCESS

    # SpanProcessor -----------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self.queue.put(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.queue.flush(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        self.queue.shutdown(2.0)
        try:
            self.exporter.shutdown()
        except Exception:
            pass


class ProcessorFlushHook:
    """Puts a span processor under fnlens's flush budget (a TELEMETRY hook)."""

    def __init__(self, processor: BudgetSpanProcessor) -> None:
        self.processor = processor

    def on_start(self, invocation: Any) -> None:
        return None

    def on_end(self, invocation: Any, record: Any) -> None:
        return None

    def flush(self, timeout_s: float) -> None:
        self.processor.queue.flush(POLICY.wait_s(timeout_s))

    def dropped(self) -> int:
        return self.processor.queue.dropped()

    def shutdown(self) -> None:
        self.processor.shutdown()
