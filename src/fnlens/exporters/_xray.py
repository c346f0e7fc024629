"""AWS X-Ray through ``aws-xray-sdk``: one (sub)segment per invocation, over UDP.

Inside Lambda (``LAMBDA_TASK_ROOT``) the function's segment belongs to the
platform, so fnlens opens a *subsegment* under it (the SDK's facade segment built
from ``_X_AMZN_TRACE_ID``); elsewhere it opens a *segment* in the invocation's
trace. Either way it carries the ``ColdStart`` and ``Service`` annotations, the
HTTP status, and the error (4xx) or fault (5xx, exception, timeout) flag. The
document goes to the daemon address (``AWS_XRAY_DAEMON_ADDRESS``) as one UDP
datagram when the invocation ends: nothing to flush. The SDK is imported only
when this exporter is enabled; the global ``xray_recorder`` is used so segments
the application records (patched boto3, requests…) nest under fnlens's.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any


class XRayHook:
    """A TELEMETRY hook recording each invocation in X-Ray."""

    def __init__(self, daemon_address: str = "127.0.0.1:2000", service: str | None = None) -> None:
        from aws_xray_sdk.core import xray_recorder

        self.recorder = xray_recorder
        self.recorder.configure(
            daemon_address=daemon_address,
            context_missing="LOG_ERROR",
            sampling=False,  # fnlens records every invocation it is asked to
            plugins=(),
        )
        self.in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
        self.service = service
        self._dropped = 0

    # hook protocol ----------------------------------------------------------------
    def on_start(self, invocation: Any) -> None:
        name = _entity_name(self.service or invocation.identity.get("service") or "function")
        if self.in_lambda:
            entity = self.recorder.begin_subsegment(name, namespace="local")
        else:
            parent = invocation.parent_span_id
            entity = self.recorder.begin_segment(
                name,
                traceid=invocation.xray_trace_id,
                parent_id=parent,
                sampling=1,
            )
        if entity is None:
            return
        invocation.hook_state["xray"] = (entity, threading.get_ident())
        entity.put_annotation("ColdStart", bool(invocation.cold_start))
        entity.put_annotation("Service", str(invocation.identity.get("service") or ""))
        entity.put_annotation("RequestId", invocation.request_id)
        if invocation.identity.get("function_version"):
            entity.put_metadata("function_version", invocation.identity["function_version"])

    def on_end(self, invocation: Any, record: Mapping[str, Any]) -> None:
        state = invocation.hook_state.pop("xray", None)
        if state is None:
            return
        entity, thread_id = state
        status = record.get("http_status_code")
        if isinstance(status, int):
            entity.apply_status_code(status)  # 4xx → error, 429 → throttle, 5xx → fault
        outcome = record.get("outcome")
        if outcome in ("error", "timeout"):
            error = getattr(invocation, "error", None)
            entity.add_exception(*_exception_for(record, outcome, error))  # sets the fault flag
        entity.put_annotation("Outcome", str(outcome))
        # when the handler returned (on_end may run after the response was posted)
        end_time = getattr(invocation, "ended_at", None)
        if thread_id == threading.get_ident():
            if self.in_lambda:
                self.recorder.end_subsegment(end_time)
            else:
                self.recorder.end_segment(end_time)
            return
        # the timeout watchdog ends the invocation from its own thread: the SDK's
        # thread-local context does not hold the entity there, so close and send it.
        try:
            entity.close(end_time)
            self.recorder.emitter.send_entity(entity)
        except Exception:
            self._dropped += 1

    def flush(self, timeout_s: float) -> None:
        return None  # UDP: sent when the invocation ends

    def dropped(self) -> int:
        return self._dropped

    def shutdown(self) -> None:
        return None


def _exception_for(
    record: Mapping[str, Any], outcome: Any, error: BaseException | None = None
) -> tuple[BaseException, list]:
    """The handler's exception, or a stand-in carrying the record's error type and
    message (timeouts)."""
    import traceback

    error_type = str(record.get("error_type") or outcome)
    message = str(record.get("error_message") or outcome)
    current = error if error is not None else sys.exc_info()[1]
    if current is not None and type(current).__name__ == error_type:
        return current, traceback.extract_tb(current.__traceback__)
    stand_in = type(_entity_name(error_type), (Exception,), {})(message)
    return stand_in, []


def _entity_name(name: str) -> str:
    """X-Ray names: up to 200 characters of a restricted set."""
    allowed = "".join(ch if ch.isalnum() or ch in " _.:/%&#=+\\-@" else "_" for ch in str(name))
    return allowed[:200] or "function"
