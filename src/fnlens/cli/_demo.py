"""`fnlens demo`: the whole story in one command, offline, on a local Lambda runtime."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="fnlens-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for log streams, spans, the DuckDB file and the HTML report.",
)
@click.option(
    "--invocations", "-n", default=3000, show_default=True, type=click.IntRange(10, 200_000)
)
@click.option(
    "--canary-weight",
    default=0.25,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of the alias's traffic that goes to version 2.",
)
@click.option("--seed", type=int, default=None, help="Seed for a repeatable traffic mix.")
@click.option("--no-html", is_flag=True, help="Skip the HTML report.")
def demo(
    out_dir: str, invocations: int, canary_weight: float, seed: int | None, no_html: bool
) -> None:
    """Deploy the example orders API as v1 and v2 behind a canary alias, send traffic with
    bursts that force cold starts, ingest everything into DuckDB and compare the versions."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fnlens.demo import DemoOptions, run_demo
    from fnlens.demo._render import print_result

    try:
        import awslambdaric  # noqa: F401
    except ImportError as exc:
        from fnlens.exceptions import ConfigurationError

        raise ConfigurationError(
            "the demo runs the AWS runtime client: pip install 'fnlens[local,analysis]'"
        ) from exc

    import sys

    # piped output keeps whole tables instead of folding them to 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    options = DemoOptions(
        out_dir=Path(out_dir),
        invocations=invocations,
        canary_weight=canary_weight,
        seed=seed,
        html=not no_html,
    )
    labels = {
        "deploy": "deploying v1 and v2 behind alias 'live'",
        "traffic": "invoking orders-api:live",
        "shutdown": "stopping execution environments",
        "ingest": "ingesting log streams and spans into DuckDB",
        "queries": "running canned queries",
        "report": "writing the HTML report",
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(labels["deploy"], total=invocations)

        def on_phase(name: str) -> None:
            progress.update(task, description=labels.get(name, name))

        result = run_demo(
            options, on_progress=lambda n: progress.advance(task, n), on_phase=on_phase
        )
    print_result(result, console)
