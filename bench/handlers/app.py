"""The handler every benchmark variant runs: a small API Gateway v2 handler.

It parses the request, does a little work, writes one structured log line through
the variant's logger and returns a JSON response. ``business`` is the shared
body; each ``*_handler`` wires it to one library the way its docs recommend.
Variants are set up by ``setup_<variant>()`` in a fresh process.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

Log = Any


def business(event: dict[str, Any], log: Log) -> dict[str, Any]:
    order_id = (event.get("pathParameters") or {}).get("id", "0")
    items = [{"sku": f"sku-{i}", "qty": i % 3 + 1, "price": 9.99 + i} for i in range(5)]
    total = round(sum(i["qty"] * i["price"] for i in items), 2)
    log("order fetched", order_id=order_id, total=total)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"id": order_id, "items": items, "total": total}),
    }


def _print_log(message: str, **fields: Any) -> None:
    """What a hand-written structured log line costs (the bare and OTel variants)."""
    sys.stdout.write(json.dumps({"level": "info", "message": message, **fields}) + "\n")


# bare ---------------------------------------------------------------------------
def setup_bare() -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return business(event, _print_log)

    return handler


# fnlens ---------------------------------------------------------------------------
def setup_fnlens() -> Any:
    import fnlens

    log = fnlens.get_logger()

    @fnlens.instrument(service="orders")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return business(event, log.info)

    return handler


# fnlens after a move from Powertools: Powertools' log keys, fnlens.metrics.add_metric --
def setup_fnlens_migrated() -> Any:
    """The Powertools variant's handler moved to fnlens as docs/migrating-from-powertools.md
    says: ``log_fields="powertools"`` (lines keep Powertools Logger's keys) and the same
    custom metric through ``fnlens.metrics`` (EMF exporter on: ``FNLENS_EXPORTERS=emf``)."""
    import fnlens
    from fnlens.metrics import MetricUnit, add_metric

    log = fnlens.get_logger()

    @fnlens.instrument(service="orders", log_fields="powertools")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        add_metric("OrdersFetched", MetricUnit.Count, 1)
        return business(event, log.info)

    return handler


# AWS Lambda Powertools: Logger + Tracer + Metrics, stacked --------------------------
def setup_powertools() -> Any:
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.metrics import MetricUnit

    logger = Logger(service="orders")
    tracer = Tracer(service="orders")
    metrics = Metrics(namespace="bench", service="orders")

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="OrdersFetched", unit=MetricUnit.Count, value=1)
        return business(event, logger.info)

    return handler


# OpenTelemetry: opentelemetry-instrumentation-aws-lambda -----------------------------
def otel_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return business(event, _print_log)


def setup_otel() -> Any:
    """AwsLambdaInstrumentor, BatchSpanProcessor, OTLP/HTTP exporter to a local collector.

    The instrumentor calls ``tracer_provider.force_flush()`` after every invocation;
    that call is timed (``FORCE_FLUSH_NS``) as the time the caller waits for telemetry.
    """
    import time

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "orders"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    original = provider.force_flush

    def timed_force_flush(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            FORCE_FLUSH_NS.append(time.perf_counter_ns() - start)

    provider.force_flush = timed_force_flush  # type: ignore[method-assign]
    os.environ.setdefault("_HANDLER", "app.otel_handler")
    AwsLambdaInstrumentor().instrument(tracer_provider=provider)
    module = sys.modules[__name__]
    return module.otel_handler


FORCE_FLUSH_NS: list[int] = []
