"""Settings: arguments beat environment variables, which beat defaults (docs/api.md).

A bad environment value never crashes the function: it warns once on stderr
and the default is used instead.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

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


# Setting name → (Settings field, minimum, maximum). Durations stop at Lambda's longest
# timeout (15 minutes): a margin or budget beyond it cannot be meant.
MAX_DURATION_MS = 900_000.0
NUMERIC_SETTINGS: dict[str, tuple[str, float, float]] = {
    "FNLENS_TIMEOUT_MARGIN_MS": ("timeout_margin_ms", 0.0, MAX_DURATION_MS),
    "FNLENS_FLUSH_BUDGET_MS": ("flush_budget_ms", 0.0, MAX_DURATION_MS),
    "FNLENS_PROACTIVE_INIT_THRESHOLD_MS": ("proactive_init_threshold_ms", 0.0, 86_400_000.0),
}
_NUMERIC_FIELDS = {
    field_name: (env, lo, hi) for env, (field_name, lo, hi) in NUMERIC_SETTINGS.items()
}

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


@dataclass(frozen=True)
class Settings:
    """Everything the middleware needs to know, resolved once per decorated handler."""

    disabled: bool = False
    service: str | None = None
    service_version: str | None = None
    log_level: str = "info"
    stdout: bool = True
    log_event: bool = False
    log_event_body: bool = False
    redact: bool = True
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    timeout_margin_ms: float = 100.0
    flush_budget_ms: float = 5.0
    proactive_init_threshold_ms: float = 10_000.0
    trace_parent: str = "auto"
    capture_response_status: bool = True
    after_response: bool = True  # record and queue telemetry after the runtime's response
    resource_attributes: Mapping[str, str] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Arguments over these settings; a numeric argument that is not a finite
        number in range warns once and keeps the current value."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        for key in clean.keys() & _NUMERIC_FIELDS.keys():
            _env, lo, hi = _NUMERIC_FIELDS[key]
            clean[key] = check_number(key, clean[key], getattr(self, key), minimum=lo, maximum=hi)
        if "redact_keys" in clean:
            clean["redact_keys"] = tuple(k.lower() for k in clean["redact_keys"])
        return replace(self, **clean)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TRACE_PARENT_POLICIES = ("auto", "http", "xray", "none")


def _log_level(env: Mapping[str, str]) -> str:
    """``FNLENS_LOG_LEVEL``, else Powertools' ``POWERTOOLS_LOG_LEVEL``, else Lambda's
    ``AWS_LAMBDA_LOG_LEVEL`` (set by the function's logging configuration)."""
    for name in ("FNLENS_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        raw = env.get(name)
        if raw:
            value = raw.strip().lower()
            value = {"warn": "warning", "fatal": "critical", "trace": "debug"}.get(value, value)
            return parse_choice(name, value, LOG_LEVELS, "info")
    return "info"


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``FNLENS_*`` and the standard ``OTEL_*`` variables."""
    env = os.environ if env is None else env
    resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES"))
    service = (
        env.get("FNLENS_SERVICE")
        or env.get("OTEL_SERVICE_NAME")
        or resource.get("service.name")
        or env.get("POWERTOOLS_SERVICE_NAME")  # a function moving from Powertools
        or None
    )
    service_version = env.get("FNLENS_SERVICE_VERSION") or resource.get("service.version") or None
    redact_keys = DEFAULT_REDACT_KEYS
    extra = env.get("FNLENS_REDACT_KEYS")
    if extra:
        redact_keys = tuple(
            dict.fromkeys([*DEFAULT_REDACT_KEYS, *(k.strip().lower() for k in extra.split(","))])
        )
        redact_keys = tuple(k for k in redact_keys if k)
    check_endpoints(env)
    return Settings(
        disabled=parse_bool("FNLENS_DISABLED", env.get("FNLENS_DISABLED"), False),
        service=service,
        service_version=service_version,
        log_level=_log_level(env),
        stdout=parse_bool("FNLENS_STDOUT", env.get("FNLENS_STDOUT"), True),
        log_event=parse_bool("FNLENS_LOG_EVENT", env.get("FNLENS_LOG_EVENT"), False),
        log_event_body=parse_bool("FNLENS_LOG_EVENT_BODY", env.get("FNLENS_LOG_EVENT_BODY"), False),
        redact=parse_bool("FNLENS_REDACT", env.get("FNLENS_REDACT"), True),
        redact_keys=redact_keys,
        timeout_margin_ms=_env_number(env, "FNLENS_TIMEOUT_MARGIN_MS", 100.0),
        flush_budget_ms=_env_number(env, "FNLENS_FLUSH_BUDGET_MS", 5.0),
        proactive_init_threshold_ms=_env_number(
            env, "FNLENS_PROACTIVE_INIT_THRESHOLD_MS", 10_000.0
        ),
        trace_parent=parse_choice(
            "FNLENS_TRACE_PARENT", env.get("FNLENS_TRACE_PARENT"), TRACE_PARENT_POLICIES, "auto"
        ),
        after_response=parse_bool("FNLENS_AFTER_RESPONSE", env.get("FNLENS_AFTER_RESPONSE"), True),
        resource_attributes=resource,
    )


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    _field, lo, hi = NUMERIC_SETTINGS[name]
    return parse_number(name, env.get(name), default, minimum=lo, maximum=hi)


def _reset() -> None:
    """Warn again about what was warned about once (fnlens.testing.reset)."""
    _warned.clear()


register_reset(__name__, _reset)
