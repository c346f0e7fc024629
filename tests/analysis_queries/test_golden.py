"""Golden tests: every canned query equals an independent Python computation.

Each query runs over the deterministic data set with several parameter sets
(defaults, a time window plus a function, a version, other bucket sizes and
limits); parameters are given as strings, as on the command line.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fnlens.analysis.catalog import load_catalog

from . import reference
from .compare import assert_rows, fetch_dicts
from .datagen import START

WINDOW = {
    "since": (START + timedelta(minutes=20)).isoformat(),
    "until": (START + timedelta(minutes=100)).isoformat() + "Z",
    "function": "orders-api",
}
BUCKETED = ("cold_starts", "timeline", "timeouts", "billed_duration", "concurrency")

CASES: list[tuple[str, dict[str, str]]] = []
for _name in sorted(reference.REFERENCES):
    CASES += [(_name, {}), (_name, WINDOW), (_name, {"version": "2"}), (_name, {"version": "8"})]
    if _name in BUCKETED:
        CASES += [(_name, {"bucket": "1 minute"}), (_name, {"bucket": "30m", **WINDOW})]
        CASES += [(_name, {"bucket": "1 hour", "function": "worker"})]
CASES += [
    ("top_errors", {"limit": "2"}),
    ("slow_routes", {"min_invocations": "400"}),
    ("slow_routes", {"limit": "2", "version": "3"}),
    ("most_expensive", {"limit": "5"}),
    ("most_expensive", {"limit": "1000", "price_per_gb_second": "0.0000133334"}),
    ("memory", {"headroom_pct": "50"}),
    ("memory", {"headroom_pct": "0", "function": "worker"}),
    ("cost", {"price_per_gb_second": "0.0000133334", "price_per_request": "0.0000004"}),
    ("cold_starts", {"since": "2024-03-01T00:30:00+01:00"}),  # offset converted to UTC
]


def test_every_query_has_a_reference() -> None:
    assert set(load_catalog()) == set(reference.REFERENCES)


@pytest.mark.parametrize(("name", "params"), CASES, ids=str)
def test_query_matches_reference(
    con: Any, rows: list[dict[str, Any]], name: str, params: dict[str, str]
) -> None:
    query = load_catalog()[name]
    bound = query.bind(params)
    actual = fetch_dicts(con.execute(query.sql, bound))
    expected = reference.REFERENCES[name](rows, bound)
    tolerance = {"compute_cost_usd": 5.0001e-10} if name == "most_expensive" else None
    if name == "concurrency":  # busy_ms rounded to 3 places, avg_concurrency to 4
        tolerance = {"busy_ms": 5.0001e-4, "avg_concurrency": 5.0001e-5}
    assert_rows(actual, expected, tolerance)


@pytest.mark.parametrize("name", sorted(reference.REFERENCES))
def test_default_answer_is_not_empty(rows: list[dict[str, Any]], name: str) -> None:
    """Guards the golden tests against comparing two empty lists."""
    query = load_catalog()[name]
    assert len(reference.REFERENCES[name](rows, query.bind({}))) >= 2


def test_data_set_covers_the_edge_cases(rows: list[dict[str, Any]]) -> None:
    assert any(r["cold_start"] is None and r["init_duration_ms"] is not None for r in rows)
    assert any(r["cold_start"] and r["init_duration_ms"] is None for r in rows)  # SnapStart-like
    assert any(r["outcome"] is None for r in rows)
    assert any(r["outcome"] == "timeout" and r["error_type"] is None for r in rows)
    assert any(r["billed_duration_ms"] is None for r in rows)
    assert any(r["memory_size_mb"] is None for r in rows)
    assert any(r["duration_ms"] is None for r in rows)
    assert any(r["ts"] == START + timedelta(minutes=20) for r in rows)  # since, inclusive
    assert any(r["ts"] == START + timedelta(minutes=100) for r in rows)  # until, exclusive
    assert any(r["max_memory_used_mb"] == r["memory_size_mb"] for r in rows)
    assert any(r["init_type"] == "managed-instances" for r in rows)  # cost's pricing_note
    assert len({(r["function_name"], r["version"]) for r in rows}) >= 5
    assert len({r["memory_size_mb"] for r in rows}) >= 4
