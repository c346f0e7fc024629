"""Grafana dashboards: JSON Schema from @grafana/schema, SQL panels against a fnlens database."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from fnlens.cli.main import cli
from fnlens.dashboards import _grafana as grafana
from fnlens.dashboards._loader import load

SCHEMAS = Path(__file__).parent / "grafana_schema"
KINDS = ("duckdb", "otlp")


def _schema(name: str) -> Draft7Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _errors(validator: Draft7Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _validate(dashboard: dict[str, Any]) -> list[str]:
    """Dashboard model + per-panel options/field config; export-only keys checked by hand."""
    body = {k: v for k, v in dashboard.items() if k not in ("__inputs", "__requires")}
    problems = _errors(_schema("dashboard"), body)
    for panel in _panels(dashboard):
        kind = panel["type"]
        if (SCHEMAS / f"panel-{kind}-options.schema.json").exists():
            problems += [
                f"panel {panel.get('title')!r} options: {e}"
                for e in _errors(_schema(f"panel-{kind}-options"), panel.get("options", {}))
            ]
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None and (SCHEMAS / f"panel-{kind}-fieldconfig.schema.json").exists():
            problems += [
                f"panel {panel.get('title')!r} custom: {e}"
                for e in _errors(_schema(f"panel-{kind}-fieldconfig"), custom)
            ]
    return problems


def test_schemas_were_generated_from_grafana_schema() -> None:
    versions = json.loads((SCHEMAS / "VERSIONS.json").read_text(encoding="utf-8"))
    assert versions["@grafana/schema"]
    assert (SCHEMAS / "generate.sh").stat().st_mode & 0o111, "the generator stays runnable"
    dashboard = json.loads((SCHEMAS / "dashboard.schema.json").read_text(encoding="utf-8"))
    assert dashboard["$ref"] == "#/definitions/Dashboard"
    assert "schemaVersion" in dashboard["definitions"]["Dashboard"]["required"]


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_dashboard_validates_against_grafana_schema(kind: str) -> None:
    assert _validate(load(f"grafana-{kind}")) == []


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_file_is_the_builders_output(kind: str) -> None:
    """The JSON on disk is regenerated from the canned queries (python -m ...grafana)."""
    assert load(f"grafana-{kind}") == json.loads(json.dumps(grafana.BUILDERS[kind]()))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # panels are Panel | RowPanel (anyOf), so a broken panel matches neither
        (lambda d: d["panels"][0]["gridPos"].pop("w"), "panels/0: "),
        (lambda d: d["panels"][0].update(colour="red"), "panels/0: "),
        (lambda d: d.pop("schemaVersion"), "'schemaVersion' is a required property"),
        (lambda d: d["templating"]["list"][0].update(type="dropdown"), "is not one of"),
        (lambda d: d["panels"][5]["options"]["legend"].pop("placement"), "placement"),
        (lambda d: d["panels"][0]["options"].update(graphMode="sparkline"), "is not one of"),
    ],
)
def test_schema_rejects_broken_dashboards(mutate: Any, expected: str) -> None:
    dashboard = copy.deepcopy(load("grafana-duckdb"))
    mutate(dashboard)
    problems = _validate(dashboard)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("kind", KINDS)
def test_data_sources_come_from_inputs(kind: str) -> None:
    dashboard = load(f"grafana-{kind}")
    (entry,) = dashboard["__inputs"]
    assert entry["type"] == "datasource"
    ref = {"type": entry["pluginId"], "uid": "${" + entry["name"] + "}"}
    required = {(r["type"], r["id"]) for r in dashboard["__requires"]}
    assert ("datasource", entry["pluginId"]) in required
    assert {("panel", p["type"]) for p in _panels(dashboard)} <= required
    for panel in _panels(dashboard):
        assert panel["datasource"] == ref, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == ref
    names = re.findall(r"\$\{(DS_[A-Z_]+)\}", json.dumps(dashboard))
    assert set(names) == {entry["name"]}
    if kind == "duckdb":
        assert entry["pluginId"] == "motherduck-duckdb-datasource"


def test_panels_do_not_overlap() -> None:
    for kind in KINDS:
        cells: dict[tuple[int, int], str] = {}
        for panel in _panels(load(f"grafana-{kind}")):
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]


# --- SQL panels against a fnlens database --------------------------------------------------


def interpolate(
    sql: str,
    *,
    since: datetime = datetime(2024, 6, 1, 0, 0),
    until: datetime = datetime(2024, 6, 2, 0, 0),
    function: str | None = None,
    version: str | None = None,
    interval_ms: int = 300_000,
) -> str:
    """What Grafana and the DuckDB data source make of a panel's SQL before it runs.

    Dashboard variables use the sqlstring format and their custom all-value ``NULL``
    (not formatted); ``$__timeFrom()``/``$__timeTo()`` are the data source's sqlds
    macros (RFC 3339 UTC literals).
    """

    def quote(value: str | None) -> str:
        return "NULL" if value is None else "'" + value.replace("'", "''") + "'"

    out = sql.replace("$__timeFrom()", quote(since.strftime("%Y-%m-%dT%H:%M:%SZ")))
    out = out.replace("$__timeTo()", quote(until.strftime("%Y-%m-%dT%H:%M:%SZ")))
    out = out.replace("${__interval_ms:raw}", str(interval_ms))
    out = out.replace("${function:sqlstring}", quote(function))
    out = out.replace("${version:sqlstring}", quote(version))
    leftover = re.findall(r"\$\{?[A-Za-z_]+", out)
    assert not leftover, f"uninterpolated Grafana syntax {leftover}"
    return out


def _sql_targets() -> list[tuple[str, dict[str, Any]]]:
    dashboard = load("grafana-duckdb")
    return [(p["title"], t) for p in _panels(dashboard) for t in p["targets"]]


def test_every_panel_runs_a_canned_query() -> None:
    from fnlens.analysis.catalog import load_catalog

    catalog = load_catalog()
    used = set()
    for title, target in _sql_targets():
        match = re.match(r"-- fnlens canned query: ([a-z_]+)", target["rawSql"])
        assert match, f"{title}: SQL does not name its canned query"
        assert match.group(1) in catalog
        used.add(match.group(1))
    assert {"timeline", "cold_starts", "top_errors", "per_version"} <= used


VARIABLE_SETS = [
    {},
    {"function": "orders-api"},
    {"function": "orders-api", "version": "2"},
    {"interval_ms": 60_000, "since": datetime(2024, 6, 1, 12, 30)},
]


@pytest.mark.parametrize("variables", VARIABLE_SETS, ids=lambda v: ",".join(map(str, v.values())))
def test_sql_panels_run_against_a_fnlens_database(fnlens_db: Path, variables: dict) -> None:
    con = duckdb.connect(str(fnlens_db), read_only=True)
    try:
        for title, target in _sql_targets():
            sql = interpolate(target["rawSql"], **variables)
            try:
                result = con.execute(sql)
            except duckdb.Error as exc:  # pragma: no cover - the failure message
                pytest.fail(f"panel {title!r} failed: {exc}\n{sql}")
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
            if target["format"] == "time_series":
                assert columns[0] == "time", title
                assert all(isinstance(r[0], datetime) for r in rows), title
            if title == "Timeouts" or ("version" in variables and title == "Top errors"):
                continue
            assert rows, f"panel {title!r} returned no rows for {variables}"
    finally:
        con.close()


def test_per_version_panels_match_the_canned_query(fnlens_db: Path) -> None:
    """The LATERAL per-version series equal `fnlens query timeline --param version=V`."""
    from fnlens.analysis.catalog import get_query

    target = next(t for title, t in _sql_targets() if title == "p95 duration per version")
    con = duckdb.connect(str(fnlens_db), read_only=True)
    try:
        rows = con.execute(interpolate(target["rawSql"])).fetchall()
        query = get_query("timeline")
        for version in ("1", "2", "7"):
            direct = query.run(con, {"version": version}).fetchall()
            mine = [(r[0], r[2]) for r in rows if r[1] == version]
            assert mine == [(d[0], d[5]) for d in direct]
            assert mine
    finally:
        con.close()


def test_filters_change_the_answer(fnlens_db: Path) -> None:
    target = next(t for title, t in _sql_targets() if title == "Invocations")
    con = duckdb.connect(str(fnlens_db), read_only=True)
    try:
        total = con.execute(interpolate(target["rawSql"])).fetchone()[0]
        orders = con.execute(interpolate(target["rawSql"], function="orders-api")).fetchone()[0]
        windowed = con.execute(
            interpolate(target["rawSql"], since=datetime(2024, 6, 1, 13, 0))
        ).fetchone()[0]
    finally:
        con.close()
    assert total == 1500
    assert 0 < orders < total and 0 < windowed < total


def test_variable_queries_run(fnlens_db: Path) -> None:
    con = duckdb.connect(str(fnlens_db), read_only=True)
    try:
        for variable in load("grafana-duckdb")["templating"]["list"]:
            rows = con.execute(interpolate(variable["query"], function="orders-api")).fetchall()
            assert rows, variable["name"]
            assert variable["allValue"] == "NULL" and variable["includeAll"]
    finally:
        con.close()


# --- OTLP dashboard ---------------------------------------------------------------------------


def test_otlp_queries_use_spanmetrics_names() -> None:
    dashboard = load("grafana-otlp")
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
            metrics = set(re.findall(r"\b(traces_span_metrics_[a-z_]+)\{", expr))
            assert metrics and metrics <= {grafana.CALLS, grafana.DURATION}, expr
            assert 'faas_name=~"$function"' in expr
            assert "$__rate_interval" in expr


# --- render -------------------------------------------------------------------------------------


def test_render_binds_a_data_source_and_function() -> None:
    body = grafana.render_grafana("duckdb", functions=["orders-api"], datasource="abc123")
    assert "__inputs" not in body and "${DS_" not in json.dumps(body)
    assert all(p["datasource"]["uid"] == "abc123" for p in _panels(body))
    (function,) = [v for v in body["templating"]["list"] if v["name"] == "function"]
    assert function["current"]["value"] == "orders-api"
    assert _validate(body) == []
    with pytest.raises(ValueError, match="one function"):
        grafana.render_grafana("duckdb", functions=["a", "b"])


def test_render_grafana_cli() -> None:
    result = CliRunner().invoke(
        cli, ["dashboard", "render", "grafana", "--kind", "otlp", "-f", "a,b"], obj={}
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["__inputs"][0]["name"] == "DS_PROMETHEUS"
    assert body["templating"]["list"][0]["current"]["value"] == ["a", "b"]
    assert _validate(body) == []
