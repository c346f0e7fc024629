"""Parsers for every supported input format; each turns records into rows for the sink.

The formats, in the order detection tries them, are listed in :data:`FORMATS`.
"""

from __future__ import annotations

FORMATS: tuple[str, ...] = (
    "fnlens-jsonl",
    "lambda-text",
    "sam-logs",
    "aws-logs-tail",
    "lambda-json",
    "lambda-telemetry",
    "cloudwatch-get-log-events",
    "cloudwatch-filter-log-events",
    "cloudwatch-subscription",
    "firehose",
    "cloudwatch-s3-export",
    "logs-insights",
    "logs-insights-csv",
    "otlp-json",
    "powertools",
    "emf",
    "cloud-logging",
    "app-insights",
    "json-lines",
)
