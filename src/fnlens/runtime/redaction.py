"""Keep secrets out of logs and spans by default.

A key is secret when its lower-cased name contains one of the configured
patterns (``authorization``, ``cookie``, ``token``, ``password``…). Decisions
are cached per key name, so the cost per log line is a dictionary lookup per
field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
_MAX_DEPTH = 8
_CACHE_LIMIT = 4096


class Redactor:
    """Replaces the values of secret-looking keys, recursively, without mutating input."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.lower() for p in patterns if p)
        self._cache: dict[str, bool] = {}

    def is_secret(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        cached = self._cache.get(key)
        if cached is None:
            lowered = key.lower()
            cached = any(p in lowered for p in self.patterns)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = cached
        return cached

    def redact(self, value: Any, _depth: int = 0) -> Any:
        """Return ``value`` with secret keys masked; containers are copied when changed."""
        if _depth > _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            out = None
            for key, item in value.items():
                if self.is_secret(key):
                    new = REDACTED if item is not None else None
                else:
                    new = self.redact(item, _depth + 1)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list):
            changed = [self.redact(item, _depth + 1) for item in value]
            if any(a is not b for a, b in zip(changed, value, strict=True)):
                return changed
            return value
        return value

    def redact_event_dict(self, event_dict: dict[str, Any], skip: frozenset[str]) -> None:
        """Mask in place, skipping fnlens's own well-known fields."""
        cache = self._cache
        for key in event_dict.keys() - skip:  # a set difference in C: the line's own keys
            secret = cache.get(key)
            if secret is None:
                secret = self.is_secret(key)
            item = event_dict[key]
            if secret:
                if item is not None:
                    event_dict[key] = REDACTED
            elif isinstance(item, (dict, list)):
                event_dict[key] = self.redact(item, 1)


def sanitize_event(event: Any, redactor: Redactor | None, *, include_body: bool) -> Any:
    """The event as it may appear in a log: body dropped unless asked, secrets masked."""
    if isinstance(event, dict) and not include_body and "body" in event:
        event = {k: v for k, v in event.items() if k != "body"}
        event["body"] = "[OMITTED: set log_event_body=True to log it]"
    if isinstance(event, dict) and not include_body and isinstance(event.get("Records"), list):
        event = dict(event)
        event["Records"] = [
            {
                k: ("[OMITTED]" if k in ("body", "Message", "data", "dynamodb") else v)
                for k, v in r.items()
            }
            if isinstance(r, dict)
            else r
            for r in event["Records"]
        ]
    return redactor.redact(event) if redactor is not None else event
