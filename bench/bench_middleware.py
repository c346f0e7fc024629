"""Middleware benchmark: fnlens vs Powertools stacked vs OpenTelemetry's Lambda instrumentation.

One run, one fresh process per variant, mode and round, the same handler
(``bench/handlers/app.py``) and the same API Gateway v2 event, in three modes: the
awslambdaric runtime loop against an emulated Lambda service, the handler called
directly in a process that never freezes (no Lambda environment), and called
directly with Lambda's environment (the platform freezes: telemetry must be out
before the handler returns). It reports per variant the handler call, response
latency and billed time as the service sees them, CPU per invocation, the time the
caller waits for telemetry and the flush at exit, as overheads over the bare
handler and as ratios to Powertools' and OpenTelemetry's; and the cold cost of
import + decorate in a fresh process. fnlens is read through its public output
only (invocation records on stdout, ``fnlens.flush``).

Local components: rotel (the collector used in tests) receives OTLP/HTTP for the
fnlens-full and OpenTelemetry variants; a UDP socket on 127.0.0.1 receives the
X-Ray segments Powertools' Tracer sends.

    .venv/bin/python bench/bench_middleware.py                # print the tables
    .venv/bin/python bench/bench_middleware.py --write-docs   # and update docs/benchmarks.md
    .venv/bin/python bench/bench_middleware.py --quick        # a smoke run
    .venv/bin/python bench/bench_middleware.py --migration    # Powertools vs fnlens after the move
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

ROOT = HERE.parent
HANDLERS = HERE / "handlers"

VARIANTS: dict[str, str] = {
    "bare": "no wrapper",
    "fnlens": "fnlens (stdout records + log line)",
    "fnlens-full": "fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=budget",
    "fnlens-full-ext": "fnlens logs+spans+EMF, OTLP/HTTP, flush_mode=extension",
    "fnlens-spans": "fnlens logs on stdout, spans OTLP/HTTP, EMF, flush_mode=budget",
    "powertools": "Powertools Logger+Tracer+Metrics (X-Ray UDP)",
    "fnlens-migrated": "fnlens, Powertools log fields + fnlens.metrics, EMF + X-Ray UDP",
    "fnlens-migrated-emf": "fnlens, Powertools log fields + fnlens.metrics, EMF, no traces",
    "otel": "OTel AwsLambdaInstrumentor + BatchSpanProcessor + OTLP/HTTP",
}
SETUP = {
    "bare": "setup_bare",
    "fnlens": "setup_fnlens",
    "fnlens-full": "setup_fnlens",
    "fnlens-full-ext": "setup_fnlens",
    "fnlens-spans": "setup_fnlens",
    "powertools": "setup_powertools",
    "fnlens-migrated": "setup_fnlens_migrated",
    "fnlens-migrated-emf": "setup_fnlens_migrated",
    "otel": "setup_otel",
}
# --migration: Powertools Logger+Tracer+Metrics with add_metric vs the same handler moved
# to fnlens (docs/migrating-from-powertools.md), in the runtime loop
MIGRATION_VARIANTS = ("bare", "powertools", "fnlens-migrated", "fnlens-migrated-emf")


# ----------------------------------------------------------------------------- child
# Packages a Lambda bundle of any variant does not contain: fnlens's analysis extra
# (rich, duckdb, …) is installed in this virtualenv, and structlog imports `rich`
# whenever it can. Every variant's child hides them alike.
NOT_IN_A_LAMBDA_BUNDLE = ("rich", "duckdb", "pyarrow", "plotly", "pandas", "numpy")


class _HideFromBundle:
    """A meta-path finder that makes the packages above unimportable."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", maxsplit=1)[0] in NOT_IN_A_LAMBDA_BUNDLE:
            raise ModuleNotFoundError(f"No module named {name!r} (not in a Lambda bundle)")


def _like_lambda() -> None:
    """What the Lambda Python runtime does before it imports the handler: awslambdaric
    wraps stdout so that every write is flushed (one system call per write, whatever
    library writes it); the bundle holds only what the function ships."""
    sys.meta_path.insert(0, _HideFromBundle())
    from awslambdaric.bootstrap import Unbuffered

    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)


def _event() -> dict[str, Any]:
    from fnlens.testing import events

    event = events.api_gateway_v2("GET /orders/{id}", path="/orders/42")
    event["pathParameters"] = {"id": "42"}
    return event


def _event_and_context(request: Any) -> tuple[Any, Any]:
    """What awslambdaric does with a fetched event before calling the handler: the X-Ray
    header into ``_X_AMZN_TRACE_ID``, the body parsed, the runtime's own context."""
    from awslambdaric.bootstrap import create_lambda_context

    os.environ["_X_AMZN_TRACE_ID"] = request.x_amzn_trace_id or ""
    ctx = create_lambda_context(
        request.client_context,
        request.cognito_identity,
        request.deadline_time_in_ms,
        request.invoke_id,
        request.invoked_function_arn,
        request.tenant_id,
    )
    return json.loads(request.event_body), ctx


def _finish_child(variant: str, result: dict[str, Any], out: str) -> None:
    """The measured part is over: what is still queued goes out (``fnlens.flush``, the
    public API; timed, as the wait at exit), then the samples are written."""
    import app

    if variant.startswith("fnlens"):
        import fnlens

        start = time.perf_counter()
        fnlens.flush(10.0)
        result["exit_flush_ms"] = (time.perf_counter() - start) * 1000
    elif variant == "otel":
        result["waits_ms"] = [ns / 1e6 for ns in app.FORCE_FLUSH_NS]
    Path(out).write_text(json.dumps(result))


def child_run(variant: str, n: int, warmup: int, out: str) -> None:
    """The Lambda runtime loop, with awslambdaric's own Runtime API client: wait for
    the next event (a blocking network call, as between real invocations), run the
    handler (timed), post the response. fnlens's records go to stdout, which the
    parent reads afterwards (``telemetry_flush_ms``: what the caller waited)."""
    _like_lambda()
    sys.path.insert(0, str(HANDLERS))
    import app
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    handler = getattr(app, SETUP[variant])()
    client = LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    timings: list[int] = []
    busy: list[int] = []  # event received → response posted and after-response work done
    perf = time.perf_counter_ns
    cpu_start = 0.0
    for index in range(warmup + n):
        if index == warmup:
            cpu_start = time.process_time()
        request = client.wait_next_invocation()
        received = perf()
        event, ctx = _event_and_context(request)
        start = perf()
        result = handler(event, ctx)
        timings.append(perf() - start)
        client.post_invocation_result(request.invoke_id, json.dumps(result))
        busy.append(perf() - received)
    cpu_s = time.process_time() - cpu_start
    samples = {"timings_ns": timings, "busy_ns": busy, "cpu_s": cpu_s, "waits_ms": []}
    _finish_child(variant, samples, out)


def child_direct(variant: str, mode: str, n: int, warmup: int, out: str) -> None:
    """The handler called directly, no runtime loop: the caller's own time per call.

    ``server`` — a process that never freezes (a container, a server, a test run): no
    Lambda environment variables, stdout as a normal process has it; ``frozen`` —
    Lambda's environment variables (the platform freezes the process after each
    response, so telemetry must be out before the handler returns), stdout wrapped as
    the Lambda runtime wraps it and the X-Ray header set per invocation as the
    platform sets it."""
    sys.meta_path.insert(0, _HideFromBundle())
    if mode == "frozen":
        _like_lambda()
    sys.path.insert(0, str(HANDLERS))
    import app

    from fnlens.testing import LambdaContext

    handler = getattr(app, SETUP[variant])()
    body = json.dumps(_event())
    timings: list[int] = []
    perf = time.perf_counter_ns
    cpu_start = 0.0
    for index in range(warmup + n):
        if index == warmup:
            cpu_start = time.process_time()
        ctx = LambdaContext(
            function_name="orders-api", function_version="1", memory_limit_in_mb=256
        )
        if mode == "frozen":
            os.environ["_X_AMZN_TRACE_ID"] = _trace_header()
        event = json.loads(body)
        start = perf()
        handler(event, ctx)
        timings.append(perf() - start)
    cpu_s = time.process_time() - cpu_start
    samples = {"timings_ns": timings, "busy_ns": [], "cpu_s": cpu_s, "waits_ms": []}
    _finish_child(variant, samples, out)


def _trace_header() -> str:
    now = time.time()
    return f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


def child_cold(variant: str) -> None:
    """Import + decorate in a fresh process (timed), then the first (cold) invocation
    in the runtime loop, as the previous ``child_run``: the handler call is timed (work
    deferred out of init shows there), the response posted."""
    _like_lambda()
    start = time.perf_counter()
    sys.path.insert(0, str(HANDLERS))
    import app

    handler = getattr(app, SETUP[variant])()
    elapsed_ms = (time.perf_counter() - start) * 1000
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    client = LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    request = client.wait_next_invocation()
    event, ctx = _event_and_context(request)
    first = time.perf_counter()
    result = handler(event, ctx)
    first_ms = (time.perf_counter() - first) * 1000
    client.post_invocation_result(request.invoke_id, json.dumps(result))
    sys.stderr.write(f"COLD_MS {elapsed_ms:.3f} {first_ms:.3f}\n")


# ---------------------------------------------------------------------------- parent
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening")


def start_rotel(tmp: Path) -> tuple[subprocess.Popen, int]:
    import rotel

    binary = Path(rotel.__file__).parent / "rotel-agent"
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            str(binary),
            "start",
            "--otlp-http-endpoint",
            f"127.0.0.1:{http_port}",
            "--otlp-grpc-endpoint",
            f"127.0.0.1:{grpc_port}",
            "--exporter",
            "blackhole",
            "--pid-file",
            str(tmp / "rotel.pid"),
            "--log-file",
            str(tmp / "rotel.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "rotel.stderr").open("w"),
    )
    try:
        wait_port(http_port)
    except TimeoutError:
        proc.kill()
        detail = (tmp / "rotel.stderr").read_text()[-1000:].strip()
        raise RuntimeError(
            f"rotel did not start (exit status {proc.wait()}): {detail or 'no output'} — "
            "e.g. a rotel wheel whose agent links a libpython this interpreter lacks"
        ) from None
    return proc, http_port


class UdpDrain:
    """The X-Ray daemon stand-in: receives and counts segment documents."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sock.recv(65536)
                self.received += 1
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def variant_env(variant: str, otlp_port: int, udp_port: int, runtime_api: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_"))
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HANDLERS)]),
            "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[1]0123456789abcdef",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": str(HANDLERS),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{udp_port}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_SERVICE_NAME": "orders",
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
        }
    )
    otlp = f"http://127.0.0.1:{otlp_port}"
    if variant in ("fnlens-full", "fnlens-full-ext", "fnlens-spans"):
        env.update(
            {
                "FNLENS_EXPORTERS": "otlp,emf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "FNLENS_FLUSH_MODE": "budget",
            }
        )
    if variant == "fnlens-full-ext":
        env["FNLENS_FLUSH_MODE"] = "extension"
    if variant == "fnlens-migrated":
        # as docs/migrating-from-powertools.md's after handler: EMF metrics on stdout and
        # spans to the X-Ray daemon (the UDP socket), as the Powertools variant sends them
        env["FNLENS_EXPORTERS"] = "emf,xray"
    if variant == "fnlens-migrated-emf":
        env["FNLENS_EXPORTERS"] = "emf"  # the same without traces: what the spans cost
    if variant == "fnlens-spans":
        # as the Powertools variant ships its logs: stdout (CloudWatch), not the network
        env["OTEL_LOGS_EXPORTER"] = "none"
    if variant == "otel":
        env.update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "_HANDLER": "app.otel_handler",
            }
        )
    return env


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"


@contextmanager
def lambda_environment(invocations: int) -> Iterator[tuple[str, list[Any]]]:
    """One execution environment's endpoint, as fnlens's local runtime serves it: the
    Runtime API and the Extensions API on 127.0.0.1, ``invocations`` events queued up
    front and handed out the way Lambda does (only once the runtime and every
    registered extension have asked for the next one). Yields the address for
    ``AWS_LAMBDA_RUNTIME_API`` and the invocations, which record when each was handed
    out and answered."""
    from fnlens.localrt._api_server import Invocation, RuntimeApi, RuntimeApiServer

    body = json.dumps(_event()).encode()
    api = RuntimeApi(
        function_info={"functionName": "orders-api", "functionVersion": "1", "handler": "app"}
    )
    queued = []
    for _ in range(invocations):
        now = time.time()
        trace = (
            f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]};"
            f"Parent={uuid.uuid4().hex[:16]};Sampled=1"
        )
        invocation = Invocation(str(uuid.uuid4()), body, FUNCTION_ARN, trace, timeout_s=3.0)
        api.submit(invocation)
        queued.append(invocation)
    server = RuntimeApiServer(api).start()
    try:
        yield server.address, queued
    finally:
        server.stop()


# Environment variables a process outside Lambda does not have.
LAMBDA_ONLY = ("AWS_LAMBDA_", "LAMBDA_", "_X_AMZN_TRACE_ID", "AWS_EXECUTION_ENV", "AWS_XRAY_")


def mode_env(env: dict[str, str], mode: str) -> dict[str, str]:
    """The runtime loop's environment, adjusted for a direct-call mode. fnlens picks
    its flush mode itself there (``auto``), as a user's process would."""
    if mode == "loop":
        return env
    env = {k: v for k, v in env.items() if k != "FNLENS_FLUSH_MODE"}
    if mode == "server":
        env = {k: v for k, v in env.items() if not k.startswith(LAMBDA_ONLY)}
    return env


def invocation_records(path: Path) -> list[dict[str, Any]]:
    """fnlens's invocation records among a child's stdout lines (its public output)."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and '"invocation"' in line:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("event") == "invocation":
                records.append(obj)
    return records


def _child(
    cmd: list[str], env: dict[str, str], variant: str, stdout_path: Path, out: Path, timeout: int
) -> dict[str, Any]:
    with stdout_path.open("w") as stdout:
        proc = subprocess.run(
            cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"variant {variant} failed:\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def _samples(
    variant: str, data: dict[str, Any], stdout_path: Path, n: int, warmup: int
) -> dict[str, Any]:
    """The timed invocations' samples (µs, ms), fnlens's from its records on stdout."""
    waits = data["waits_ms"][warmup:]
    dropped = 0
    if variant.startswith("fnlens"):
        records = invocation_records(stdout_path)
        if len(records) != warmup + n:
            raise RuntimeError(
                f"variant {variant}: {len(records)} invocation records on stdout, "
                f"{warmup + n} invocations"
            )
        waits = [r.get("telemetry_flush_ms") or 0.0 for r in records[warmup:]]
        dropped = records[-1].get("telemetry_dropped") or 0  # the process's count so far
    return {
        "us": [t / 1000 for t in data["timings_ns"][warmup:]],
        "busy_us": [t / 1000 for t in data["busy_ns"][warmup:]],
        "cpu_us": data["cpu_s"] * 1e6 / n,
        "waits_ms": waits,
        "dropped": dropped,
        "exit_flush_ms": data.get("exit_flush_ms"),
    }


def run_variant(
    variant: str, otlp_port: int, udp_port: int, n: int, warmup: int, tmp: Path
) -> dict:
    """One fresh function process in the runtime loop: samples of its timed invocations."""
    out = tmp / f"{variant}.json"
    out.unlink(missing_ok=True)
    stdout_path = tmp / f"{variant}.stdout"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant]
    cmd += ["--n", str(n), "--warmup", str(warmup), "--out", str(out)]
    with lambda_environment(warmup + n) as (address, invocations):
        env = variant_env(variant, otlp_port, udp_port, address)
        data = _child(cmd, env, variant, stdout_path, out, timeout=900)
    failed = next((inv.error for inv in invocations if inv.error is not None), None)
    if failed is not None:
        raise RuntimeError(f"variant {variant}: the handler failed: {failed[:500]!r}")
    samples = _samples(variant, data, stdout_path, n, warmup)
    timed = invocations[warmup:]
    samples["latency_us"] = [(inv.finished_at - inv.handed_out_at) * 1e6 for inv in timed]
    # billed, as the service sees it: from handing an event out to the environment being
    # ready for the next (runtime and every extension asked; events are queued, so the
    # next hand-out follows at once)
    samples["billed_us"] = [
        (after.handed_out_at - inv.handed_out_at) * 1e6 for inv, after in itertools.pairwise(timed)
    ]
    return samples


def run_direct(
    variant: str, mode: str, otlp_port: int, udp_port: int, n: int, warmup: int, tmp: Path
) -> dict:
    """One fresh process calling the handler directly (``server`` or ``frozen``)."""
    out = tmp / f"{variant}-{mode}.json"
    out.unlink(missing_ok=True)
    stdout_path = tmp / f"{variant}-{mode}.stdout"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--direct", variant, "--mode", mode]
    cmd += ["--n", str(n), "--warmup", str(warmup), "--out", str(out)]
    # frozen: Lambda's variables name a Runtime API (Lambda always sets one); nothing is
    # queued there and the handler is called directly, as by a runtime fnlens cannot hook
    with lambda_environment(0) as (address, _):
        env = mode_env(variant_env(variant, otlp_port, udp_port, address), mode)
        data = _child(cmd, env, variant, stdout_path, out, timeout=900)
    return _samples(variant, data, stdout_path, n, warmup)


def summarize(samples: list[dict]) -> dict:
    """Pool the samples of every round of one variant into the reported statistics."""

    def pooled(key: str) -> list[float]:
        return [value for sample in samples for value in sample.get(key, [])]

    def stats(key: str) -> tuple[float | None, float | None]:
        values = pooled(key)
        return (statistics.median(values), pct(values, 0.99)) if values else (None, None)

    summary: dict[str, Any] = {}
    for key in ("us", "busy_us", "latency_us", "billed_us", "waits_ms"):
        summary[key] = stats(key)
    summary["cpu_us"] = statistics.median(s["cpu_us"] for s in samples)
    summary["dropped"] = sum(s["dropped"] for s in samples)
    exits = [s["exit_flush_ms"] for s in samples if s.get("exit_flush_ms") is not None]
    summary["exit_flush_ms"] = max(exits) if exits else None
    summary["round_medians_us"] = [statistics.median(s["us"]) for s in samples]
    return summary


def run_cold(variant: str, otlp_port: int, udp_port: int, runs: int) -> tuple[float, float]:
    samples = []
    firsts = []
    for _ in range(runs):
        with lambda_environment(1) as (address, _):  # a new environment each time
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--cold", variant],
                env=variant_env(variant, otlp_port, udp_port, address),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        line = [x for x in proc.stderr.splitlines() if x.startswith("COLD_MS ")]
        if not line:
            raise RuntimeError(f"cold run of {variant} failed:\n{proc.stderr[-3000:]}")
        fields = line[-1].split()
        samples.append(float(fields[1]))
        firsts.append(float(fields[2]))
    return statistics.median(samples), statistics.median(firsts)


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    def version(name: str) -> str:
        try:
            return installed_version(name)
        except PackageNotFoundError:
            return "not installed"

    libs = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "aws-lambda-powertools",
            "aws-xray-sdk",
            "opentelemetry-sdk",
            "opentelemetry-instrumentation-aws-lambda",
            "structlog",
            "rotel",
        )
    )
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {libs}"
    )


MODES: dict[str, str] = {
    "loop": "awslambdaric runtime loop",
    "server": "called directly, a process that never freezes",
    "frozen": "called directly with Lambda's environment (the platform freezes)",
}
# The extension mode needs the runtime loop; OpenTelemetry's Lambda instrumentation
# does nothing without AWS_LAMBDA_FUNCTION_NAME, so it has no row outside Lambda.
MODE_VARIANTS = {
    "loop": tuple(VARIANTS),
    "server": ("bare", "fnlens", "fnlens-full", "fnlens-spans", "powertools"),
    "frozen": ("bare", "fnlens", "fnlens-full", "fnlens-spans", "powertools", "otel"),
}


def label(variant: str, mode: str) -> str:
    """A variant's row name in one mode: outside the runtime loop fnlens picks its flush
    mode itself; Powertools' Tracer turns itself off outside Lambda."""
    text = VARIANTS[variant]
    if mode != "loop":
        text = text.replace("flush_mode=budget", "flush mode auto")
    if mode == "server" and variant == "powertools":
        text += ", Tracer off outside Lambda"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="timed invocations per variant")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="run the variants this many times, interleaved (drift hits all alike); "
        "--n invocations per variant in all",
    )
    parser.add_argument(  # the migration variants run with --migration
        "--variants", default=",".join(v for v in VARIANTS if v not in MIGRATION_VARIANTS[2:])
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="loop (awslambdaric runtime loop), server (direct call, never frozen), "
        "frozen (direct call with Lambda's environment)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: --n 60 --warmup 10 --cold-runs 1 --rounds 1 (numbers meaningless)",
    )
    parser.add_argument(
        "--migration",
        action="store_true",
        help="only Powertools (Logger+Tracer+Metrics, add_metric) vs fnlens with the "
        "Powertools field set and fnlens.metrics, in the runtime loop; --write-docs then "
        "updates docs/benchmarks.md § Migrating from Powertools",
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--direct")
    parser.add_argument("--mode", choices=[m for m in MODES if m != "loop"])
    parser.add_argument("--cold")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child_run(args.child, args.n, args.warmup, args.out)
        return
    if args.direct:
        child_direct(args.direct, args.mode, args.n, args.warmup, args.out)
        return
    if args.cold:
        child_cold(args.cold)
        return
    if args.quick:
        args.n, args.warmup, args.cold_runs, args.rounds = 60, 10, 1, 1

    if args.migration:
        args.variants, args.modes = ",".join(MIGRATION_VARIANTS), "loop"
    variants = [v for v in args.variants.split(",") if v]
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted({*variants} - set(VARIANTS)) + sorted({*modes} - set(MODES))
    if unknown:
        parser.error(f"unknown variant or mode: {', '.join(unknown)}")
    # A bundle installed with pip holds compiled bytecode for every package; fnlens runs
    # from this checkout, so compile it too (with PYTHONDONTWRITEBYTECODE set, or after
    # an edit, every cold start would otherwise compile fnlens's modules from source).
    import compileall

    for directory in (ROOT / "src" / "fnlens", HANDLERS):
        compileall.compile_dir(str(directory), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="fnlens-bench-"))
    rotel_proc, otlp_port = start_rotel(tmp)
    udp = UdpDrain()
    runs: dict[str, dict[str, list[dict]]] = {mode: {} for mode in modes}
    cold: dict[str, float] = {}
    first: dict[str, float] = {}
    rounds = max(1, args.rounds)
    per_round = max(1, args.n // rounds)
    try:
        for round_index in range(rounds):
            for mode in modes:
                for variant in variants:
                    if variant not in MODE_VARIANTS[mode]:
                        continue
                    print(
                        f"round {round_index + 1}/{rounds}: {mode} {variant} …",
                        file=sys.stderr,
                        flush=True,
                    )
                    if mode == "loop":
                        sample = run_variant(
                            variant, otlp_port, udp.port, per_round, args.warmup, tmp
                        )
                    else:
                        sample = run_direct(
                            variant, mode, otlp_port, udp.port, per_round, args.warmup, tmp
                        )
                    runs[mode].setdefault(variant, []).append(sample)
        for variant in variants:
            cold[variant], first[variant] = run_cold(variant, otlp_port, udp.port, args.cold_runs)
    finally:
        udp_received = udp.received
        udp.close()
        rotel_proc.terminate()
        rotel_proc.wait(10)

    results = {
        mode: {variant: summarize(samples) for variant, samples in by_variant.items()}
        for mode, by_variant in runs.items()
    }
    command = "python bench/bench_middleware.py " + " ".join(
        a for a in sys.argv[1:] if a != "--write-docs"
    )
    if args.migration:
        report = render_migration(results, cold, first, args, command.strip())
        print(report)
        if args.write_docs:
            write_migration_docs(report)
        return
    report = render(results, cold, first, args, udp_received, command.strip())
    print(report)
    if args.write_docs:
        write_docs(report)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _pair(values: tuple[float | None, float | None], digits: int = 1) -> str:
    return f"{_fmt(values[0], digits)} / {_fmt(values[1], digits)}"


class Ratios:
    """Overheads over the bare handler, and their ratios to a reference variant's."""

    def __init__(self, rows: dict[str, dict]) -> None:
        self.rows = rows

    def over_bare(self, variant: str, key: str, at: int = 0) -> float | None:
        if variant not in self.rows or "bare" not in self.rows:
            return None
        value, base = self.rows[variant][key], self.rows["bare"][key]
        if isinstance(value, tuple):
            value, base = value[at], base[at]
        if value is None or base is None:
            return None
        return value - base

    def ratio(self, variant: str, reference: str, key: str, at: int = 0) -> float | None:
        ours, theirs = self.over_bare(variant, key, at), self.over_bare(reference, key, at)
        if ours is None or theirs is None or theirs <= 0:
            return None
        return ours / theirs


def _ratio_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}x"


def _mode_table(mode: str, rows: dict[str, dict], cold: dict, first: dict) -> list[str]:
    ratios = Ratios(rows)
    loop = mode == "loop"
    head = "| variant | handler call median / p99 µs | over bare median / p99 µs "
    if loop:
        head += (
            "| response latency median / p99 µs | billed median / p99 µs "
            "| billed over bare median µs | busy in the process median / p99 µs "
        )
    head += "| CPU per invocation µs | caller waits for telemetry median / p99 ms "
    head += "| flush at exit ms |"
    if loop:
        head += " import + decorate ms | first invocation ms |"
    columns = head.count("|") - 1
    lines = [head, "| --- |" + " ---: |" * (columns - 1)]
    for variant, row in rows.items():
        cells = [
            label(variant, mode),
            _pair(row["us"]),
            f"{_fmt(ratios.over_bare(variant, 'us'))} / {_fmt(ratios.over_bare(variant, 'us', 1))}",
        ]
        if loop:
            cells += [
                _pair(row["latency_us"]),
                _pair(row["billed_us"]),
                _fmt(ratios.over_bare(variant, "billed_us")),
                _pair(row["busy_us"]),
            ]
        waits = "n/a" if row["waits_ms"][0] is None else _pair(row["waits_ms"], 3)
        cells += [_fmt(row["cpu_us"]), waits, _fmt(row["exit_flush_ms"], 2)]
        if loop:
            cells += [_fmt(cold.get(variant), 2), _fmt(first.get(variant), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(
    results: dict, cold: dict, first: dict, args: Any, udp_received: int, command: str
) -> str:
    lines = [
        "## Middleware",
        "",
        (
            f"Command: `{command}` ({args.n} timed invocations per variant and mode, in "
            f"{args.rounds} rounds that interleave the variants, each round a fresh process "
            f"with {args.warmup} warm-up invocations; statistics over the pooled samples; "
            f"import + decorate = median of {args.cold_runs} fresh processes)."
        ),
        "",
        f"Machine: {machine()}.",
    ]
    for mode, rows in results.items():
        lines += ["", f"### {MODES[mode][0].upper()}{MODES[mode][1:]}", ""]
        lines += _mode_table(mode, rows, cold, first)
        spread = "; ".join(
            f"{label(v, mode)} {' / '.join(f'{m:.1f}' for m in row['round_medians_us'])}"
            for v, row in rows.items()
        )
        lines += ["", f"Median handler call of each round (µs), for the spread: {spread}."]
        ratios = Ratios(rows)
        lines += ["", ("Overhead over the bare handler, as a ratio to Powertools stacked "
                  "(and to OpenTelemetry's instrumentation):"), ""]  # fmt: skip
        keys = [("handler call", "us")]
        if mode == "loop":
            keys = [("response latency", "latency_us"), ("billed", "billed_us"), *keys]
        keys.append(("CPU per invocation", "cpu_us"))
        for variant in rows:
            if not variant.startswith("fnlens"):
                continue
            parts = []
            for what, key in keys:
                pt = _ratio_text(ratios.ratio(variant, "powertools", key))
                ot = _ratio_text(ratios.ratio(variant, "otel", key))
                parts.append(f"{what} {pt} ({ot})")
            lines.append(f"- {label(variant, mode)}: " + "; ".join(parts))
    lines += _targets(results, cold)
    lines += [
        "",
        f"X-Ray segment documents received on the local UDP socket: {udp_received}.",
    ]
    return "\n".join(lines) + "\n"


def _verdict(value: float | None, target: float, extra: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{'met' if value <= target and extra else 'missed'} ({value:.2f}x)"


def _targets(results: dict, cold: dict) -> list[str]:
    """Issue 12's targets for the full variant, against Powertools stacked, same run."""
    full = "fnlens-full"
    lines = ["", f"Targets for {VARIANTS[full]} (overhead over bare / Powertools stacked):", ""]
    checks: list[tuple[str, str]] = []
    loop = Ratios(results.get("loop", {}))
    if full in loop.rows and "powertools" in loop.rows:
        checks += [
            ("runtime loop, response latency <= 0.3x (median)",
             _verdict(loop.ratio(full, "powertools", "latency_us"), 0.3)),
            ("runtime loop, billed time <= 0.5x (median)",
             _verdict(loop.ratio(full, "powertools", "billed_us"), 0.5)),
        ]  # fmt: skip
    server = Ratios(results.get("server", {}))
    if full in server.rows and "powertools" in server.rows:
        waits = server.rows[full]["waits_ms"]
        waited = waits[1] is not None and waits[1] > 0
        checks.append(
            (
                (
                    "direct call, never frozen, <= 0.3x with caller wait 0 "
                    f"(p99 wait {_fmt(waits[1], 3)} ms)"
                ),
                _verdict(server.ratio(full, "powertools", "us"), 0.3, extra=not waited),
            )
        )
    frozen = Ratios(results.get("frozen", {}))
    if full in frozen.rows and "powertools" in frozen.rows:
        checks.append(
            ("direct call, the platform freezes, <= 1x (median)",
             _verdict(frozen.ratio(full, "powertools", "us"), 1.0))
        )  # fmt: skip
    if full in cold and "powertools" in cold and "bare" in cold:
        cold_ratio = (cold[full] - cold["bare"]) / max(1e-9, cold["powertools"] - cold["bare"])
        checks.append(("import + decorate <= 0.25x", _verdict(cold_ratio, 0.25)))
    if not checks:
        return []
    return lines + [f"- {name}: {result}" for name, result in checks]


NOTES = """
### Reading the numbers

* **Three ways a handler runs, one run.** Every variant runs in its own fresh
  process, once per mode and round (the rounds interleave variants and modes,
  so drift on the shared machine hits all alike):
  * *runtime loop* — as a Lambda function: `awslambdaric`'s runtime client
    fetches each event from a local stand-in for the Lambda service
    (`fnlens.localrt`'s Runtime and Extensions API on one endpoint, the events
    queued up front), the handler gets the runtime's own context object, the
    response is posted. The service hands out the next event only once the
    runtime *and every registered extension* have asked for it, as Lambda does.
    stdout is wrapped as the Lambda runtime wraps it (every write flushed) and
    packages a Lambda bundle would not contain (`rich`, `duckdb`, …) are hidden;
  * *called directly, never frozen* — a container, a server, a test run: no
    Lambda environment variable at all, the handler called in a loop with a
    `fnlens.testing.LambdaContext`. fnlens picks its flush mode itself
    (`auto`: export in the background). Powertools' Tracer turns itself off
    outside Lambda (no `LAMBDA_TASK_ROOT`), so its row there is Logger+Metrics;
    OpenTelemetry's Lambda instrumentation does nothing without
    `AWS_LAMBDA_FUNCTION_NAME`, so it has no row;
  * *called directly with Lambda's environment* — the variables Lambda sets
    (a Runtime API address included, nothing queued there) and the X-Ray header
    per invocation, but no runtime loop fnlens can hook: the platform may freeze
    the process after each response, so telemetry must be out before the handler
    returns (fnlens: `auto` → the flush budget, 5 ms by default).
* **What is measured.** *Handler call*: wall time around the handler call, as
  its caller sees it (in the direct modes that is everything the caller waits
  for). *Response latency*: the service's view, from handing the event out to
  receiving the response. *Billed*: also the service's view, from handing an
  event out to the environment being ready for the next one (runtime and every
  extension asked; with the events queued the next hand-out follows at once) —
  what Lambda bills, export after the response included, whoever does it.
  *Busy in the process*: the same from inside the function, event received to
  the response post returning. *CPU per invocation*: the process's CPU time
  (`time.process_time`, all threads: background exports included) over the
  timed invocations, divided by their number. *Caller waits for telemetry*:
  fnlens's `telemetry_flush_ms` from its invocation records on stdout;
  OpenTelemetry's `force_flush()` inside the handler, timed. *Flush at exit*:
  `fnlens.flush()` after the last invocation (what an exiting process waits).
  Overheads are over the bare handler in the same mode; the ratios divide
  fnlens's overhead by Powertools' (and OpenTelemetry's). A ratio is n/a where
  the reference's overhead is not above the noise (≤ 0).
* **Public API only.** The benchmark reads fnlens through what a user has: the
  invocation records it prints (their `telemetry_flush_ms` and
  `telemetry_dropped`; the run fails if a record is missing) and `fnlens.flush`.
  The stand-in service is Python and shares the machine's two vCPUs with the
  function, the collector (rotel, `blackhole` exporter) and the exports, so the
  latency and billed columns carry its noise: compare variants within one run,
  not across runs.
* **Logs on stdout row.** The Powertools variant ships its logs the way Lambda
  functions usually do: JSON on stdout, which Lambda sends to CloudWatch Logs.
  The full fnlens variants also send every log line and invocation record over
  OTLP (the issue's "logs + spans + EMF, OTLP"), a second export per invocation
  that Powertools does not do. That row is fnlens configured like Powertools:
  logs on stdout only (`OTEL_LOGS_EXPORTER=none`), spans over OTLP, EMF.
* **Extension row** (runtime loop only): `FNLENS_FLUSH_MODE=extension`, the
  in-process Lambda extension; the environment is ready for the next event only
  once it has asked for it, which the billed column includes.
* **Cold cost.** Import + decorate in a fresh process, with the same Lambda-like
  bundle for every variant (Powertools: creating Logger, Tracer and Metrics
  too); interpreter start-up excluded. The *first invocation* column is the
  handler call of the first event, in the runtime loop: work deferred out of
  init that the caller still waits for shows there.
* **Set-up.** `pip install -e '.[bench]' -c bench/constraints.txt` in a fresh
  virtualenv installs the versions listed under *Machine*
  (`tests/bench/test_bench_setup.py` does that and runs `--quick`).
"""


MIGRATION_HEADING = "### Migrating from Powertools"
MIGRATION_END = "<!-- end of the migration benchmark -->"


def _load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def render_migration(results: dict, cold: dict, first: dict, args: Any, command: str) -> str:
    """The migration table: cold start and per-invocation cost of Powertools stacked and
    of the same handler moved to fnlens, over the bare handler, and their ratios."""
    rows = results.get("loop", {})
    ratios = Ratios(rows)
    pt = "powertools"
    lines = [
        MIGRATION_HEADING,
        "",
        (
            f"Command: `{command}` ({args.n} timed invocations per variant in {args.rounds} "
            f"rounds, each a fresh process in the awslambdaric runtime loop with {args.warmup} "
            f"warm-up invocations; cold start = median of {args.cold_runs} fresh processes). "
            f"Load average (1 / 5 / 15 min) at the end of the run: {_load_average()} on "
            f"{os.cpu_count()} CPUs shared with other work, so compare the rows, not the runs."
        ),
        "",
        (
            "The Powertools row is the bench handler (`bench/handlers/app.py`) under Logger, "
            "Tracer and Metrics with one `add_metric` and the cold-start metric; the fnlens rows "
            'are the same handler under `@fnlens.instrument(log_fields="powertools")` with the '
            "same metric through `fnlens.metrics.add_metric`, with `FNLENS_EXPORTERS=emf,xray` "
            "(spans to the same UDP socket as Tracer's segments) and with `emf` alone. Columns "
            "as in the tables above; *first invocation* is the handler call of the first event."
        ),
        "",
        (
            "| variant | import + decorate ms | first invocation ms | handler call median / p99 µs "
            "| response latency median / p99 µs | billed median / p99 µs | CPU per invocation µs |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, row in rows.items():
        cells = [
            VARIANTS[variant],
            _fmt(cold.get(variant), 2),
            _fmt(first.get(variant), 2),
            _pair(row["us"]),
            _pair(row["latency_us"]),
            _pair(row["billed_us"]),
            _fmt(row["cpu_us"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Over the bare handler, fnlens as a ratio to Powertools (lower is cheaper):"]
    for fn in (v for v in rows if v.startswith("fnlens")):
        lines += ["", f"{VARIANTS[fn]}:", ""]
        lines += _migration_ratios(fn, pt, ratios, cold, first)
    lines += ["", f"Machine: {machine()}.", "", MIGRATION_END]
    return "\n".join(lines) + "\n"


def _migration_ratios(fn: str, pt: str, ratios: Ratios, cold: dict, first: dict) -> list[str]:
    lines = []
    for what, times in (("cold start (import + decorate)", cold), ("first invocation", first)):
        if fn in times and pt in times and "bare" in times:
            over_fn, over_pt = times[fn] - times["bare"], times[pt] - times["bare"]
            ratio = over_fn / over_pt if over_pt > 0 else None
            lines.append(
                f"- {what}: {_fmt(over_fn, 2)} ms vs {_fmt(over_pt, 2)} ms = {_ratio_text(ratio)}"
            )
    for what, key in (
        ("handler call", "us"),
        ("response latency", "latency_us"),
        ("billed", "billed_us"),
        ("CPU per invocation", "cpu_us"),
    ):
        stat = "mean" if key == "cpu_us" else "median"
        lines.append(
            f"- {what} ({stat}): {_fmt(ratios.over_bare(fn, key))} µs vs "
            f"{_fmt(ratios.over_bare(pt, key))} µs = {_ratio_text(ratios.ratio(fn, pt, key))}"
        )
    return lines


def _migration_section(text: str) -> str:
    start = text.find(MIGRATION_HEADING)
    if start == -1:
        return ""
    end = text.find(MIGRATION_END, start)
    return "" if end == -1 else text[start : end + len(MIGRATION_END)] + "\n"


MIGRATION_DOC_START = "<!-- bench_middleware.py --migration writes from here -->"


def write_migration_docs(report: str) -> None:
    """Replace (or add, at the end of ``## Middleware``) the migration subsection, and
    the same table in docs/migrating-from-powertools.md § Cost."""
    guide = ROOT / "docs" / "migrating-from-powertools.md"
    text = guide.read_text()
    start, end = text.find(MIGRATION_DOC_START), text.find(MIGRATION_END)
    if start != -1 and end != -1:
        body = report[len(MIGRATION_HEADING) :].strip("\n")  # under the guide's own heading
        text = (
            text[: start + len(MIGRATION_DOC_START)]
            + "\n\n"
            + body
            + text[end + len(MIGRATION_END) :]
        )
        guide.write_text(text)
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    old = _migration_section(text)
    if old:
        text = text.replace(old, report)
    else:
        start = text.find("## Middleware")
        end = text.find("\n## ", start + 1) if start != -1 else -1
        if end == -1:
            text = text.rstrip("\n") + "\n\n" + report
        else:
            text = text[: end + 1] + report + "\n" + text[end + 1 :]
    path.write_text(text)


def write_docs(report: str) -> None:
    """Replace (or append) the ``## Middleware`` section of docs/benchmarks.md (the
    migration subsection, written by ``--migration``, is kept)."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find("## Middleware")
    section = report + NOTES
    migration = _migration_section(text)
    if migration:
        section = section.rstrip("\n") + "\n\n" + migration
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end == -1 else "\n" + text[end + 1 :])
    path.write_text(text)


if __name__ == "__main__":
    main()
