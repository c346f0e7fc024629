"""``fnlens.testing.reset()``: after it, fnlens behaves as a fresh ``import fnlens``.

Every check goes through what users see: records and lines captured or written to the
exporters' files, stdout, the ``fnlens`` logger's warnings, the runtime client's
methods, the exporters' threads. (The suite's autouse fixture also calls ``reset()``
after each test; these tests call it in the middle, where its effect is observable.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

import fnlens
from fnlens.testing import LambdaContext, capture, events, reset
from tests.support.timing import SLACK_S

# fields that differ between any two invocations, whatever the configuration
VARYING = {
    "timestamp",
    "request_id",
    "trace_id",
    "span_id",
    "xray_trace_id",
    "duration_ms",
    "init_duration_ms",
}


def _invoke_with_file_exporter(monkeypatch, directory: Path) -> tuple[dict, list[dict]]:
    """Configure exporters from the environment (the file exporter into ``directory``)
    as a function's first decorated handler does, invoke once, and read the file."""
    monkeypatch.setenv("FNLENS_EXPORTERS", "file")
    monkeypatch.setenv("FNLENS_FILE_DIR", str(directory))

    @fnlens.instrument(service="orders")
    def handler(event, context):
        fnlens.get_logger().info("work", order="7")
        return {"statusCode": 200}

    with capture() as captured:
        result = handler(
            events.api_gateway_v2("GET /orders/{id}", path="/orders/7"),
            LambdaContext(function_name="orders-api"),
        )
    assert result == {"statusCode": 200}
    fnlens.flush(5.0)
    path = directory / "fnlens.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return captured.invocation(), lines


def test_a_second_configuration_after_reset_behaves_like_the_first(monkeypatch, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    first, first_lines = _invoke_with_file_exporter(monkeypatch, one)
    reset()
    second, second_lines = _invoke_with_file_exporter(monkeypatch, two)

    # counted from the files themselves: one log line and one record each
    assert [line["event"] for line in first_lines] == ["work", "invocation"]
    assert [line["event"] for line in second_lines] == ["work", "invocation"]
    # the first exporter was shut down and forgotten: its file got nothing more
    assert len((one / "fnlens.jsonl").read_text().splitlines()) == 2
    # the same record, field by field, but for what differs between any two invocations
    assert first["cold_start"] is True and second["cold_start"] is True
    assert set(first) == set(second)
    differing = {k for k in first if k not in VARYING and first[k] != second[k]}
    assert differing == set(), {k: (first[k], second[k]) for k in differing}
    for written in (first_lines, second_lines):
        assert {k for k in written[1] if k not in VARYING} == {k for k in first if k not in VARYING}


def test_reset_forgets_sinks_hooks_processors_level_and_stdout(capsys):
    seen_by_sink: list[dict] = []
    seen_by_hook: list[str] = []

    class Sink:
        def emit(self, event):
            seen_by_sink.append(dict(event))

        def flush(self, timeout_s):
            return None

        def shutdown(self):
            return None

    class Hook:
        def on_start(self, invocation):
            seen_by_hook.append("start")

        def on_end(self, invocation, record):
            seen_by_hook.append("end")

        def flush(self, timeout_s):
            return None

        def shutdown(self):
            return None

    def add_team(_logger, _method, event_dict):
        event_dict["team"] = "payments"
        return event_dict

    def handler(event, context):
        fnlens.get_logger().info("work")
        return 1

    instrumented = fnlens.instrument(handler)  # (decorating sets stdout and the level)
    fnlens.configure(
        sinks=[Sink()], hooks=[Hook()], processors=[add_team], stdout=False, log_level="error"
    )
    with capture() as before:
        instrumented({}, LambdaContext())
    assert [e.get("team") for e in before.events] == ["payments"]  # the record; no info line
    assert len(seen_by_sink) == 1 and seen_by_hook == ["start", "end"]
    assert capsys.readouterr().out == ""

    reset()
    with capture() as after:
        fnlens.instrument(handler)({}, LambdaContext())
    assert [e["event"] for e in after.events] == ["work", "invocation"]  # level info again
    assert all("team" not in e for e in after.events)
    assert len(seen_by_sink) == 1 and seen_by_hook == ["start", "end"]  # nothing more
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in out] == ["work", "invocation"]  # stdout again


def test_reset_makes_the_next_invocation_cold_again(monkeypatch):
    # an invocation more than 2 s after the end of init is a proactive initialisation
    # (not cold); the handler is decorated once, before the reset, as a handler module
    # imported once by a suite is
    monkeypatch.setenv("FNLENS_PROACTIVE_INIT_THRESHOLD_MS", "2000")

    @fnlens.instrument
    def handler(event, context):
        return 1

    with capture() as before:
        handler({}, LambdaContext())
        handler({}, LambdaContext())
    time.sleep(2.5)  # longer than the threshold since import and decoration
    reset()  # (which also removes every sink, capture()'s included)
    with capture() as after:
        handler({}, LambdaContext())
    assert [r["cold_start"] for r in before.records + after.records] == [True, False, True]
    assert after.invocation()["init_type"] == "on-demand"


def test_a_bad_setting_warns_again_after_reset(monkeypatch, caplog):
    monkeypatch.setenv("FNLENS_FLUSH_BUDGET_MS", "soon")

    def warnings() -> int:
        return sum("FNLENS_FLUSH_BUDGET_MS='soon'" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="fnlens"):
        fnlens.instrument(lambda e, c: 1)({}, LambdaContext())
        fnlens.instrument(lambda e, c: 1)({}, LambdaContext())
        assert warnings() == 1  # once per process…
        reset()
        fnlens.instrument(lambda e, c: 1)({}, LambdaContext())
        assert warnings() == 2  # …and the reset process is a new one


def test_reset_unhooks_the_runtime_client(hook_runtime_client):
    class Client:
        def wait_next_invocation(self):
            return "r1"

        def post_invocation_result(self, invoke_id, result_data, content_type=None):
            return None

        def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
            return None

    cls = hook_runtime_client(Client)
    assert hasattr(cls.post_invocation_result, "__wrapped__")
    reset()
    assert not hasattr(cls.post_invocation_result, "__wrapped__")
    assert not hasattr(cls.wait_next_invocation, "__wrapped__")


def _export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fnlens-export-")]


@pytest.mark.e2e
def test_reset_stops_exporters_on_a_hung_collector_within_its_bound(monkeypatch, black_hole):
    """The collector never answers and the exporter's timeout is 30 s: reset() still
    returns within its bound (0.5 s for the flush, 0.5 s per stuck worker, 1 s for the
    rest). A worker stuck in a request cannot be stopped from outside: it ends with its
    request, here when the collector goes away."""
    before = len(_export_threads())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", black_hole.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "30000")
    monkeypatch.setenv("FNLENS_FLUSH_MODE", "background")

    @fnlens.instrument
    def handler(event, context):
        fnlens.get_logger().info("work")
        return 1

    for _ in range(3):
        handler({}, LambdaContext())
    fnlens.flush(0.2)  # the exports are on their way to the black hole
    assert len(_export_threads()) > before
    start = time.monotonic()
    reset()
    took = time.monotonic() - start
    assert took < 0.5 + 2 * 0.5 + 1.0 + SLACK_S, took  # 30 s if it waited for the collector
    black_hole.close()  # the stuck requests fail now
    deadline = time.monotonic() + 10
    while len(_export_threads()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_export_threads()) == before


class _ListSink:
    def __init__(self, into: list[dict]) -> None:
        self.into = into

    def emit(self, event):
        self.into.append(dict(event))

    def flush(self, timeout_s):
        return None

    def shutdown(self):
        return None


def test_every_reset_runs_and_failures_are_named():
    from fnlens import _state

    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise ValueError("cannot")

    leftover: list[dict] = []
    fnlens.configure(sinks=[_ListSink(leftover)])
    _state.register_reset("tests.broken", broken)
    try:
        with pytest.raises(RuntimeError, match=r"tests\.broken: ValueError: cannot"):
            reset()
        assert ran == ["broken"]
        # the others ran too: fnlens is fresh (the sink configured before is gone)
        with capture() as captured:
            fnlens.instrument(lambda e, c: 1)({}, LambdaContext())
        assert len(captured.records) == 1 and leftover == []
    finally:
        _state.register_reset("tests.broken", lambda: None)


def test_the_exporters_are_shut_down_before_the_registry_they_are_in():
    from fnlens import _state
    from fnlens.exporters import _queue, _setup, _tracer  # noqa: F401 (they register)

    order = _state.registered()
    assert order[0] == "fnlens.exporters._setup"
    assert order.index("fnlens.exporters._queue") < order.index("fnlens.runtime._telemetry")
    assert order.index("fnlens.runtime._telemetry") < order.index("fnlens._config")


def test_reset_keeps_only_the_configurators_fnlens_registers(monkeypatch, tmp_path):
    from fnlens.runtime._setup import register_configurator

    calls: list[str] = []
    register_configurator(lambda telemetry, settings: calls.append("extra"))
    reset()
    # fnlens's own configurator still installs the file exporter; the extra one is gone
    _, lines = _invoke_with_file_exporter(monkeypatch, tmp_path)
    assert calls == []
    assert [line["event"] for line in lines] == ["work", "invocation"]


def test_reset_reads_the_propagators_again(monkeypatch):
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def trace_id() -> str:
        with capture() as captured:
            fnlens.instrument(lambda e, c: 1)(
                events.api_gateway_v2(headers={"traceparent": parent}), LambdaContext()
            )
        return captured.invocation()["trace_id"]

    assert trace_id() == "0af7651916cd43dd8448eb211c80319c"  # W3C tracecontext by default
    monkeypatch.setenv("OTEL_PROPAGATORS", "xray")
    reset()
    assert trace_id() != "0af7651916cd43dd8448eb211c80319c"  # the header is not read now
