"""Canary analysis: is the candidate worse than the baseline, with a verdict a pipeline trusts.

>>> from fnlens.analysis._compare import Selector, compare        # doctest: +SKIP
>>> result = compare(con, Selector("1"), Selector("2"))            # doctest: +SKIP
>>> result.verdict, result.exit_code                               # doctest: +SKIP
('fail', 1)

Per metric the candidate is tested against the baseline (one-sided: "is it
worse?"), every p-value of the run is corrected together (Holm by default), and
a metric fails when the corrected p-value is below alpha *and* the estimated
worsening exceeds the allowed change. Too little data to have the configured
power makes the verdict inconclusive instead of a false pass. DuckDB aggregates;
see :mod:`fnlens.analysis._compare_sql` and docs/compare.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fnlens.analysis import _compare_stats as st
from fnlens.analysis._compare_settings import (
    METRICS,
    ROUTE_METRICS,
    CompareSettings,
    load_settings,
    parse_allow,
)
from fnlens.analysis._compare_sql import Aggregates, Histogram, Selector, SideStats, aggregate
from fnlens.exceptions import CompareError

__all__ = [
    "EXIT_CODES",
    "SCHEMA",
    "CompareError",
    "CompareSettings",
    "Comparison",
    "MetricResult",
    "Selector",
    "compare",
    "load_settings",
    "parse_allow",
]

SCHEMA = "fnlens.compare/1"
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 2}
_UNITS = {
    "error_rate": "%",
    "timeout_rate": "%",
    "cold_start_rate": "%",
    "latency": "ms",
    "p50": "ms",
    "p95": "ms",
    "p99": "ms",
    "init_duration": "ms",
    "max_memory": "MB",
    "cost_per_million": "USD",
}


@dataclass
class MetricResult:
    """One metric, overall or for one route: values, change, interval, test and status."""

    metric: str
    route: str | None
    baseline: float | None
    candidate: float | None
    n_baseline: int
    n_candidate: int
    change: float | None  # percentage points (rates) or a fraction (relative metrics)
    low: float | None
    high: float | None
    p_value: float | None
    test: str
    allowed: float
    required: bool
    p_adjusted: float | None = None
    status: str = "pending"  # pass | fail | inconclusive | no-data
    note: str = ""
    needed: int | None = None  # invocations per side the configured power needs

    @property
    def label(self) -> str:
        return METRICS[self.metric][0]

    @property
    def kind(self) -> str:
        return METRICS[self.metric][1]

    @property
    def unit(self) -> str:
        return _UNITS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "route": self.route,
            "unit": self.unit,
            "baseline": _clean(self.baseline),
            "candidate": _clean(self.candidate),
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "change": _clean(self.change),
            "change_unit": "points" if self.kind == "rate" else "fraction",
            "ci_low": _clean(self.low),
            "ci_high": _clean(self.high),
            "p_value": _clean(self.p_value),
            "p_adjusted": _clean(self.p_adjusted),
            "test": self.test,
            "allowed": self.allowed,
            "required": self.required,
            "status": self.status,
            "needed_per_side": self.needed,
            "note": self.note,
        }


@dataclass
class Comparison:
    """The whole answer: sides, metrics (overall, then per route), new errors, verdict."""

    baseline: Selector
    candidate: Selector
    function: str | None
    settings: CompareSettings
    n_baseline: int
    n_candidate: int
    metrics: list[MetricResult]
    routes: list[str]
    new_error_types: list[dict[str, Any]]
    verdict: str
    reason: str
    tests: int
    cost_columns: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def overall(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.route is None]

    def for_route(self, route: str) -> list[MetricResult]:
        return [m for m in self.metrics if m.route == route]

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (schema ``fnlens.compare/1``)."""
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "function": self.function,
            "baseline": {**self.baseline.to_dict(), "invocations": self.n_baseline},
            "candidate": {**self.candidate.to_dict(), "invocations": self.n_candidate},
            "correction": self.settings.correction,
            "tests": self.tests,
            "settings": self.settings.to_dict(),
            "cost_columns": self.cost_columns,
            "metrics": [m.to_dict() for m in self.overall],
            "routes": [
                {"route": r, "metrics": [m.to_dict() for m in self.for_route(r)]}
                for r in self.routes
            ],
            "new_error_types": self.new_error_types,
        }


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def compare(
    con: Any,
    baseline: Selector,
    candidate: Selector,
    *,
    function: str | None = None,
    since: Any = None,
    until: Any = None,
    settings: CompareSettings | None = None,
) -> Comparison:
    """Compare two sets of invocations of an open fnlens database; returns the verdict."""
    settings = settings or CompareSettings()
    agg = aggregate(
        con,
        baseline,
        candidate,
        function=function,
        since=since,
        until=until,
    )
    if agg.overlap:
        raise CompareError(
            f"{agg.overlap:,} invocations match both the baseline ({baseline.describe()}) and "
            f"the candidate ({candidate.describe()}); give versions or windows that do not overlap"
        )
    metrics = _overall_metrics(agg, settings)
    routes = []
    for key in sorted(agg.routes, key=lambda k: (k[1], k[0] or "")):
        sides = agg.routes[key]
        b, c = sides.get("baseline"), sides.get("candidate")
        if b is None or c is None:
            continue
        if min(b.n, c.n) < settings.route_min_samples:
            continue
        name = f"{key[0]} {key[1]}" if key[0] else key[1]
        hist = agg.route_durations.get(key, {})
        routes.append(name)
        metrics.extend(_route_metrics(name, b, c, hist, settings))
    tested = [m for m in metrics if m.p_value is not None]
    adjusted = st.adjust_pvalues([m.p_value for m in tested], settings.correction)
    for m, p in zip(tested, adjusted, strict=True):
        m.p_adjusted = p
    for m in metrics:
        _judge(m, settings, len([t for t in tested if t.route is None]) or 1)
    n_b, n_c = agg.overall["baseline"].n, agg.overall["candidate"].n
    verdict, reason = _verdict(
        metrics, agg.new_error_types, n_b, n_c, baseline, candidate, settings
    )
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        function=function,
        settings=settings,
        n_baseline=n_b,
        n_candidate=n_c,
        metrics=metrics,
        routes=routes,
        new_error_types=agg.new_error_types,
        verdict=verdict,
        reason=reason,
        tests=len(tested),
        cost_columns=agg.cost_columns,
    )


# ------------------------------------------------------------------- metrics


def _rule(settings: CompareSettings, metric: str) -> tuple[float, bool]:
    rule = settings.rule(metric)
    return rule.allowed, rule.required


def _rate(
    metric: str, x_b: int, n_b: int, x_c: int, n_c: int, s: CompareSettings, route: str | None
) -> MetricResult:
    allowed, required = _rule(s, metric)
    base = 100.0 * x_b / n_b if n_b else None
    cand = 100.0 * x_c / n_c if n_c else None
    if not n_b or not n_c:
        return MetricResult(
            metric, route, base, cand, n_b, n_c, None, None, None, None, "none", allowed, required
        )
    est = st.two_proportions(x_b, n_b, x_c, n_c, s.alpha)
    return MetricResult(
        metric,
        route,
        base,
        cand,
        n_b,
        n_c,
        100 * est.change,
        100 * est.low,
        100 * est.high,
        est.p_value,
        est.test,
        allowed,
        required,
    )


def _shift(
    metric: str,
    hb: Histogram,
    hc: Histogram,
    median_b: float | None,
    median_c: float | None,
    s: CompareSettings,
    route: str | None,
) -> MetricResult:
    """Mann-Whitney U for the p-value, Hodges-Lehmann shift relative to the baseline median."""
    allowed, required = _rule(s, metric)
    n_b, n_c = hb.n, hc.n
    if not n_b or not n_c or median_b is None or median_b <= 0:
        return MetricResult(
            metric, route, median_b, median_c, n_b, n_c, None, None, None, None, "none", allowed,
            required,
        )  # fmt: skip
    _, p, _ = st.mann_whitney(hb.keys, hb.counts, hc.keys, hc.counts)
    shift, low, high = st.hodges_lehmann(hc.values, hc.counts, hb.values, hb.counts, s.alpha)
    return MetricResult(
        metric,
        route,
        median_b,
        median_c,
        n_b,
        n_c,
        shift / median_b,
        low / median_b,
        high / median_b,
        p,
        "mann-whitney-u + hodges-lehmann",
        allowed,
        required,
    )


def _quantile(
    metric: str,
    q: float,
    b: SideStats,
    c: SideStats,
    hb: Histogram,
    hc: Histogram,
    s: CompareSettings,
    route: str | None,
) -> MetricResult:
    allowed, required = _rule(s, metric)
    vb, vc = getattr(b, metric), getattr(c, metric)
    if not hb.n or not hc.n or vb is None or vc is None or vb <= 0:
        return MetricResult(
            metric, route, vb, vc, hb.n, hc.n, None, None, None, None, "none", allowed, required
        )
    est = st.quantile_bootstrap(
        hb.values,
        hb.counts,
        hc.values,
        hc.counts,
        q,
        alpha=s.alpha,
        draws=s.bootstrap_draws,
        seed=s.seed,
    )
    return MetricResult(
        metric,
        route,
        vb,
        vc,
        hb.n,
        hc.n,
        vc / vb - 1,
        est.low,
        est.high,
        est.p_value,
        "bootstrap",
        allowed,
        required,
    )


def _overall_metrics(agg: Aggregates, s: CompareSettings) -> list[MetricResult]:
    b, c = agg.overall["baseline"], agg.overall["candidate"]
    hb, hc = agg.durations["baseline"], agg.durations["candidate"]
    out = [
        _rate("error_rate", b.errors, b.n, c.errors, c.n, s, None),
        _rate("timeout_rate", b.timeouts, b.n, c.timeouts, c.n, s, None),
        _shift("latency", hb, hc, b.median_duration, c.median_duration, s, None),
        _quantile("p50", 0.5, b, c, hb, hc, s, None),
        _quantile("p95", 0.95, b, c, hb, hc, s, None),
        _quantile("p99", 0.99, b, c, hb, hc, s, None),
        _rate("cold_start_rate", b.cold_starts, b.n, c.cold_starts, c.n, s, None),
        _shift(
            "init_duration",
            agg.init["baseline"],
            agg.init["candidate"],
            b.median_init,
            c.median_init,
            s,
            None,
        ),
        _shift(
            "max_memory",
            agg.memory["baseline"],
            agg.memory["candidate"],
            b.median_memory,
            c.median_memory,
            s,
            None,
        ),
        _cost(b, c, s),
    ]
    return [m for m in out if s.rule(m.metric).enabled]


def _cost(b: SideStats, c: SideStats, s: CompareSettings) -> MetricResult:
    """Mean cost per invocation (compute + request price), shown per million."""
    allowed, required = _rule(s, "cost_per_million")
    price, request = s.price_per_gb_second, s.price_per_request

    def mean(x: SideStats) -> float | None:
        return None if x.mean_gb_s is None else x.mean_gb_s * price + request

    mb, mc = mean(b), mean(c)
    base = None if mb is None else 1e6 * mb
    cand = None if mc is None else 1e6 * mc
    if mb is None or mc is None:
        return MetricResult(
            "cost_per_million", None, base, cand, b.n_cost, c.n_cost, None, None, None, None,
            "none", allowed, required,
        )  # fmt: skip
    est = st.ratio_of_means(
        b.n_cost,
        mb,
        price**2 * (b.var_gb_s or 0.0),
        c.n_cost,
        mc,
        price**2 * (c.var_gb_s or 0.0),
        s.alpha,
    )
    return MetricResult(
        "cost_per_million",
        None,
        base,
        cand,
        b.n_cost,
        c.n_cost,
        est.change,
        est.low,
        est.high,
        est.p_value,
        est.test,
        allowed,
        required,
    )


def _route_metrics(
    route: str, b: SideStats, c: SideStats, hist: dict[str, Histogram], s: CompareSettings
) -> list[MetricResult]:
    hb, hc = hist.get("baseline", Histogram.empty()), hist.get("candidate", Histogram.empty())
    out = []
    for metric in ROUTE_METRICS:
        if not s.rule(metric).enabled:
            continue
        if metric == "error_rate":
            m = _rate(metric, b.errors, b.n, c.errors, c.n, s, route)
        elif metric == "latency":
            m = _shift(metric, hb, hc, b.median_duration, c.median_duration, s, route)
        else:
            m = _quantile(metric, 0.95, b, c, hb, hc, s, route)
        m.required = False  # a route never makes the whole verdict inconclusive
        out.append(m)
    return out


# ------------------------------------------------------------------ judging


def _fmt_change(m: MetricResult, value: float) -> str:
    if m.kind == "rate":
        return f"{value:+.2f} points"
    return f"{100 * value:+.1f} %"


def _judge(m: MetricResult, s: CompareSettings, overall_tests: int) -> None:
    rule = s.rule(m.metric)
    if m.p_value is None or m.change is None:
        m.status = "no-data"
        m.note = "no data on one side" if (m.n_baseline or m.n_candidate) else "no data"
        return
    assert m.p_adjusted is not None
    allowed_text = _fmt_change(m, m.allowed)
    if m.p_adjusted < s.alpha and m.change > m.allowed:
        m.status = "fail"
        m.note = (
            f"{_fmt_change(m, m.change)} (allowed {allowed_text}), "
            f"p={m.p_adjusted:.2g} after {s.correction}"
        )
        return
    n = min(m.n_baseline, m.n_candidate)
    min_samples = rule.min_samples if m.route is None else s.route_min_samples
    if m.kind == "rate" and m.allowed > 0:
        base_rate = (m.baseline or 0.0) / 100
        alpha = s.alpha / overall_tests if s.correction != "none" else s.alpha
        m.needed = max(
            min_samples, st.required_n_proportions(base_rate, m.allowed / 100, alpha, s.power)
        )
        if n < m.needed:
            m.status = "inconclusive"
            m.note = (
                f"not enough data: {n:,} invocations, need {m.needed:,} for a "
                f"{m.allowed:g}-point {m.label} change at {100 * s.power:.0f} % power"
            )
            return
    elif n < min_samples:
        m.status = "inconclusive"
        m.needed = min_samples
        m.note = f"not enough data: {n:,} samples, need {min_samples:,}"
        return
    if m.kind == "relative" and m.high is not None and m.high > m.allowed:
        m.status = "inconclusive"
        m.note = (
            f"cannot rule out {_fmt_change(m, m.high)} (allowed {allowed_text}); "
            "more invocations narrow the interval"
        )
        return
    m.status = "pass"
    m.note = f"within {allowed_text}"


def _verdict(
    metrics: list[MetricResult],
    new_errors: list[dict[str, Any]],
    n_b: int,
    n_c: int,
    baseline: Selector,
    candidate: Selector,
    s: CompareSettings,
) -> tuple[str, str]:
    if n_b == 0 or n_c == 0:
        side, sel = ("baseline", baseline) if n_b == 0 else ("candidate", candidate)
        return "inconclusive", f"not enough data: no invocations for the {side} ({sel.describe()})"
    failed = [m for m in metrics if m.status == "fail"]
    reasons = [
        f"{m.label}{f' on {m.route}' if m.route else ''} {_fmt_change(m, m.change or 0.0)} "
        f"(allowed {_fmt_change(m, m.allowed)})"
        for m in failed[:4]
    ]
    if len(failed) > 4:
        reasons.append(f"{len(failed) - 4} more checks failed")
    if new_errors and s.fail_on_new_error_types:
        reasons.append("new error types: " + ", ".join(e["error_type"] for e in new_errors))
    if reasons:
        return "fail", "; ".join(reasons)
    unsure = [m for m in metrics if m.required and m.status == "inconclusive"]
    if unsure:
        return "inconclusive", "; ".join(f"{m.label}: {m.note}" for m in unsure)
    return "pass", f"no metric worse than allowed ({len(metrics)} checks, {s.correction})"
