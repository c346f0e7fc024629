"""Read the shipped dashboard files (``dashboards/`` in a checkout, ``fnlens/_data`` in a wheel)."""

from __future__ import annotations

import json
from typing import Any

from fnlens._resources import data_dir
from fnlens.exceptions import RenderError, TemplateError

TEMPLATES = {
    "cloudwatch": ("cloudwatch", "service.json"),
    "grafana-duckdb": ("grafana", "fnlens-duckdb.json"),
    "grafana-otlp": ("grafana", "fnlens-otlp.json"),
}


def load(name: str) -> dict[str, Any]:
    """The parsed template ``name`` (one of :data:`TEMPLATES`)."""
    try:
        parts = TEMPLATES[name]
    except KeyError:
        raise RenderError(
            f"unknown dashboard {name!r}; expected one of {sorted(TEMPLATES)}"
        ) from None
    entry = data_dir("dashboards")
    for part in parts:
        entry = entry.joinpath(part)
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # a broken template file: say where
        raise TemplateError(f"{entry}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def all_files() -> list[tuple[str, str]]:
    """Every JSON file under the dashboards folder as (relative path, text)."""
    out: list[tuple[str, str]] = []

    def walk(node: Any, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.name.endswith(".json"):
                out.append((rel, child.read_text(encoding="utf-8")))

    walk(data_dir("dashboards"), "")
    return out
