"""CloudWatch dashboard bodies: documented structure, Logs Insights fields, EMF names, apply."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from fnlens.cli.main import cli
from fnlens.dashboards._cloudwatch import RenderError, render_cloudwatch
from fnlens.dashboards._cloudwatch_check import check_body

from .logs_insights import commands, named_fields

# What fnlens writes (the invocation record), plus what Logs Insights and REPORT lines add.
RECORD_FIELDS = {
    "timestamp", "level", "event", "service", "service_version", "cloud_provider", "region",
    "function_name", "function_version", "function_alias", "memory_limit_mb", "request_id",
    "trace_id", "span_id", "xray_trace_id", "cold_start", "init_type", "init_duration_ms",
    "duration_ms", "outcome", "error_type", "error_message", "trigger", "event_source",
    "http_method", "http_route", "http_status_code", "batch_size", "batch_failures",
    "telemetry_flush_ms", "telemetry_dropped",
}  # fmt: skip
LOGS_FIELDS = {"@timestamp", "@message", "@log", "@logStream"}
REPORT_FIELDS = {
    "@duration", "@billedDuration", "@memorySize", "@maxMemoryUsed", "@initDuration", "@type",
    "@requestId",
}  # fmt: skip
ALLOWED = RECORD_FIELDS | LOGS_FIELDS | REPORT_FIELDS

PARAM_SETS: list[dict[str, Any]] = [
    {"functions": ["orders-api"], "region": "eu-west-1"},
    {"functions": ["orders-api", "worker", "billing"], "region": "us-east-1", "period": 60},
    {
        "functions": ["orders-api", "worker"],
        "region": "ap-southeast-2",
        "log_groups": ["/custom/orders", "/custom/worker"],
        "versions": ["41", "42"],
        "service": "shop",
        "namespace": "acme/fnlens",
        "title": "Shop APIs",
    },
]


def _bodies() -> list[dict[str, Any]]:
    return [render_cloudwatch(**params) for params in PARAM_SETS]


def _widgets(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [w for w in body["widgets"] if w["type"] == kind]


def test_record_field_list_matches_the_runtime() -> None:
    from fnlens.runtime._logs import RECORD_FIELDS as RUNTIME_FIELDS

    assert RECORD_FIELDS <= RUNTIME_FIELDS


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: ",".join(p["functions"]))
def test_rendered_body_follows_the_documented_structure(params: dict[str, Any]) -> None:
    body = render_cloudwatch(**params)
    assert check_body(body) == []
    # and survives the JSON string PutDashboard takes
    assert check_body(json.loads(json.dumps(body))) == []
    text = json.dumps(body)
    assert "${" not in text and '"fnlens:' not in text  # placeholders and directives resolved
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        if widget["type"] in ("metric", "log"):
            assert widget["properties"]["region"] == params["region"]


def test_every_function_appears_in_every_lambda_metric_widget() -> None:
    params = PARAM_SETS[1]
    body = render_cloudwatch(**params)
    lambda_widgets = [
        w for w in _widgets(body, "metric") if w["properties"]["metrics"][0][0] == "AWS/Lambda"
    ]
    titles = {w["properties"]["title"] for w in lambda_widgets}
    assert {"Invocations", "Errors", "Throttles", "Concurrent executions (max)"} <= titles
    assert any(t.startswith("Duration p50 / p95 / p99") for t in titles)
    for widget in lambda_widgets:
        names = {m[3] for m in widget["properties"]["metrics"]}
        assert names == set(params["functions"]), widget["properties"]["title"]
    duration = next(w for w in lambda_widgets if w["properties"]["title"].startswith("Duration"))
    stats = {m[-1]["stat"] for m in duration["properties"]["metrics"]}
    assert stats == {"p50", "p95", "p99"}


def test_log_widgets_query_the_given_log_groups() -> None:
    default, custom = _bodies()[0], _bodies()[2]
    for widget in _widgets(default, "log"):
        assert widget["properties"]["query"].startswith("SOURCE '/aws/lambda/orders-api' | ")
    for widget in _widgets(custom, "log"):
        assert widget["properties"]["query"].startswith(
            "SOURCE '/custom/orders' | SOURCE '/custom/worker' | "
        )


def test_logs_insights_queries_name_only_fields_fnlens_writes() -> None:
    seen_titles = set()
    for body in _bodies():
        for widget in _widgets(body, "log"):
            query = widget["properties"]["query"]
            unknown = named_fields(query) - ALLOWED
            assert not unknown, f"{widget['properties']['title']}: unknown fields {unknown}"
            assert set(commands(query)) <= {"fields", "filter", "stats", "sort", "limit"}
            seen_titles.add(widget["properties"]["title"].split(" (")[0])
    assert {"Slowest routes by p95", "Top errors", "Cold starts by version", "Timeouts"} <= (
        seen_titles
    )


def test_field_checker_catches_a_misspelt_field() -> None:
    query = "SOURCE 'g' | filter event = \"invocation\" | stats avg(duraton_ms) as d by function"
    assert named_fields(query) == {"event", "duraton_ms", "function"}
    assert named_fields(query) - ALLOWED == {"duraton_ms", "function"}


def test_emf_widgets_use_the_exporters_metric_names_and_dimensions() -> None:
    from fnlens.exporters import _emf as emf

    metric_names = {name for name, _ in (*emf.METRICS, emf.INIT_METRIC)}
    for body, params in zip(_bodies(), PARAM_SETS, strict=True):
        namespace = params.get("namespace", emf.DEFAULT_NAMESPACE)
        emf_metrics = []
        searches = []
        for widget in _widgets(body, "metric"):
            for metric in widget["properties"]["metrics"]:
                opts = metric[-1] if isinstance(metric[-1], dict) else {}
                if "expression" in opts and "SEARCH(" in opts["expression"]:
                    searches.append(opts["expression"])
                elif metric[0] == namespace:
                    emf_metrics.append(metric)
        assert searches, "per-version widgets use SEARCH over the EMF dimensions"
        schema = "{" + ",".join([namespace, *emf.DIMENSIONS]) + "}"
        for expression in searches:
            assert schema in expression
            names = set(__import__("re").findall(r'"([A-Za-z]+)"', expression)) - set(
                params["functions"]
            )
            assert names and names <= metric_names, expression
        if params.get("versions"):
            # exact error rate: Errors, Timeouts and Invocations per function and version
            assert {m[1] for m in emf_metrics} == {"Errors", "Timeouts", "Invocations"}
            for metric in emf_metrics:
                dims = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
                assert tuple(dims) == emf.DIMENSIONS
                assert dims["service"] == params["service"]
            n = len(params["functions"]) * len(params["versions"])
            rates = [
                m for w in _widgets(body, "metric") for m in w["properties"]["metrics"]
                if "expression" in m[-1] and m[-1]["id"].startswith("rate")
            ]  # fmt: skip
            assert len(rates) == n and len(emf_metrics) == 3 * n
        else:
            assert emf_metrics == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["widgets"][1].update(x=20), "off the grid"),
        (lambda b: b["widgets"][1]["properties"].pop("region"), "needs properties.region"),
        (lambda b: b["widgets"][2].update(x=0, y=2), "overlaps widget"),
        (lambda b: b["widgets"][1]["properties"]["metrics"][0].pop(2), "got 3 strings"),
        (lambda b: b["widgets"][1].update(width=30), "width=30 outside"),
        (lambda b: b["widgets"][1]["properties"].update(stat="p999x"), "not a CloudWatch"),
        (lambda b: b.update(dashboard="x"), "unknown top-level"),
        (lambda b: _first_log(b)["properties"].update(query="fields @message"), "SOURCE"),
        (lambda b: b["widgets"][1].pop("x"), "x missing"),
    ],
)
def test_validator_rejects_broken_bodies(mutate: Any, expected: str) -> None:
    body = copy.deepcopy(_bodies()[1])
    mutate(body)
    problems = check_body(body)
    assert any(expected in p for p in problems), problems


def test_validator_rejects_unknown_expression_ids() -> None:
    body = copy.deepcopy(_bodies()[2])
    rate = next(
        m for w in _widgets(body, "metric") for m in w["properties"]["metrics"]
        if m[-1].get("id", "").startswith("rate")
    )  # fmt: skip
    rate[-1]["expression"] = "100 * nope / inv0"
    assert any("unknown id 'nope'" in p for p in check_body(body))


def _first_log(body: dict[str, Any]) -> dict[str, Any]:
    return _widgets(body, "log")[0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"functions": [], "region": "eu-west-1"}, "at least one"),
        ({"functions": ["a b"], "region": "eu-west-1"}, "not a Lambda function name"),
        ({"functions": ["a"], "region": "europe"}, "not an AWS region"),
        ({"functions": ["a"], "region": "eu-west-1", "period": 90}, "period"),
        ({"functions": ["a"], "region": "eu-west-1", "versions": ["1"]}, "--service"),
        ({"functions": ["a"], "region": "eu-west-1", "log_groups": ["it's"]}, "log group"),
    ],
)
def test_bad_parameters_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render_cloudwatch(**params)


def test_render_cli_prints_a_valid_body() -> None:
    args = ["dashboard", "render", "cloudwatch", "-f", "orders-api,worker", "--region", "eu-west-1"]
    result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body == render_cloudwatch(["orders-api", "worker"], "eu-west-1")
    assert check_body(body) == []


def test_render_cli_errors_are_one_line() -> None:
    result = CliRunner().invoke(cli, ["dashboard", "render", "cloudwatch", "-f", "x"], obj={})
    assert result.exit_code != 0
    assert "--region" in result.output and "Traceback" not in result.output


@pytest.mark.e2e
def test_apply_round_trips_through_moto(moto_server: str, aws_env: None) -> None:
    args = [
        "dashboard", "apply", "cloudwatch", "--name", "fnlens-shop", "-f", "orders-api",
        "-f", "worker", "--region", "eu-west-1", "--version", "41", "--version", "42",
        "--service", "shop", "--endpoint-url", moto_server,
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 0, result.output
    assert "put dashboard 'fnlens-shop'" in result.output

    client = boto3.client("cloudwatch", region_name="eu-west-1", endpoint_url=moto_server)
    got = client.get_dashboard(DashboardName="fnlens-shop")
    expected = render_cloudwatch(
        ["orders-api", "worker"], "eu-west-1", versions=["41", "42"], service="shop"
    )
    assert json.loads(got["DashboardBody"]) == expected
    names = [d["DashboardName"] for d in client.list_dashboards()["DashboardEntries"]]
    assert "fnlens-shop" in names

    # applying again replaces the body rather than failing
    args2 = [*args[:7], "--region", "eu-west-1", "--endpoint-url", moto_server]
    result = CliRunner().invoke(cli, args2, obj={})
    assert result.exit_code == 0, result.output
    again = json.loads(client.get_dashboard(DashboardName="fnlens-shop")["DashboardBody"])
    assert again == render_cloudwatch(["orders-api"], "eu-west-1")
