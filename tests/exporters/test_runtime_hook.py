"""The runtime-client hook: a signal right after each response (or error) is posted."""

from __future__ import annotations

import sys
import types

import pytest

from fnlens.exporters import runtime_hook


@pytest.fixture
def fake_runtime_client(monkeypatch):
    """A stand-in for the managed runtime's top-level ``lambda_runtime_client`` module."""
    calls: list[str] = []

    class LambdaRuntimeClient:
        def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
            calls.append(f"result:{invoke_id}")
            return "posted"

        def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
            calls.append(f"error:{invoke_id}")
            raise ConnectionError("runtime API gone")

    module = types.ModuleType("lambda_runtime_client")
    module.LambdaRuntimeClient = LambdaRuntimeClient
    monkeypatch.delitem(sys.modules, "awslambdaric.lambda_runtime_client", raising=False)
    monkeypatch.setitem(sys.modules, "lambda_runtime_client", module)
    return LambdaRuntimeClient, calls


def test_the_callback_runs_after_each_post_and_the_hook_comes_off(fake_runtime_client):
    client_class, calls = fake_runtime_client
    unhook = runtime_hook.hook_runtime_responses(lambda: calls.append("signal"))
    assert unhook is not None
    client = client_class()
    assert client.post_invocation_result("r1", b"{}") == "posted"  # result passes through
    with pytest.raises(ConnectionError):  # the runtime's own errors pass through
        client.post_invocation_error("r2", b"{}", "")
    assert calls == ["result:r1", "signal", "error:r2", "signal"]
    assert runtime_hook.hook_runtime_responses(lambda: None) is None  # one hook per process
    unhook()
    client.post_invocation_result("r3", b"{}")
    assert calls[-1] == "result:r3"  # no signal once unhooked


def test_a_failing_callback_never_reaches_the_runtime(fake_runtime_client):
    client_class, calls = fake_runtime_client

    def broken() -> None:
        raise RuntimeError("telemetry bug")

    unhook = runtime_hook.hook_runtime_responses(broken)
    try:
        assert client_class().post_invocation_result("r1", b"{}") == "posted"
        assert calls == ["result:r1"]
    finally:
        unhook()


def test_without_a_runtime_client_there_is_no_hook(monkeypatch):
    for name in runtime_hook.MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert runtime_hook.hook_runtime_responses(lambda: None) is None


def test_awslambdaric_client_is_found():
    pytest.importorskip("awslambdaric")
    import awslambdaric.lambda_runtime_client as module

    cls = runtime_hook._target_class()
    assert cls is not None and cls.__module__ == module.__name__
    assert all(name in vars(cls) for name in runtime_hook.METHODS)
