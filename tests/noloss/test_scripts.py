"""A handler called directly by a script, through rotel to the sink: N invocations give
exactly N invocation spans, N invocation records and N log lines however the script
ends, with and without Lambda's environment (where the platform may freeze the process
after any invocation, so each invocation's telemetry must be out when it returns)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.timing import SLACK_MS

from . import _harness as h
from .conftest import Collector, closed_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

N = 30
EXIT_BOUND_S = 4.0  # the docs: at most 2 s per queue at exit; a healthy collector needs far less
MARGIN_MS = SLACK_MS  # scheduling noise on a loaded 2-core machine (tests.support.timing)
DEFAULT_BUDGET_MS = 5.0  # FNLENS_FLUSH_BUDGET_MS's documented default
EXIT_CODES = {"normal": 0, "sys_exit": 3, "crash": 1}


def _env(collector: Collector, where: str) -> dict[str, str]:
    env = h.otlp_env(collector.endpoint)
    if where == "lambda":
        env.update(h.lambda_env(closed_port()))
    return env


@pytest.mark.parametrize("how", ["normal", "sys_exit", "crash"])
@pytest.mark.parametrize("where", ["plain", "lambda"])
def test_script_end_loses_nothing(via_rotel, tmp_path, where, how):
    run = h.run("script_exit.py", _env(via_rotel, where), tmp_path, [str(N), how])
    ended = time.monotonic()
    assert run.returncode == EXIT_CODES[how], run.stderr[-3000:]
    if how == "crash":  # the handler's own exception reached the top, unchanged
        assert f"ValueError: noloss crash in invocation {N - 1}" in run.stderr, run.stderr[-2000:]
    sent = [e["rid"] for e in run.sent()]
    assert len(sent) == N
    results = run.results()
    assert len(results) == (N - 1 if how == "crash" else N)
    assert all(e["ok"] for e in results), "a handler result changed"

    got = h.wait_arrived(via_rotel.sink, N)
    h.assert_no_loss(got, sent, context=f"{where}/{how}: {run.stderr[-1500:]}")
    records = run.records()
    assert sorted(r["request_id"] for r in records) == sorted(sent)
    h.assert_records_match(got, records)
    assert len({s["trace_id"] for s in got.invocation_spans}) == N  # a new trace each

    # from the script's last statement (for a crash: the start of the failing invocation)
    last = run.marks("exiting")[0]["t"] if how != "crash" else run.sent()[-1]["t"]
    exit_s = ended - last
    print(f"NOLOSS-MEASURE script {where}/{how}: exit took {exit_s:.3f} s")
    assert exit_s < EXIT_BOUND_S, exit_s
    waits = [r["telemetry_flush_ms"] for r in records]
    if where == "plain":  # never frozen: nothing to wait for inside an invocation
        assert all(w == 0 for w in waits), waits
    else:
        assert all(w <= DEFAULT_BUDGET_MS + MARGIN_MS for w in waits), waits


def test_script_end_straight_to_the_sink(direct, tmp_path):
    """The same without a collector in between (the sink answers itself)."""
    run = h.run("script_exit.py", h.otlp_env(direct.endpoint), tmp_path, [str(N), "normal"])
    assert run.returncode == 0, run.stderr[-3000:]
    got = h.wait_arrived(direct.sink, N)
    h.assert_no_loss(got, [e["rid"] for e in run.sent()], context=run.stderr[-1500:])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
@pytest.mark.parametrize("where", ["plain", "lambda"])
def test_flush_pushes_out_everything_before_exit(via_rotel, tmp_path, where):
    """``fnlens.flush(10)`` returns once everything queued is out: counted while the
    process is stopped right after it, so neither exit nor a background batch helps;
    after the process ends, nothing has arrived twice."""
    run = h.start("script_exit.py", _env(via_rotel, where), tmp_path, [str(N), "flush"])
    try:
        run.wait_mark("flushed", timeout_s=60)
        deadline = time.monotonic() + 10
        while not h.stopped(run.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert h.stopped(run.proc.pid), "the script did not stop itself"
        sent = [e["rid"] for e in run.sent()]
        got = h.wait_arrived(via_rotel.sink, N)
        h.assert_no_loss(got, sent, context=f"after fnlens.flush(): {run.stderr[-1500:]}")
        os.kill(run.proc.pid, signal.SIGCONT)
        assert run.wait(30) == 0, run.stderr[-3000:]
    finally:
        run.kill()
    h.assert_no_loss(h.wait_arrived(via_rotel.sink, N), sent, context="after exit")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_lambda_env_each_invocation_is_out_before_the_freeze(via_rotel, tmp_path):
    """Lambda's environment, no runtime loop: after each invocation the script stops
    itself (SIGSTOP, as Lambda freezes an environment). While it is stopped, everything
    that invocation produced must already have arrived; in the end the environment is
    reclaimed (SIGKILL) without ever running again, as Lambda may do to a frozen one."""
    n, budget_ms = 8, 2000.0  # a budget that a healthy local collector always meets
    env = {**_env(via_rotel, "lambda"), "FNLENS_FLUSH_BUDGET_MS": str(int(budget_ms))}
    run = h.start("script_exit.py", env, tmp_path, [str(n), "freeze"])
    lagging = []
    try:
        for i in range(n):
            run.wait_mark("frozen", i + 1, timeout_s=60)
            deadline = time.monotonic() + 10
            while not h.stopped(run.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert h.stopped(run.proc.pid), "the script did not stop itself"
            sent = [e["rid"] for e in run.sent()]
            got = h.wait_arrived(via_rotel.sink, len(sent), timeout_s=3)
            try:
                h.assert_no_loss(got, sent, context=f"frozen after invocation {i}")
            except AssertionError as e:
                lagging.append(str(e))
                break  # the rest would only wait for the same straggler
            os.kill(run.proc.pid, signal.SIGCONT)
    finally:
        run.kill()  # the environment is reclaimed while frozen
    assert not lagging, lagging[0]
    waits = [r["telemetry_flush_ms"] for r in run.records()]
    assert all(w <= budget_ms + MARGIN_MS for w in waits), waits
