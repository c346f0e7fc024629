"""``@instrument``: one decorator that makes a function handler observable.

Per invocation it emits exactly one invocation record, activates the invocation
scope for log lines, runs the OpenTelemetry span when an SDK is present, tells
exporter hooks, and flushes within a budget. The handler's result and exception
pass through untouched; any failure inside fnlens is reported on stderr and
swallowed.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from fnlens._config import SETTING_ARGS, Settings, settings_from_env
from fnlens.runtime import _logs as logs
from fnlens.runtime import _propagation as propagation
from fnlens.runtime import _scope as scope
from fnlens.runtime import _tracing as tracing
from fnlens.runtime._coldstart import TRACKER
from fnlens.runtime._identity import IDENTITY_FIELDS, alias_from_arn, function_identity
from fnlens.runtime._ids import new_span_id, w3c_to_xray
from fnlens.runtime._marshal import marshal_error
from fnlens.runtime._platforms import PlatformCall, detect_call, stdout_format
from fnlens.runtime._redaction import Redactor, sanitize_event
from fnlens.runtime._response_phase import PHASE
from fnlens.runtime._telemetry import TELEMETRY
from fnlens.runtime._triggers import (
    batch_failures,
    detect_trigger,
    response_status,
)
from fnlens.runtime._truncate import MAX_ERROR_MESSAGE_CHARS, truncate
from fnlens.runtime._watchdog import WATCHDOG

# `instrument` keeps the handler's signature for type checkers (parameters and result)
P = ParamSpec("P")
R = TypeVar("R")
_get_ident = threading.get_ident
_current_invocation = scope._current.get  # the invocation this context runs in, if any
# tracing's process-wide state, read without a call per invocation: non-empty once
# OpenTelemetry was seen / while a fast-path span recorder is installed
_OTEL_SEEN = tracing._LOADED
_RECORDERS = tracing._RECORDER


@overload
def instrument(handler: Callable[P, R]) -> Callable[P, R]: ...


# The keywords below are SETTING_ARGS (declared once, on fnlens._config.Settings), written
# out for type checkers; tests/runtime/test_settings_declaration.py keeps them equal.
@overload
def instrument(
    handler: None = None,
    *,
    service: str | None = None,
    service_version: str | None = None,
    log_event: bool | None = None,
    log_event_body: bool | None = None,
    redact: bool | None = None,
    redact_keys: list[str] | tuple[str, ...] | None = None,
    timeout_margin_ms: float | None = None,
    flush_budget_ms: float | None = None,
    trace_parent: str | None = None,
    stdout: bool | None = None,
    log_level: str | None = None,
    after_response: bool | None = None,
    log_fields: str | None = None,
    span_name: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def instrument(handler: Any = None, **options: Any) -> Any:
    """Instrument a function handler (sync or ``async def``); usable bare or with arguments.

    Arguments beat ``FNLENS_*``/``OTEL_*`` environment variables, which beat defaults.
    ``FNLENS_DISABLED=true`` returns the handler unchanged.
    """
    unknown = set(options) - {*SETTING_ARGS, "span_name"}
    if unknown:
        raise TypeError(f"instrument() got unexpected arguments: {', '.join(sorted(unknown))}")
    if handler is None:
        return lambda fn: instrument(fn, **options)
    if getattr(handler, "__fnlens_instrumented__", False):
        return handler  # applied twice: still one record per invocation
    instrumented = instrumentation(handler, **options)
    if instrumented is None:
        return handler
    settings = instrumented.settings

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if _current_invocation() is not None:
                return await handler(*args, **kwargs)
            inv, token = instrumented.begin(args, kwargs)
            if inv is None:
                return await handler(*args, **kwargs)
            try:
                result = await handler(*args, **kwargs)
            except BaseException as error:
                instrumented.finish(inv, None, error)
                instrumented.leave(inv, token)
                raise
            instrumented.finish(inv, result, None)
            instrumented.leave(inv, token)
            return result

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(handler)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            if _current_invocation() is not None:
                return handler(*args, **kwargs)
            inv, token = instrumented.begin(args, kwargs)
            if inv is None:
                return handler(*args, **kwargs)
            try:
                result = handler(*args, **kwargs)
            except BaseException as error:
                instrumented.finish(inv, None, error)
                instrumented.leave(inv, token)
                raise
            instrumented.finish(inv, result, None)
            instrumented.leave(inv, token)
            return result

        wrapper = sync_wrapper

    wrapper.__fnlens_instrumented__ = True
    wrapper.__fnlens_settings__ = settings
    return wrapper


def instrumentation(handler: Callable[..., Any], **options: Any) -> _Instrumented | None:
    """The per-handler recorder ``instrument`` wraps a handler with (None when fnlens is
    disabled): ``begin`` / ``finish`` / ``leave`` of one invocation, for adapters whose
    request does not end when a function returns (a streamed WSGI response)."""
    unknown = set(options) - {*SETTING_ARGS, "span_name"}
    if unknown:
        raise TypeError(f"instrument() got unexpected arguments: {', '.join(sorted(unknown))}")
    options = dict(options)
    span_name = options.pop("span_name", None)
    settings = settings_from_env().with_overrides(**options)
    if settings.disabled:
        return None
    from fnlens.runtime import _setup as setup

    setup.ensure_configured(settings)
    instrumented = _Instrumented(handler, settings, span_name)
    # a flush budget set on purpose bounds the wait after the response too
    instrumented.budget_is_explicit = options.get("flush_budget_ms") is not None or bool(
        os.environ.get("FNLENS_FLUSH_BUDGET_MS")
    )
    TRACKER.mark_init_progress()
    return instrumented


class _Instrumented:
    """Per-handler state: settings, redactor and cached process identity."""

    def __init__(
        self, handler: Callable[..., Any], settings: Settings, span_name: str | None
    ) -> None:
        self.handler_name = getattr(handler, "__name__", "handler")
        self.settings = settings
        self.span_name = span_name
        self.redactor = Redactor(settings.redact_keys) if settings.redact else None
        logs.PIPELINE.configure(
            stdout=settings.stdout,
            redactor=self.redactor,
            level=settings.log_level,
            field_set=settings.log_fields,
            service=settings.service,
        )
        self.powertools = settings.log_fields == "powertools"
        code = getattr(handler, "__code__", None)
        # Powertools' `location` of the invocation record: where the handler is defined
        self.location = f"{self.handler_name}:{code.co_firstlineno}" if code else None
        log_format = stdout_format(settings.log_format)
        if log_format == "gcp":
            from fnlens.runtime._gcp import cloud_logging_shape

            logs.set_stdout_shape(cloud_logging_shape)
        else:
            logs.set_stdout_shape(None)
        if log_format == "azure":
            from fnlens.runtime._azure import write_lines

            logs.set_line_writer(write_lines)
        else:
            logs.set_line_writer(None)
        self.after_response = settings.after_response
        if self.after_response:
            PHASE.install()
        self._margin_s = settings.timeout_margin_ms / 1000.0
        self._on_deadline_cb = self._on_deadline  # one bound method, not one per invocation
        self.budget_is_explicit = False
        self._identity: dict[str, Any] | None = None
        self._identity_by_arn: dict[Any, dict[str, Any]] = {}
        self._identity_by_platform: dict[tuple, dict[str, Any]] = {}

    # start ----------------------------------------------------------------
    def begin(self, args: tuple, kwargs: dict) -> tuple[scope.Invocation | None, Any]:
        try:
            inv = self._begin(args, kwargs)
        except Exception as exc:
            TELEMETRY.report_failure(self, "begin", exc)
            return None, None
        token = scope.enter(inv)
        try:
            self._start_span_and_hooks(inv)
            if self.settings.log_event:
                event = args[0] if args else kwargs.get("event")
                logs.record_logger().info(
                    "event received",
                    lambda_event=sanitize_event(
                        event, self.redactor, include_body=self.settings.log_event_body
                    ),
                )
        except Exception as exc:
            TELEMETRY.report_failure(self, "begin", exc)
        return inv, token

    def _begin(self, args: tuple, kwargs: dict) -> scope.Invocation:
        started_at = time.time()
        started_perf = time.perf_counter()
        event = args[0] if args else kwargs.get("event")
        context = args[1] if len(args) > 1 else kwargs.get("context")
        settings = self.settings

        # Azure Functions / Cloud Run functions hand the handler their own objects (by
        # keyword on Azure); a Lambda event is a dict passed positionally
        if kwargs or (args and type(event) is not dict):
            call = detect_call(args, kwargs, self.handler_name)
            if call is not None:
                return self._begin_platform(call, started_at, started_perf, event)

        identity = self._identity
        if identity is None:
            if self.after_response:
                PHASE.install()  # the runtime client may have loaded after decoration
            identity = function_identity(context, self.handler_name)
            identity["service"] = settings.service or identity["function_name"]
            identity["service_version"] = settings.service_version
            self._identity = identity
        arn = getattr(context, "invoked_function_arn", None)
        full_identity = self._identity_by_arn.get(arn)
        if full_identity is None:
            # one dict per invoked ARN (version or alias), shared read-only by invocations
            full_identity = {**identity, "function_alias": alias_from_arn(arn), "invoked_arn": arn}
            full_identity["record_fields"] = {key: full_identity[key] for key in IDENTITY_FIELDS}
            if len(self._identity_by_arn) < 64:
                self._identity_by_arn[arn] = full_identity
            if TELEMETRY.invoked_arn is None and isinstance(arn, str) and arn:
                TELEMETRY.invoked_arn = arn  # (cloud.resource_id, cloud.account.id)

        request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
        trigger = detect_trigger(event)
        # Lambda's X-Ray header: inside the runtime loop, the one the runtime client just
        # received (and copied into _X_AMZN_TRACE_ID); elsewhere, the variable
        handling = PHASE.handling
        policy = settings.trace_parent
        if handling and handling == _get_ident():
            decision = propagation.decide(trigger.headers, policy, PHASE.trace_header)
        else:
            decision = propagation.decide(trigger.headers, policy)
        cold = TRACKER.on_invocation(started_at, settings.proactive_init_threshold_ms)

        inv = scope.Invocation(
            request_id=request_id,
            trace_id=decision.trace_id,
            span_id="",
            xray_trace_id=decision.xray_trace_id,
            started_at=started_at,
            started_perf=started_perf,
            cold_start=cold.cold_start,
            init_type=cold.init_type,
            init_duration_ms=cold.init_duration_ms,
            snapstart_restore=cold.snapstart_restore,
            trigger=trigger,
            identity=full_identity,
            log_context={},
            parent_span_id=decision.parent.span_id if decision.parent else None,
        )
        inv.decision = decision
        inv.event = event

        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            try:
                remaining_ms = float(remaining())
            except Exception:
                remaining_ms = None
            # (a context answering inf or nan has no deadline to keep)
            if remaining_ms is not None and math.isfinite(remaining_ms):
                deadline_perf = inv.deadline_perf = started_perf + remaining_ms / 1000.0
                # (the watchdog keeps time with perf_counter too)
                inv.watchdog_token = WATCHDOG.arm(
                    deadline_perf - self._margin_s, self._on_deadline_cb, inv
                )
        return inv

    def _begin_platform(
        self, call: PlatformCall, started_at: float, started_perf: float, event: Any
    ) -> scope.Invocation:
        """An invocation on Azure Functions or Cloud Run functions (no deadline to keep:
        neither platform tells the function its remaining time)."""
        settings = self.settings
        key = (call.provider, call.function_name, call.function_version, call.function_alias)
        identity = self._identity_by_platform.get(key)
        if identity is None:
            identity = {
                "service": settings.service or call.service or call.function_name,
                "service_version": settings.service_version,
                "cloud_provider": call.provider,
                "region": call.region,
                "function_name": call.function_name,
                "function_version": call.function_version,
                "function_alias": call.function_alias,
                "memory_limit_mb": None,
                "log_stream": None,
                "invoked_arn": None,
            }
            identity["record_fields"] = {name: identity[name] for name in IDENTITY_FIELDS}
            if len(self._identity_by_platform) < 64:
                self._identity_by_platform[key] = identity
        trigger = call.trigger
        decision = propagation.decide(trigger.headers, settings.trace_parent, None)
        cold = TRACKER.on_invocation(started_at, settings.proactive_init_threshold_ms)
        inv = scope.Invocation(
            request_id=call.request_id or str(uuid.uuid4()),
            trace_id=decision.trace_id,
            span_id="",
            xray_trace_id=None,
            started_at=started_at,
            started_perf=started_perf,
            cold_start=cold.cold_start,
            init_type=cold.init_type,
            init_duration_ms=cold.init_duration_ms,
            trigger=trigger,
            identity=identity,
            log_context={},
            parent_span_id=decision.parent.span_id if decision.parent else None,
        )
        inv.decision = decision
        inv.event = event
        if call.extra_fields:
            inv.extra_fields = dict(call.extra_fields)
        return inv

    def _start_span_and_hooks(self, inv: scope.Invocation) -> None:
        trigger = inv.trigger
        decision = inv.decision
        if _OTEL_SEEN or tracing.otel_loaded():
            name = self.span_name or (
                f"{trigger.http_method} {trigger.http_route}"
                if trigger.http_method and trigger.http_route
                else inv.identity["function_name"]
            )
            links = None
            link_factory = _LINKS.get("factory")
            # links: SQS messages' trace contexts, parent candidates the policy passed over
            if link_factory is not None and (
                trigger.event_source == "aws:sqs" or decision.passed_over
            ):
                try:
                    links = link_factory(inv)
                except Exception as exc:
                    TELEMETRY.report_failure(self, "links", exc)
            arn = inv.identity.get("invoked_arn")
            if _RECORDERS:  # fnlens owns the SDK provider: the fast path
                recorder = _RECORDERS[0]
                inv.span = tracing.start_fast_span(name, decision, arn, links, recorder)
            else:
                inv.span = tracing.start_span(
                    name, decision, lambda: self._span_start_attributes(inv), links, arn
                )
        if inv.span is not None:
            inv.trace_id = inv.span.trace_id
            inv.span_id = inv.span.span_id
        else:
            inv.span_id = new_span_id()
        if inv.xray_trace_id is None and inv.identity["cloud_provider"] not in _NOT_XRAY:
            inv.xray_trace_id = w3c_to_xray(inv.trace_id)
        identity = inv.identity
        inv.log_context = {
            "request_id": inv.request_id,
            "trace_id": inv.trace_id,
            "span_id": inv.span_id,
            "cold_start": inv.cold_start,
            "service": identity["service"],
            "function_name": identity["function_name"],
            "function_version": identity["function_version"],
        }
        if TELEMETRY.start_hooks:
            TELEMETRY.on_start(inv)

    def _span_start_attributes(self, inv: scope.Invocation) -> dict[str, Any]:
        trigger = inv.trigger
        attributes: dict[str, Any] = {
            "faas.invocation_id": inv.request_id,
            "faas.trigger": trigger.trigger,
            "faas.coldstart": inv.cold_start,
        }
        arn = inv.identity.get("invoked_arn")
        if arn:
            attributes["aws.lambda.invoked_arn"] = arn
        if inv.identity["cloud_provider"] == "azure":
            attributes["faas.name"] = inv.identity["function_name"]
        if trigger.event_source:
            attributes["fnlens.event_source"] = trigger.event_source
        if trigger.http_method:
            attributes["http.request.method"] = trigger.http_method
        if trigger.http_route:
            attributes["http.route"] = trigger.http_route
        if trigger.batch_size is not None:
            attributes["messaging.batch.message_count"] = trigger.batch_size
        return attributes

    # end ------------------------------------------------------------------
    def _on_deadline(self, inv: scope.Invocation) -> None:
        self.finish(inv, None, None, timed_out=True)

    def finish(
        self,
        inv: scope.Invocation,
        result: Any,
        error: BaseException | None,
        *,
        timed_out: bool = False,
    ) -> None:
        """Record the invocation; never raises."""
        try:
            ended_perf = time.perf_counter()
            if not inv.claim_finish():
                return  # the watchdog already recorded a timeout
            inv.ended_at = time.time()
            inv.error = error
            if not timed_out:
                WATCHDOG.disarm(inv.watchdog_token)
                # Inside the Lambda runtime loop the record, span, metrics and queueing
                # wait until the response is posted (the caller does not wait for them);
                # elsewhere, and for timeouts, they happen now.
                if self.after_response and PHASE.defer(
                    self._finish_safely, inv, result, error, ended_perf
                ):
                    return
            self._finish(inv, result, error, timed_out, ended_perf)
        except Exception as exc:
            TELEMETRY.report_failure(self, "finish", exc)

    def _finish_safely(
        self, inv: scope.Invocation, result: Any, error: BaseException | None, ended_perf: float
    ) -> None:
        try:
            self._finish(inv, result, error, False, ended_perf, after_response=True)
        except Exception as exc:
            TELEMETRY.report_failure(self, "finish", exc)

    def _finish(
        self,
        inv: scope.Invocation,
        result: Any,
        error: BaseException | None,
        timed_out: bool,
        ended_perf: float,
        *,
        after_response: bool = False,
    ) -> None:
        duration_ms = (ended_perf - inv.started_perf) * 1000.0
        trigger = inv.trigger
        identity = inv.identity

        if timed_out:
            outcome = "timeout"
            error_type = "Timeout"
            error_message = (
                f"invocation still running {self.settings.timeout_margin_ms:g} ms before its "
                f"deadline (after {duration_ms:.1f} ms); recorded before the platform stops it"
            )
        elif error is not None:
            outcome = "error"
            error_type = type(error).__name__
            error_message = truncate(_safe_str(error), MAX_ERROR_MESSAGE_CHARS)
        elif (unmarshallable := marshal_error(result)) is not None:
            # the runtime will answer Runtime.MarshalError: the caller sees a failure
            outcome = "error"
            error_type, error_message = unmarshallable
            error_message = truncate(error_message, MAX_ERROR_MESSAGE_CHARS)
        else:
            outcome = "success"
            error_type = error_message = None

        status = None
        if trigger.is_http:
            failed = error is not None or timed_out or outcome == "error"
            status = 500 if failed else response_status(trigger, result)
        failures = batch_failures(result) if trigger.batch_size is not None else None
        route = inv.http_route_override or trigger.http_route

        record: dict[str, Any] = {  # in rendering order: timestamp, level, event first
            "timestamp": logs.format_timestamp(inv.started_at),
            "level": "info" if outcome == "success" else "error",
            "event": "invocation",
            **identity["record_fields"],  # service … memory_limit_mb
            "request_id": inv.request_id,
            "trace_id": inv.trace_id,
            "span_id": inv.span_id,
            "xray_trace_id": inv.xray_trace_id,
            "cold_start": inv.cold_start,
            "init_type": inv.init_type,
            "init_duration_ms": inv.init_duration_ms,
            "duration_ms": round(duration_ms, 3),
            "outcome": outcome,
            "error_type": error_type,
            "error_message": error_message,
            "trigger": trigger.trigger,
            "event_source": trigger.event_source,
            "http_method": trigger.http_method,
            "http_route": route,
            "http_status_code": status,
            "batch_size": trigger.batch_size,
            "batch_failures": failures,
            "telemetry_flush_ms": 0.0,
            "telemetry_dropped": 0,
        }
        if inv.snapstart_restore:
            record["snapstart_restore"] = True
        if inv.extra_fields:
            record.update(inv.extra_fields)

        if inv.span is not None:
            span_error_message = None
            if timed_out:
                span_error_message = "Timeout: " + (error_message or "")
            elif outcome == "error":
                span_error_message = f"{error_type}: {error_message}"
            elif status is not None and status >= 500:
                span_error_message = f"HTTP {status}"
            # before the flush below
            inv.span.end(record, error, span_error_message, int(inv.ended_at * 1e9))

        if TELEMETRY.end_hooks:
            TELEMETRY.on_end(inv, record)
        flush = (
            TELEMETRY.flushes_after_response
            if after_response
            else (TELEMETRY.waits_in_invocation or timed_out)
        ) and bool(TELEMETRY.hooks or TELEMETRY.sinks)
        if flush and not after_response:
            # The caller waits for the flush below, which sends this record too (an
            # environment frozen after it and never thawed loses nothing): the record
            # cannot hold that flush's own duration, so it says what the caller waited
            # at the end of the previous invocation in this process.
            record["telemetry_flush_ms"] = TELEMETRY.last_flush_ms
        record["telemetry_dropped"] = TELEMETRY.reported_dropped = TELEMETRY.dropped()

        lines = inv.hook_state.get("stdout_lines")
        powertools_fields = (
            {"location": self.location, "function_arn": identity.get("invoked_arn")}
            if self.powertools
            else None
        )
        logs.emit_record(record, error, "".join(lines) if lines else "", powertools_fields)
        if flush and after_response:
            # nobody waits any more: the record itself goes out in this flush too
            TELEMETRY.flush(self._flush_budget_s(inv, False, self._after_response_s()), here=True)
        elif flush:
            spent = TELEMETRY.flush(self._flush_budget_s(inv, timed_out), here=True)
            TELEMETRY.last_flush_ms = round(spent, 3)
        elif timed_out and TELEMETRY.sinks:
            TELEMETRY.flush(self._flush_budget_s(inv, timed_out))
        inv.hook_state.clear()
        inv.event = None

    def _after_response_s(self) -> float | None:
        """The wait for the collector after the response: the exporters' after-response
        budget (nobody waits for it), unless this handler's budget was set on purpose."""
        budget = TELEMETRY.after_response_budget_s
        if budget is None or (self.budget_is_explicit and not TELEMETRY.after_response_explicit):
            return None  # the handler's flush budget
        return budget

    def _flush_budget_s(
        self, inv: scope.Invocation, timed_out: bool, budget_s: float | None = None
    ) -> float:
        budget = self.settings.flush_budget_ms / 1000.0 if budget_s is None else budget_s
        if timed_out:
            budget = max(budget, self.settings.timeout_margin_ms / 2000.0)
        deadline = inv.deadline_perf
        if deadline is not None:
            budget = min(budget, max(0.0, deadline - time.perf_counter() - 0.005))
        return budget

    def leave(self, inv: scope.Invocation, token: Any) -> None:
        try:
            if inv.span is not None:
                inv.span.detach()
            scope.leave(inv, token)
            if TELEMETRY.after_invocation:
                TELEMETRY.left_invocation()
        except Exception as exc:
            TELEMETRY.report_failure(self, "leave", exc)


# providers whose traces have nothing to do with X-Ray (no xray_trace_id in their records)
_NOT_XRAY = frozenset({"azure", "gcp"})

# Exporters may register a span-link factory (e.g. SQS AWSTraceHeader links).
_LINKS: dict[str, Any] = {}


def set_link_factory(factory: Callable[[scope.Invocation], list[Any]] | None) -> None:
    """Install a function that returns OpenTelemetry links for an invocation's span."""
    if factory is None:
        _LINKS.pop("factory", None)
    else:
        _LINKS["factory"] = factory


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<unprintable {type(error).__name__}>"


def set_route(template: str) -> None:
    """Set the HTTP route template for the current invocation (for routers inside the
    handler, e.g. behind a Function URL where the event has no template)."""
    inv = scope.current_invocation()
    if inv is not None:
        inv.http_route_override = template
