"""Check a CloudWatch dashboard body against AWS's documented body structure.

CloudWatch cannot run here, and moto stores whatever it is given, so this is
the check that a body would be accepted and render sensibly: the overall
structure, widgets on the 24-column grid without overlaps, a region on every
metric and log widget, metric arrays in the documented shape (namespace,
metric name, dimension name/value pairs, optional rendering object; or one
expression object), unique expression ids that reference existing ids, and
Logs Insights queries that start with their SOURCE log groups.
Reference: "Dashboard Body Structure and Syntax" in the CloudWatch API reference.
"""

from __future__ import annotations

import re
from typing import Any

GRID_COLUMNS = 24
MAX_WIDGETS = 500
TOP_LEVEL = {"widgets", "start", "end", "periodOverride", "variables"}
WIDGET_KEYS = {"type", "x", "y", "width", "height", "properties"}
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer", "custom"}
METRIC_PROPS = {
    "accountId", "annotations", "liveData", "legend", "metrics", "period", "region", "stacked",
    "sparkline", "stat", "timezone", "title", "view", "yAxis", "setPeriodToTimeRange", "start",
    "end", "trend", "labels", "table", "singleValueFullPrecision", "insightRule",
}  # fmt: skip
METRIC_VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
LOG_PROPS = {"accountId", "query", "region", "stacked", "title", "view"}
LOG_VIEWS = {"table", "timeSeries", "bar", "pie"}
RENDER_KEYS = {"accountId", "color", "expression", "id", "label", "period", "region", "stat",
               "visible", "yAxis"}  # fmt: skip
STATS = re.compile(
    r"^(SampleCount|Average|Sum|Minimum|Maximum|IQM|"
    r"(p|tm|wm|tc|ts|pr)\d{1,2}(\.\d+)?|(TM|WM|TC|TS|PR)\(.+\))$"
)
_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_SOURCE = re.compile(r"^(SOURCE '[^']+' \| )+")


def check_body(body: Any) -> list[str]:
    """Every problem found in ``body`` (a parsed dashboard body); empty when valid."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    extra = set(body) - TOP_LEVEL
    if extra:
        problems.append(f"unknown top-level keys {sorted(extra)}")
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [*problems, "the body needs a 'widgets' array"]
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"{len(widgets)} widgets; at most {MAX_WIDGETS}")
    if body.get("periodOverride") not in (None, "auto", "inherit"):
        problems.append("periodOverride must be 'auto' or 'inherit'")
    cells: dict[tuple[int, int], int] = {}
    for i, widget in enumerate(widgets):
        where = f"widget {i}"
        if not isinstance(widget, dict):
            problems.append(f"{where}: not an object")
            continue
        title = (
            widget.get("properties", {}).get("title")
            if isinstance(widget.get("properties"), dict)
            else None
        )
        if title:
            where += f" ({title!r})"
        problems += [f"{where}: {p}" for p in _check_widget(widget)]
        problems += [f"{where}: {p}" for p in _claim_cells(widget, i, cells)]
    return problems


def _check_widget(widget: dict[str, Any]) -> list[str]:
    problems = []
    extra = set(widget) - WIDGET_KEYS
    if extra:
        problems.append(f"unknown keys {sorted(extra)}")
    kind = widget.get("type")
    if kind not in WIDGET_TYPES:
        problems.append(f"type {kind!r} is not one of {sorted(WIDGET_TYPES)}")
    for key, low, high in (("x", 0, GRID_COLUMNS - 1), ("y", 0, None), ("width", 1, GRID_COLUMNS),
                           ("height", 1, 1000)):  # fmt: skip
        value = widget.get(key)
        if value is None:
            if key in ("x", "y"):
                problems.append(f"{key} missing (widgets must be placed explicitly)")
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{key} must be an integer")
        elif value < low or (high is not None and value > high):
            problems.append(f"{key}={value} outside {low}..{high if high is not None else '∞'}")
    x, width = widget.get("x", 0), widget.get("width", 6)
    if isinstance(x, int) and isinstance(width, int) and x + width > GRID_COLUMNS:
        problems.append(f"x + width = {x + width} > {GRID_COLUMNS} (off the grid)")
    props = widget.get("properties")
    if not isinstance(props, dict):
        return [*problems, "properties must be an object"]
    if kind == "metric":
        problems += _check_metric_props(props)
    elif kind == "log":
        problems += _check_log_props(props)
    elif kind == "text" and not isinstance(props.get("markdown"), str):
        problems.append("a text widget needs properties.markdown")
    return problems


def _check_metric_props(props: dict[str, Any]) -> list[str]:
    problems = []
    extra = set(props) - METRIC_PROPS
    if extra:
        problems.append(f"unknown metric widget properties {sorted(extra)}")
    if not isinstance(props.get("region"), str) or not props["region"]:
        problems.append("a metric widget needs properties.region")
    if props.get("view", "timeSeries") not in METRIC_VIEWS:
        problems.append(f"view {props.get('view')!r} is not one of {sorted(METRIC_VIEWS)}")
    if "stat" in props and not STATS.match(str(props["stat"])):
        problems.append(f"stat {props['stat']!r} is not a CloudWatch statistic")
    period = props.get("period")
    if period is not None and (
        not isinstance(period, int) or period <= 0 or (period >= 60 and period % 60)
        or (period < 60 and period not in (1, 5, 10, 30))
    ):  # fmt: skip
        problems.append(f"period {period!r} must be 1, 5, 10, 30 or a multiple of 60")
    metrics = props.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return [*problems, "a metric widget needs a non-empty properties.metrics array"]
    ids: set[str] = set()
    expressions: list[tuple[str, str]] = []
    previous: list[Any] | None = None
    for j, metric in enumerate(metrics):
        problems += [f"metric {j}: {p}" for p in _check_metric(metric, previous)]
        if isinstance(metric, list) and metric:
            opts = metric[-1] if isinstance(metric[-1], dict) else {}
            if "id" in opts:
                if opts["id"] in ids:
                    problems.append(f"metric {j}: id {opts['id']!r} used twice")
                ids.add(opts["id"])
            if "expression" in opts:
                expressions.append((opts.get("id", ""), opts["expression"]))
            previous = metric
    for eid, expression in expressions:
        if "SEARCH(" in expression:
            continue
        for ref in re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", expression):
            if ref not in ids and not ref.isupper():
                problems.append(f"expression {eid!r} references unknown id {ref!r}")
    return problems


def _check_metric(metric: Any, previous: list[Any] | None) -> list[str]:
    if not isinstance(metric, list) or not metric:
        return ["each metric must be a non-empty array"]
    opts = metric[-1] if isinstance(metric[-1], dict) else None
    parts = metric[:-1] if opts is not None else metric
    problems = []
    if opts is not None:
        extra = set(opts) - RENDER_KEYS
        if extra:
            problems.append(f"unknown rendering properties {sorted(extra)}")
        if "id" in opts and not _ID.match(str(opts["id"])):
            problems.append(f"id {opts['id']!r} must start with a lowercase letter")
        if "stat" in opts and not STATS.match(str(opts["stat"])):
            problems.append(f"stat {opts['stat']!r} is not a CloudWatch statistic")
        if "expression" in opts:
            if parts:
                problems.append("an expression must be the only item of its array")
            if "id" not in opts:
                problems.append("an expression needs an id")
            if not isinstance(opts["expression"], str) or not opts["expression"].strip():
                problems.append("expression must be a non-empty string")
            return problems
    if not all(isinstance(p, str) for p in parts):
        return [*problems, "namespace, metric name and dimensions must be strings"]
    if len(parts) < 2 or len(parts) % 2:
        problems.append(
            "expected [namespace, metric name, (dimension name, value)*, {options}]; "
            f"got {len(parts)} strings"
        )
    for k, part in enumerate(parts):
        if part == "." and (previous is None or k >= len(previous)):
            problems.append("'.' repeats the previous metric's value, but there is none")
        elif not part:
            problems.append("empty namespace, metric name or dimension")
    return problems


def _check_log_props(props: dict[str, Any]) -> list[str]:
    problems = []
    extra = set(props) - LOG_PROPS
    if extra:
        problems.append(f"unknown log widget properties {sorted(extra)}")
    if not isinstance(props.get("region"), str) or not props["region"]:
        problems.append("a log widget needs properties.region")
    if props.get("view", "table") not in LOG_VIEWS:
        problems.append(f"view {props.get('view')!r} is not one of {sorted(LOG_VIEWS)}")
    query = props.get("query")
    if not isinstance(query, str) or not _SOURCE.match(query):
        problems.append("query must start with SOURCE 'log-group' | ...")
    elif "${" in query:
        problems.append("query still holds a template placeholder")
    return problems


def _claim_cells(
    widget: dict[str, Any], index: int, cells: dict[tuple[int, int], int]
) -> list[str]:
    x, y = widget.get("x"), widget.get("y")
    width, height = widget.get("width", 6), widget.get("height", 6)
    if not all(isinstance(v, int) for v in (x, y, width, height)):
        return []
    for cx in range(x, min(x + width, GRID_COLUMNS)):
        for cy in range(y, y + height):
            other = cells.setdefault((cx, cy), index)
            if other != index:
                return [f"overlaps widget {other} at column {cx}, row {cy}"]
    return []
