"""``fnlens compare``: a canary verdict with an exit code a pipeline can gate on.

Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 the comparison could not run
(bad arguments, no database, a bad threshold file). Click's own usage errors
would exit 2, which a pipeline would read as "inconclusive", so this command
maps them to 3 as well.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click

from fnlens.cli._common import ERROR_EXIT, db_option
from fnlens.exceptions import CompareError

EXIT_ERROR = ERROR_EXIT["compare"]  # any failure to run: never a verdict's exit code


class _CompareCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise


def _when(text: str | None, what: str) -> datetime | None:
    """ISO 8601 (``Z`` or an offset allowed) as a naive UTC datetime, like the tables."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CompareError(f"{what}: cannot read {text!r} as an ISO 8601 time") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _window(text: str | None, what: str) -> tuple[datetime | None, datetime | None]:
    """``START/END`` or ``START..END``; either end may be empty."""
    if text is None:
        return None, None
    sep = ".." if ".." in text else "/"
    start, found, end = text.partition(sep)
    if not found:
        raise CompareError(f"{what}: use START/END (ISO 8601), e.g. 2024-03-01/2024-03-02")
    since, until = _when(start, what), _when(end, what)
    if since and until and since >= until:
        raise CompareError(f"{what}: the start must be before the end")
    return since, until


@click.command("compare", cls=_CompareCommand)
@db_option
@click.option("--baseline", "baseline", help="Baseline version (value of --by).")
@click.option("--candidate", "candidate", help="Candidate version (value of --by).")
@click.option(
    "--by",
    type=click.Choice(("version", "function_version", "function_alias", "service_version")),
    default="version",
    show_default=True,
    help="Column the --baseline/--candidate values select on.",
)
@click.option("--baseline-window", help="Baseline time window START/END (ISO 8601, UTC).")
@click.option("--candidate-window", help="Candidate time window START/END (ISO 8601, UTC).")
@click.option("--function", help="Only this function_name.")
@click.option("--since", help="Only invocations from this time (inclusive, ISO 8601 UTC).")
@click.option("--until", help="Only invocations before this time (exclusive, ISO 8601 UTC).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML file with a [compare] table of thresholds (see docs/compare.md).",
)
@click.option(
    "--allow",
    multiple=True,
    metavar="METRIC=CHANGE",
    help="Allowed worsening, e.g. p95=20% or error_rate=0.5pp (repeatable).",
)
@click.option("--alpha", type=float, help="Significance level (default 0.05).")
@click.option("--power", type=float, help="Power the sample-size check asks for (default 0.8).")
@click.option(
    "--correction",
    type=click.Choice(("holm", "bh", "none")),
    help="Multiple-testing correction (default holm).",
)
@click.option("--min-samples", type=int, help="Minimum samples per side for every metric.")
@click.option(
    "--fail-on-new-errors/--no-fail-on-new-errors",
    default=None,
    help="A new error type fails the verdict (default: reported only).",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(("table", "json", "markdown")),
    default="table",
    show_default=True,
)
def compare(
    db_path: str,
    baseline: str | None,
    candidate: str | None,
    by: str,
    baseline_window: str | None,
    candidate_window: str | None,
    function: str | None,
    since: str | None,
    until: str | None,
    config_path: str | None,
    allow: tuple[str, ...],
    alpha: float | None,
    power: float | None,
    correction: str | None,
    min_samples: int | None,
    fail_on_new_errors: bool | None,
    fmt: str,
) -> None:
    """Compare a candidate with a baseline: pass (exit 0), fail (1) or inconclusive (2).

    Versions (--baseline 41 --candidate 42), time windows (--baseline-window,
    --candidate-window: one version against its own past), or both.
    """
    from fnlens.analysis._compare import Selector, load_settings, parse_allow
    from fnlens.analysis._compare import compare as run_compare
    from fnlens.analysis.db import open_db

    if baseline is None and baseline_window is None:
        raise CompareError("give --baseline VERSION or --baseline-window START/END")
    if candidate is None and candidate_window is None:
        raise CompareError("give --candidate VERSION or --candidate-window START/END")
    b_since, b_until = _window(baseline_window, "--baseline-window")
    c_since, c_until = _window(candidate_window, "--candidate-window")
    settings = load_settings(
        config_path,
        allow=parse_allow(allow),
        alpha=alpha,
        power=power,
        correction=correction,
        min_samples=min_samples,
        fail_on_new_error_types=fail_on_new_errors,
    )
    con = open_db(db_path)
    try:
        result = run_compare(
            con,
            Selector(baseline, b_since, b_until, by),
            Selector(candidate, c_since, c_until, by),
            function=function,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            settings=settings,
        )
    finally:
        con.close()
    _emit(result, fmt)
    sys.exit(result.exit_code)


def _emit(result: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
        return
    from fnlens.report._canary import markdown, print_comparison

    if fmt == "markdown":
        click.echo(markdown(result))
        return
    from rich.console import Console

    # piped output is as wide as a PR log viewer, a terminal as wide as it is
    print_comparison(result, Console(highlight=False, width=None if sys.stdout.isatty() else 120))
