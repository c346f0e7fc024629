"""``fnlens report``: headline numbers in the terminal, or a self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from fnlens.cli._common import db_option


@click.command("report")
@db_option
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write a self-contained HTML report (works offline) to this file.",
)
@click.option("--function", help="Only this function_name.")
@click.option("--since", help="Start of the window (inclusive), ISO 8601 UTC.")
@click.option("--until", help="End of the window (exclusive), ISO 8601 UTC.")
@click.option("--bucket", help="Chart bucket size, e.g. '5 minutes', '1h' (default: automatic).")
@click.option("--title", default="fnlens report", show_default=True, help="HTML page title.")
def report(
    db_path: str,
    html_out: str | None,
    function: str | None,
    since: str | None,
    until: str | None,
    bucket: str | None,
    title: str,
) -> None:
    """Headline numbers and the per-version comparison; --html writes the full report."""
    from fnlens.report import build

    data = build(db_path, function=function, since=since, until=until, bucket=bucket)
    if html_out:
        from fnlens.report._html import render_html

        out = Path(html_out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_html(data, title=title), encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {html_out}: {exc.strerror or exc}") from exc
        size = out.stat().st_size
        click.echo(
            f"wrote {out} ({size / 1e6:.1f} MB, {data.headline['invocations']:,} invocations)"
        )
        return
    from fnlens.report._terminal import print_report

    print_report(data)
