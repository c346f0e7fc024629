"""Settings: arguments beat environment variables, which beat defaults (docs/api.md).

A bad environment value never crashes the function: it warns once on stderr
and the default is used instead.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar, cast

from fnlens._state import register_reset

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_warned: set[str] = set()

DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "api_key",
    "apikey",
    "token",
    "password",
    "passwd",
    "secret",
    "private_key",
    "credential",
    "x-amz-security-token",
)


def warn_once(key: str, message: str) -> None:
    """A configuration warning, once per process and key, on the ``fnlens`` logger
    (without logging configured, Python prints it on stderr); never raises."""
    if key in _warned:
        return
    _warned.add(key)
    try:
        logging.getLogger("fnlens").warning("fnlens: warning: %s", message)
    except Exception:
        pass


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    warn_once(name, f"{name}={raw!r} is not a boolean (true/false); using {default}")
    return default


def parse_number(
    name: str,
    raw: str | None,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float = math.inf,
    cast: Callable = float,
) -> Any:
    """A number from the environment, or ``default`` (warned once) when it is not a
    finite number within ``[minimum, maximum]``: ``nan`` and ``inf`` parse as floats
    but no setting means them (``nan`` fails every comparison)."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw.strip())
    except (ValueError, OverflowError):
        warn_once(name, f"{name}={raw!r} is not a number; using {default}")
        return default
    return check_number(name, value, default, minimum=minimum, maximum=maximum, shown=raw)


def check_number(
    name: str,
    value: Any,
    default: Any,
    *,
    minimum: float = 0.0,
    maximum: float = math.inf,
    shown: Any = None,
) -> Any:
    """``value`` when it is a finite number (not a bool) within ``[minimum, maximum]``,
    else ``default`` with a warning (once per setting)."""
    shown = value if shown is None else shown
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        warn_once(name, f"{name}={shown!r} is not a number; using {default}")
        return default
    if isinstance(value, float) and not math.isfinite(value):
        warn_once(name, f"{name}={shown!r} is not a finite number; using {default}")
        return default
    if value < minimum:
        warn_once(name, f"{name}={shown!r} is below {minimum:g}; using {default}")
        return default
    if value > maximum:
        warn_once(name, f"{name}={shown!r} is above {maximum:g}; using {default}")
        return default
    return value


# Durations stop at Lambda's longest timeout (15 minutes): a margin or budget beyond it
# cannot be meant.
MAX_DURATION_MS = 900_000.0
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TRACE_PARENT_POLICIES = ("auto", "http", "xray", "none")
# "powertools": lines and records carry Powertools Logger's keys (migrating-from-powertools.md)
LOG_FIELD_SETS = ("fnlens", "powertools")
# where and how lines are written; "auto" picks by platform (platforms.md)
LOG_FORMATS = ("auto", "json", "gcp", "azure")

OTLP_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


def endpoint_problem(raw: str, protocol: str = "http/protobuf") -> str | None:
    """Why ``raw`` is not an OTLP endpoint, or None when it is one.

    The specification asks for a URL with an ``http`` or ``https`` scheme; gRPC
    clients also take a bare ``host:port``."""
    from urllib.parse import urlsplit

    text = raw.strip()
    try:
        parts = urlsplit(text)
        if parts.scheme in ("http", "https"):
            if not parts.hostname:
                return "it names no host"
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            return None
        if protocol == "grpc":
            host, sep, port = text.rpartition(":")
            if sep and host and port.isascii() and port.isdigit() and int(port) <= 65535:
                return None
    except ValueError as exc:
        return str(exc)
    return "it is not an http:// or https:// URL"


def check_endpoints(env: Mapping[str, str]) -> None:
    """Warn once for each OTLP endpoint variable that is not a URL (exports to it
    would fail on every flush, each failure counted as a drop)."""
    generic = (env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").strip().lower()
    for name in OTLP_ENDPOINT_VARIABLES:
        raw = env.get(name)
        if not raw:
            continue
        signal = name[len("OTEL_EXPORTER_OTLP_") : -len("ENDPOINT")]
        protocol = (env.get(f"OTEL_EXPORTER_OTLP_{signal}PROTOCOL") or "").strip().lower()
        problem = endpoint_problem(raw, protocol or generic or "http/protobuf")
        if problem is not None:
            warn_once(
                f"{name}:{raw}",
                f"{name}={raw!r} is not a valid OTLP endpoint ({problem}); "
                "exports to it will fail and be counted as dropped",
            )


def parse_choice(name: str, raw: str | None, choices: Iterable[str], default: str) -> str:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    allowed = tuple(choices)
    if value not in allowed:
        warn_once(name, f"{name}={raw!r} is not one of {', '.join(allowed)}; using {default!r}")
        return default
    return value


def parse_resource_attributes(raw: str | None) -> dict[str, str]:
    """Parse ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, percent-encoded values)."""
    from urllib.parse import unquote

    result: dict[str, str] = {}
    if not raw:
        return result
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            warn_once(
                "OTEL_RESOURCE_ATTRIBUTES", f"ignoring malformed OTEL_RESOURCE_ATTRIBUTES {item!r}"
            )
            continue
        result[key.strip()] = unquote(value.strip())
    return result


def setting(
    default: Any = None,
    *,
    env: str,
    doc: str,
    argument: bool = True,
    parse: str = "custom",
    minimum: float = 0.0,
    maximum: float = math.inf,
    choices: tuple[str, ...] = (),
    factory: Callable[[], Any] | None = None,
) -> Any:
    """One setting, declared once: its ``Settings`` field and default, whether
    ``instrument`` takes it as a keyword argument, the environment variable it is read
    from, how that is parsed (``bool``, ``number``, ``choice``, or ``custom`` code in
    :func:`settings_from_env`) and a line of documentation. The decorator's keywords,
    the environment parsing and the docs' tables are checked against these fields
    (tests/runtime/test_settings_declaration.py)."""
    metadata = {
        "env": env,
        "doc": doc,
        "argument": argument,
        "parse": parse,
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Everything the middleware needs to know, resolved once per decorated handler."""

    disabled: bool = setting(
        False,
        env="FNLENS_DISABLED",
        argument=False,
        parse="bool",
        doc="kill switch: @instrument returns the handler unchanged",
    )
    service: str | None = setting(
        env="FNLENS_SERVICE", doc="service name (else OTEL_SERVICE_NAME, the resource, Powertools)"
    )
    service_version: str | None = setting(
        env="FNLENS_SERVICE_VERSION", doc="service version (else the resource's)"
    )
    log_level: str = setting(
        "info",
        env="FNLENS_LOG_LEVEL",
        choices=LOG_LEVELS,
        doc="level of user log lines (else POWERTOOLS_LOG_LEVEL, AWS_LAMBDA_LOG_LEVEL)",
    )
    stdout: bool = setting(
        True, env="FNLENS_STDOUT", parse="bool", doc="write JSON lines to stdout"
    )
    log_event: bool = setting(
        False, env="FNLENS_LOG_EVENT", parse="bool", doc="log the incoming event"
    )
    log_event_body: bool = setting(
        False, env="FNLENS_LOG_EVENT_BODY", parse="bool", doc="log the event's body too"
    )
    redact: bool = setting(True, env="FNLENS_REDACT", parse="bool", doc="redaction on/off")
    redact_keys: tuple[str, ...] = setting(
        DEFAULT_REDACT_KEYS,
        env="FNLENS_REDACT_KEYS",
        doc="secret key patterns (the variable adds to the defaults)",
    )
    timeout_margin_ms: float = setting(
        100.0,
        env="FNLENS_TIMEOUT_MARGIN_MS",
        parse="number",
        maximum=MAX_DURATION_MS,
        doc="how long before the deadline a timeout is recorded",
    )
    flush_budget_ms: float = setting(
        5.0,
        env="FNLENS_FLUSH_BUDGET_MS",
        parse="number",
        maximum=MAX_DURATION_MS,
        doc="the longest flush per invocation",
    )
    proactive_init_threshold_ms: float = setting(
        10_000.0,
        env="FNLENS_PROACTIVE_INIT_THRESHOLD_MS",
        argument=False,
        parse="number",
        maximum=86_400_000.0,
        doc="init-to-first-invocation gap past which a start counts as proactive init",
    )
    trace_parent: str = setting(
        "auto",
        env="FNLENS_TRACE_PARENT",
        parse="choice",
        choices=TRACE_PARENT_POLICIES,
        doc="which incoming context becomes the span's parent",
    )
    after_response: bool = setting(
        True,
        env="FNLENS_AFTER_RESPONSE",
        parse="bool",
        doc="record and queue telemetry after the runtime posted the response",
    )
    log_fields: str = setting(
        "fnlens",
        env="FNLENS_LOG_FIELDS",
        parse="choice",
        choices=LOG_FIELD_SETS,
        doc="the keys of stdout lines: fnlens's own or Powertools Logger's",
    )
    log_format: str = setting(
        "auto",
        env="FNLENS_LOG_FORMAT",
        argument=False,
        parse="choice",
        choices=LOG_FORMATS,
        doc="where lines go: auto (by platform), json, gcp (Cloud Logging), azure (logging)",
    )
    resource_attributes: Mapping[str, str] = setting(
        env="OTEL_RESOURCE_ATTRIBUTES",
        argument=False,
        factory=dict,
        doc="resource attributes (k=v,k2=v2)",
    )

    def with_overrides(self, **overrides: Any) -> Settings:
        """Arguments over these settings; a numeric argument that is not a finite
        number in range warns once and keeps the current value."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        for key in clean.keys() & _NUMERIC_FIELDS.keys():
            _env, lo, hi = _NUMERIC_FIELDS[key]
            clean[key] = check_number(key, clean[key], getattr(self, key), minimum=lo, maximum=hi)
        if "log_fields" in clean:
            clean["log_fields"] = check_choice(
                "log_fields", clean["log_fields"], LOG_FIELD_SETS, self.log_fields
            )
        if "redact_keys" in clean:
            clean["redact_keys"] = tuple(k.lower() for k in clean["redact_keys"])
        return replace(self, **clean)


SETTINGS_FIELDS = fields(Settings)
# the keyword arguments of `instrument` (besides span_name), in declaration order
SETTING_ARGS: tuple[str, ...] = tuple(f.name for f in SETTINGS_FIELDS if f.metadata["argument"])
# variable -> (Settings field, minimum, maximum) of the numeric settings
NUMERIC_SETTINGS: dict[str, tuple[str, float, float]] = {
    f.metadata["env"]: (f.name, f.metadata["minimum"], f.metadata["maximum"])
    for f in SETTINGS_FIELDS
    if f.metadata["parse"] == "number"
}
_NUMERIC_FIELDS = {
    field_name: (env, lo, hi) for env, (field_name, lo, hi) in NUMERIC_SETTINGS.items()
}


def check_choice(name: str, value: Any, choices: tuple[str, ...], default: str) -> str:
    """``value`` (lower case) when it is one of ``choices``, else ``default`` with a
    warning (once per setting)."""
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    warn_once(name, f"{name}={value!r} is not one of {', '.join(choices)}; using {default!r}")
    return default


def log_level_from_env(env: Mapping[str, str]) -> str:
    """``FNLENS_LOG_LEVEL``, else Powertools' ``POWERTOOLS_LOG_LEVEL``, else Lambda's
    ``AWS_LAMBDA_LOG_LEVEL`` (set by the function's logging configuration)."""
    for name in ("FNLENS_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        raw = env.get(name)
        if raw:
            value = raw.strip().lower()
            value = {"warn": "warning", "fatal": "critical", "trace": "debug"}.get(value, value)
            return parse_choice(name, value, LOG_LEVELS, "info")
    return "info"


def service_from_env(
    env: Mapping[str, str], resource: Mapping[str, str] | None = None
) -> str | None:
    """``FNLENS_SERVICE``, ``OTEL_SERVICE_NAME``, ``service.name`` of
    ``OTEL_RESOURCE_ATTRIBUTES``, then Powertools' ``POWERTOOLS_SERVICE_NAME``."""
    if resource is None:
        resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES"))
    return (
        env.get("FNLENS_SERVICE")
        or env.get("OTEL_SERVICE_NAME")
        or resource.get("service.name")
        or env.get("POWERTOOLS_SERVICE_NAME")  # a function moving from Powertools
        or None
    )


def log_fields_from_env(env: Mapping[str, str]) -> str:
    return parse_choice("FNLENS_LOG_FIELDS", env.get("FNLENS_LOG_FIELDS"), LOG_FIELD_SETS, "fnlens")


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``FNLENS_*`` and the standard ``OTEL_*`` variables."""
    env = os.environ if env is None else env
    resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES"))
    service = service_from_env(env, resource)
    service_version = env.get("FNLENS_SERVICE_VERSION") or resource.get("service.version") or None
    redact_keys = DEFAULT_REDACT_KEYS
    extra = env.get("FNLENS_REDACT_KEYS")
    if extra:
        redact_keys = tuple(
            dict.fromkeys([*DEFAULT_REDACT_KEYS, *(k.strip().lower() for k in extra.split(","))])
        )
        redact_keys = tuple(k for k in redact_keys if k)
    check_endpoints(env)
    values: dict[str, Any] = {
        "service": service,
        "service_version": service_version,
        "log_level": log_level_from_env(env),
        "redact_keys": redact_keys,
        "resource_attributes": resource,
    }
    for f in SETTINGS_FIELDS:
        name, kind = f.metadata["env"], f.metadata["parse"]
        raw, default = env.get(name), cast("Any", f.default)
        if kind == "bool":
            values[f.name] = parse_bool(name, raw, default)
        elif kind == "number":
            values[f.name] = _env_number(env, name, default)
        elif kind == "choice":
            values[f.name] = parse_choice(name, raw, f.metadata["choices"], default)
    return Settings(**values)


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    _field, lo, hi = NUMERIC_SETTINGS[name]
    return parse_number(name, env.get(name), default, minimum=lo, maximum=hi)


def _reset() -> None:
    """Warn again about what was warned about once (fnlens.testing.reset)."""
    _warned.clear()


register_reset(__name__, _reset)
