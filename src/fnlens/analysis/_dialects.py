"""Translate the canned DuckDB queries for Spark SQL and Trino/Athena.

Each ``queries/*.sql`` file stays the single source of a query. sqlglot parses it as
DuckDB SQL and writes the target dialect; fnlens's own rules replace what sqlglot's
output would compute differently:

* ``quantile_disc`` (exact nearest-rank): on Spark the ``ceil(n * q)``-th value of the
  sorted group (``q`` stays an exact decimal, as in DuckDB), the element type kept; Trino
  has no exact percentile, so it gets ``approx_percentile`` and the query is marked
  approximate there.
* ``time_bucket(interval, ts)``: DuckDB's buckets are aligned to 2000-01-03 00:00 UTC;
  the same arithmetic on epoch microseconds (Spark) or milliseconds (Trino).
* ``round(x, n)`` of a DOUBLE: DuckDB rounds the double's exact binary value (ties away
  from zero); Spark's ``round`` rounds its shortest decimal text, so the exact decision
  is written out in plain double arithmetic (Dekker's two-product).
* Decimal literals (``100.0``) are DOUBLE, as DuckDB's arithmetic ends up for these
  queries (a DECIMAL divided by an integer is a DOUBLE in DuckDB, a DECIMAL in Spark).
* ``string_agg(DISTINCT x, sep ORDER BY x)``: the sorted distinct values joined, NULL
  when there are none (as DuckDB).
* A SELECT alias used in WHERE or GROUP BY (a DuckDB "lateral alias") is replaced by
  its expression; ``GROUP BY ALL`` is spelled out.
* Parameters stay bound: ``$name`` becomes ``CAST(:name AS type)`` on Spark (bound with
  ``spark.sql(args=...)``) and ``CAST(? AS type)`` on Trino (``EXECUTE ... USING``, in the
  order :attr:`Translation.params` lists). Intervals are bound as a whole number of
  microseconds (Spark) or milliseconds (Trino).

A query whose header declares ``-- inexact: spark -- why`` (after its params) is listed as
approximate on that engine by ``fnlens queries``; so is every query that needs a rule the
target cannot follow exactly.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from fnlens.analysis._parquet import PARTITION_COLUMNS, columns
from fnlens.analysis._schema import TABLES
from fnlens.analysis.catalog import Query, get_query
from fnlens.exceptions import TranslationError

__all__ = [
    "DIALECTS",
    "Translation",
    "TranslationError",
    "ddl",
    "declared_inexact",
    "translate",
]

DIALECTS = ("duckdb", "spark", "trino", "athena")
DUCKDB_BUCKET_ORIGIN_US = 946_857_600_000_000  # 2000-01-03 00:00:00 UTC, time_bucket's origin

_INEXACT = re.compile(r"^--\s*inexact:\s*([a-z, ]+?)\s*(?:--\s*(.*))?$")
_SOURCE_COLUMNS = frozenset(name for cols in TABLES.values() for name in cols)
_SPARK_PARAM_TYPES = {
    "VARCHAR": "STRING",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "INTERVAL": "BIGINT",
}
_TRINO_PARAM_TYPES = {**_SPARK_PARAM_TYPES, "VARCHAR": "VARCHAR", "INTEGER": "INTEGER"}
_TRINO_PARAM_TYPES["TIMESTAMP"] = "TIMESTAMP(6)"


@dataclass(frozen=True)
class Translation:
    """One canned query written for one engine."""

    name: str
    dialect: str
    sql: str
    params: tuple[str, ...]  # Trino/Athena: the value for each ``?``, in order
    exact: bool
    notes: tuple[str, ...]


def declared_inexact(query: Query) -> dict[str, str]:
    """Engines the query's header says it cannot be exact on, with the reason."""
    out: dict[str, str] = {}
    for raw in query.sql.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        match = _INEXACT.match(line)
        if match:
            for engine in (e.strip() for e in match[1].split(",")):
                if engine:
                    out[engine] = (match[2] or "declared inexact").strip()
    return out


def translate(query: Query | str, dialect: str) -> Translation:
    """The canned query written for ``dialect`` (one of :data:`DIALECTS`)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    if isinstance(query, str):
        return _cached(query, dialect)
    try:
        shipped = get_query(query.name).sql == query.sql
    except ValueError:
        shipped = False
    return _cached(query.name, dialect) if shipped else _translate(query, dialect)


@lru_cache(maxsize=128)
def _cached(name: str, dialect: str) -> Translation:
    return _translate(get_query(name), dialect)


def _translate(query: Query, dialect: str) -> Translation:
    declared = declared_inexact(query)
    if dialect == "duckdb":
        notes = (f"duckdb: {declared['duckdb']}",) if "duckdb" in declared else ()
        return Translation(query.name, dialect, query.sql, (), "duckdb" not in declared, notes)
    import sqlglot
    from sqlglot import exp

    target = "spark" if dialect == "spark" else "trino"
    tree = sqlglot.parse_one(_strip_comments(query.sql), read="duckdb")
    notes: list[str] = []
    types = {p.name: p.type for p in query.params}
    for select in list(tree.find_all(exp.Select)):
        _expand_group_by_all(select)
        _expand_aliases(select)
    _double_literals(tree)
    # time rules first: later rules re-parse their arguments' SQL, which is not visited again
    tree = tree.transform(lambda node: _time_units(node, target, notes))
    tree = tree.transform(lambda node: _rewrite(node, target, types, notes))
    tree = tree.transform(lambda node: _bind(node, target, types))
    # sqlglot logs a warning for DuckDB struct literals it writes as Trino ROW(...): the
    # ROW is what fnlens wants (only its order is used), so keep the output quiet
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)
    try:
        sql = tree.sql(dialect=target, pretty=True, comments=False)
    finally:
        sqlglot_log.setLevel(level)
    params: list[str] = []
    if target == "trino":
        sql = _positional(sql, params)
    for engine, why in declared.items():
        if engine in (dialect, target):
            notes.append(f"{dialect}: {why}")
    exact = not notes
    header = [f"-- fnlens canned query {query.name!r} for {dialect} (from {query.name}.sql)"]
    if target == "trino" and params:
        shown = [f"{p} (milliseconds)" if types[p] == "INTERVAL" else p for p in params]
        header.append(f"-- parameters, one per ? in order: {', '.join(shown)}")
    header.extend(f"-- APPROXIMATE: {n}" for n in notes)
    return Translation(
        query.name, dialect, "\n".join(header) + "\n" + sql, tuple(params), exact, tuple(notes)
    )


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0].rstrip() for line in sql.splitlines()).strip()


# --- structural rules ------------------------------------------------------------


def _is_aggregate(node: object) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Expression) and any(
        isinstance(n, (exp.AggFunc, exp.Window)) for n in node.walk()
    )


def _expand_group_by_all(select: object) -> None:
    """``GROUP BY ALL`` -> the non-aggregate expressions of the SELECT list."""
    from sqlglot import exp

    assert isinstance(select, exp.Select)
    group = select.args.get("group")
    if group is None or not group.args.get("all"):
        return
    keys = [
        (p.this if isinstance(p, exp.Alias) else p).copy()
        for p in select.expressions
        if not _is_aggregate(p)
    ]
    select.set("group", exp.Group(expressions=keys))


def _expand_aliases(select: object) -> None:
    """SELECT aliases used in WHERE / GROUP BY (and not source columns) -> expressions."""
    from sqlglot import exp

    assert isinstance(select, exp.Select)
    source = set(_SOURCE_COLUMNS)
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None and isinstance(from_.this, exp.Subquery):
        source = {p.alias_or_name for p in from_.this.this.expressions}
    aliases = {
        p.alias: p.this
        for p in select.expressions
        if isinstance(p, exp.Alias) and p.alias not in source
    }
    if not aliases:
        return
    for key in ("where", "group"):
        part = select.args.get(key)
        if part is None:
            continue
        for column in list(part.find_all(exp.Column)):
            if not column.table and column.name in aliases:
                column.replace(aliases[column.name].copy())


def _double_literals(tree: object) -> None:
    """Decimal literals as DOUBLE (DuckDB's arithmetic here ends in DOUBLE); quantiles kept."""
    from sqlglot import exp

    assert isinstance(tree, exp.Expression)
    for literal in list(tree.find_all(exp.Literal)):
        if literal.is_string or not re.search(r"[.eE]", literal.this):
            continue
        if literal.find_ancestor(exp.PercentileDisc, exp.Limit) is not None:
            continue
        literal.replace(exp.Cast(this=literal.copy(), to=exp.DataType.build("DOUBLE")))


# --- function rules ---------------------------------------------------------------


def _rewrite(node: object, target: str, types: dict[str, str], notes: list[str]) -> object:
    from sqlglot import exp

    if isinstance(node, exp.PercentileDisc):
        return _quantile(node, target, notes)
    if isinstance(node, exp.DateBin):
        return _time_bucket(node, target, types)
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.GroupConcat):
        return _string_agg(node.this, node.expression.this, target)
    if isinstance(node, exp.GroupConcat):
        return _string_agg(node, None, target)
    if isinstance(node, exp.Round) and target == "spark":
        return _round(node)
    if isinstance(node, (exp.AggFunc, exp.Anonymous)):
        name = (node.sql_name() if isinstance(node, exp.AggFunc) else node.name).lower()
        if name in ("quantile_cont", "median", "mode", "histogram", "list", "arg_min_null"):
            raise TranslationError(f"no exact {target} rule for DuckDB's {name}()")
    return node


def _parse(sql: str, target: str) -> object:
    import sqlglot

    return sqlglot.parse_one(sql, read=target)


def _quantile(node: object, target: str, notes: list[str]) -> object:
    from sqlglot import exp

    assert isinstance(node, exp.PercentileDisc)
    value = node.this.sql(dialect=target)
    qs = node.expression
    fractions = list(qs.expressions) if isinstance(qs, exp.Array) else [qs]
    for q in fractions:
        if not isinstance(q, exp.Literal) or q.is_string:
            raise TranslationError("quantile_disc needs literal fractions to be exact")
    if target == "trino":
        note = "percentiles are approx_percentile (Trino has no exact percentile)"
        if note not in notes:
            notes.append(note)
        arg = (
            "ARRAY[" + ", ".join(f"CAST({q.this} AS DOUBLE)" for q in fractions) + "]"
            if isinstance(qs, exp.Array)
            else f"CAST({qs.this} AS DOUBLE)"
        )
        return _parse(f"approx_percentile({value}, {arg})", target)
    sorted_values = f"array_sort(collect_list({value}))"
    picks = [
        f"try_element_at({sorted_values}, "
        f"CAST(greatest(1, ceil(size({sorted_values}) * {q.this}BD)) AS INT))"
        for q in fractions
    ]
    sql = f"array({', '.join(picks)})" if isinstance(qs, exp.Array) else picks[0]
    return _parse(sql, target)


def _time_bucket(node: object, target: str, types: dict[str, str]) -> object:
    from sqlglot import exp

    assert isinstance(node, exp.DateBin)
    width, ts = node.this, node.expression
    if not isinstance(width, exp.Placeholder) or types.get(width.name) != "INTERVAL":
        raise TranslationError("time_bucket needs an INTERVAL parameter as its width")
    value = ts.sql(dialect=target)
    if target == "spark":
        us = f"unix_micros(CAST({value} AS TIMESTAMP))"
        w = f"CAST(:{width.name} AS BIGINT)"
        sql = (
            f"CAST(timestamp_micros({us} - pmod({us} - pmod({DUCKDB_BUCKET_ORIGIN_US}, {w}), "
            f"{w})) AS TIMESTAMP_NTZ)"
        )
    else:
        t = f"date_trunc('millisecond', {value})"
        w = f"CAST(:{width.name} AS BIGINT)"
        diff = f"date_diff('millisecond', TIMESTAMP '2000-01-03 00:00:00', {t})"
        sql = f"date_add('millisecond', -(((({diff}) % {w}) + {w}) % {w}), {t})"
    return _parse(sql, target)


def _string_agg(node: object, condition: object | None, target: str) -> object:
    """``string_agg(DISTINCT x, sep ORDER BY x) [FILTER (WHERE c)]``."""
    from sqlglot import exp

    assert isinstance(node, exp.GroupConcat)
    inner = node.this
    order = None
    if isinstance(inner, exp.Order):
        order = inner
        inner = inner.this
    if not isinstance(inner, exp.Distinct) or len(inner.expressions) != 1:
        raise TranslationError("string_agg is translated only as string_agg(DISTINCT x, ...)")
    value = inner.expressions[0]
    if order is not None:
        keys = order.expressions
        if len(keys) != 1 or keys[0].this != value or keys[0].args.get("desc"):
            raise TranslationError("string_agg(DISTINCT x ... ORDER BY x) only, ascending")
    separator = node.args.get("separator")
    sep = separator.sql(dialect=target) if separator is not None else "','"
    v = value.sql(dialect=target)
    cond = condition.sql(dialect=target) if condition is not None else None
    if target == "spark":
        filt = f" FILTER (WHERE {cond})" if cond else ""
        values = f"collect_set({v}){filt}"
        sql = (
            f"CASE WHEN size({values}) = 0 THEN NULL "
            f"ELSE array_join(array_sort({values}), {sep}) END"
        )
    else:
        both = f"({cond}) AND {v} IS NOT NULL" if cond else f"{v} IS NOT NULL"
        values = f"array_distinct(array_agg({v}) FILTER (WHERE {both}))"
        sql = (
            f"CASE WHEN coalesce(cardinality({values}), 0) = 0 THEN NULL "
            f"ELSE array_join(array_sort({values}), {sep}) END"
        )
    return _parse(sql, target)


def _round(node: object) -> object:
    """DuckDB's ``round(x, n)`` of a DOUBLE: the exact binary value rounded, ties away from 0.

    DuckDB rounds the double's exact value (``round(0.00065, 4)`` is 0.0006, the double
    being 0.000649999...), while Spark rounds its shortest decimal text ("6.5E-4", so
    0.0007) and ``round(x * 10^n)`` rounds the rounded product. So: ``y = |x| * 10^n``,
    its rounding error ``e`` exactly (Dekker's two-product, plain IEEE doubles as the JVM
    computes them), and ``floor(y) + 1`` when ``(y - floor(y) - 0.5) + e >= 0``; each
    term is exact for ``y < 2^50``, so the sign, and the decision, is exact. Larger
    products (integral at that precision anyway) keep the plain form. ``n = 0`` stays
    Spark's ``round`` (a half-integer is a double, so the text rounds as the value).
    """
    from sqlglot import exp

    assert isinstance(node, exp.Round)
    digits = node.args.get("decimals")
    if digits is None:
        return node
    if not isinstance(digits, exp.Literal) or digits.is_string:
        raise TranslationError("round() needs a literal number of digits")
    n = int(digits.this)
    if n == 0:
        return node
    if not 0 < n <= 15:
        raise TranslationError(f"round(x, {n}): fnlens rounds exactly to 1..15 places only")
    m = float(10**n)
    m_hi, m_lo = _split(m)

    def d(value: float) -> str:
        return f"CAST('{value!r}' AS DOUBLE)"

    value = node.this.sql(dialect="spark")
    err = f"(((h * {d(m_hi)} - y) + h * {d(m_lo)} + (a - h) * {d(m_hi)}) + (a - h) * {d(m_lo)})"
    up = f"CASE WHEN (y - floor(y) - CAST(0.5 AS DOUBLE)) + {err} >= 0 THEN 1 ELSE 0 END"
    exact = (
        f"transform(array(abs(x)), a -> transform(array(a * {d(m)}), y -> "
        f"transform(array(c - (c - a)), h -> (floor(y) + {up}) / {d(m)} * signum(x))[0])[0])[0]"
    ).replace("array(c - (c - a))", f"array({d(134217729.0)} * a - ({d(134217729.0)} * a - a))")
    plain = f"round(x * {d(m)}, 0) / {d(m)}"
    sql = (
        f"transform(array(CAST({value} AS DOUBLE)), x -> CASE WHEN x IS NULL OR isnan(x) "
        f"OR abs(x) * {d(m)} >= {d(2.0**50)} THEN {plain} ELSE {exact} END)[0]"
    )
    return _parse(sql, "spark")


def _split(value: float) -> tuple[float, float]:
    """Veltkamp's split: ``hi + lo == value`` exactly, each with at most 26 significant bits."""
    c = 134217729.0 * value  # 2^27 + 1
    hi = c - (c - value)
    return hi, value - hi


_TRINO_MS_NOTE = (
    "Trino's intervals and date_diff count milliseconds: invocation ends and busy time "
    "are to the millisecond"
)
# one microsecond as a Spark day-time interval (``n * this`` is exact integer arithmetic)
_SPARK_MICROSECOND = "INTERVAL '0.000001' SECOND"
_TRINO_MILLISECOND = "INTERVAL '0.001' SECOND"


def _time_units(node: object, target: str, notes: list[str]) -> object:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and node.name.lower() in ("to_microseconds", "epoch_us"):
        return _microseconds(node, target, notes)
    if isinstance(node, exp.Interval) and target == "trino":
        return _trino_interval(node, notes)
    return node


def _microseconds(node: object, target: str, notes: list[str]) -> object:
    """DuckDB's ``to_microseconds(n)`` (an INTERVAL) and ``epoch_us(ts)`` (a BIGINT)."""
    from sqlglot import exp

    assert isinstance(node, exp.Anonymous)
    if len(node.expressions) != 1:
        raise TranslationError(f"{node.name}() takes one argument")
    value = node.expressions[0].sql(dialect=target)
    to_interval = node.name.lower() == "to_microseconds"
    if target == "spark":
        if to_interval:
            return _parse(f"(CAST({value} AS BIGINT) * {_SPARK_MICROSECOND})", target)
        return _parse(f"unix_micros(CAST({value} AS TIMESTAMP))", target)
    if _TRINO_MS_NOTE not in notes:
        notes.append(_TRINO_MS_NOTE)
    if to_interval:
        return _parse(f"(CAST({value} AS DOUBLE) / 1000 * {_TRINO_MILLISECOND})", target)
    epoch = "TIMESTAMP '1970-01-01 00:00:00'"
    return _parse(f"(date_diff('millisecond', {epoch}, {value}) * 1000)", target)


def _trino_interval(node: object, notes: list[str]) -> object:
    """``INTERVAL n MICROSECOND`` (no such unit on Trino): the nearest whole milliseconds."""
    from sqlglot import exp

    assert isinstance(node, exp.Interval)
    unit = node.args.get("unit")
    if unit is None or unit.name.upper() not in ("MICROSECOND", "MICROSECONDS"):
        return node
    if not isinstance(node.this, exp.Literal):
        raise TranslationError("INTERVAL ... MICROSECOND needs a literal count")
    if _TRINO_MS_NOTE not in notes:
        notes.append(_TRINO_MS_NOTE)
    ms = max(1, round(float(node.this.this) / 1000))
    return _parse(f"({ms} * {_TRINO_MILLISECOND})", "trino")


# --- parameters -------------------------------------------------------------------


_MARKER = "__fnlens_param_{}__"
_MARKER_RE = re.compile(r"__fnlens_param_([A-Za-z_][A-Za-z0-9_]*?)__")


def _bind(node: object, target: str, types: dict[str, str]) -> object:
    """``$name`` -> ``CAST(:name AS type)`` (Spark) or a marker later made ``?`` (Trino)."""
    from sqlglot import exp

    if not isinstance(node, exp.Placeholder) or not node.name:
        return node
    name = node.name
    if name not in types:
        raise TranslationError(f"parameter ${name} is not declared")
    if target == "spark":
        marker: exp.Expression = exp.Placeholder(this=name)
    else:
        marker = exp.column(_MARKER.format(name))
    if isinstance(node.parent, exp.Cast):
        return marker  # already typed by a rule (time-bucket widths)
    if target == "trino" and isinstance(node.parent, exp.Limit):
        return marker  # Trino takes a bare parameter (no expression) in LIMIT
    if types[name] == "INTERVAL":  # bound as whole micro/milliseconds: an interval again
        unit = _SPARK_MICROSECOND if target == "spark" else _TRINO_MILLISECOND
        return exp.paren(
            exp.Mul(
                this=exp.Cast(this=marker, to=exp.DataType.build("BIGINT")),
                expression=_parse(unit, target),
            )
        )
    sql_type = (_SPARK_PARAM_TYPES if target == "spark" else _TRINO_PARAM_TYPES)[types[name]]
    return exp.Cast(this=marker, to=exp.DataType.build(sql_type, dialect=target))


def _positional(sql: str, order: list[str]) -> str:
    """Markers -> ``?``, recording which parameter each one binds, in text order."""

    def repl(match: re.Match[str]) -> str:
        order.append(match[1])
        return "?"

    return _MARKER_RE.sub(repl, sql)


# --- DDL --------------------------------------------------------------------------

_TRINO_TYPES = {
    "TIMESTAMP": "timestamp(6)",
    "VARCHAR": "varchar",
    "JSON": "varchar",
    "BOOLEAN": "boolean",
    "DOUBLE": "double",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "MAP(VARCHAR, VARCHAR)": "map(varchar, varchar)",
}
_HIVE_TYPES = {
    **_TRINO_TYPES,
    "TIMESTAMP": "timestamp",
    "VARCHAR": "string",
    "JSON": "string",
    "INTEGER": "int",
    "MAP(VARCHAR, VARCHAR)": "map<string,string>",
}


def ddl(dialect: str, location: str, schema: str = "fnlens") -> str:
    """CREATE TABLE statements for the three tables over the layout at ``location``.

    ``trino``: the Hive connector's external tables plus ``sync_partition_metadata``;
    ``athena``: Hive DDL plus ``MSCK REPAIR TABLE``. ``location`` is the folder that
    ``fnlens export --parquet`` wrote (e.g. ``s3://bucket/fnlens``).
    """
    base = location.rstrip("/")
    out = []
    for table in TABLES:
        cols = columns(table)
        if dialect == "trino":
            body = ",\n  ".join(f'"{c.name}" {_TRINO_TYPES[c.sql_type]}' for c in cols)
            parts = ",\n  ".join(f'"{p}" varchar' for p in PARTITION_COLUMNS)
            out.append(
                f"CREATE TABLE IF NOT EXISTS {schema}.{table} (\n  {body},\n  {parts}\n)\n"
                f"WITH (\n  format = 'PARQUET',\n  external_location = '{base}/{table}/',\n"
                f"  partitioned_by = ARRAY[{', '.join(repr(p) for p in PARTITION_COLUMNS)}]\n);\n"
                f"CALL system.sync_partition_metadata('{schema}', '{table}', 'ADD');"
            )
        elif dialect == "athena":
            body = ",\n  ".join(f"`{c.name}` {_HIVE_TYPES[c.sql_type]}" for c in cols)
            parts = ", ".join(f"`{p}` string" for p in PARTITION_COLUMNS)
            out.append(
                f"CREATE EXTERNAL TABLE IF NOT EXISTS {schema}.{table} (\n  {body}\n)\n"
                f"PARTITIONED BY ({parts})\nSTORED AS PARQUET\n"
                f"LOCATION '{base}/{table}/';\nMSCK REPAIR TABLE {schema}.{table};"
            )
        else:
            raise ValueError(f"no DDL for dialect {dialect!r} (trino or athena)")
    return "\n\n".join(out) + "\n"
