"""Fixtures that start real components on 127.0.0.1: rotel, an OTLP sink, a black hole."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from otlp_sink import OTLPSink

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
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
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


_ROTEL_CHECKED: dict[str, str] = {}


def rotel_binary() -> str:
    """The rotel agent shipped in the wheel, checked to run on this machine once."""
    import rotel

    path = Path(rotel.__file__).parent / "rotel-agent"
    if not path.exists():
        pytest.skip("rotel wheel has no agent binary for this platform")
    if str(path) not in _ROTEL_CHECKED:
        probe = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            # e.g. the cp313 wheel's agent links libpython3.13.so, which a Python
            # built without --enable-shared does not have
            pytest.fail(
                f"rotel-agent cannot run here (exit {probe.returncode}): "
                f"{(probe.stderr or probe.stdout).strip()[:400]}"
            )
        _ROTEL_CHECKED[str(path)] = probe.stdout.strip()
    return str(path)


@pytest.fixture
def otlp_sink() -> Iterator[OTLPSink]:
    sink = OTLPSink().start()
    yield sink
    sink.stop()


class Rotel:
    def __init__(self, proc: subprocess.Popen, grpc_port: int, http_port: int, log: Path):
        self.proc = proc
        self.grpc_endpoint = f"http://127.0.0.1:{grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{http_port}"
        self.log = log


@pytest.fixture
def rotel(otlp_sink: OTLPSink, tmp_path: Path) -> Iterator[Rotel]:
    """rotel receiving OTLP gRPC + HTTP on loopback, forwarding to ``otlp_sink``."""
    grpc_port, http_port = free_port(), free_port()
    log = tmp_path / "rotel.log"
    cmd = [
        rotel_binary(),
        "start",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{grpc_port}",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http_port}",
        "--exporter",
        "otlp",
        "--otlp-exporter-endpoint",
        otlp_sink.endpoint,
        "--otlp-exporter-protocol",
        "http",
        "--otlp-exporter-compression",
        "none",
        "--batch-timeout",
        "50ms",
        "--pid-file",
        str(tmp_path / "rotel.pid"),
        "--log-file",
        str(log),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(grpc_port)
        wait_port(http_port)
        yield Rotel(proc, grpc_port, http_port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class BlackHole:
    """Accepts TCP connections and never answers (a hung collector)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def closed_port() -> int:
    """A loopback port with nothing listening (a collector that is down)."""
    return free_port()


def run_script(
    script: str, env: dict[str, str], timeout_s: float = 60.0, args: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh interpreter (exporters configure once per process);
    ``args`` become its ``sys.argv[1:]``."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "_X_AMZN"))
    }
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
    return subprocess.run(
        [sys.executable, "-c", script, *(args or [])],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=str(ROOT),
    )


def lambda_env(**extra: Any) -> dict[str, str]:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
        "AWS_LAMBDA_FUNCTION_VERSION": "42",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[42]abcdef0123456789",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders-api",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def install():
    """Install exporters in this process for one test; everything is removed afterwards."""
    from fnlens.exporters._setup import configure_exporters, reset_exporters

    def _install(*args: Any, **kwargs: Any):
        kwargs.setdefault("env", {})
        return configure_exporters(*args, **kwargs)

    yield _install
    reset_exporters(timeout_s=0.5)
