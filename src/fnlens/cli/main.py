"""Entry point of the ``fnlens`` command.

Subcommands are resolved lazily: ``fnlens --help`` and ``fnlens --version`` import
nothing heavy, and each subcommand's module (and its libraries, e.g. DuckDB)
is only imported when that subcommand runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from fnlens._version import __version__

# name -> ("module", "attribute", "one-line help shown in `fnlens --help`")
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("fnlens.cli._ingest", "ingest", "Load exported logs and traces into DuckDB."),
    "export": ("fnlens.cli._ingest", "export", "Write the tables as partitioned Parquet."),
    "queries": ("fnlens.cli._query", "queries", "List the canned queries and their parameters."),
    "query": ("fnlens.cli._query", "query", "Run a canned query."),
    "sql": ("fnlens.cli._query", "sql", "Run ad-hoc SQL over the fnlens tables."),
    "report": (
        "fnlens.cli._report",
        "report",
        "Headline numbers, or a self-contained HTML report.",
    ),
    "compare": (
        "fnlens.cli._compare",
        "compare",
        "Canary verdict: candidate vs baseline (exit 0 pass, 1 fail, 2 inconclusive).",
    ),
    "dashboard": (
        "fnlens.cli._dashboard",
        "dashboard",
        "Render or apply CloudWatch/Grafana dashboards.",
    ),
    "local": ("fnlens.cli._local", "local", "Run handlers on a local Lambda runtime."),
    "demo": ("fnlens.cli._demo", "demo", "Run the end-to-end demo on a local Lambda runtime."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = SUBCOMMANDS.get(cmd_name)
        if spec is None or not _available(cmd_name):
            return None
        module_name, attribute, _ = spec
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            from fnlens.exceptions import ConfigurationError

            missing = getattr(exc, "name", None) or str(exc)
            raise ConfigurationError(
                f"`fnlens {cmd_name}` needs an optional dependency that is not installed "
                f"({missing}); install it with: pip install 'fnlens[analysis]'"
            ) from exc
        return getattr(module, attribute)

    def invoke(self, ctx: click.Context) -> object:
        """Every subcommand's expected failures become one line (cli/_common.py)."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from fnlens.cli._common import report_failure

            report_failure(exc, ctx.invoked_subcommand)
            raise  # pragma: no cover - report_failure always raises

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    """A subcommand exists when its module is part of this installation."""
    module_name = SUBCOMMANDS[name][0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="fnlens")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """fnlens: observability for serverless Python APIs.

    Instrument handlers with @fnlens.instrument, then ingest what they export
    and ask questions with DuckDB.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors become one clear line and a non-zero exit unless --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        status = cli.main(args=args, prog_name="fnlens", standalone_mode=False)
        if isinstance(status, int) and status:  # click returns an Exit's status here
            sys.exit(status)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # one line for users, the traceback with --debug
        if debug:
            raise
        click.echo(f"fnlens: error: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
