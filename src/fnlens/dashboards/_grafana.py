"""The Grafana dashboards: built here, shipped as JSON in ``dashboards/grafana/``.

``fnlens-duckdb.json`` runs the canned queries through the DuckDB data source
(``motherduck-duckdb-datasource``) over a fnlens database file;
``fnlens-otlp.json`` charts the span metrics an OpenTelemetry collector derives
from fnlens spans (Prometheus data source). Both declare their data source as
an ``__inputs`` entry, so Grafana asks for one at import time.

The shipped files are this module's output (``python -m fnlens.dashboards._grafana``
rewrites them; a test fails when they drift from the canned queries).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fnlens.dashboards._grafana_sql import canned_sql, per_version, wrap
from fnlens.dashboards._loader import load
from fnlens.exceptions import RenderError

SCHEMA_VERSION = 41
DUCKDB_PLUGIN = "motherduck-duckdb-datasource"
DUCKDB_INPUT = "DS_FNLENS_DUCKDB"
PROM_INPUT = "DS_PROMETHEUS"
FILES = {"duckdb": "fnlens-duckdb.json", "otlp": "fnlens-otlp.json"}

# OpenTelemetry Collector spanmetrics connector, exported to Prometheus (see dashboards/README.md)
CALLS = "traces_span_metrics_calls_total"
DURATION = "traces_span_metrics_duration_milliseconds_bucket"
SERVER = 'span_kind="SPAN_KIND_SERVER", faas_name=~"$function"'
Grid = tuple[int, int, int, int]
Panel = dict[str, Any]


# --- shared pieces -------------------------------------------------------------------------


def _inputs(name: str, label: str, plugin: str, plugin_name: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": label,
            "description": "",
            "type": "datasource",
            "pluginId": plugin,
            "pluginName": plugin_name,
        }
    ]


def _requires(plugin: str, plugin_name: str, version: str) -> list[dict[str, Any]]:
    panels = [("timeseries", "Time series"), ("table", "Table"), ("stat", "Stat")]
    return [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
        {"type": "datasource", "id": plugin, "name": plugin_name, "version": version},
        *({"type": "panel", "id": pid, "name": name, "version": ""} for pid, name in panels),
    ]


def _dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], variables: list[Any]
) -> dict[str, Any]:
    for i, panel in enumerate(panels, start=1):
        panel["id"] = i
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [],
        "panels": panels,
        "refresh": "",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["fnlens", "serverless", "lambda"],
        "templating": {"list": variables},
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def _timeseries(
    title: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]], *,
    unit: str, description: str, bars: bool = False, datasource: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    x, y, w, h = grid
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 2,
        "fillOpacity": 60 if bars else 8,
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0,
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {
            "legend": {
                "showLegend": True,
                "displayMode": "list",
                "placement": "bottom",
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def _table(
    title: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]], *,
    description: str, datasource: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    x, y, w, h = grid
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": True}
            },
            "overrides": [],
        },
        "options": {"showHeader": True, "frameIndex": 0, "cellHeight": "sm"},
        "targets": targets,
    }


def _stat(
    title: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]], *, unit: str,
    description: str, datasource: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    x, y, w, h = grid
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 2}, "overrides": []},
        "options": {
            "colorMode": "none",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "percentChangeColorMode": "standard",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "value",
            "wideLayout": True,
        },
        "targets": targets,
    }


# --- (a) over a fnlens DuckDB file ------------------------------------------------------------


def _sql_target(sql: str, fmt: str, ref: str = "A") -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": {"type": DUCKDB_PLUGIN, "uid": f"${{{DUCKDB_INPUT}}}"},
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql,
    }


def _duckdb_variable(name: str, label: str, sql: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": DUCKDB_PLUGIN, "uid": f"${{{DUCKDB_INPUT}}}"},
        "query": sql,
        "refresh": 2,
        "includeAll": True,
        "allValue": "NULL",
        "multi": False,
        "current": {"text": "All", "value": "$__all"},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
    }


def build_duckdb_dashboard() -> dict[str, Any]:
    """The Grafana dashboard whose panels run fnlens's canned queries."""
    ds = {"type": DUCKDB_PLUGIN, "uid": f"${{{DUCKDB_INPUT}}}"}

    def stat(title: str, grid: Grid, query: str, select: str, unit: str, doc: str) -> Panel:
        target = _sql_target(wrap(query, select), "table")
        return _stat(title, grid, [target], unit=unit, description=doc, datasource=ds)

    def series(title: str, grid: Grid, sql: str, unit: str, doc: str, bars: bool = False) -> Panel:
        target = _sql_target(sql, "time_series")
        return _timeseries(
            title, grid, [target], unit=unit, description=doc, bars=bars, datasource=ds
        )

    def table(title: str, grid: Grid, query: str, doc: str) -> Panel:
        target = _sql_target(f"-- fnlens canned query: {query}\n" + canned_sql(query), "table")
        return _table(title, grid, [target], description=doc, datasource=ds)

    rate = "round(100.0 * sum(errors) / nullif(sum(invocations), 0), 3) AS error_rate_pct"
    cold = "round(100.0 * sum(cold_starts) / nullif(sum(invocations), 0), 3) AS cold_start_pct"
    panels = [
        stat("Invocations", (0, 0, 6, 4), "error_rate", "sum(invocations) AS invocations",
             "short", "Canned query error_rate, summed over functions."),
        stat("Error rate", (6, 0, 6, 4), "error_rate", rate, "percent",
             "Errors and timeouts as a share of invocations (canned query error_rate)."),
        stat("Cold starts", (12, 0, 6, 4), "cold_starts", cold, "percent",
             "Share of invocations that were cold starts (canned query cold_starts)."),
        stat("Estimated cost", (18, 0, 6, 4), "cost", "sum(total_cost_usd) AS total_cost_usd",
             "currencyUSD", "Compute + request charges at on-demand prices (canned query cost)."),
        series("Error rate per version", (0, 4, 12, 8),
               per_version("timeline", "q.bucket AS time, v.version AS version, q.error_rate_pct"),
               "percent", "Canned query timeline, run once per version."),
        series("p95 duration per version", (12, 4, 12, 8),
               per_version("timeline", "q.bucket AS time, v.version AS version, q.p95_ms"),
               "ms", "Canned query timeline (nearest-rank p95 of duration_ms), once per version."),
        series("Cold starts", (0, 12, 12, 8),
               wrap("cold_starts", "bucket AS time, cold_starts, avg_init_ms"), "short",
               "Canned query cold_starts: cold starts per interval and mean init duration (ms).",
               bars=True),
        series("Latency percentiles", (12, 12, 12, 8),
               wrap("timeline", "bucket AS time, p50_ms, p95_ms, p99_ms"), "ms",
               "Canned query timeline: handler duration percentiles."),
        table("Per-version comparison", (0, 20, 24, 8), "per_version",
              "Canned query per_version: error rate, p50/p95/p99, cold starts, init, GB-seconds."),
        table("Top errors", (0, 28, 24, 9), "top_errors",
              "Canned query top_errors: most frequent errors, a sample message and request id."),
        table("Slowest routes", (0, 37, 12, 8), "slow_routes",
              "Canned query slow_routes: HTTP routes by p95."),
        table("Timeouts", (12, 37, 12, 8), "timeouts",
              "Canned query timeouts: intervals with timed-out invocations."),
    ]  # fmt: skip
    variables = [
        _duckdb_variable(
            "function", "Function",
            "SELECT DISTINCT function_name FROM invocations "
            "WHERE function_name IS NOT NULL ORDER BY 1",
        ),
        _duckdb_variable(
            "version", "Version",
            "SELECT DISTINCT version FROM invocations WHERE version IS NOT NULL AND "
            "(${function:sqlstring} IS NULL OR function_name = ${function:sqlstring}) ORDER BY 1",
        ),
    ]  # fmt: skip
    body = _dashboard(
        "fnlens-duckdb",
        "fnlens: invocations (DuckDB)",
        "fnlens canned queries over a fnlens DuckDB file (fnlens ingest), via the "
        "motherduck-duckdb-datasource plugin.",
        panels,
        variables,
    )
    return {
        "__inputs": _inputs(DUCKDB_INPUT, "fnlens DuckDB", DUCKDB_PLUGIN, "DuckDB"),
        "__requires": _requires(DUCKDB_PLUGIN, "DuckDB", "0.2.0"),
        **body,
    }


# --- (b) OTLP path: spanmetrics in Prometheus ---------------------------------------------


def _prom_target(expr: str, legend: str, ref: str = "A", *, table: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {
        "refId": ref,
        "datasource": {"type": "prometheus", "uid": f"${{{PROM_INPUT}}}"},
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
    }
    if table:
        target.update(instant=True, range=False, format="table")
    else:
        target.update(range=True)
    return target


def _rate(selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({CALLS}{{{selector}}}[$__rate_interval]))"


def _quantile(q: float, by: str, selector: str = SERVER) -> str:
    return (
        f"histogram_quantile({q}, sum by (le, {by}) "
        f"(rate({DURATION}{{{selector}}}[$__rate_interval])))"
    )


def build_otlp_dashboard() -> dict[str, Any]:
    """The Grafana dashboard over the collector's span metrics (Prometheus)."""
    ds = {"type": "prometheus", "uid": f"${{{PROM_INPUT}}}"}
    fv = "faas_name, faas_version"
    by_version = "{{faas_name}} v{{faas_version}}"
    err = f'{SERVER}, status_code="STATUS_CODE_ERROR"'
    cold = f'{SERVER}, faas_coldstart="true"'
    timeout = f'{SERVER}, fnlens_outcome="timeout"'
    routed = f'{SERVER}, http_route!=""'

    def series(
        title: str, grid: Grid, targets: list[Any], unit: str, doc: str, bars: bool = False
    ) -> Panel:
        return _timeseries(
            title, grid, targets, unit=unit, description=doc, bars=bars, datasource=ds
        )

    def increase(selector: str) -> str:
        return f"sum by ({fv}) (increase({CALLS}{{{selector}}}[$__rate_interval]))"

    percentiles = [
        _prom_target(_quantile(q, "faas_name"), f"{{{{faas_name}}}} p{int(q * 100)}", ref)
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]
    panels = [
        series("Invocations per second", (0, 0, 12, 8),
               [_prom_target(_rate(SERVER, "faas_name"), "{{faas_name}}")], "reqps",
               "Server spans per second (spanmetrics calls)."),
        series("Error rate per version", (12, 0, 12, 8),
               [_prom_target(f"100 * {_rate(err, fv)} / {_rate(SERVER, fv)}", by_version)],
               "percent", "Server spans with status ERROR (errors and timeouts), in percent."),
        series("p95 duration per version", (0, 8, 12, 8),
               [_prom_target(_quantile(0.95, fv), by_version)], "ms",
               "histogram_quantile over the spanmetrics duration histogram (interpolated)."),
        series("Latency percentiles", (12, 8, 12, 8), percentiles, "ms",
               "Handler span duration percentiles per function."),
        series("Cold starts per version", (0, 16, 12, 8),
               [_prom_target(increase(cold), by_version)], "short",
               "Server spans with faas.coldstart = true.", bars=True),
        series("Timeouts per version", (12, 16, 12, 8),
               [_prom_target(increase(timeout), by_version)], "short",
               "Server spans with fnlens.outcome = timeout.", bars=True),
        _table("Slowest routes (p95, ms)", (0, 24, 24, 8),
               [_prom_target(f"topk(20, {_quantile(0.95, 'faas_name, http_route', routed)})", "",
                             table=True)],
               description="Routes by p95 over the selected range.", datasource=ds),
    ]  # fmt: skip
    variables = [
        {
            "name": "function",
            "label": "Function",
            "type": "query",
            "datasource": ds,
            "query": {"query": f"label_values({CALLS}, faas_name)", "refId": "function"},
            "refresh": 2,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {"text": "All", "value": "$__all"},
            "options": [],
            "regex": "",
            "sort": 1,
            "hide": 0,
        }
    ]
    body = _dashboard(
        "fnlens-otlp",
        "fnlens: functions (OTLP span metrics)",
        "fnlens spans turned into metrics by an OpenTelemetry collector's spanmetrics "
        "connector and stored in Prometheus.",
        panels,
        variables,
    )
    return {
        "__inputs": _inputs(PROM_INPUT, "Prometheus", "prometheus", "Prometheus"),
        "__requires": _requires("prometheus", "Prometheus", "1.0.0"),
        **body,
    }


BUILDERS = {"duckdb": build_duckdb_dashboard, "otlp": build_otlp_dashboard}


# --- render -----------------------------------------------------------------------------------


def render_grafana(
    kind: str = "duckdb",
    *,
    functions: Sequence[str] = (),
    datasource: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The shipped dashboard ``kind``, optionally bound to a data source and a function.

    Without ``datasource`` the result keeps its ``__inputs`` (import it in the UI);
    with one, every ``${DS_...}`` reference becomes that uid and ``__inputs`` is
    dropped, ready for the HTTP API or provisioning.
    """
    if kind not in FILES:
        raise RenderError(f"unknown Grafana dashboard {kind!r}; expected one of {sorted(FILES)}")
    body = copy.deepcopy(load(f"grafana-{kind}"))
    if title:
        body["title"] = title
    names = [p.strip() for f in functions for p in f.split(",") if p.strip()]
    if names:
        var = next(v for v in body["templating"]["list"] if v["name"] == "function")
        if kind == "duckdb" and len(names) > 1:
            raise RenderError("the DuckDB dashboard filters by one function at a time")
        value: Any = names[0] if kind == "duckdb" else names
        var["current"] = {"text": ", ".join(names), "value": value}
    if datasource:
        placeholder = "${" + body["__inputs"][0]["name"] + "}"
        text = json.dumps(body).replace(placeholder, datasource.replace('"', ""))
        body = json.loads(text)
        body.pop("__inputs", None)
    return body


def write_files(folder: Path) -> list[Path]:
    """Write both dashboards into ``folder`` (the repository's ``dashboards/grafana``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name in FILES.items():
        path = folder / name
        path.write_text(json.dumps(BUILDERS[kind](), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    repo = Path(__file__).resolve().parents[3]
    for written in write_files(repo / "dashboards" / "grafana"):
        print(f"wrote {written}")  # noqa: T201 (the generator script reports its files)
