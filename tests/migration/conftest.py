"""The before (Powertools) and after (fnlens) handlers of docs/migrating-from-powertools.md,
each run in the real AWS runtime client (``fnlens.localrt``) with the same events; the
X-Ray daemon is a UDP socket on 127.0.0.1 that counts what both send."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._doc import handler_code

EVENTS = (
    {"order_id": 17, "channel": "web"},  # cold start
    {"order_id": 18, "channel": "app"},
    {"order_id": 19, "channel": "web", "fail": True},  # logs an exception
)
ENV = {"POWERTOOLS_SERVICE_NAME": "payment", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}
AFTER_ENV = {"FNLENS_EXPORTERS": "emf,xray"}  # as the page says


@dataclass
class Invocation:
    result: Any  # fnlens.localrt.InvocationResult
    lines: list[dict] = field(default_factory=list)  # the JSON objects of its log lines

    def app_lines(self) -> list[dict]:
        """Log lines the handler wrote: neither EMF documents nor fnlens's record."""
        return [
            line for line in self.lines if "_aws" not in line and line.get("event") != "invocation"
        ]

    def emf(self) -> list[dict]:
        return [line for line in self.lines if "_aws" in line]


@dataclass
class Run:
    code: str
    invocations: list[Invocation]
    segments: list[bytes]
    log_lines: list[str]  # every line of the log stream, in order


def _drain(sock: socket.socket) -> list[bytes]:
    received = []
    sock.settimeout(1.0)
    while True:
        try:
            received.append(sock.recv(65536))
        except OSError:
            return received


def _run(which: str, tmp: Path) -> Run:
    from fnlens.localrt import FunctionCode, LocalLambda

    code = handler_code(which)
    code_dir = tmp / which
    code_dir.mkdir()
    (code_dir / "app.py").write_text(code)
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    env = {
        **ENV,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **(AFTER_ENV if which == "after" else {}),
    }
    invocations = []
    log_lines: list[str] = []
    try:
        with LocalLambda("payment-fn", max_idle_s=60) as fn:
            fn.update_code(
                FunctionCode(
                    "app.handler", code_dir, memory_mb=256, environment=env, tracing="Active"
                )
            )
            for event in EVENTS:
                result = fn.invoke(event)
                lines = [json.loads(x) for x in result.logs if x.startswith("{")]
                invocations.append(Invocation(result, lines))
                log_lines += result.logs
        segments = _drain(daemon)
    finally:
        daemon.close()
    return Run(code, invocations, segments, log_lines)


@pytest.fixture(scope="session")
def migration_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    tmp = tmp_path_factory.mktemp("migration")
    return {which: _run(which, tmp) for which in ("before", "after")}
