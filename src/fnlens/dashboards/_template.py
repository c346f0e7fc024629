"""Expand dashboard templates: ``${name}`` placeholders and ``fnlens:`` directives.

Templates are plain JSON so they stay valid JSON on disk. Three directives:

* ``{"fnlens:foreach": "function", "item": X}`` inside a list becomes one copy of
  ``X`` per element of the named sequence (spliced into the list), with that
  element's variables (e.g. ``function``, ``version``, ``index``) in scope;
* ``"fnlens:when": "flag"`` / ``"fnlens:unless": "flag"`` on an object keeps it
  only when the flag is truthy / falsy;
* any other key starting with ``fnlens:`` is template metadata and is dropped.

A string that is exactly ``"${name}"`` takes the value's own type (so a period
stays a number); placeholders inside longer strings are replaced with ``str(value)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fnlens.exceptions import TemplateError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DROP = object()


def expand(
    node: Any,
    variables: Mapping[str, Any],
    sequences: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Any:
    """The template ``node`` with every placeholder and directive resolved."""
    result = _expand(node, dict(variables), sequences or {})
    if result is _DROP:
        raise TemplateError("the template's root was removed by a fnlens:when/unless directive")
    return result


def _expand(node: Any, scope: dict[str, Any], sequences: Mapping[str, Any]) -> Any:
    if isinstance(node, str):
        return substitute(node, scope)
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            if isinstance(item, dict) and "fnlens:foreach" in item:
                name = item["fnlens:foreach"]
                if name not in sequences:
                    raise TemplateError(f"unknown sequence {name!r} in fnlens:foreach")
                for element in sequences[name]:
                    value = _expand(item["item"], {**scope, **element}, sequences)
                    if value is not _DROP:
                        out.append(value)
                continue
            value = _expand(item, scope, sequences)
            if value is not _DROP:
                out.append(value)
        return out
    if isinstance(node, dict):
        if "fnlens:when" in node and not scope.get(node["fnlens:when"]):
            return _DROP
        if "fnlens:unless" in node and scope.get(node["fnlens:unless"]):
            return _DROP
        out_dict = {}
        for key, value in node.items():
            if key.startswith("fnlens:"):
                continue
            expanded = _expand(value, scope, sequences)
            if expanded is not _DROP:
                out_dict[key] = expanded
        return out_dict
    return node


def substitute(text: str, scope: Mapping[str, Any]) -> Any:
    """Replace ``${name}`` in ``text``; a lone placeholder keeps the value's type."""
    whole = _PLACEHOLDER.fullmatch(text)
    if whole:
        return _lookup(whole.group(1), scope)
    return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), scope)), text)


def _lookup(name: str, scope: Mapping[str, Any]) -> Any:
    try:
        return scope[name]
    except KeyError:
        raise TemplateError(f"template variable ${{{name}}} has no value") from None
