"""DuckDB does the heavy lifting for ``fnlens compare``: a few grouped scans.

Nothing row-level reaches Python. Over the selected invocations:

1. per side and route: counts (errors, timeouts, cold starts) and the sum and
   sum of squares of billed GB-seconds;
2. duration histograms per side and route in log bins 1 % wide, with the sum
   of the values in each bin: what the rank tests and the bootstrap work on
   (the overall histogram is the sum of the routes');
3. init-duration histograms (bins 0.1 % wide) and exact counts per max-memory value;
4. error types per side, with the first message seen;
5. the exact percentiles: the k-th value inside the bin the histogram points to.

Grouping by the hash of (method, route) instead of the two strings, and bins
as small integers, keeps every hash table small: that is what makes 10 M rows
fit in the 2 s budget (docs/benchmarks.md).

Selectors are column names from a fixed list and bound values, never pasted text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["Aggregates", "Histogram", "Selector", "SideStats", "aggregate"]

SELECT_BY = ("version", "function_version", "function_alias", "service_version")
DURATION_BINS = 100  # bins of ln(ms) * 100: adjacent bins differ by 1 %
INIT_BINS = 1000  # init durations are few: 0.1 % bins
INIT_BILLED_SINCE = "2025-08-01"  # AWS bills the on-demand INIT phase from this date


@dataclass(frozen=True)
class Selector:
    """One side of a comparison: a version (of column ``by``), a time window, or both."""

    value: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by: str = "version"

    def describe(self) -> str:
        parts = []
        if self.value is not None:
            parts.append(f"{self.by} {self.value}")
        if self.since or self.until:
            since = self.since.isoformat(sep=" ") if self.since else "…"
            until = self.until.isoformat(sep=" ") if self.until else "…"
            parts.append(f"{since} → {until}")
        return ", ".join(parts) or "all invocations"

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "value": self.value,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "description": self.describe(),
        }


@dataclass
class Histogram:
    """Sorted bin keys with a count and a mean value per bin, for one side."""

    keys: np.ndarray
    counts: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls) -> Histogram:
        return cls(np.zeros(0, np.int64), np.zeros(0, float), np.zeros(0, float))

    @property
    def n(self) -> int:
        return int(self.counts.sum())


@dataclass
class SideStats:
    """One side's scalar aggregates (overall or for one route)."""

    n: int = 0
    errors: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    n_duration: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    median_duration: float | None = None
    n_init: int = 0
    median_init: float | None = None
    n_memory: int = 0
    median_memory: float | None = None
    n_cost: int = 0
    mean_gb_s: float | None = None
    var_gb_s: float | None = None


@dataclass
class Aggregates:
    """What the four queries return, keyed by side (``baseline`` / ``candidate``)."""

    overall: dict[str, SideStats]
    routes: dict[tuple[str | None, str], dict[str, SideStats]]
    durations: dict[str, Histogram]
    route_durations: dict[tuple[str | None, str], dict[str, Histogram]]
    init: dict[str, Histogram]
    memory: dict[str, Histogram]
    new_error_types: list[dict[str, Any]] = field(default_factory=list)
    overlap: int = 0
    cost_columns: list[str] = field(default_factory=list)
    route_hashes: dict[tuple[str | None, str], int] = field(default_factory=dict)


def _run(con: Any, sql: str, params: dict[str, Any]) -> list[tuple]:
    """Execute with only the parameters the SQL uses (DuckDB rejects extra ones)."""
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in used}).fetchall()


def _columns(con: Any) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'invocations'"
    ).fetchall()
    return {r[0] for r in rows}


def _side_predicate(sel: Selector, prefix: str, params: dict[str, Any]) -> str:
    if sel.by not in SELECT_BY:
        raise ValueError(f"cannot select by {sel.by!r}: use one of {', '.join(SELECT_BY)}")
    terms = []
    if sel.value is not None:
        params[f"{prefix}_value"] = sel.value
        terms.append(f"{sel.by} = ${prefix}_value")
    if sel.since is not None:
        params[f"{prefix}_since"] = sel.since
        terms.append(f"ts >= ${prefix}_since")
    if sel.until is not None:
        params[f"{prefix}_until"] = sel.until
        terms.append(f"ts < ${prefix}_until")
    return "(" + (" AND ".join(terms) or "TRUE") + ")"


def _billed_gb_s(columns: set[str]) -> tuple[str, list[str]]:
    """SQL for one invocation's billed GB-seconds, using the columns this database has.

    The REPORT line's billed duration already includes init time where AWS bills
    it; without it, the handler time rounded up to the ms, plus the on-demand init
    time from 2025-08-01 (or ``billed_init_duration_ms`` where a column has it),
    plus ``billed_restore_duration_ms`` (SnapStart) where that column exists.
    """
    used = ["billed_duration_ms", "duration_ms", "init_duration_ms", "memory_size_mb"]
    if "billed_init_duration_ms" in columns:
        init = "coalesce(billed_init_duration_ms, 0)"
        used.append("billed_init_duration_ms")
    else:
        init = (
            "CASE WHEN coalesce(cold_start, init_duration_ms IS NOT NULL) "
            "AND coalesce(init_type, 'on-demand') = 'on-demand' "
            f"AND ts >= TIMESTAMP '{INIT_BILLED_SINCE}' "
            "THEN coalesce(ceil(init_duration_ms), 0) ELSE 0 END"
        )
    billed = f"coalesce(billed_duration_ms, ceil(duration_ms) + {init})"
    if "billed_restore_duration_ms" in columns:
        billed = f"({billed} + coalesce(billed_restore_duration_ms, 0))"
        used.append("billed_restore_duration_ms")
    return f"{billed} / 1000.0 * memory_size_mb / 1024.0", used


def aggregate(
    con: Any,
    baseline: Selector,
    candidate: Selector,
    *,
    function: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Aggregates:
    """Run the grouped queries; returns per-side (and per-route) aggregates."""
    params: dict[str, Any] = {"function": function, "since": since, "until": until}
    b_pred = _side_predicate(baseline, "b", params)
    c_pred = _side_predicate(candidate, "c", params)
    columns = _columns(con)
    gb_s, cost_columns = _billed_gb_s(columns)
    where = [f"({b_pred} OR {c_pred})"]
    if function is not None:  # only the filters in use: DuckDB then prunes by zone maps
        where.append("function_name = $function")
    if since is not None:
        where.append("ts >= $since")
    if until is not None:
        where.append("ts < $until")
    selected = f"""
        WITH sel AS (
            SELECT
                {b_pred} AS is_b,
                {b_pred} AND {c_pred} AS both_sides,
                hash(http_method, http_route) AS h,
                {gb_s} AS gb_s,
                *
            FROM invocations
            WHERE {" AND ".join(where)}
        )
    """
    bin_sql = (
        f"CASE WHEN duration_ms <= 0 THEN -100000 "
        f"ELSE CAST(floor(ln(duration_ms) * {DURATION_BINS}) AS INTEGER) END"
    )
    summary = _run(
        con,
        selected
        + """
        SELECT is_b, h, any_value(http_method), any_value(http_route),
            count(*),
            count_if(outcome <> 'success'),  -- NULL counts as success, as in the queries
            count_if(outcome = 'timeout'),
            count_if(coalesce(cold_start, init_duration_ms IS NOT NULL)),
            count(gb_s), sum(gb_s), sum(gb_s * gb_s),
            count_if(both_sides)
        FROM sel GROUP BY is_b, h
        """,
        params,
    )
    hist_rows = _run(
        con,
        selected
        + f"""
        SELECT is_b, h, {bin_sql} AS bin, count(*), sum(duration_ms)
        FROM sel WHERE duration_ms IS NOT NULL GROUP BY is_b, h, bin
        """,
        params,
    )
    other_rows = _run(
        con,
        selected
        + f"""
        SELECT is_b, 0 AS kind, CAST(max_memory_used_mb AS INTEGER) AS k, count(*),
            sum(max_memory_used_mb)
        FROM sel WHERE max_memory_used_mb IS NOT NULL GROUP BY is_b, k
        UNION ALL
        SELECT is_b, 1 AS kind,
            CASE WHEN init_duration_ms <= 0 THEN -1000000
                 ELSE CAST(floor(ln(init_duration_ms) * {INIT_BINS}) AS INTEGER) END AS k,
            count(*), sum(init_duration_ms)
        FROM sel WHERE init_duration_ms IS NOT NULL GROUP BY is_b, k
        """,
        params,
    )
    error_rows = _run(
        con,
        selected
        + """
        SELECT is_b, error_type, count(*), arg_min(error_message, ts), arg_min(request_id, ts),
            min(ts)
        FROM sel
        WHERE outcome <> 'success' AND error_type IS NOT NULL
        GROUP BY is_b, error_type
        """,
        params,
    )
    agg = _assemble(summary, hist_rows, other_rows, error_rows)
    agg.cost_columns = cost_columns
    _exact_percentiles(con, selected, params, bin_sql, agg)
    return agg


def _side(is_b: bool) -> str:
    return "baseline" if is_b else "candidate"


def _hist(entries: list[tuple[int, float, float]]) -> Histogram:
    """(key, count, sum) triples, merged by key, as a sorted Histogram of bin means."""
    if not entries:
        return Histogram.empty()
    keys = np.array([e[0] for e in entries], dtype=np.int64)
    counts = np.array([e[1] for e in entries], dtype=float)
    sums = np.array([e[2] for e in entries], dtype=float)
    uniq, inverse = np.unique(keys, return_inverse=True)
    c = np.bincount(inverse, weights=counts, minlength=len(uniq))
    t = np.bincount(inverse, weights=sums, minlength=len(uniq))
    return Histogram(uniq, c, t / c)


def _median(h: Histogram) -> float | None:
    if not h.n:
        return None
    rank = math.ceil(h.n * 0.5 - 1e-9)
    return float(h.values[np.searchsorted(np.cumsum(h.counts), max(rank, 1))])


def _assemble(
    summary: list[tuple], hist_rows: list[tuple], other_rows: list[tuple], error_rows: list[tuple]
) -> Aggregates:
    names: dict[int, tuple[str | None, str]] = {}
    per_route: dict[tuple[str | None, str], dict[str, SideStats]] = {}
    totals = {"baseline": SideStats(), "candidate": SideStats()}
    cost_sums = {"baseline": [0, 0.0, 0.0], "candidate": [0, 0.0, 0.0]}
    overlap = 0
    for is_b, h, method, route, n, errors, timeouts, colds, n_cost, s1, s2, both in summary:
        side = _side(is_b)
        overlap += both
        t = totals[side]
        t.n += n
        t.errors += errors
        t.timeouts += timeouts
        t.cold_starts += colds
        acc = cost_sums[side]
        acc[0] += n_cost
        acc[1] += s1 or 0.0
        acc[2] += s2 or 0.0
        if route is not None:
            names[h] = (method, route)
            per_route.setdefault((method, route), {})[side] = SideStats(
                n=n, errors=errors, timeouts=timeouts, cold_starts=colds
            )
    for side, (n_cost, s1, s2) in cost_sums.items():
        t = totals[side]
        t.n_cost = n_cost
        if n_cost:
            t.mean_gb_s = s1 / n_cost
            if n_cost > 1:
                t.var_gb_s = max(0.0, (s2 - s1 * s1 / n_cost) / (n_cost - 1))
    overall_entries: dict[str, list] = {"baseline": [], "candidate": []}
    route_entries: dict[tuple[str | None, str], dict[str, list]] = {}
    for is_b, h, key, n, total in hist_rows:
        side = _side(is_b)
        overall_entries[side].append((key, n, total))
        if h in names:
            route_entries.setdefault(names[h], {"baseline": [], "candidate": []})[side].append(
                (key, n, total)
            )
    durations = {side: _hist(e) for side, e in overall_entries.items()}
    route_durations = {
        key: {side: _hist(e) for side, e in sides.items()} for key, sides in route_entries.items()
    }
    memory_entries: dict[str, list] = {"baseline": [], "candidate": []}
    init_entries: dict[str, list] = {"baseline": [], "candidate": []}
    for is_b, kind, key, n, total in other_rows:
        (memory_entries if kind == 0 else init_entries)[_side(is_b)].append((key, n, total))
    memory = {side: _hist(e) for side, e in memory_entries.items()}
    init = {side: _hist(e) for side, e in init_entries.items()}
    for side, t in totals.items():
        t.n_duration = durations[side].n
        t.n_memory, t.median_memory = memory[side].n, _median(memory[side])
        t.n_init, t.median_init = init[side].n, _median(init[side])
    baseline_types = {r[1] for r in error_rows if r[0]}
    new_errors = sorted(
        (
            {
                "error_type": r[1],
                "occurrences": r[2],
                "sample_message": r[3],
                "example_request_id": r[4],
                "first_seen": r[5].isoformat() if r[5] is not None else None,
            }
            for r in error_rows
            if not r[0] and r[1] not in baseline_types
        ),
        key=lambda e: (-e["occurrences"], e["error_type"]),
    )
    return Aggregates(
        overall=totals,
        routes=per_route,
        durations=durations,
        route_durations=route_durations,
        init=init,
        memory=memory,
        new_error_types=new_errors,
        overlap=overlap,
        route_hashes={key: h for h, key in names.items()},
    )


_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def _exact_percentiles(
    con: Any, selected: str, params: dict[str, Any], bin_sql: str, agg: Aggregates
) -> None:
    """Fill p50/p95/p99 exactly as ``quantile_disc`` would: the histogram says which bin
    holds the value of rank ceil(n q) and its rank inside the bin; DuckDB sorts just
    that bin's values."""
    targets: list[tuple[int, bool, int | None, int, int]] = []  # id, is_b, h, bin, k
    owners: list[tuple[SideStats, str]] = []
    route_hashes = agg.route_hashes

    def want(stats: SideStats, attr: str, hist: Histogram, q: float, is_b: bool, h: Any) -> None:
        if not hist.n:
            return
        rank = max(1, math.ceil(hist.n * q - 1e-9))
        cum = np.cumsum(hist.counts)
        i = int(np.searchsorted(cum, rank))
        below = int(cum[i - 1]) if i else 0
        targets.append((len(targets), is_b, h, int(hist.keys[i]), rank - below))
        owners.append((stats, attr))

    for side, is_b in (("baseline", True), ("candidate", False)):
        for attr, q in _QUANTILES:
            want(agg.overall[side], attr, agg.durations[side], q, is_b, None)
        agg.overall[side].n_duration = agg.durations[side].n
        for key, sides in agg.route_durations.items():
            stats = agg.routes.get(key, {}).get(side)
            if stats is None or key not in route_hashes:
                continue
            stats.n_duration = sides[side].n
            for attr, q in (("p50", 0.5), ("p95", 0.95)):
                want(stats, attr, sides[side], q, is_b, route_hashes[key])
    if not targets:
        return
    values = ", ".join(
        f"({i}, {'TRUE' if is_b else 'FALSE'}, {'NULL' if h is None else f'{int(h)}::UBIGINT'}, "
        f"{b}, {k})"
        for i, is_b, h, b, k in targets
    )  # integers and booleans made here, never user text
    bins = sorted({t[3] for t in targets})
    # a cheap range filter first (bins are value ranges), the exact bin only on what passes
    ranges = " OR ".join(
        f"duration_ms BETWEEN {math.exp(b / DURATION_BINS) * (1 - 1e-9)!r} "
        f"AND {math.exp((b + 1) / DURATION_BINS) * (1 + 1e-9)!r}"
        for b in bins
        if b > -100000
    )
    if any(b <= -100000 for b in bins):
        ranges = " OR ".join(filter(None, [ranges, "duration_ms <= 0"]))
    rows = _run(
        con,
        selected
        + f"""
        , targets(id, is_b, h, bin, k) AS (VALUES {values})
        , picked AS (
            SELECT is_b, h, {bin_sql} AS bin, duration_ms
            FROM sel WHERE {ranges}
        )
        SELECT t.id, list_sort(list(p.duration_ms))[any_value(t.k)]
        FROM picked p JOIN targets t
          ON p.is_b = t.is_b AND p.bin = t.bin AND (t.h IS NULL OR p.h = t.h)
        GROUP BY t.id
        """,
        params,
    )
    for target_id, value in rows:
        stats, attr = owners[target_id]
        setattr(stats, attr, value)
    for side in ("baseline", "candidate"):
        agg.overall[side].median_duration = agg.overall[side].p50
        for sides in agg.routes.values():
            if side in sides:
                sides[side].median_duration = sides[side].p50
