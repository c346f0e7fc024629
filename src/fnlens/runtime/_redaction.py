"""Keep secrets out of logs and spans by default.

A key is secret when its lower-cased name contains one of the configured
patterns (``authorization``, ``cookie``, ``token``, ``password``…). Decisions
are cached per key name, so the cost per log line is a dictionary lookup per
field.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from fnlens.runtime._safe_json import CYCLE, DEPTH_CUT, MAX_DEPTH

REDACTED = "[REDACTED]"
# Containers nested deeper than MAX_DEPTH are not rendered at all: their place holds
# DEPTH_CUT, as in rendering (a secret below is never written, nothing is walked
# forever); a container met again inside itself becomes CYCLE.
UNINSPECTABLE = "[REDACTED: could not be inspected]"
_CACHE_LIMIT = 4096
_SCALARS = frozenset({str, int, float, bool, type(None), bytes})

# What a key holds, cached per key name: a secret, a URL or query string (whose
# parameters are looked at), or anything else.
_PLAIN, _SECRET, _URL, _QUERY = 0, 1, 2, 3
_QUERY_KEYS = frozenset({"rawquerystring", "querystring", "query_string", "query"})
_URL_KEYS = frozenset(
    {"rawpath", "path", "url", "uri", "href", "referer", "referrer", "location", "link"}
)
# name=value pairs in a query string or a fragment (#access_token=…), and path
# parameters (/items;jsessionid=…/7), whose values also end at "/"
_PAIR = re.compile(r"([^&;=?#/]+)=([^&;#]*)")
_PATH_PAIR = re.compile(r"([^&;=?#/]+)=([^&;#/?]*)")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*):([^/@?#]*)@")


class Redactor:
    """Replaces the values of secret-looking keys at any depth, in every container
    (dicts and other mappings, lists, tuples, sets, deques, dataclasses), and secret
    parameters in query strings and URLs; never mutates its input."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.lower() for p in patterns if p)
        self._cache: dict[str, int] = {}

    def _kind(self, key: Any) -> int:
        if not isinstance(key, str):
            return _PLAIN
        kind = self._cache.get(key)
        if kind is None:
            lowered = key.lower()
            if any(p in lowered for p in self.patterns):
                kind = _SECRET
            elif lowered in _QUERY_KEYS:
                kind = _QUERY
            elif lowered in _URL_KEYS or lowered.endswith(("url", "uri")):
                kind = _URL
            else:
                kind = _PLAIN
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = kind
        return kind

    def is_secret(self, key: Any) -> bool:
        return self._kind(key) == _SECRET

    def redact(self, value: Any, _depth: int = 0) -> Any:
        """Return ``value`` with secrets masked; containers are copied when changed."""
        if type(value) in _SCALARS:
            return value
        try:
            return self._redact(value, _depth, set())
        except RecursionError:
            return UNINSPECTABLE

    def _redact(self, value: Any, depth: int, path: set[int]) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return value
        if kind is dict:  # (the exact types first: an ABC isinstance costs more)
            is_mapping = True
        elif kind is list or kind is tuple:
            is_mapping = False
        elif isinstance(value, Mapping):
            is_mapping = True
        elif isinstance(value, (list, tuple, set, frozenset, deque)):
            is_mapping = False
        else:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
                redacted = self._redact(fields, depth, path)
                return value if redacted is fields else redacted
            return value
        if depth >= MAX_DEPTH:
            return DEPTH_CUT
        marker = id(value)
        if marker in path:
            return CYCLE  # the copy would still point at the unredacted original
        path.add(marker)
        depth += 1
        cache = self._cache
        if is_mapping:
            out = None if kind is dict else dict(value)
            for key, item in value.items():
                secret = cache.get(key) if type(key) is str else None
                if secret is None:
                    secret = self._kind(key)
                if secret == _PLAIN:
                    if type(item) in _SCALARS:
                        continue
                    new = self._redact(item, depth, path)
                elif secret == _SECRET:
                    new = REDACTED if item is not None else None
                elif isinstance(item, str):
                    new = redact_query(item, self) if secret == _QUERY else redact_url(item, self)
                else:
                    new = self._redact(item, depth, path)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            path.discard(marker)
            return value if out is None else out
        changed = None
        for index, item in enumerate(value):
            if type(item) in _SCALARS:
                continue
            new = self._redact(item, depth, path)
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[index] = new
        path.discard(marker)
        if changed is None:
            return value
        return tuple(changed) if kind is tuple else changed  # sets, deques: as lists

    def redact_event_dict(self, event_dict: dict[str, Any], skip: frozenset[str]) -> None:
        """Mask in place, skipping fnlens's own well-known fields."""
        cache = self._cache
        for key in event_dict.keys() - skip:  # a set difference in C: the line's own keys
            kind = cache.get(key)
            if kind is None:
                kind = self._kind(key)
            item = event_dict[key]
            if kind == _SECRET:
                if item is not None:
                    event_dict[key] = REDACTED
            elif type(item) in _SCALARS:
                if kind != _PLAIN and isinstance(item, str):
                    event_dict[key] = (
                        redact_query(item, self) if kind == _QUERY else redact_url(item, self)
                    )
            else:
                try:
                    event_dict[key] = self._redact(item, 1, set())
                except RecursionError:
                    event_dict[key] = UNINSPECTABLE


def _mask_pairs(text: str, redactor: Redactor, pattern: re.Pattern[str] = _PAIR) -> str:
    def mask(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name}={REDACTED}" if redactor.is_secret(unquote_plus(name)) else match.group(0)

    return pattern.sub(mask, text)


def redact_query(text: str, redactor: Redactor) -> str:
    """``token=abc&page=2`` → ``token=[REDACTED]&page=2`` (names decoded first)."""
    if "=" not in text:
        return text
    masked = _mask_pairs(text, redactor)
    return text if masked == text else masked


def redact_url(text: str, redactor: Redactor) -> str:
    """Secret query, fragment and path (``;name=value``) parameters and the password of
    ``scheme://user:password@host`` masked; other text unchanged."""
    if "=" not in text and "@" not in text:
        return text
    masked = _USERINFO.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text, count=1)
    if "=" in masked:
        cut = min((i for i in (masked.find("?"), masked.find("#")) if i >= 0), default=-1)
        path, rest = (masked, "") if cut < 0 else (masked[:cut], masked[cut:])
        masked = (_mask_pairs(path, redactor, _PATH_PAIR) if "=" in path else path) + (
            _mask_pairs(rest, redactor) if rest else ""
        )
    return text if masked == text else masked


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
