"""Span links: one per SQS message carrying a trace context, plus unused parent candidates.

A batch of SQS messages comes from many producers and many traces, so none of
them can be *the* parent of the invocation span. Each message's
``AWSTraceHeader`` system attribute (X-Ray format) — or a ``traceparent``
message attribute (W3C) — becomes one span link. Parent candidates the policy
did not choose (see :mod:`fnlens.runtime._propagation`) are linked too, so the
caller's trace is never lost.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Link, SpanContext, TraceFlags

from fnlens.runtime import _ids as ids
from fnlens.runtime import _propagation as propagation

MAX_LINKS = 128  # the SDK's default OTEL_SPAN_LINK_COUNT_LIMIT


def _link(trace_id: str, span_id: str, sampled: bool, attributes: dict[str, Any]) -> Link | None:
    try:
        context = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0),
        )
    except ValueError:
        return None
    return Link(context, attributes) if context.is_valid else None


def _sqs_message_link(record: dict[str, Any]) -> Link | None:
    attributes = {"messaging.message.id": record.get("messageId") or ""}
    header = (record.get("attributes") or {}).get("AWSTraceHeader")
    parent = propagation.xray_parent(header)
    if parent is not None and parent.span_id:
        return _link(parent.trace_id, parent.span_id, parent.sampled, attributes)
    message_attributes = record.get("messageAttributes") or {}
    traceparent = message_attributes.get("traceparent") or {}
    parsed = ids.parse_traceparent(traceparent.get("stringValue"))
    if parsed is not None:
        return _link(parsed[0], parsed[1], parsed[2], attributes)
    return None


def invocation_links(invocation: Any) -> list[Link]:
    """The link factory installed with ``decorator.set_link_factory``."""
    links: list[Link] = []
    event = invocation.event
    if invocation.trigger.event_source == "aws:sqs" and isinstance(event, dict):
        for record in event.get("Records") or ():
            if len(links) >= MAX_LINKS:
                break
            if isinstance(record, dict):
                link = _sqs_message_link(record)
                if link is not None:
                    links.append(link)
    decision = invocation.decision
    if decision is not None:
        chosen = decision.parent
        for candidate in decision.candidates:
            if candidate is chosen or not candidate.span_id:
                continue
            link = _link(
                candidate.trace_id,
                candidate.span_id,
                candidate.sampled,
                {"fnlens.link.source": candidate.source},
            )
            if link is not None:
                links.append(link)
    return links
