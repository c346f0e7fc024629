"""Plotly figures for the HTML report, one function per chart.

Figures use one quiet look (white background, light grid, a colour per
function, dash style per percentile) so the page reads as one document.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from fnlens.report._compare import VersionRow

Row = dict[str, Any]

PALETTE = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626")
_DASH = {"p50_ms": "dot", "p95_ms": "solid", "p99_ms": "dash"}
FONT = "Inter, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _layout(fig: go.Figure, *, y_title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 10, "b": 40},
        font={"family": FONT, "size": 12, "color": "#334155"},
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hovermode="x unified",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_layout(yaxis_title_text=y_title)  # the primary axis only, not a second one
    fig.update_yaxes(gridcolor="#e2e8f0", zerolinecolor="#cbd5e1")
    fig.update_xaxes(gridcolor="#f1f5f9")
    return fig


def latency_over_time(timeline: dict[str, list[Row]]) -> go.Figure:
    """p50/p95/p99 handler duration per bucket, a colour per function."""
    fig = go.Figure()
    for i, (function, rows) in enumerate(timeline.items()):
        colour = PALETTE[i % len(PALETTE)]
        for metric, dash in _DASH.items():
            label = metric.removesuffix("_ms")
            fig.add_trace(
                go.Scatter(
                    x=[r["bucket"] for r in rows],
                    y=[r[metric] for r in rows],
                    name=f"{function} {label}" if len(timeline) > 1 else label,
                    legendgroup=function,
                    # a line needs two points: a short run still shows its markers
                    mode="lines" if len(rows) > 2 else "lines+markers",
                    line={"color": colour, "dash": dash, "width": 2 if label == "p95" else 1.4},
                )
            )
    _layout(fig, y_title="duration (ms, log scale)")
    # one timeout must not flatten every other line: log scale, with round-number ticks
    ticks = [m * 10**e for e in range(-1, 6) for m in (1, 2, 5)]
    fig.update_layout(
        yaxis={"type": "log", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}
    )
    return fig


def error_rate_over_time(timeline: dict[str, list[Row]]) -> go.Figure:
    """Error rate per bucket per function, with the error count in the hover."""
    fig = go.Figure()
    for i, (function, rows) in enumerate(timeline.items()):
        fig.add_trace(
            go.Scatter(
                x=[r["bucket"] for r in rows],
                y=[r["error_rate_pct"] for r in rows],
                customdata=[[r["errors"], r["invocations"]] for r in rows],
                hovertemplate="%{y:.2f}% (%{customdata[0]} of %{customdata[1]})",
                name=function,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": PALETTE[i % len(PALETTE)], "width": 2, "shape": "hv"},
            )
        )
    return _layout(fig, y_title="errors (% of invocations)")


def cold_starts_over_time(cold_starts: dict[str, list[Row]]) -> go.Figure:
    """Cold starts as bars per function, mean init duration as a line on a second axis."""
    fig = go.Figure()
    for i, (function, rows) in enumerate(cold_starts.items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Bar(
                x=[r["bucket"] for r in rows],
                y=[r["cold_starts"] for r in rows],
                name=f"{function} cold starts",
                legendgroup=function,
                marker={"color": colour, "opacity": 0.55},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[r["bucket"] for r in rows],
                y=[r["avg_init_ms"] for r in rows],
                name=f"{function} mean init",
                legendgroup=function,
                yaxis="y2",
                mode="markers",
                marker={"color": colour, "size": 7, "symbol": "diamond"},
            )
        )
    fig.update_layout(
        barmode="stack",
        yaxis2={
            "title": "init duration (ms)",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    _layout(fig, y_title="cold starts")
    fig.update_layout(margin={"r": 60})
    return fig


def versions_chart(versions: list[VersionRow]) -> go.Figure:
    """p95 and error rate per version, in deployment order within each function."""
    ordered = sorted(versions, key=lambda v: (v.function_name, v.values.get("first_seen") or 0))
    labels = [f"{v.function_name} v{v.version}" for v in ordered]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[v.values.get("p95_ms") for v in ordered],
            name="p95 (ms)",
            marker={"color": PALETTE[0]},
            offsetgroup=0,
        )
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[v.values.get("error_rate_pct") for v in ordered],
            name="error rate (%)",
            marker={"color": PALETTE[1]},
            yaxis="y2",
            offsetgroup=1,
        )
    )
    fig.update_layout(
        barmode="group",
        yaxis2={"title": "error rate (%)", "overlaying": "y", "side": "right", "showgrid": False},
    )
    _layout(fig, y_title="p95 duration (ms)", height=320)
    fig.update_layout(hovermode="x", margin={"r": 60})
    return fig


def routes_chart(routes: list[Row]) -> go.Figure:
    """Slowest routes as horizontal bars (p95), slowest on top."""
    rows = list(reversed(routes))
    labels = [f"{r['http_method'] or ''} {r['http_route']}".strip() for r in rows]
    fig = go.Figure()
    for metric, colour in (("p50_ms", "#93c5fd"), ("p95_ms", PALETTE[0]), ("p99_ms", "#1e3a8a")):
        fig.add_trace(
            go.Bar(
                y=labels,
                x=[r[metric] for r in rows],
                name=metric.removesuffix("_ms"),
                orientation="h",
                marker={"color": colour},
            )
        )
    fig.update_layout(barmode="group")
    _layout(fig, y_title="", height=max(220, 70 + 46 * len(rows)))
    fig.update_layout(hovermode="y unified")
    fig.update_xaxes(title_text="duration (ms)")
    fig.update_yaxes(automargin=True)
    return fig
