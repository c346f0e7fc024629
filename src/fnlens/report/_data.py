"""Gather what the report shows by running the canned queries.

The report never re-implements a canned query: it binds the catalog's SQL with
the report's window and reads the rows. Only the headline numbers (one overall
row across every function) have their own small query, because no canned query
aggregates across functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fnlens.analysis.catalog import get_query

Row = dict[str, Any]

_HEADLINE_SQL = """
SELECT
    count(*) AS invocations,
    count(DISTINCT function_name) AS functions,
    count(DISTINCT function_name || '/' || coalesce(version, '')) AS versions,
    count_if(coalesce(outcome, 'success') <> 'success') AS errors,
    count_if(outcome = 'timeout') AS timeouts,
    count_if(coalesce(cold_start, init_duration_ms IS NOT NULL)) AS cold_starts,
    quantile_disc(duration_ms, [0.5, 0.95, 0.99]) AS pct,
    avg(init_duration_ms) AS avg_init_ms,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM invocations
WHERE ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($function IS NULL OR function_name = $function)
"""

# Bucket sizes the charts may use, smallest first; the report picks the first that
# gives at most ~MAX_BUCKETS points over the data's time span.
_BUCKETS = (  # from seconds: the demo's own run lasts about 35 s
    timedelta(seconds=1),
    timedelta(seconds=5),
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(weeks=1),
)
MAX_BUCKETS = 120


@dataclass
class ReportData:
    """Everything one report renders, as plain rows (dicts keyed by column name)."""

    window: Row
    headline: Row
    bucket: timedelta
    functions: list[str]
    timeline: dict[str, list[Row]] = field(default_factory=dict)  # per function
    cold_starts: dict[str, list[Row]] = field(default_factory=dict)  # per function
    per_version: list[Row] = field(default_factory=list)
    cost: list[Row] = field(default_factory=list)
    slow_routes: list[Row] = field(default_factory=list)
    top_errors: list[Row] = field(default_factory=list)
    timeouts: list[Row] = field(default_factory=list)
    # (title, Comparison): each function's newest version against the one before it
    canaries: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.headline.get("invocations")


def collect(
    con: Any,
    *,
    function: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    bucket: timedelta | str | None = None,
    limit: int = 10,
) -> ReportData:
    """Run the canned queries for the report over an open fnlens connection."""
    window = get_query("per_version").bind({"since": since, "until": until, "function": function})
    headline = _headline(con, window)
    chosen = _coerce_bucket(bucket) or choose_bucket(
        headline.get("first_seen"), headline.get("last_seen")
    )
    functions = [
        r[0]
        for r in con.execute(
            "SELECT function_name FROM invocations WHERE ($since IS NULL OR ts >= $since) "
            "AND ($until IS NULL OR ts < $until) "
            "AND ($function IS NULL OR function_name = $function) "
            "GROUP BY function_name ORDER BY count(*) DESC, function_name",
            {k: window[k] for k in ("since", "until", "function")},
        ).fetchall()
    ]
    data = ReportData(window=window, headline=headline, bucket=chosen, functions=functions)
    for name in functions:
        fn_window = {**window, "function": name}
        data.timeline[name] = run(con, "timeline", {**fn_window, "bucket": chosen})
        data.cold_starts[name] = run(con, "cold_starts", {**fn_window, "bucket": chosen})
    data.per_version = run(con, "per_version", window)
    data.cost = run(con, "cost", window)
    data.slow_routes = run(con, "slow_routes", {**window, "limit": limit})
    data.top_errors = run(con, "top_errors", {**window, "limit": limit})
    data.timeouts = run(con, "timeouts", {**window, "bucket": chosen})
    data.canaries = canaries(con, data.per_version, window)
    return data


def canaries(con: Any, per_version: list[Row], window: Row) -> list[tuple[str, Any]]:
    """``fnlens compare`` of each function's newest version against the previous one,
    with the default thresholds, over the report's window."""
    try:
        from fnlens.analysis._compare import Selector, compare
    except ImportError:  # an installation without scipy: the rest of the report still works
        return []

    newest: dict[str, list[str]] = {}
    for row in per_version:  # ordered by function, first_seen
        if row["version"] is not None:
            newest.setdefault(row["function_name"], []).append(str(row["version"]))
    out = []
    for function, versions in newest.items():
        if len(versions) < 2:
            continue
        base, cand = versions[-2], versions[-1]
        result = compare(
            con,
            Selector(base),
            Selector(cand),
            function=function,
            since=window.get("since"),
            until=window.get("until"),
        )
        out.append((f"{function}: version {cand} vs {base}", result))
    return out


def run(con: Any, name: str, values: dict[str, Any]) -> list[Row]:
    """One canned query as a list of dicts."""
    query = get_query(name)
    result = query.run(con, values)
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def choose_bucket(first: datetime | None, last: datetime | None) -> timedelta:
    """The smallest bucket that keeps a chart under :data:`MAX_BUCKETS` points."""
    if first is None or last is None:
        return timedelta(minutes=5)
    span = last - first
    for size in _BUCKETS:
        if span / size <= MAX_BUCKETS:
            return size
    return _BUCKETS[-1]


def _coerce_bucket(bucket: timedelta | str | None) -> timedelta | None:
    if bucket is None:
        return None
    return get_query("timeline").param("bucket").coerce(bucket)


def _headline(con: Any, window: Row) -> Row:
    params = {k: window[k] for k in ("since", "until", "function")}
    result = con.execute(_HEADLINE_SQL, params)
    columns = [d[0] for d in result.description]
    row = dict(zip(columns, result.fetchone(), strict=True))
    pct = row.pop("pct") or [None, None, None]
    row["p50_ms"], row["p95_ms"], row["p99_ms"] = pct
    n = row["invocations"] or 0
    row["error_rate_pct"] = 100.0 * row["errors"] / n if n else None
    row["cold_start_pct"] = 100.0 * row["cold_starts"] / n if n else None
    return row
