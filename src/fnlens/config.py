"""Settings: arguments beat environment variables, which beat defaults (docs/api.md).

A bad environment value never crashes the function: it warns once on stderr
and the default is used instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

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
    name: str, raw: str | None, default: float, *, minimum: float = 0.0, cast: Callable = float
) -> Any:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw.strip())
    except ValueError:
        warn_once(name, f"{name}={raw!r} is not a number; using {default}")
        return default
    if value < minimum:
        warn_once(name, f"{name}={raw!r} is below {minimum}; using {default}")
        return default
    return value


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
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "redact_keys" in clean:
            clean["redact_keys"] = tuple(k.lower() for k in clean["redact_keys"])
        return replace(self, **clean)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TRACE_PARENT_POLICIES = ("auto", "http", "xray", "none")


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``FNLENS_*`` and the standard ``OTEL_*`` variables."""
    env = os.environ if env is None else env
    resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES"))
    service = (
        env.get("FNLENS_SERVICE")
        or env.get("OTEL_SERVICE_NAME")
        or resource.get("service.name")
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
    return Settings(
        disabled=parse_bool("FNLENS_DISABLED", env.get("FNLENS_DISABLED"), False),
        service=service,
        service_version=service_version,
        log_level=parse_choice("FNLENS_LOG_LEVEL", env.get("FNLENS_LOG_LEVEL"), LOG_LEVELS, "info"),
        stdout=parse_bool("FNLENS_STDOUT", env.get("FNLENS_STDOUT"), True),
        log_event=parse_bool("FNLENS_LOG_EVENT", env.get("FNLENS_LOG_EVENT"), False),
        log_event_body=parse_bool("FNLENS_LOG_EVENT_BODY", env.get("FNLENS_LOG_EVENT_BODY"), False),
        redact=parse_bool("FNLENS_REDACT", env.get("FNLENS_REDACT"), True),
        redact_keys=redact_keys,
        timeout_margin_ms=parse_number(
            "FNLENS_TIMEOUT_MARGIN_MS", env.get("FNLENS_TIMEOUT_MARGIN_MS"), 100.0
        ),
        flush_budget_ms=parse_number(
            "FNLENS_FLUSH_BUDGET_MS", env.get("FNLENS_FLUSH_BUDGET_MS"), 5.0
        ),
        proactive_init_threshold_ms=parse_number(
            "FNLENS_PROACTIVE_INIT_THRESHOLD_MS",
            env.get("FNLENS_PROACTIVE_INIT_THRESHOLD_MS"),
            10_000.0,
        ),
        trace_parent=parse_choice(
            "FNLENS_TRACE_PARENT", env.get("FNLENS_TRACE_PARENT"), TRACE_PARENT_POLICIES, "auto"
        ),
        after_response=parse_bool("FNLENS_AFTER_RESPONSE", env.get("FNLENS_AFTER_RESPONSE"), True),
        resource_attributes=resource,
    )
