"""A process that never freezes (container, server, test run) serving invocations from
threads and an asyncio loop at once: export runs in the background while it runs, the
caller waits for nothing, and when told to exit it flushes within a bound."""

from __future__ import annotations

import time

import pytest

from . import _harness as h

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

N = 40
EXIT_BOUND_S = 4.0  # the docs: at most 2 s per queue at exit


def _check_run(run: h.Run, n: int) -> list[str]:
    sent = [e["rid"] for e in run.sent()]
    assert len(sent) == n
    threads = {e["thread"].split("_")[0] for e in run.sent()}
    assert {"asyncio", "worker"} <= threads, threads  # both ways really served invocations
    results = run.results()
    assert len(results) == n and all(e["ok"] for e in results), "a handler result changed"
    return sent


def test_background_export_while_running_then_bounded_exit(via_rotel, tmp_path):
    env = h.otlp_env(via_rotel.endpoint, NOLOSS_WORK_S="0.005")
    run = h.start("long_running.py", env, tmp_path, [str(N)])
    try:
        run.wait_mark("served", timeout_s=60)
        sent = _check_run(run, N)
        # nobody flushes and nothing exits: the background export delivers by itself
        got = h.wait_arrived(via_rotel.sink, N, timeout_s=8)
        h.assert_no_loss(got, sent, context=f"while running: {run.stderr[-1500:]}")
        told = time.monotonic()
        run.tell("exit")
        assert run.wait(30) == 0, run.stderr[-3000:]
        exit_s = time.monotonic() - told
    finally:
        run.kill()
    print(f"NOLOSS-MEASURE long-running (idle queues): exit took {exit_s:.3f} s")
    assert exit_s < EXIT_BOUND_S
    records = run.records()
    assert sorted(r["request_id"] for r in records) == sorted(sent)
    assert [r["telemetry_flush_ms"] for r in records] == [0] * N  # the caller waited for nothing
    got = h.wait_arrived(via_rotel.sink, N)
    h.assert_no_loss(got, sent, context="after exit (nothing twice)")
    h.assert_records_match(got, records)


def test_exit_flushes_what_is_still_queued(via_rotel, tmp_path):
    """Told to exit at once while the export threads would still wait 30 s before their
    next batch: exit sends everything, within the bound."""
    env = h.otlp_env(
        via_rotel.endpoint,
        NOLOSS_WORK_S="0.005",
        OTEL_BSP_SCHEDULE_DELAY="30000",
        OTEL_BLRP_SCHEDULE_DELAY="30000",
    )
    run = h.start("long_running.py", env, tmp_path, [str(N)])
    try:
        run.wait_mark("served", timeout_s=60)
        told = time.monotonic()
        run.tell("exit")
        assert run.wait(30) == 0, run.stderr[-3000:]
        exit_s = time.monotonic() - told
    finally:
        run.kill()
    print(f"NOLOSS-MEASURE long-running (queued telemetry): exit took {exit_s:.3f} s")
    sent = _check_run(run, N)
    got = h.wait_arrived(via_rotel.sink, N)
    h.assert_no_loss(got, sent, context=run.stderr[-1500:])
    assert exit_s < EXIT_BOUND_S
    assert [r["telemetry_flush_ms"] for r in run.records()] == [0] * N
