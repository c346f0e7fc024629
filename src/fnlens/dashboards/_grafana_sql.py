"""Turn a canned query into SQL a Grafana panel can run through the DuckDB data source.

Canned queries bind ``$name`` parameters; in Grafana ``$name`` is template-variable
syntax, so each parameter is replaced by what Grafana should put there:

* ``$since`` / ``$until`` -> ``$__timeFrom()`` / ``$__timeTo()``: the data source's
  (sqlds) macros for the dashboard time range, RFC 3339 UTC literals;
* ``$function`` / ``$version`` -> ``${function:sqlstring}`` / ``${version:sqlstring}``:
  the dashboard variables, quoted; their "All" value is the raw ``NULL`` (custom
  all-values are not formatted), which the canned ``$x IS NULL OR ...`` filter
  already treats as "no filter";
* ``$bucket`` -> ``to_milliseconds(${__interval_ms:raw})``: Grafana's interval;
* anything else -> its declared default as a SQL literal (or an override).

The query body is otherwise used verbatim, so the dashboard answers exactly what
``fnlens query NAME`` answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fnlens.analysis.catalog import get_query

GRAFANA_PARAMS = {
    "since": "$__timeFrom()",
    "until": "$__timeTo()",
    "function": "${function:sqlstring}",
    "version": "${version:sqlstring}",
    "bucket": "to_milliseconds(${__interval_ms:raw})",
}
_PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")


def canned_sql(name: str, overrides: Mapping[str, str] | None = None) -> str:
    """The body of canned query ``name`` with Grafana expressions for its parameters."""
    query = get_query(name)
    mapping = dict(GRAFANA_PARAMS)
    for param in query.params:
        if param.name not in mapping:
            mapping[param.name] = sql_literal(param.default)
    mapping.update(overrides or {})
    body = "\n".join(
        line for line in query.sql.strip().splitlines() if not line.lstrip().startswith("--")
    )
    declared = {p.name for p in query.params}
    return _PLACEHOLDER.sub(
        lambda m: mapping[m.group(1)] if m.group(1) in declared else m.group(0), body
    )


def wrap(name: str, select: str, *, overrides: Mapping[str, str] | None = None) -> str:
    """``SELECT <select> FROM (<canned query>) AS q`` with a comment naming the query."""
    inner = "\n".join("  " + line for line in canned_sql(name, overrides).splitlines())
    return f"-- fnlens canned query: {name}\nSELECT {select}\nFROM (\n{inner}\n) AS q"


def per_version(name: str, select: str) -> str:
    """Run canned query ``name`` once per version (a LATERAL join) for per-version series."""
    inner = canned_sql(name, {"version": "v.version"})
    inner = "\n".join("  " + line for line in inner.splitlines())
    return (
        f"-- fnlens canned query: {name}, once per version\n"
        f"SELECT {select}\n"
        "FROM (\n"
        "  SELECT DISTINCT version FROM invocations\n"
        "  WHERE version IS NOT NULL\n"
        "    AND (${function:sqlstring} IS NULL OR function_name = ${function:sqlstring})\n"
        "    AND (${version:sqlstring} IS NULL OR version = ${version:sqlstring})\n"
        ") AS v,\n"
        f"LATERAL (\n{inner}\n) AS q\n"
        "ORDER BY 1"
    )


def sql_literal(value: Any) -> str:
    """A default parameter value as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, timedelta):
        return f"to_microseconds({int(value / timedelta(microseconds=1))})"
    return "'" + str(value).replace("'", "''") + "'"
