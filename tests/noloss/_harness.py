"""Runs a no-loss scenario in a fresh interpreter and counts what it sent and what arrived.

What was *sent* is counted by the scenario script itself, in a ledger file of its own
(one JSON line per invocation, written with one ``O_APPEND`` write, so several
processes and threads can share it); what *arrived* is what the OTLP sink decoded with
``opentelemetry-proto``. fnlens's own stdout records are read only to cross-check ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
ROOT = HERE.parent.parent

SERVER = 2  # SpanKind.SERVER in OTLP
CHILD_SPAN = "noloss.child"  # the span each handler opens with the OpenTelemetry API
USER_LINE = "noloss.line"  # the log line each handler writes


def child_env(extra: dict[str, Any]) -> dict[str, str]:
    """The host's environment without fnlens, OpenTelemetry or AWS settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "_X_AMZN", "LAMBDA_", "_HANDLER"))
    }
    env.update({k: str(v) for k, v in extra.items()})
    env["PYTHONPATH"] = os.pathsep.join([str(SCRIPTS), str(ROOT / "src")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def lambda_env(runtime_api_port: int, **extra: Any) -> dict[str, str]:
    """What Lambda sets in a Python function's environment (the documented reserved
    variables), for a handler called directly: no runtime loop serves this Runtime API."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
        "AWS_LAMBDA_FUNCTION_VERSION": "42",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders-api",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[42]0123456789abcdef0123456789abcdef",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api_port}",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(SCRIPTS),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "noloss_driver.handler",
        "TZ": ":UTC",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def otlp_env(endpoint: str, **extra: Any) -> dict[str, str]:
    """OTLP/HTTP to ``endpoint`` for traces and logs, configured only through the
    specification's variables (the issue's reproduction)."""
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "orders",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass
class Run:
    """One scenario process: its files and, once it ended, its exit status."""

    proc: subprocess.Popen
    dir: Path
    started: float = field(default_factory=time.monotonic)
    returncode: int | None = None

    @property
    def ledger_path(self) -> Path:
        return self.dir / "ledger.jsonl"

    def ledger(self) -> list[dict[str, Any]]:
        if not self.ledger_path.exists():
            return []
        return [json.loads(x) for x in self.ledger_path.read_text().splitlines() if x]

    def sent(self) -> list[dict[str, Any]]:
        """One entry per invocation the script started (before calling the handler)."""
        return [e for e in self.ledger() if e["kind"] == "sent"]

    def results(self) -> list[dict[str, Any]]:
        """One entry per handler call that returned: ``ok`` says the result was unchanged."""
        return [e for e in self.ledger() if e["kind"] == "result"]

    def marks(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.ledger() if e["kind"] == "mark" and e["name"] == name]

    @property
    def stdout(self) -> str:
        return (self.dir / "stdout.txt").read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return (self.dir / "stderr.txt").read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """fnlens's invocation records on stdout (for cross-checks only)."""
        return self._stdout_events("invocation")

    def lines(self) -> list[dict[str, Any]]:
        """The handler's log lines as fnlens wrote them on stdout."""
        return self._stdout_events(USER_LINE)

    def _stdout_events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("event") == name:
                    out.append(obj)
        return out

    def wait_mark(self, name: str, count: int = 1, timeout_s: float = 60.0) -> None:
        """Poll the ledger (bounded) until the script wrote ``count`` marks ``name``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.marks(name)) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"script ended ({self.proc.returncode}) before mark {name!r}: "
                    f"{self.stderr[-3000:]}"
                )
            time.sleep(0.02)
        raise AssertionError(f"no mark {name!r} after {timeout_s} s: {self.stderr[-3000:]}")

    def wait(self, timeout_s: float = 60.0) -> int:
        try:
            self.returncode = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"script still running after {timeout_s} s: {self.stderr[-3000:]}"
            ) from None
        return self.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def tell(self, line: str) -> None:
        """A line on the script's stdin (``exit``: the long-running process is told to stop)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()


def start(script: str, env: dict[str, Any], workdir: Path, args: Iterable[str] = ()) -> Run:
    """Start ``scripts/<script>`` in a fresh interpreter (own process group), stdout and
    stderr to files (a pipe nobody drains would block the script)."""
    workdir.mkdir(parents=True, exist_ok=True)
    full = child_env({**env, "NOLOSS_LEDGER": str(workdir / "ledger.jsonl")})
    out = open(workdir / "stdout.txt", "wb")  # noqa: SIM115 (closed by the child's end)
    err = open(workdir / "stderr.txt", "wb")  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPTS / script), *args],
            env=full,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=str(workdir),
            start_new_session=True,
        )
    finally:
        out.close()
        err.close()
    return Run(proc, workdir)


def run(
    script: str, env: dict[str, Any], workdir: Path, args: Iterable[str] = (), timeout_s=60.0
) -> Run:
    """Start a scenario and wait for its end (bounded)."""
    r = start(script, env, workdir, args)
    r.wait(timeout_s)
    return r


def stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP): what a frozen Lambda environment looks like."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


# ---------------------------------------------------------------------------------------
# what arrived
@dataclass
class Arrived:
    """What the sink holds, sorted by kind."""

    invocation_spans: list[dict[str, Any]]
    child_spans: list[dict[str, Any]]
    other_spans: list[dict[str, Any]]
    invocation_logs: list[dict[str, Any]]
    user_lines: list[dict[str, Any]]
    other_logs: list[dict[str, Any]]

    @property
    def all_spans(self) -> list[dict[str, Any]]:
        return self.invocation_spans + self.child_spans + self.other_spans

    def span_rids(self) -> Counter:
        return Counter(s["attributes"].get("faas.invocation_id") for s in self.invocation_spans)

    def log_rids(self) -> Counter:
        return Counter(r["attributes"].get("request_id") for r in self.invocation_logs)

    def line_rids(self) -> Counter:
        return Counter(r["attributes"].get("request_id") for r in self.user_lines)


def arrived(sink: Any) -> Arrived:
    with sink._lock if hasattr(sink, "_lock") else _nolock():
        spans = list(sink.spans)
        logs = list(sink.logs)
    inv = [s for s in spans if s["kind"] == SERVER and "faas.invocation_id" in s["attributes"]]
    child = [s for s in spans if s["name"] == CHILD_SPAN]
    other = [s for s in spans if s not in inv and s not in child]
    inv_logs = [r for r in logs if r["body"] == "invocation"]
    lines = [r for r in logs if r["body"] == USER_LINE]
    other_logs = [r for r in logs if r["body"] not in ("invocation", USER_LINE)]
    return Arrived(inv, child, other, inv_logs, lines, other_logs)


class _nolock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def wait_arrived(sink: Any, n: int, *, spans: bool = True, timeout_s: float = 5.0) -> Arrived:
    """Wait (bounded) until ``n`` invocation spans (if expected) and ``n`` invocation log
    records arrived, then a little longer so that duplicates and stragglers show."""

    def enough(s: Any) -> bool:
        a = arrived(_Snapshot(s))
        return len(a.invocation_logs) >= n and (not spans or len(a.invocation_spans) >= n)

    sink.wait_for(enough, timeout_s=timeout_s)
    sink.wait_for(lambda s: False, timeout_s=0.6)  # rotel batches: let a straggler show
    return arrived(sink)


class _Snapshot:
    """The sink's lists, read inside its own ``wait_for`` (which holds its lock)."""

    def __init__(self, sink: Any) -> None:
        self.spans = sink.spans
        self.logs = sink.logs


def diff(expected: Counter, got: Counter) -> str:
    missing = expected - got
    extra = got - expected
    dup = {k: v for k, v in got.items() if v > 1}
    return (
        f"expected {sum(expected.values())}, got {sum(got.values())}: "
        f"{sum(missing.values())} missing, {sum(extra.values())} unexpected, "
        f"{len(dup)} ids more than once (e.g. {list(dup.items())[:3]})"
    )


def assert_no_loss(
    got: Arrived,
    sent_rids: list[str],
    *,
    spans: bool = True,
    child_spans: bool = True,
    user_lines: bool = True,
    context: str = "",
) -> None:
    """Exactly one invocation span, one invocation record (OTLP log record), one user log
    line and one child span per invocation sent; nothing twice; span ids unique."""
    expected = Counter(sent_rids)
    assert len(expected) == len(sent_rids), "the script sent a request id twice"
    problems = []
    if spans and got.span_rids() != expected:
        problems.append("invocation spans: " + diff(expected, got.span_rids()))
    if got.log_rids() != expected:
        problems.append("invocation records (OTLP logs): " + diff(expected, got.log_rids()))
    if user_lines and got.line_rids() != expected:
        problems.append("user log lines: " + diff(expected, got.line_rids()))
    if spans and child_spans and len(got.child_spans) != len(sent_rids):
        problems.append(f"child spans: expected {len(sent_rids)}, got {len(got.child_spans)}")
    span_ids = Counter(s["span_id"] for s in got.all_spans)
    repeated = {k: v for k, v in span_ids.items() if v > 1}
    if repeated:
        problems.append(f"{len(repeated)} span ids used more than once: {list(repeated)[:3]}")
    assert not problems, "; ".join(problems) + f"\n-- {context}"
    if spans and child_spans:
        parents = {(s["trace_id"], s["span_id"]) for s in got.invocation_spans}
        children = {(c["trace_id"], c["parent_span_id"]) for c in got.child_spans}
        assert children == parents, f"{context}: child spans not under their invocation span"


def assert_records_match(got: Arrived, records: list[dict[str, Any]]) -> None:
    """The stdout records and what arrived carry the same ids (trace, span) per request."""
    by_rid = {s["attributes"]["faas.invocation_id"]: s for s in got.invocation_spans}
    for record in records:
        span = by_rid.get(record["request_id"])
        if span is None:
            continue  # absence is reported by assert_no_loss
        assert (span["trace_id"], span["span_id"]) == (record["trace_id"], record["span_id"]), (
            record["request_id"]
        )
