"""A validator for the CloudWatch Embedded Metric Format specification.

JSON Schema for the shape, plus the cross-references a schema cannot express:
every dimension and metric name must be a top-level member, dimension values
strings, metric values numbers (or arrays of at most 100 numbers).
"""

from __future__ import annotations

from typing import Any

import jsonschema

NAME = {"type": "string", "minLength": 1, "maxLength": 1024}
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]  # fmt: skip

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": NAME,
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def validate(doc: dict[str, Any]) -> None:
    """Raise ``AssertionError``/``ValidationError`` unless ``doc`` is valid EMF."""
    jsonschema.validate(doc, SCHEMA)
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert name in doc, f"dimension {name!r} is not a top-level member"
                value = doc[name]
                assert isinstance(value, str) and 0 < len(value) <= 1024, (
                    f"dimension {name!r} must be a non-empty string, got {value!r}"
                )
        names = [m["Name"] for m in directive["Metrics"]]
        assert len(names) == len(set(names)), "duplicate metric names"
        for name in names:
            assert name in doc, f"metric {name!r} is not a top-level member"
            value = doc[name]
            if isinstance(value, list):
                assert 0 < len(value) <= 100, f"metric {name!r}: 1..100 values"
                assert all(_is_number(v) for v in value), f"metric {name!r}: numbers only"
            else:
                assert _is_number(value), f"metric {name!r} must be a number, got {value!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
