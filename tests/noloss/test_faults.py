"""A faulty collector, in budget mode (Lambda's environment, the caller waits at most the
budget) and background mode (nothing waits): handler results unchanged, every item either
accepted by the collector or counted as dropped — exactly, never both, never neither —,
the per-invocation wait within the budget (one failed budget, then nothing until an export
succeeds), and the exit bounded although the collector still misbehaves then.

Items per invocation: the invocation span, the invocation record and one log line (the
handler opens no span of its own here). Dropped = the last record's ``telemetry_dropped``
(cumulative for the process) plus what fnlens reports on stderr as given up at exit."""

from __future__ import annotations

import time

import pytest

from . import _harness as h
from ._accounting import reported_drops
from ._faults import FAULTS, FaultyCollector, wait_quiet
from .conftest import closed_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

N = 40
ITEMS_PER_INVOCATION = 3
BUDGET_MS = 50.0
MARGIN_MS = 150.0  # scheduling noise on a loaded 2-core machine
PAID_MS = BUDGET_MS / 2  # an invocation that waited at least this long paid for the fault
# Counts, not durations: on a loaded 2-core machine a quick answer (a 429) can take
# longer than PAID_MS to arrive, and a call can stall past budget + margin. Without the
# circuit breaker every one of the N invocations pays, and without the budget every one
# waits for the collector (10 s on a hang): a quarter, and an eighth, still fail those.
MAX_PAYING = N // 4
MAX_SLOW_CALLS = N // 8
EXIT_BOUND_S = 4.0  # the docs: at most 2 s per queue at exit


@pytest.fixture(params=FAULTS)
def faulty(request):
    server = FaultyCollector(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("mode", ["budget", "background"])
def test_collector_fault(faulty, tmp_path, mode):
    env = h.otlp_env(
        faulty.endpoint,
        NOLOSS_CHILD_SPAN="0",
        FNLENS_FLUSH_MODE=mode,
        FNLENS_FLUSH_BUDGET_MS=str(int(BUDGET_MS)),
    )
    if mode == "budget":
        env.update(h.lambda_env(closed_port()))
    run = h.run("script_exit.py", env, tmp_path, [str(N), "normal"], timeout_s=60)
    ended = time.monotonic()
    exit_s = ended - run.marks("exiting")[0]["t"] if run.marks("exiting") else None
    wait_quiet(faulty)
    print(f"NOLOSS-MEASURE fault {faulty.fault}/{mode}: exit took {exit_s} s; {faulty.describe()}")

    assert run.returncode == 0, run.stderr[-3000:]
    results = run.results()
    assert len(results) == N and all(e["ok"] for e in results), "a handler result changed"
    records = run.records()
    assert len(records) == N, f"{len(records)} invocation records on stdout"

    problems = []  # every property is checked, so one run tells everything that is wrong

    # the caller's wait
    waits = [r["telemetry_flush_ms"] for r in records]
    if mode == "background":
        if any(w != 0 for w in waits):
            problems.append(f"background mode, yet the caller waited: {waits}")
    else:
        over = [w for w in waits if w > BUDGET_MS + MARGIN_MS]
        if len(over) > MAX_SLOW_CALLS:
            problems.append(f"{len(over)} invocations waited past the budget: {over}")
        if faulty.fault != "trickle":  # a trickle succeeds, slowly: each success may re-arm
            paying = [w for w in waits if w >= PAID_MS]
            if len(paying) > MAX_PAYING:
                problems.append(
                    f"{len(paying)} of {N} invocations paid for a collector that keeps "
                    f"failing (>= {PAID_MS} ms): {paying}"
                )

    # the same, measured by the script around each call (the first, cold one imports)
    walls = [e["wall_ms"] for e in results[1:]]
    slow = [round(w, 1) for w in walls if w > BUDGET_MS + MARGIN_MS]
    if len(slow) > MAX_SLOW_CALLS:
        problems.append(f"{len(slow)} warm calls took over {BUDGET_MS + MARGIN_MS} ms: {slow}")

    # the exit
    if exit_s is None or exit_s >= EXIT_BOUND_S:
        problems.append(f"exit took {exit_s} s (bound {EXIT_BOUND_S} s)")

    # the accounting
    sent = N * ITEMS_PER_INVOCATION
    received = faulty.total_received()
    counted = max(r["telemetry_dropped"] for r in records)
    at_exit = sent - received - counted
    if received + counted > sent:
        problems.append(
            f"counted twice: {received} received + {counted} counted as dropped > {sent} sent"
        )
    if at_exit:
        reported = reported_drops(run.stderr)
        if at_exit not in reported and sent - received not in reported:
            problems.append(
                f"{sent} sent, {received} received, {counted} counted in records: {at_exit} "
                f"neither arrived nor were reported at exit (numbers on stderr drop lines: "
                f"{sorted(reported)})"
            )
    if faulty.fault == "trickle" and (received != sent or counted):
        problems.append(f"a slow collector that answers must get everything: {faulty.describe()}")
    assert not problems, "; ".join(problems) + f"\n-- stderr: {run.stderr[-1500:]}"


@pytest.mark.parametrize("mode", ["budget", "background"])
@pytest.mark.parametrize("fault", ["refused", "hang", "500"])
def test_collector_recovers(tmp_path, fault, mode):
    """The collector fails for the first half of the invocations, then recovers: the
    accounting stays exact, and nothing of the second half is lost (a probe succeeds,
    the exporter delivers again, the exit flush sends the rest). A one-second export
    timeout lets a request stuck on the hung collector end within the exit's bound."""
    server = FaultyCollector(fault)
    try:
        env = h.otlp_env(
            server.endpoint,
            OTEL_EXPORTER_OTLP_TIMEOUT="1000",
            NOLOSS_CHILD_SPAN="0",
            FNLENS_FLUSH_MODE=mode,
            FNLENS_FLUSH_BUDGET_MS=str(int(BUDGET_MS)),
        )
        if mode == "budget":
            env.update(h.lambda_env(closed_port()))
        run = h.start("script_exit.py", env, tmp_path, [str(N), "pause"])
        try:
            run.wait_mark("half", timeout_s=60)
            server.recover()
            run.tell("go")
            code = run.wait(60)
        finally:
            run.kill()
        wait_quiet(server)
        print(f"NOLOSS-MEASURE recovery {fault}/{mode}: {server.describe()}")
        assert code == 0, run.stderr[-3000:]
        results, records = run.results(), run.records()
        assert len(results) == N and all(e["ok"] for e in results)
        assert len(records) == N
        problems = []
        sent = N * ITEMS_PER_INVOCATION
        received = server.total_received()
        counted = max(r["telemetry_dropped"] for r in records)
        at_exit = sent - received - counted
        if received + counted > sent:
            problems.append(f"counted twice: {received} received + {counted} dropped > {sent}")
        reported = reported_drops(run.stderr)
        if at_exit and at_exit not in reported and sent - received not in reported:
            problems.append(
                f"{sent} sent, {received} received, {counted} counted in records: {at_exit} "
                f"neither arrived nor were reported (stderr drop numbers: {sorted(reported)})"
            )
        second_half = [e["rid"] for e in run.sent()][N // 2 :]
        with server.lock:
            span_rids = set(server.received_rids["traces"])
            log_rids = set(server.received_rids["logs"])
        lost_spans = [r for r in second_half if r not in span_rids]
        lost_records = [r for r in second_half if r not in log_rids]
        if lost_spans or lost_records:
            problems.append(
                f"after the collector recovered, {len(lost_spans)} of {len(second_half)} "
                f"invocation spans and {len(lost_records)} invocation records never arrived"
            )
        assert not problems, "; ".join(problems) + f"\n-- stderr: {run.stderr[-1500:]}"
    finally:
        server.close()
