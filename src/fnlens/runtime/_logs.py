"""The structlog pipeline behind invocation records and ``fnlens.get_logger()``.

processors → sinks → stdout. The pipeline is fnlens's own (``structlog.wrap_logger``),
so an application's global structlog configuration is left alone. Users extend
it with ordinary structlog processors through ``fnlens.configure(processors=…)``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

import structlog
from structlog.exceptions import DropEvent

from fnlens._config import log_fields_from_env, log_level_from_env, service_from_env, warn_once
from fnlens._state import register_reset
from fnlens.runtime import _powertools_fields as powertools
from fnlens.runtime import _scope as scope
from fnlens.runtime._identity import IDENTITY_FIELDS
from fnlens.runtime._redaction import Redactor
from fnlens.runtime._safe_json import dumps_rebuilt, safe_repr
from fnlens.runtime._telemetry import TELEMETRY
from fnlens.runtime._truncate import MAX_STACK_TRACE_CHARS, truncate
from fnlens.runtime._user_processors import isolate

# Fields fnlens writes itself: never redacted, never overwritten by context.
RECORD_FIELDS = frozenset(
    {
        "timestamp",
        "level",
        "event",
        *IDENTITY_FIELDS,
        "request_id",
        "trace_id",
        "span_id",
        "xray_trace_id",
        "cold_start",
        "init_type",
        "init_duration_ms",
        "snapstart_restore",
        "duration_ms",
        "outcome",
        "error_type",
        "error_message",
        "exception",
        "trigger",
        "event_source",
        "http_method",
        "http_route",
        "http_status_code",
        "batch_size",
        "batch_failures",
        "telemetry_flush_ms",
        "telemetry_dropped",
        "logger",
    }
)

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


_second_cache: list[Any] = [None, ""]  # [epoch second, "YYYY-MM-DDTHH:MM:SS"]


def format_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``: ``2026-11-22T10:00:00.123456Z``.

    The date-and-time part is cached per second: formatting costs a division and an
    f-string on the hot path instead of a datetime object."""
    second = int(epoch_seconds)
    micros = round((epoch_seconds - second) * 1_000_000)  # as datetime rounds
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    cache = _second_cache
    if cache[0] != second:
        cache[1] = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cache[0] = second
    return f"{cache[1]}.{micros:06d}Z"


def merge_contextvars(method: str, event_dict: dict) -> dict:
    """structlog's ``merge_contextvars``: what ``bind_contextvars`` bound."""
    return structlog.contextvars.merge_contextvars(None, method, event_dict)


_current_get = scope._current.get
_active = scope._active


# processors --------------------------------------------------------------
def add_invocation_context(_logger: Any, _method: str, event_dict: dict) -> dict:
    """Add request/trace ids, cold start and function identity of the current invocation.

    Usable in an application's own structlog configuration too.
    """
    inv = scope.current_invocation()
    if inv is not None:
        for key, value in inv.log_context.items():
            event_dict.setdefault(key, value)
    return event_dict


def prepare_event(_logger: Any, method: str, event_dict: dict) -> dict:
    """Everything fnlens adds to a log line, in one step (the pipeline's first processor).

    The same as :func:`add_invocation_context`, structlog's ``merge_contextvars``,
    the level and a timestamp when missing, ``format_exc_info`` and redaction of
    secret-looking keys, in that order — same precedence (the call's own fields,
    then the invocation's, then structlog context variables) — but one function
    call and one new dict, built in rendering order (timestamp, level, event, the
    invocation's ids, then the line's own fields) so rendering needs no reordering.
    """
    # (scope.current_invocation() and merge_contextvars() inlined: this runs per line)
    inv = _current_get()
    if inv is None and len(_active) == 1:
        inv = _active[0]
    if inv is not None:
        event_dict = {**inv.log_context, **event_dict}
    event_dict = structlog.contextvars.merge_contextvars(None, method, event_dict)
    if "exc_info" in event_dict:
        event_dict = structlog.processors.format_exc_info(None, method, event_dict)
        _bound_stack_trace(event_dict)
    redactor = PIPELINE.redactor
    if redactor is not None:
        redactor.redact_event_dict(event_dict, RECORD_FIELDS)
    ordered = {
        "timestamp": event_dict.get("timestamp") or format_timestamp(time.time()),
        "level": event_dict.get("level") or ("warning" if method == "warn" else method),
        "event": event_dict.get("event"),
    }
    ordered.update(event_dict)  # keys already present keep their place
    return ordered


def _bound_stack_trace(event_dict: dict) -> None:
    """A stack trace at most MAX_STACK_TRACE_CHARS long, its cut marked."""
    trace = event_dict.get("exception")
    if isinstance(trace, str) and len(trace) > MAX_STACK_TRACE_CHARS:
        event_dict["exception"] = truncate(trace, MAX_STACK_TRACE_CHARS)


def fan_out(_logger: Any, _method: str, event_dict: dict) -> dict:
    """Hand the finished event to every registered sink (files, OTLP, CloudWatch API…)."""
    if TELEMETRY.sinks:
        TELEMETRY.emit(event_dict)
    if not PIPELINE.stdout:
        raise DropEvent
    return event_dict


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_repr(value)


def _dumps_slow(value: dict) -> str:
    """What orjson refused: integers beyond 64 bits go through ``json``; anything
    ``json`` refuses too (keys that are neither strings nor numbers, cycles, deep
    nesting, ``repr`` that raises) is rebuilt into a value it takes. Never raises."""
    try:
        return json.dumps(value, default=_json_default, separators=(",", ":"), allow_nan=False)
    except Exception:
        return dumps_rebuilt(value)


try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS

    def _dumps(value: dict) -> str:
        try:
            return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
        except Exception:  # e.g. integers beyond 64 bits, tuple keys, cycles
            return _dumps_slow(value)

except ImportError:  # pragma: no cover - exercised where orjson is absent
    _dumps = _dumps_slow


# The stdout line's shape when it is not fnlens's own JSON (Cloud Logging's structured
# form on Cloud Run): [callable(event_dict) -> dict], set by the decorator; sinks always
# receive fnlens's own fields.
_STDOUT_SHAPE: list[Any] = []


# Where lines go instead of sys.stdout: [callable(text)] (Azure Functions' worker, whose
# logging handler gives each line its invocation id); set by the decorator.
_LINE_WRITER: list[Any] = []


def set_line_writer(writer: Any | None) -> None:
    """Hand every line to ``writer(text)`` instead of writing it to stdout (None: stdout)."""
    _LINE_WRITER[:] = [] if writer is None else [writer]


def set_stdout_shape(shape: Any | None) -> None:
    """Reshape every stdout line with ``shape(event_dict) -> dict`` (None: fnlens's JSON)."""
    _STDOUT_SHAPE[:] = [] if shape is None else [shape]


def _stdout_dumps(event_dict: dict) -> str:
    if _STDOUT_SHAPE:
        return _dumps(_STDOUT_SHAPE[0](event_dict))
    return _dumps(event_dict)


def render_json(_logger: Any, _method: str, event_dict: dict) -> str:
    """One JSON line; timestamp, level and event first so humans can scan it.

    Leaves ``event_dict`` as it is: sinks keep a reference to it instead of a copy."""
    if _STDOUT_SHAPE:
        return _stdout_dumps(event_dict)
    keys = iter(event_dict)
    if (next(keys, None), next(keys, None), next(keys, None)) == ("timestamp", "level", "event"):
        return _dumps(event_dict)  # already in order (prepare_event built it so)
    ordered = {
        "timestamp": event_dict.get("timestamp"),
        "level": event_dict.get("level"),
        "event": event_dict.get("event"),
    }
    ordered.update(event_dict)  # keys already present keep their place
    return _dumps(ordered)


def render_powertools(_logger: Any, method: str, event_dict: dict) -> str:
    """One JSON line with Powertools Logger's keys (``log_fields="powertools"``): the last
    processor in that mode, after the sinks got fnlens's own keys."""
    error = sys.exc_info()[1] if "exception" in event_dict else None
    line = powertools.powertools_line(event_dict, error, None, PIPELINE.service)
    return _dumps(line)


def render_stdout(event_dict: dict, exc_info: Any = None) -> str:
    """The stdout line of a prepared event in the pipeline's field set (the fast path)."""
    if PIPELINE.field_set == "fnlens":
        # prepare_event built it in rendering order; Cloud Run reshapes it
        return _stdout_dumps(event_dict) if _STDOUT_SHAPE else _dumps(event_dict)
    error = powertools.exception_of(exc_info) if exc_info is not None else None
    return _dumps(powertools.powertools_line(event_dict, error, None, PIPELINE.service))


def render_record(
    event_dict: dict, error: BaseException | None, powertools_fields: dict[str, Any] | None
) -> str:
    """The stdout line of an invocation record in the pipeline's field set."""
    if PIPELINE.field_set == "powertools":
        fields = powertools_fields or {}
        return _dumps(
            powertools.powertools_record(
                event_dict, error, fields.get("location"), fields.get("function_arn")
            )
        )
    # records are built in rendering order (timestamp, level, event first)
    if "exception" not in event_dict and not _STDOUT_SHAPE:
        return _dumps(event_dict)
    return render_json(None, "error", event_dict)


def _flushes_itself(stream: Any) -> bool:
    """True when every write already reaches the OS: the Lambda runtime client wraps
    stdout in an ``Unbuffered`` writer, and line-buffered streams flush on newline.
    An explicit flush there would only add a system call per line."""
    return type(stream).__name__ == "Unbuffered" or bool(getattr(stream, "line_buffering", False))


class StdoutWriter:
    """Writes one line per event to the *current* ``sys.stdout`` (the CloudWatch path).

    Each call is one ``write`` (several lines, e.g. an EMF document and the record,
    leave together), flushed unless the stream flushes itself."""

    _lock = threading.Lock()
    _stream: Any = None  # the stream _flush was decided for
    _flush = True

    def msg(self, message: str, prefix: str = "") -> None:
        if _LINE_WRITER:  # Azure Functions: through the worker's logging handler
            try:
                _LINE_WRITER[0](prefix + message if prefix else message)
            except Exception:
                TELEMETRY.count_drop()
            return
        out = sys.stdout
        try:
            with self._lock:
                if out is not self._stream:
                    StdoutWriter._stream, StdoutWriter._flush = out, not _flushes_itself(out)
                out.write(prefix + message + "\n" if prefix else message + "\n")
                if self._flush:
                    out.flush()
        except Exception:
            TELEMETRY.count_drop()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def emit_record(
    record: dict[str, Any],
    error: BaseException | None = None,
    stdout_prefix: str = "",
    powertools_fields: dict[str, Any] | None = None,
) -> None:
    """Send an invocation record through the pipeline without structlog's per-call
    logger machinery: the same processors run, minus the ones that cannot change a
    record (its correlation fields, level and timestamp are already set, and fnlens's
    own fields are never redacted). ``stdout_prefix`` holds complete lines (EMF) that
    hooks asked to leave in the same write as the record; ``powertools_fields`` what the
    Powertools field set needs beyond the record (``location``, ``function_arn``)."""
    method = "info" if record.get("level") == "info" else "error"
    event_dict: Any = record
    try:
        if error is not None:
            event_dict["exc_info"] = error
            event_dict = structlog.processors.format_exc_info(None, method, event_dict)
            _bound_stack_trace(event_dict)
        event_dict = merge_contextvars(method, event_dict)
        for processor in PIPELINE.user_processors:
            event_dict = processor(None, method, event_dict)
        event_dict = fan_out(None, method, event_dict)
        line = render_record(event_dict, error, powertools_fields)
    except DropEvent:
        if stdout_prefix:
            _WRITER.msg(stdout_prefix[:-1])
        return
    _WRITER.msg(line, stdout_prefix)


class Pipeline:
    """The single, process-wide processor chain. Mutated in place so that loggers
    created earlier see later configuration."""

    def __init__(self) -> None:
        self.stdout = True
        # "fnlens" or "powertools" (Powertools Logger's keys on stdout), and the service of
        # lines outside an invocation: from the environment until a handler is decorated
        self.field_set = log_fields_from_env(os.environ)
        self.service: str | None = service_from_env(os.environ)
        self.redactor: Redactor | None = None  # secret-looking keys are masked
        self.user_processors: list[Any] = []
        self.processors: list[Any] = []
        # as the settings resolve it (FNLENS_LOG_LEVEL, POWERTOOLS_LOG_LEVEL, AWS_LAMBDA_LOG_LEVEL):
        # a logger made before the handler is decorated filters at that level
        self.level = _LEVELS.get(log_level_from_env(os.environ), 20)
        self._rebuild()

    def _rebuild(self) -> None:
        render = render_powertools if self.field_set == "powertools" else render_json
        self.processors[:] = [prepare_event, *self.user_processors, fan_out, render]

    def configure(
        self,
        *,
        stdout: bool | None = None,
        redactor: Redactor | bool | None = False,
        processors: list[Any] | None = None,
        level: str | None = None,
        field_set: str | None = None,
        service: str | None = None,
    ) -> None:
        if stdout is not None:
            self.stdout = stdout
        if field_set is not None:
            self.field_set = field_set
        if service is not None:
            self.service = service
        if redactor is not False:
            self.redactor = redactor  # type: ignore[assignment]
        if processors is not None:
            self.user_processors = isolate(list(processors))
        if level is not None:
            self.level = _LEVELS.get(level.lower(), self.level)
        self._rebuild()


PIPELINE = Pipeline()


def _reset() -> None:
    """fnlens's own processor chain again (fnlens.testing.reset), in place: loggers
    made earlier hold ``PIPELINE.processors``. fnlens never calls
    ``structlog.configure``, so structlog's global configuration is not fnlens's."""
    fresh = Pipeline()
    PIPELINE.stdout, PIPELINE.redactor, PIPELINE.level = fresh.stdout, None, fresh.level
    PIPELINE.field_set, PIPELINE.service = fresh.field_set, fresh.service
    PIPELINE.user_processors = []
    PIPELINE._rebuild()
    set_stdout_shape(None)  # Cloud Run's line shape and Azure's line writer, as at import
    set_line_writer(None)


register_reset(__name__, _reset)
_WRITER = StdoutWriter()
_record_logger: Any = None


def record_logger() -> Any:
    """The logger invocation records go through (never filtered by level)."""
    global _record_logger
    if _record_logger is None:
        _record_logger = structlog.make_filtering_bound_logger(0)(_WRITER, PIPELINE.processors, {})
    return _record_logger


_LOGGER_CLASSES: dict[int, type] = {}


def _logger_class(level: int) -> type:
    """structlog's filtering bound logger for ``level``, with one shortcut: while the
    pipeline is fnlens's own (no user processors), a line goes through the same steps
    — :func:`prepare_event`, the sinks, JSON on stdout — without structlog's generic
    dispatch (``_process_event``, one call per processor, the output-type checks).
    Overriding ``_proxy_to_logger`` is structlog's documented way for custom wrappers."""
    cls = _LOGGER_CLASSES.get(level)
    if cls is not None:
        return cls
    base: Any = structlog.make_filtering_bound_logger(level)

    class FnlensBoundLogger(base):  # type: ignore[misc, valid-type]
        def _proxy_to_logger(
            self, method_name: str, event: str | None = None, **event_kw: Any
        ) -> Any:
            try:
                pipeline = PIPELINE
                if pipeline.user_processors or self._processors is not pipeline.processors:
                    return super()._proxy_to_logger(method_name, event, **event_kw)
                context = self._context
                event_dict = {**context, **event_kw} if context else event_kw
                if event is not None:
                    event_dict["event"] = event
                exc_info = event_dict.get("exc_info")
                event_dict = prepare_event(None, method_name, event_dict)
                if TELEMETRY.sinks:
                    TELEMETRY.emit(event_dict)
                if pipeline.stdout:
                    _WRITER.msg(render_stdout(event_dict, exc_info))
            except Exception as exc:  # a log call never raises into the handler
                _line_failed(exc)
            return None

    FnlensBoundLogger.__name__ = FnlensBoundLogger.__qualname__ = base.__name__
    _LOGGER_CLASSES[level] = FnlensBoundLogger
    return FnlensBoundLogger


def _line_failed(exc: BaseException) -> None:
    """A log line fnlens could not write: counted as dropped, reported once."""
    TELEMETRY.count_drop()
    warn_once(
        "log-line",
        f"a log line could not be written ({type(exc).__name__}: {safe_repr(exc)[:200]}); "
        "it is counted in telemetry_dropped (reported once; the handler is unaffected)",
    )


def get_logger(**initial_values: Any) -> Any:
    """A structlog logger whose lines carry the current invocation's ids.

    Lines are JSON on stdout (and go to every configured sink); level from
    ``FNLENS_LOG_LEVEL`` (default ``info``).
    """
    # the bound logger itself, not structlog's lazy proxy (which binds anew on every
    # call); it shares the pipeline's processor list, which configure() edits in place
    logger_class = _logger_class(PIPELINE.level)
    return logger_class(_WRITER, PIPELINE.processors, dict(initial_values))
