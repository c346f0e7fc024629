"""Render the CloudWatch dashboard body for a service's functions.

The template (``dashboards/cloudwatch/service.json``) lists the widgets and
their sizes; this module fills in functions, log groups, region and namespace,
and lays the widgets out on CloudWatch's 24-column grid left to right, the way
the console flows widgets, so a template can never produce overlapping or
off-grid widgets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fnlens.dashboards._loader import load
from fnlens.dashboards._template import expand
from fnlens.exceptions import RenderError

GRID_COLUMNS = 24
DEFAULT_NAMESPACE = "fnlens"  # the EMF exporter's default (fnlens.exporters._emf)
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_FUNCTION = re.compile(r"^[A-Za-z0-9_:.\-$]{1,170}$")


def render_cloudwatch(
    functions: Sequence[str],
    region: str,
    *,
    log_groups: Sequence[str] = (),
    namespace: str = DEFAULT_NAMESPACE,
    period: int = 300,
    title: str | None = None,
    versions: Sequence[str] = (),
    service: str | None = None,
) -> dict[str, Any]:
    """The dashboard body (a dict; ``json.dumps`` it for PutDashboard).

    Log groups default to ``/aws/lambda/<function>``. With ``versions`` (and the
    ``service`` the EMF metrics carry as a dimension), the error-rate widget is
    exact metric math per version; without, it charts errors per version found
    by a SEARCH expression.
    """
    functions = _unique(functions)
    if not functions:
        raise RenderError("give at least one --function")
    for name in functions:
        if not _FUNCTION.match(name):
            raise RenderError(f"{name!r} is not a Lambda function name")
    if not _REGION.match(region):
        raise RenderError(f"{region!r} is not an AWS region name (e.g. eu-west-1)")
    if (
        period <= 0
        or (period < 60 and period not in (1, 5, 10, 30))
        or (period >= 60 and period % 60)
    ):
        raise RenderError("period must be 1, 5, 10, 30 or a multiple of 60 seconds")
    versions = _unique(versions)
    if versions and not service:
        raise RenderError("--version needs --service: the EMF metrics carry it as a dimension")
    groups = _unique(log_groups) or [f"/aws/lambda/{f}" for f in functions]
    for group in groups:
        if "'" in group or not group.strip():
            raise RenderError(f"{group!r} is not a log group name")

    variables = {
        "region": region,
        "namespace": namespace,
        "period": period,
        "title": title or f"fnlens: {', '.join(functions)}",
        "function_list": ", ".join(f"`{f}`" for f in functions),
        "sources": "".join(f"SOURCE '{g}' | " for g in groups),
        "service": service or "",
        "versions": bool(versions),
    }
    sequences = {
        "function": [{"function": f, "index": i} for i, f in enumerate(functions)],
        "function_version": [
            {"function": f, "version": v, "index": i}
            for i, (f, v) in enumerate((f, v) for f in functions for v in versions)
        ],
    }
    body = expand(load("cloudwatch"), variables, sequences)
    body["widgets"] = layout(body["widgets"])
    return body


def layout(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each widget x/y: fill rows left to right; a row is as tall as its tallest."""
    x = y = row_height = 0
    out = []
    for widget in widgets:
        width = min(int(widget.get("width", 6)), GRID_COLUMNS)
        height = int(widget.get("height", 6))
        if x + width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed = {"type": widget["type"], "x": x, "y": y, "width": width, "height": height}
        placed.update({k: v for k, v in widget.items() if k not in placed})
        out.append(placed)
        x += width
        row_height = max(row_height, height)
    return out


def _unique(items: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        for part in str(item).split(","):
            if part.strip():
                seen.setdefault(part.strip(), None)
    return list(seen)
