"""SIGTERM with its default handler, to a process whose telemetry is still queued (the
export threads would wait 30 s before their next batch): everything queued arrives, or
what does not is counted and reported, and the process still dies of SIGTERM, quickly."""

from __future__ import annotations

import os
import signal
import time

import pytest

from . import _harness as h
from ._accounting import reported_drops
from ._faults import FaultyCollector

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

N = 30
DIE_BOUND_S = 2.0  # Lambda allows 500 ms after SIGTERM; fnlens's docs flush for 0.3 s


def _sigterm(run: h.Run) -> tuple[int, float]:
    """Wait for the script to be ready, SIGTERM it; (exit status, seconds until it died)."""
    try:
        run.wait_mark("ready", timeout_s=60)
        sent_at = time.monotonic()
        os.kill(run.proc.pid, signal.SIGTERM)
        code = run.wait(15)
        return code, time.monotonic() - sent_at
    finally:
        run.kill()


def test_sigterm_with_a_hung_collector_reports_everything_lost(tmp_path):
    """Nothing can be delivered (the collector accepts and never answers): every item is
    reported as dropped, and the process still dies of SIGTERM at once."""
    hung = FaultyCollector("hang")
    try:
        env = h.otlp_env(hung.endpoint, NOLOSS_CHILD_SPAN="0")
        run = h.start("sigterm.py", env, tmp_path, [str(N)])
        code, died_s = _sigterm(run)
    finally:
        hung.close()
    print(f"NOLOSS-MEASURE SIGTERM, hung collector: died {died_s:.3f} s after the signal")
    assert code == -signal.SIGTERM, (code, run.stderr[-3000:])
    assert died_s < DIE_BOUND_S
    items = 3 * N  # invocation span, invocation record, log line each
    counted = max(r["telemetry_dropped"] for r in run.records())
    reported = reported_drops(run.stderr)
    assert items - counted in reported or items in reported, (
        f"{items} items sent to a collector that never answers, {counted} counted in "
        f"records; stderr drop numbers {sorted(reported)}: {run.stderr[-2000:]}"
    )


def test_sigterm_flushes_or_counts_what_is_queued(direct, tmp_path):
    env = h.otlp_env(
        direct.endpoint, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_BLRP_SCHEDULE_DELAY="30000"
    )
    run = h.start("sigterm.py", env, tmp_path, [str(N)])
    code, died_s = _sigterm(run)
    print(f"NOLOSS-MEASURE SIGTERM: the process died {died_s:.3f} s after the signal")
    assert code == -signal.SIGTERM, (code, run.stderr[-3000:])
    assert not run.marks("not-terminated")
    assert died_s < DIE_BOUND_S
    sent = [e["rid"] for e in run.sent()]
    assert len(sent) == N and all(e["ok"] for e in run.results())
    got = h.wait_arrived(direct.sink, N, timeout_s=5)
    items_sent = 4 * N  # invocation span, child span, invocation record, log line each
    items_arrived = (
        len(got.invocation_spans) + len(got.child_spans) + len(got.invocation_logs)
    ) + len(got.user_lines)
    missing = items_sent - items_arrived
    if missing:
        assert missing in reported_drops(run.stderr), (
            f"{missing} of {items_sent} items neither arrived nor were reported as dropped: "
            f"{run.stderr[-2000:]}"
        )
    else:
        h.assert_no_loss(got, sent)
