"""Fixtures that start real components on 127.0.0.1 (rotel, an OTLP sink, a hung
collector), shared by the folders whose conftest imports them by name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import BlackHole, free_port, wait_port
from tests.support.otlp_sink import OTLPSink
from tests.support.rotel import Rotel, rotel_binary


@pytest.fixture
def otlp_sink() -> Iterator[OTLPSink]:
    sink = OTLPSink().start()
    yield sink
    sink.stop()


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


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()
