"""Assemble the self-contained HTML report.

One file, no network: plotly.js is inlined once (``include_plotlyjs=True`` on
the first chart), the CSS is inline, fonts are the system's. Every value taken
from the data is HTML-escaped.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Any

from fnlens._version import __version__
from fnlens.report import _canary as canary
from fnlens.report import _charts as charts
from fnlens.report import _fmt as fmt
from fnlens.report._compare import VersionRow, compare_versions
from fnlens.report._data import ReportData

Row = dict[str, Any]
_PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d"]}
_REGRESSION = 0.05  # relative changes above this are flagged


def render_html(data: ReportData, *, title: str = "fnlens report") -> str:
    """The whole report page as a string."""
    plots = _Plots()
    versions = compare_versions(data.per_version, data.cost)
    total_cost = sum(r["total_cost_usd"] or 0.0 for r in data.cost) if data.cost else None
    if data.empty:
        body = '<section class="card"><p class="muted">No invocations in this window.</p></section>'
    else:
        body = "\n".join(
            [
                _headline(data, total_cost),
                _section(
                    "Versions, worst regression first",
                    "Each version compared with the previous version of the same function.",
                    _versions_table(versions) + plots.add(charts.versions_chart(versions)),
                    anchor="versions",
                ),
                _section(
                    "Canary verdicts",
                    "Each function's newest version against the previous one, as "
                    "`fnlens compare` judges it with the default thresholds.",
                    canary.html_section(data.canaries),
                    anchor="canary",
                ),
                _section(
                    "Latency percentiles over time",
                    f"Handler duration per {fmt.span(data.bucket)}, nearest-rank percentiles.",
                    plots.add(charts.latency_over_time(data.timeline)),
                    anchor="latency",
                ),
                _section(
                    "Error rate over time",
                    "Errors and timeouts as a share of invocations.",
                    plots.add(charts.error_rate_over_time(data.timeline)),
                    anchor="errors-over-time",
                ),
                _section(
                    "Cold starts",
                    "Cold starts per bucket and the mean init duration of those cold starts.",
                    plots.add(charts.cold_starts_over_time(data.cold_starts)),
                    anchor="cold-starts",
                ),
                _section(
                    "Slowest routes",
                    "HTTP routes by p95 handler duration.",
                    (plots.add(charts.routes_chart(data.slow_routes)) if data.slow_routes else "")
                    + _routes_table(data.slow_routes),
                    anchor="routes",
                ),
                _section(
                    "Top errors",
                    "Most frequent errors with a sample message and the latest request id.",
                    _errors_table(data.top_errors),
                    anchor="top-errors",
                ),
                _section(
                    "Timeouts",
                    "Buckets with at least one timed-out invocation.",
                    _timeouts_table(data.timeouts),
                    anchor="timeouts",
                ),
            ]
        )
    window = _window_text(data)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return _PAGE.format(
        title=escape(title),
        css=_CSS,
        window=escape(window),
        generated=escape(generated),
        version=escape(__version__),
        body=body,
    )


class _Plots:
    """Renders figures as divs; the first one carries plotly.js inline."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, fig: Any) -> str:
        html = fig.to_html(
            full_html=False,
            include_plotlyjs=self.count == 0,
            config=_PLOT_CONFIG,
            default_width="100%",
        )
        self.count += 1
        return f'<div class="chart">{html}</div>'


def _window_text(data: ReportData) -> str:
    h = data.headline
    parts = [f"{fmt.when(h.get('first_seen'))} → {fmt.when(h.get('last_seen'))} UTC"]
    if data.functions:
        parts.append(", ".join(data.functions))
    return " · ".join(parts)


def _headline(data: ReportData, total_cost: float | None) -> str:
    h = data.headline
    cards = [
        (
            "Invocations",
            fmt.num(h["invocations"]),
            f"{len(data.functions)} functions · {fmt.num(h['versions'])} versions",
        ),
        (
            "Error rate",
            fmt.pct(h["error_rate_pct"]),
            f"{fmt.num(h['errors'])} errors · {fmt.num(h['timeouts'])} timeouts",
        ),
        (
            "p95 duration",
            fmt.ms(h["p95_ms"]),
            f"p50 {fmt.ms(h['p50_ms'])} · p99 {fmt.ms(h['p99_ms'])}",
        ),
        (
            "Cold starts",
            fmt.pct(h["cold_start_pct"]),
            f"{fmt.num(h['cold_starts'])} · mean init {fmt.ms(h['avg_init_ms'])}",
        ),
        ("Estimated cost", fmt.usd(total_cost), "compute + requests, on-demand prices"),
    ]
    items = "".join(
        f'<div class="kpi"><div class="kpi-label">{escape(label)}</div>'
        f'<div class="kpi-value">{escape(value)}</div>'
        f'<div class="kpi-sub">{escape(sub)}</div></div>'
        for label, value, sub in cards
    )
    return f'<section class="kpis" id="headline">{items}</section>'


def _section(title: str, subtitle: str, content: str, *, anchor: str) -> str:
    return (
        f'<section class="card" id="{anchor}"><h2>{escape(title)}</h2>'
        f'<p class="muted">{escape(subtitle)}</p>{content}</section>'
    )


def _table(headers: list[tuple[str, str]], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f'<th class="{cls}">{escape(h)}</th>' for h, cls in headers)
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _td(value: str, cls: str = "") -> str:
    return f'<td class="{cls}">{value}</td>'


def _metric_cell(v: VersionRow, metric: str, text: str) -> str:
    change = v.changes.get(metric)
    badge = ""
    if change is not None and abs(change) >= _REGRESSION:
        kind = "bad" if change > 0 else "good"
        badge = f' <span class="delta {kind}">{escape(fmt.change(change))}</span>'
    return _td(escape(text) + badge, "num")


def _versions_table(versions: list[VersionRow]) -> str:
    headers = [
        ("function", ""),
        ("version", ""),
        ("status", ""),
        ("invocations", "num"),
        ("error rate", "num"),
        ("p50", "num"),
        ("p95", "num"),
        ("p99", "num"),
        ("cold starts", "num"),
        ("mean init", "num"),
        ("cost / 1M", "num"),
        ("cost", "num"),
    ]
    rows = []
    for v in versions:
        x = v.values
        if v.is_baseline:
            status = '<span class="pill neutral">baseline</span>'
        elif v.severity >= _REGRESSION:
            status = (
                f'<span class="pill bad">worse: {escape(v.worst or "")} '
                f"{escape(fmt.change(v.severity))}</span>"
            )
        else:
            status = '<span class="pill good">no regression</span>'
        base = (
            f' <span class="muted small">vs v{escape(str(v.baseline["version"]))}</span>'
            if (v.baseline)
            else ""
        )
        rows.append(
            "<tr>"
            + _td(escape(v.function_name))
            + _td(f"<strong>{escape(str(v.version))}</strong>{base}")
            + _td(status)
            + _td(fmt.num(x["invocations"]), "num")
            + _metric_cell(v, "error_rate_pct", fmt.pct(x["error_rate_pct"]))
            + _td(escape(fmt.ms(x["p50_ms"])), "num")
            + _metric_cell(v, "p95_ms", fmt.ms(x["p95_ms"]))
            + _metric_cell(v, "p99_ms", fmt.ms(x["p99_ms"]))
            + _metric_cell(v, "cold_start_pct", fmt.pct(x["cold_start_pct"]))
            + _metric_cell(v, "avg_init_ms", fmt.ms(x["avg_init_ms"]))
            + _metric_cell(v, "cost_per_million_usd", fmt.usd(x["cost_per_million_usd"]))
            + _td(escape(fmt.usd(x["total_cost_usd"])), "num")
            + "</tr>"
        )
    return _table(headers, rows, "No versions.")


def _routes_table(routes: list[Row]) -> str:
    headers = [
        ("function", ""),
        ("method", ""),
        ("route", ""),
        ("invocations", "num"),
        ("p50", "num"),
        ("p95", "num"),
        ("p99", "num"),
        ("max", "num"),
        ("error rate", "num"),
    ]
    rows = [
        "<tr>"
        + _td(escape(r["function_name"] or ""))
        + _td(f'<span class="method">{escape(r["http_method"] or "")}</span>')
        + _td(f"<code>{escape(r['http_route'] or '')}</code>")
        + _td(fmt.num(r["invocations"]), "num")
        + _td(escape(fmt.ms(r["p50_ms"])), "num")
        + _td(f"<strong>{escape(fmt.ms(r['p95_ms']))}</strong>", "num")
        + _td(escape(fmt.ms(r["p99_ms"])), "num")
        + _td(escape(fmt.ms(r["max_ms"])), "num")
        + _td(escape(fmt.pct(r["error_rate_pct"])), "num")
        + "</tr>"
        for r in routes
    ]
    return _table(headers, rows, "No HTTP invocations in this window.")


def _errors_table(errors: list[Row]) -> str:
    headers = [
        ("function", ""),
        ("error", ""),
        ("sample message", ""),
        ("count", "num"),
        ("share", "num"),
        ("versions", ""),
        ("last seen", ""),
        ("example request", ""),
    ]
    rows = [
        "<tr>"
        + _td(escape(r["function_name"] or ""))
        + _td(f'<span class="err">{escape(r["error_type"] or "")}</span>')
        + _td(f'<code class="msg">{escape(r["error_message"] or "")}</code>')
        + _td(fmt.num(r["occurrences"]), "num")
        + _td(escape(fmt.pct(r["pct_of_errors"])), "num")
        + _td(escape(r["versions"] or ""))
        + _td(escape(fmt.when(r["last_seen"])), "nowrap")
        + _td(f'<code class="id">{escape(r["example_request_id"] or "")}</code>')
        + "</tr>"
        for r in errors
    ]
    return _table(headers, rows, "No errors in this window.")


def _timeouts_table(timeouts: list[Row]) -> str:
    headers = [
        ("bucket", ""),
        ("function", ""),
        ("timeouts", "num"),
        ("share", "num"),
        ("longest", "num"),
        ("versions", ""),
    ]
    rows = [
        "<tr>"
        + _td(escape(fmt.when(r["bucket"])), "nowrap")
        + _td(escape(r["function_name"] or ""))
        + _td(fmt.num(r["timeouts"]), "num")
        + _td(escape(fmt.pct(r["timeout_pct"])), "num")
        + _td(escape(fmt.ms(r["max_timeout_duration_ms"])), "num")
        + _td(escape(r["versions"] or ""))
        + "</tr>"
        for r in timeouts[-50:]
    ]
    return _table(headers, rows, "No timeouts in this window.")


_CSS = """
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff;
  --accent:#2563eb; --bad:#b91c1c; --bad-bg:#fef2f2; --good:#047857; --good-bg:#ecfdf5; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 14px/1.5 Inter, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#0f172a; color:#f8fafc; padding:22px 32px; }
header h1 { margin:0; font-size:20px; font-weight:650; letter-spacing:-.01em; }
header h1 span { color:#93c5fd; font-weight:500; }
header .meta { color:#cbd5e1; font-size:13px; margin-top:4px; }
main { max-width:1280px; margin:0 auto; padding:24px 32px 48px; }
nav { display:flex; flex-wrap:wrap; gap:6px 16px; margin:0 0 20px; font-size:13px; }
nav a { color:var(--muted); text-decoration:none; } nav a:hover { color:var(--accent); }
.kpis { display:grid; grid-template-columns:repeat(auto-fit,minmax(200px,1fr)); gap:14px;
  margin-bottom:20px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:14px 16px; }
.kpi-label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.kpi-value { font-size:26px; font-weight:650; margin:2px 0; font-variant-numeric:tabular-nums; }
.kpi-sub { color:var(--muted); font-size:12.5px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:18px 20px; margin-bottom:20px; }
.card h2 { margin:0; font-size:16px; font-weight:650; }
.muted { color:var(--muted); margin:2px 0 12px; font-size:13px; }
.small { font-size:12px; }
.chart { width:100%; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.03em; border-bottom:2px solid var(--line); padding:8px 10px; white-space:nowrap; }
td { border-bottom:1px solid var(--line); padding:8px 10px; vertical-align:top; }
tbody tr:hover { background:#f8fafc; }
.num { text-align:right; white-space:nowrap; }
.nowrap { white-space:nowrap; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
code.msg { white-space:pre-wrap; word-break:break-word; color:#334155; }
code.id { color:var(--muted); font-size:11px; }
.err { color:var(--bad); font-weight:600; }
.method { font-weight:600; color:#475569; font-size:12px; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px;
  white-space:nowrap; }
.pill.bad { background:var(--bad-bg); color:var(--bad); }
.pill.good { background:var(--good-bg); color:var(--good); }
.pill.neutral { background:#f1f5f9; color:var(--muted); }
.delta { font-size:11px; font-weight:600; }
.delta.bad { color:var(--bad); } .delta.good { color:var(--good); }
.empty { color:var(--muted); font-style:italic; }
.canary { margin-top:14px; } .canary h3 { margin:0 0 2px; font-size:14px; font-weight:650; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:8px 0 24px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="fnlens {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>fnlens <span>report</span></h1><div class="meta">{window}</div></header>
<main>
<nav><a href="#headline">Headline</a><a href="#versions">Versions</a><a href="#canary">Canary</a>
<a href="#latency">Latency</a><a href="#errors-over-time">Error rate</a>
<a href="#cold-starts">Cold starts</a><a href="#routes">Slowest routes</a>
<a href="#top-errors">Top errors</a><a href="#timeouts">Timeouts</a></nav>
{body}
</main>
<footer>Generated by fnlens {version} on {generated} · works offline, no external requests</footer>
</body>
</html>
"""
