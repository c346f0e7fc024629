"""An EMF document checked against tests/migration/emf.schema.json, plus what a schema
cannot say: every dimension and metric a root member, dimension values strings of 1 to
1,024 characters, metric values numbers or arrays of 1 to 100 numbers, no metric named
twice in a directive, at most 100 metrics in the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads((Path(__file__).parent / "emf.schema.json").read_text())
UNITS: list[str] = SCHEMA["$defs"]["MetricDefinition"]["properties"]["Unit"]["enum"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, SCHEMA)
    total = 0
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = doc.get(name)
                assert isinstance(value, str) and 0 < len(value) <= 1024, (name, value)
        names = [m["Name"] for m in directive["Metrics"]]
        assert len(names) == len(set(names)), f"a metric named twice: {names}"
        total += len(names)
        for name in names:
            value = doc.get(name)
            if isinstance(value, list):
                assert 0 < len(value) <= 100 and all(_number(v) for v in value), (name, value)
            else:
                assert _number(value), (name, value)
    assert total <= 100, f"{total} metrics in one document"
