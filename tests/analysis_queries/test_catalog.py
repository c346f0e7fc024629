"""The catalog: header parsing, parameter binding and coercion, errors users see."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fnlens.analysis.catalog import (
    BadParamValueError,
    Param,
    QueryCatalogError,
    UnknownParamError,
    UnknownQueryError,
    get_query,
    load_catalog,
    parse_param_assignments,
    parse_query,
)
from fnlens.analysis.db import memory_db

REQUIRED = {
    "error_rate",
    "latency",
    "per_version",
    "cold_starts",
    "timeline",
    "top_errors",
    "slow_routes",
    "timeouts",
    "memory",
    "cost",
    "warm_latency",
    "most_expensive",
}

GOOD = """\
-- name: demo
-- description: First line
--   continues here.
-- param: since TIMESTAMP = NULL   -- start (inclusive)
-- param: bucket INTERVAL = '5 minutes' -- bucket size
-- param: limit INTEGER = 10
-- param: label VARCHAR = 'it''s'  -- quoted default
SELECT $since, $bucket, $limit, $label -- a trailing comment mentioning $nothing
"""


def test_required_queries_ship() -> None:
    assert set(load_catalog()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_every_query_is_documented_and_windowed(name: str) -> None:
    query = load_catalog()[name]
    assert len(query.description) > 40
    names = [p.name for p in query.params]
    assert names[:4] == ["since", "until", "function", "version"]
    assert all(p.doc for p in query.params), "every parameter needs a doc string"
    assert "read_" not in query.sql and "'/" not in query.sql, "queries read tables, not files"


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_every_query_runs_on_an_empty_database(name: str) -> None:
    con = memory_db()
    assert load_catalog()[name].run(con).fetchall() == []


def test_parse_header() -> None:
    q = parse_query(GOOD, "demo.sql")
    assert q.name == "demo"
    assert q.description == "First line continues here."
    assert [p.describe() for p in q.params] == [
        "since TIMESTAMP = NULL",
        "bucket INTERVAL = '5 minutes'",
        "limit INTEGER = 10",
        'label VARCHAR = "it\'s"',
    ]
    assert q.params[0].doc == "start (inclusive)"
    assert q.params[2].doc == ""
    assert q.bind({}) == {
        "since": None,
        "bucket": timedelta(minutes=5),
        "limit": 10,
        "label": "it's",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "no '-- name:'"),
        ("-- name: Bad-Name\nSELECT 1", "lower_snake_case"),
        ("-- name: x\nSELECT $a", "do not match"),
        ("-- name: x\n-- param: a INTEGER = 1\nSELECT 1", "do not match"),
        ("-- name: x\n-- param: a BLOB\nSELECT $a", "not one of"),
        ("-- name: x\n-- param: a INTEGER = abc\nSELECT $a", "bad default"),
        ("-- name: x\n-- param: ???\nSELECT 1", "cannot read"),
        ("-- name: x\n-- param: a INTEGER\n-- param: a INTEGER\nSELECT $a", "declared twice"),
    ],
)
def test_malformed_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(QueryCatalogError, match=message):
        parse_query(text, "x.sql")


def test_unknown_query_lists_the_available_ones() -> None:
    with pytest.raises(UnknownQueryError, match="per_version"):
        get_query("per_versoin")


def test_unknown_param_lists_the_known_ones() -> None:
    with pytest.raises(UnknownParamError, match="since, until, function, version"):
        get_query("per_version").bind({"sinc": "2024-01-01"})


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("TIMESTAMP", "2024-05-01", datetime(2024, 5, 1)),
        ("TIMESTAMP", "2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30)),
        ("TIMESTAMP", "2024-05-01T12:30:00.250+02:00", datetime(2024, 5, 1, 10, 30, 0, 250000)),
        ("TIMESTAMP", "2024-05-01 12:30", datetime(2024, 5, 1, 12, 30)),
        ("INTERVAL", "5 minutes", timedelta(minutes=5)),
        ("INTERVAL", "5m", timedelta(minutes=5)),
        ("INTERVAL", "1h", timedelta(hours=1)),
        ("INTERVAL", "1.5 hours", timedelta(minutes=90)),
        ("INTERVAL", "30 SECONDS", timedelta(seconds=30)),
        ("INTERVAL", "1 day", timedelta(days=1)),
        ("INTEGER", " 42 ", 42),
        ("INTEGER", "1_000", 1000),
        ("DOUBLE", "0.0000166667", 0.0000166667),
        ("DOUBLE", "1e-6", 1e-6),
        ("BOOLEAN", "yes", True),
        ("BOOLEAN", "False", False),
        ("VARCHAR", "$LATEST", "$LATEST"),
    ],
)
def test_coercion(type_: str, raw: str, expected: object) -> None:
    assert Param("p", type_).coerce(raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("TIMESTAMP", "yesterday"),
        ("TIMESTAMP", "2024-13-01"),
        ("INTERVAL", "5 parsecs"),
        ("INTERVAL", "0 minutes"),
        ("INTERVAL", "minutes"),
        ("INTEGER", "4.5"),
        ("INTEGER", "ten"),
        ("DOUBLE", "nan"),
        ("DOUBLE", "inf"),
        ("DOUBLE", "cheap"),
        ("BOOLEAN", "maybe"),
    ],
)
def test_bad_values_name_the_parameter_and_type(type_: str, raw: str) -> None:
    with pytest.raises(BadParamValueError, match=rf"parameter 'p' expects {type_}"):
        Param("p", type_).coerce(raw)


def test_param_assignments() -> None:
    assert parse_param_assignments(["a=1", "b=x=y", "a=2", "c="]) == {"a": "2", "b": "x=y", "c": ""}
    with pytest.raises(BadParamValueError, match="NAME=VALUE"):
        parse_param_assignments(["oops"])


def test_values_are_bound_not_pasted() -> None:
    """A hostile string is compared as a value; it cannot change the statement."""
    con = memory_db()
    con.execute(
        "INSERT INTO invocations (ts, function_name, version, duration_ms, outcome) "
        "VALUES ('2024-01-01', 'f', '1', 5, 'success')"
    )
    hostile = "f' OR 1=1; DROP TABLE invocations; --"
    assert get_query("error_rate").run(con, {"function": hostile}).fetchall() == []
    assert get_query("error_rate").run(con, {"function": "f"}).fetchall() == [("f", 1, 0, 0, 0.0)]
