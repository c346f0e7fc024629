"""The Grafana OTLP dashboard reads only metrics and labels that the shipped gateway
collector (collectors/gateway.yaml, spanmetrics connector → Prometheus) produces,
from attributes fnlens actually puts on its invocation spans and resource."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "grafana" / "fnlens-otlp.json"
GATEWAY = ROOT / "collectors" / "gateway.yaml"

# labels the spanmetrics connector always writes, plus Prometheus' histogram bucket label
DEFAULT_LABELS = {"service_name", "span_name", "span_kind", "status_code", "le"}
_UNITS = {"ms": "milliseconds", "s": "seconds"}
_METRIC = re.compile(r"\b([a-z_]+_(?:total|bucket|count|sum))\b")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_LABEL_VALUES = re.compile(r"label_values\(\s*[a-z_]+\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)")


def _produced() -> tuple[set[str], set[str], set[str]]:
    config = yaml.safe_load(GATEWAY.read_text())
    connector = config["connectors"]["spanmetrics"]
    pipelines = config["service"]["pipelines"]
    scraped = [p for p in pipelines.values() if "spanmetrics" in p.get("receivers", [])]
    assert scraped and all("prometheus" in p["exporters"] for p in scraped)
    prefix = connector.get("namespace", "traces.span.metrics").replace(".", "_")
    unit = _UNITS[connector.get("histogram", {}).get("unit", "ms")]
    metrics = {
        f"{prefix}_calls_total",
        f"{prefix}_duration_{unit}_bucket",
        f"{prefix}_duration_{unit}_count",
        f"{prefix}_duration_{unit}_sum",
    }
    dimensions = {d["name"] for d in connector.get("dimensions", [])}
    labels = DEFAULT_LABELS | {name.replace(".", "_") for name in dimensions}
    return metrics, labels, dimensions


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    texts = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            texts.append(target.get("expr", ""))
            texts.append(target.get("legendFormat", "") or "")
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        texts.append(query.get("query", "") if isinstance(query, dict) else str(query or ""))
    return texts


def test_metric_names_are_produced_by_the_gateway():
    produced, _, _ = _produced()
    used = {m for text in _queries() for m in _METRIC.findall(text)}
    assert used, "the dashboard queries no metric"
    assert used <= produced, sorted(used - produced)


def test_labels_are_produced_by_the_gateway():
    _, labels, _ = _produced()
    used: set[str] = set()
    for text in _queries():
        used.update(_MATCHER.findall(text))
        used.update(_LEGEND.findall(text))
        used.update(_LABEL_VALUES.findall(text))
        for group in _BY.findall(text):
            used.update(x.strip() for x in group.split(",") if x.strip())
    assert {"faas_name", "faas_version"} <= used
    assert used <= labels, sorted(used - labels)


def test_dimensions_are_attributes_fnlens_sets():
    """Every spanmetrics dimension is a span attribute of the invocation span or a
    resource attribute of the exporter (checked against the source that sets them)."""
    _, _, dimensions = _produced()
    sources = "".join(
        (ROOT / "src" / "fnlens" / path).read_text()
        for path in ("runtime/_decorator.py", "runtime/_tracing.py", "exporters/_resource.py")
    )
    for name in dimensions:
        assert f'"{name}"' in sources, name
