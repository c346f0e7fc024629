"""The canned-query catalog: ``queries/*.sql`` parsed into :class:`Query` objects.

Each file starts with a comment header that names the query, describes it and
declares its parameters::

    -- name: per_version
    -- description: One row per function and version ...
    --   (indented comment lines continue the description)
    -- param: since TIMESTAMP = NULL  -- start of the time window (inclusive, UTC)

Parameters are bound as DuckDB named parameters (``$since``), never pasted into
the SQL, so a value can never change what a query does. Values given as strings
(``--param since=2024-01-01``) are coerced to the declared type here, so a bad
value fails with a message naming the parameter rather than a DuckDB error.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from fnlens._resources import data_dir
from fnlens.exceptions import (
    BadParamValueError,
    QueryCatalogError,
    QueryError,
    UnknownParamError,
    UnknownQueryError,
)

__all__ = [
    "BadParamValueError",
    "Param",
    "Query",
    "QueryCatalogError",
    "QueryError",
    "UnknownParamError",
    "UnknownQueryError",
    "get_query",
    "load_catalog",
    "parse_param_assignments",
    "parse_query",
]

# the names before fnlens.exceptions (0.x): importable for one more release, with a warning
_DEPRECATED = {
    "UnknownQuery": UnknownQueryError,
    "UnknownParam": UnknownParamError,
    "BadParamValue": BadParamValueError,
}


def __getattr__(name: str) -> Any:
    """The old exception names still import, warning that they will go (PEP 562)."""
    new = _DEPRECATED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"fnlens.analysis.catalog.{name} is deprecated and will be removed in the next "
        f"release; use fnlens.exceptions.{new.__name__}",
        DeprecationWarning,
        stacklevel=2,
    )
    return new


TYPES = ("VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "INTERVAL")


_HEADER_KEY = re.compile(r"^(name|description|param):\s*(.*)$")
_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s+(?P<type>[A-Za-z]+)"
    r"(?:\s*=\s*(?P<default>'(?:[^']|'')*'|[^\s]+))?"
    r"\s*(?:--\s*(?P<doc>.*))?$"
)
_PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")
_UNITS: dict[str, timedelta] = {}
for _names, _unit in (
    (("ms", "msec", "millisecond", "milliseconds"), timedelta(milliseconds=1)),
    (("s", "sec", "secs", "second", "seconds"), timedelta(seconds=1)),
    (("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    (("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    (("d", "day", "days"), timedelta(days=1)),
    (("w", "week", "weeks"), timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _unit
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


@dataclass(frozen=True)
class Param:
    """One declared parameter: its DuckDB type, default (already coerced) and doc."""

    name: str
    type: str
    default: Any = None
    doc: str = ""

    def coerce(self, value: Any) -> Any:
        """Turn ``value`` (a string from the command line, or a Python value) into the type."""
        if value is None:
            return None
        try:
            return _COERCE[self.type](value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise BadParamValueError(
                f"parameter {self.name!r} expects {self.type} ({_HINTS[self.type]}), "
                f"got {value!r}: {exc}"
            ) from None

    def describe(self) -> str:
        """``name TYPE = default``, as shown by ``fnlens queries``."""
        default = "NULL" if self.default is None else _show(self.default)
        return f"{self.name} {self.type} = {default}"


@dataclass(frozen=True)
class Query:
    """A canned query: its SQL, and what it needs bound to run."""

    name: str
    description: str
    sql: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    def param(self, name: str) -> Param:
        """The declared parameter ``name``, or a clear error listing the known ones."""
        for param in self.params:
            if param.name == name:
                return param
        known = ", ".join(p.name for p in self.params) or "none"
        raise UnknownParamError(
            f"query {self.name!r} has no parameter {name!r} (parameters: {known})"
        )

    def bind(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """All declared parameters with the given values coerced and defaults filled in."""
        values = dict(values or {})
        for name in values:
            self.param(name)  # raises for unknown names before anything runs
        return {
            p.name: p.coerce(values[p.name]) if p.name in values else p.default for p in self.params
        }

    def run(self, con: Any, values: Mapping[str, Any] | None = None) -> Any:
        """Execute on a DuckDB connection; returns the connection's result (fetch from it)."""
        return con.execute(self.sql, self.bind(values))


def parse_query(text: str, source: str = "<string>") -> Query:
    """Parse one .sql file; malformed headers raise :class:`QueryCatalogError`."""
    name = None
    description: list[str] = []
    params: list[Param] = []
    last_key = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        match = _HEADER_KEY.match(body)
        if match is None:
            if last_key == "description" and body:
                description.append(body)
            continue
        key, value = match.groups()
        last_key = key
        if key == "name":
            name = value.strip()
        elif key == "description":
            description.append(value.strip())
        else:
            params.append(_parse_param(value, source))
    if not name:
        raise QueryCatalogError(f"{source}: header has no '-- name:' line")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise QueryCatalogError(f"{source}: query name {name!r} must be lower_snake_case")
    declared = [p.name for p in params]
    if len(set(declared)) != len(declared):
        raise QueryCatalogError(f"{source}: a parameter is declared twice")
    used = set(_PLACEHOLDER.findall(_strip_comments(text)))
    if used != set(declared):
        raise QueryCatalogError(
            f"{source}: parameters used in the SQL {sorted(used)} do not match "
            f"the declared ones {sorted(declared)}"
        )
    return Query(name=name, description=" ".join(description), sql=text, params=tuple(params))


def _parse_param(spec: str, source: str) -> Param:
    match = _PARAM.match(spec.strip())
    if match is None:
        raise QueryCatalogError(f"{source}: cannot read parameter declaration {spec!r}")
    sql_type = match["type"].upper()
    if sql_type not in TYPES:
        raise QueryCatalogError(f"{source}: parameter type {sql_type} is not one of {TYPES}")
    param = Param(match["name"], sql_type, None, (match["doc"] or "").strip())
    raw_default = match["default"]
    if raw_default is None or raw_default.upper() == "NULL":
        return param
    if raw_default.startswith("'"):
        raw_default = raw_default[1:-1].replace("''", "'")
    try:
        default = param.coerce(raw_default)
    except BadParamValueError as exc:
        raise QueryCatalogError(f"{source}: bad default: {exc}") from None
    return Param(param.name, sql_type, default, param.doc)


def _strip_comments(sql: str) -> str:
    """SQL without ``--`` comments, so placeholders are only counted where they run."""
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Query]:
    """Every shipped canned query by name, read once from the ``queries`` data folder."""
    folder = data_dir("queries")
    catalog: dict[str, Query] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        query = parse_query(entry.read_text(encoding="utf-8"), entry.name)
        if query.name in catalog:
            raise QueryCatalogError(f"{entry.name}: query {query.name!r} is defined twice")
        if query.name != entry.name[: -len(".sql")]:
            raise QueryCatalogError(f"{entry.name}: declares name {query.name!r}")
        catalog[query.name] = query
    return catalog


def get_query(name: str) -> Query:
    """The canned query ``name``, or an error listing the available ones."""
    catalog = load_catalog()
    try:
        return catalog[name]
    except KeyError:
        raise UnknownQueryError(
            f"no canned query named {name!r}; available: {', '.join(sorted(catalog))} "
            "(see `fnlens queries`)"
        ) from None


def parse_param_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` from ``--param`` options into a dict; the last value of a key wins."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadParamValueError(f"--param expects NAME=VALUE, got {item!r}")
        values[key] = value
    return values


# --- type coercion ------------------------------------------------------------


def _to_varchar(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    return int(str(value).strip().replace("_", ""))


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = float(value.strip() if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _to_timestamp(value: Any) -> datetime:
    """ISO 8601 date or date-time; an offset is converted to UTC, no offset means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _to_interval(value: Any) -> timedelta:
    """``'5 minutes'``, ``'5m'``, ``'1h'``, ``'1.5 hours'``, ``'1 day'``; must be positive."""
    if isinstance(value, timedelta):
        interval = value
    else:
        match = _INTERVAL.match(str(value))
        if match is None or match[2].lower() not in _UNITS:
            raise ValueError("write a number and a unit, e.g. '5 minutes', '30s', '1h', '1d'")
        interval = float(match[1]) * _UNITS[match[2].lower()]
    if interval <= timedelta(0):
        raise ValueError("must be longer than zero")
    return interval


_COERCE = {
    "VARCHAR": _to_varchar,
    "INTEGER": _to_int,
    "BIGINT": _to_int,
    "DOUBLE": _to_double,
    "BOOLEAN": _to_bool,
    "TIMESTAMP": _to_timestamp,
    "INTERVAL": _to_interval,
}
_HINTS = {
    "VARCHAR": "text",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a number",
    "BOOLEAN": "true or false",
    "TIMESTAMP": "ISO 8601, e.g. 2024-05-01 or 2024-05-01T12:00:00Z",
    "INTERVAL": "e.g. '5 minutes', '1h', '1 day'",
}


def _show(value: Any) -> str:
    """A default value as a user would type it back."""
    if isinstance(value, timedelta):
        return _show_interval(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return format(value, "g") if abs(value) >= 1e-4 else format(value, ".10f").rstrip("0")
    return str(value)


def _show_interval(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"'{count} {unit}{'s' if count != 1 else ''}'"
    return f"'{seconds:g} seconds'"
