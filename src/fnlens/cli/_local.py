"""`fnlens local`: run handlers on the local Lambda runtime (real awslambdaric, no Docker)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def split_handler(handler: str, code_dir: str | None) -> tuple[Path, str]:
    """``path/to/app.handler`` -> (``path/to``, ``app.handler``); ``--code-dir`` wins."""
    head, sep, tail = handler.rpartition("/")
    if sep and code_dir is None:
        return Path(head or "/"), tail
    return Path(code_dir or "."), tail if sep else handler


def read_event(source: str | None) -> bytes:
    """The event from a file, ``-`` (stdin) or ``{}``; it must be JSON."""
    if source is None:
        return b"{}"
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read the event: {exc}") from exc
    if not raw.strip():
        return b"{}"  # an empty payload, as Invoke without one
    try:
        json.loads(raw)
    except ValueError as exc:
        raise click.ClickException(f"{source}: the event is not valid JSON ({exc})") from exc
    return raw


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.ClickException(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


@click.group()
def local() -> None:
    """Run handlers on a local Lambda runtime: the real AWS runtime client, no Docker."""


@local.command()
@click.argument("handler")
@click.option("--event", "event_file", help="JSON event file ('-' for stdin; default {}).")
@click.option("--code-dir", help="Folder the handler module lives in (LAMBDA_TASK_ROOT).")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds.")
@click.option("--memory", type=int, default=128, show_default=True, help="Memory size, MB.")
@click.option("--env", "env_pairs", multiple=True, help="KEY=VALUE for the function (repeat).")
@click.option("--function-name", default=None, help="Function name (default: the module).")
@click.option("--json-logs", is_flag=True, help="Lambda's JSON log format (platform.* records).")
@click.option("--out", type=click.Path(file_okay=False), help="Also write the log stream here.")
@click.option("--quiet", "-q", is_flag=True, help="Print the response only, not the logs.")
@click.option(
    "--managed-instances",
    type=click.IntRange(min=1),
    default=None,
    help="Lambda Managed Instances: N runtime processes per environment (JSON logs forced).",
)
@click.option(
    "--concurrent",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Send the event this many times at once (one response per line).",
)
def invoke(
    handler: str,
    event_file: str | None,
    code_dir: str | None,
    timeout: float,
    memory: int,
    env_pairs: tuple[str, ...],
    function_name: str | None,
    json_logs: bool,
    out: str | None,
    quiet: bool,
    managed_instances: int | None,
    concurrent: int,
) -> None:
    """Invoke HANDLER (``module.function`` or ``path/to/module.function``) once.

    The logs (platform lines and everything the function printed) go to stderr,
    the response to stdout. The exit status is 1 when the invocation failed.
    """
    from fnlens.localrt import FunctionCode, LocalLambda

    directory, handler_name = split_handler(handler, code_dir)
    if not directory.is_dir():
        raise click.ClickException(f"{directory}: no such folder for the handler's code")
    event = read_event(event_file)
    try:
        code = FunctionCode(
            handler_name,
            directory,
            memory_mb=memory,
            timeout_s=timeout,
            environment=parse_env(env_pairs),
            log_format="json" if json_logs else "text",
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    name = function_name or handler_name.rsplit(".", 1)[0].replace(".", "-")
    with LocalLambda(name, out_dir=out, timestamps=True, managed_instances=managed_instances) as fn:
        fn.update_code(code)
        results = invoke_concurrently(fn, event, concurrent)
    failed = [r for r in results if r.outcome != "success"]
    for result in results:
        if not quiet:
            for line in result.logs:
                click.echo(line, err=True)
        _echo_payload(result.payload, result.json(), compact=concurrent > 1)
    for result in failed:
        which = f" {result.request_id}" if concurrent > 1 else ""
        click.echo(
            f"invocation{which} failed: {result.outcome} ({result.error_type or 'unknown error'})",
            err=True,
        )
    if failed:
        sys.exit(1)


def _echo_payload(payload: bytes, parsed: Any, *, compact: bool = False) -> None:
    """JSON pretty-printed (one line each when several answers are printed); other text
    as it is; bytes that are not UTF-8 (a handler returning ``bytes``) written raw, as
    ``aws lambda invoke`` writes its outfile."""
    if parsed is not None:
        click.echo(
            json.dumps(parsed, separators=(",", ":")) if compact else json.dumps(parsed, indent=2)
        )
        return
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        stream = click.get_binary_stream("stdout")
        stream.write(payload)  # byte for byte: no newline added
        stream.flush()
        return
    click.echo(text)


def invoke_concurrently(fn: Any, event: bytes, count: int) -> list[Any]:
    """``count`` invocations of ``event`` at once, results in the order they were sent."""
    if count == 1:
        return [fn.invoke(event)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: fn.invoke(event), range(count)))
