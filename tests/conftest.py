"""Shared test configuration.

Each test starts from a clean fnlens state: after every test
``fnlens.testing.reset()`` shuts down what it installed and forgets every sink, hook,
processor, cold start and runtime-client hook (as users' suites can do), and no Lambda
environment variables come from the host.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# otlp_sink, rotel, black_hole: real components on 127.0.0.1 for every folder
pytest_plugins = ["tests.support.fixtures"]

_LAMBDA_ENV = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "_X_AMZN_TRACE_ID",
    "FNLENS_DISABLED",
    "FNLENS_SERVICE",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "FNLENS_EXPORTERS",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


@pytest.fixture(autouse=True)
def _fresh_fnlens() -> Iterator[None]:
    """``fnlens.testing.reset()`` after the test. Set up before every other fixture, so
    it is torn down last: after the test's monkeypatched environment is restored (the
    reset re-reads settings such as ``FNLENS_LOG_LEVEL`` and ``OTEL_PROPAGATORS``) and
    after the fixtures that stopped the test's collectors."""
    yield
    from fnlens.testing import reset

    reset()


@pytest.fixture(autouse=True)
def _clean_lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _LAMBDA_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``moto_server`` (CloudWatch Logs, CloudWatch dashboards…) on a free 127.0.0.1 port,
    shared by the session and stopped at its end."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto_server did not listen within 30 s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def hook_runtime_client(monkeypatch):
    """Installs a stand-in for the managed runtime's ``lambda_runtime_client`` module and
    lets fnlens hook it (:mod:`fnlens.runtime._response_phase`): ``hook(client_class)``
    returns the hooked ``LambdaRuntimeClient``, a subclass holding the client's next /
    post methods itself, so that the hook never patches the class a test defined."""
    import types

    from fnlens.runtime import _response_phase as response_phase
    from fnlens.runtime._response_phase import NEXT_METHOD, PHASE, POST_METHODS

    def hook(client_class: type) -> type:
        methods = {name: getattr(client_class, name) for name in (NEXT_METHOD, *POST_METHODS)}
        cls = type("LambdaRuntimeClient", (client_class,), methods)
        module = types.ModuleType("lambda_runtime_client")
        module.LambdaRuntimeClient = cls
        for name in response_phase.MODULES:
            monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.setitem(sys.modules, "lambda_runtime_client", module)
        PHASE.uninstall()
        assert PHASE.install()
        return cls

    return hook  # (unhooked by the autouse fnlens.testing.reset())
