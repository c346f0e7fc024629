"""``fnlens dashboard render|apply``: dashboards for CloudWatch and Grafana.

``render`` prints a ready body (CloudWatch) or an importable dashboard
(Grafana); ``apply`` puts the CloudWatch body with boto3 PutDashboard.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

from fnlens.exceptions import RenderError

_REGION_ENV = ["AWS_REGION", "AWS_DEFAULT_REGION"]


def _cloudwatch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--function",
            "-f",
            "functions",
            multiple=True,
            metavar="NAME",
            help="Lambda function name; repeat (or comma-separate) for several.",
        ),
        click.option(
            "--region", envvar=_REGION_ENV, help="AWS region (env AWS_REGION / AWS_DEFAULT_REGION)."
        ),
        click.option(
            "--log-group",
            "log_groups",
            multiple=True,
            metavar="NAME",
            help="Log groups for Logs Insights widgets (default /aws/lambda/<function>).",
        ),
        click.option(
            "--namespace",
            default="fnlens",
            show_default=True,
            envvar="FNLENS_EMF_NAMESPACE",
            help="CloudWatch namespace of fnlens's EMF metrics.",
        ),
        click.option(
            "--period", default=300, show_default=True, type=int, help="Metric period (s)."
        ),
        click.option("--title", help="Dashboard heading."),
        click.option(
            "--version",
            "versions",
            multiple=True,
            metavar="VERSION",
            help="Function versions for the exact per-version error-rate widget (needs --service).",
        ),
        click.option("--service", help="fnlens service name (a dimension of the EMF metrics)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("dashboard")
def dashboard() -> None:
    """Render or apply CloudWatch and Grafana dashboards."""


@dashboard.command("render")
@click.argument("target", type=click.Choice(["cloudwatch", "grafana"]))
@_cloudwatch_options
@click.option(
    "--kind",
    type=click.Choice(["duckdb", "otlp"]),
    default="duckdb",
    show_default=True,
    help="Grafana: over a fnlens DuckDB file, or over the OTLP collector's metrics.",
)
@click.option(
    "--datasource",
    metavar="UID",
    help="Grafana: bind the panels to this data source uid instead of an import-time input.",
)
@click.option("--output", "-o", type=click.File("w"), default="-", help="Write to a file.")
def render(
    target: str,
    functions: Sequence[str],
    region: str | None,
    log_groups: Sequence[str],
    namespace: str,
    period: int,
    title: str | None,
    versions: Sequence[str],
    service: str | None,
    kind: str,
    datasource: str | None,
    output: Any,
) -> None:
    """Print a ready dashboard body for TARGET (cloudwatch or grafana)."""
    if target == "cloudwatch":
        body = _cloudwatch_body(
            functions, region, log_groups, namespace, period, title, versions, service
        )
    else:
        from fnlens.dashboards._grafana import render_grafana

        body = render_grafana(kind, functions=list(functions), datasource=datasource, title=title)
    output.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


@dashboard.command("apply")
@click.argument("target", type=click.Choice(["cloudwatch"]))
@click.option("--name", required=True, help="Dashboard name in CloudWatch.")
@_cloudwatch_options
@click.option("--endpoint-url", help="CloudWatch endpoint (e.g. a local moto server).")
def apply(
    target: str,
    name: str,
    functions: Sequence[str],
    region: str | None,
    log_groups: Sequence[str],
    namespace: str,
    period: int,
    title: str | None,
    versions: Sequence[str],
    service: str | None,
    endpoint_url: str | None,
) -> None:
    """Render the CloudWatch body and put it with PutDashboard."""
    from fnlens.dashboards._apply import put_dashboard

    body = _cloudwatch_body(
        functions, region, log_groups, namespace, period, title, versions, service
    )
    messages = put_dashboard(name, body, region=str(region), endpoint_url=endpoint_url)
    for message in messages:
        click.echo(f"warning: {message}", err=True)
    click.echo(f"put dashboard {name!r} ({len(body['widgets'])} widgets) in {region}")


def _cloudwatch_body(
    functions: Sequence[str],
    region: str | None,
    log_groups: Sequence[str],
    namespace: str,
    period: int,
    title: str | None,
    versions: Sequence[str],
    service: str | None,
) -> dict[str, Any]:
    from fnlens.dashboards._cloudwatch import render_cloudwatch
    from fnlens.dashboards._cloudwatch_check import check_body

    if not region:
        raise RenderError("give --region (or set AWS_REGION)")
    body = render_cloudwatch(
        list(functions),
        region,
        log_groups=list(log_groups),
        namespace=namespace,
        period=period,
        title=title,
        versions=list(versions),
        service=service,
    )
    problems = check_body(body)
    if problems:  # a bug in the shipped template, not in the user's input
        raise RenderError(f"rendered body is invalid: {problems[0]}")
    return body
