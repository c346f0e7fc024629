"""``os.fork()`` and ``multiprocessing`` children serve invocations after the parent has
exported already (its threads and connections exist): each child has fresh ids, fresh
queues and connections, and every process's telemetry arrives."""

from __future__ import annotations

from collections import Counter

import pytest

from . import _harness as h

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

K = 8  # invocations per process and phase: parent before, 2 children, parent after


@pytest.mark.parametrize("mode", ["os_fork", "mp_fork", "mp_spawn"])
def test_children_get_fresh_ids_and_export_their_own(direct, tmp_path, mode):
    run = h.run("forks.py", h.otlp_env(direct.endpoint), tmp_path, [str(K), mode], timeout_s=90)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.marks("children")[0]["codes"] == [0, 0], run.stderr[-3000:]
    sent = run.sent()
    by_pid = Counter(e["pid"] for e in sent)
    assert len(by_pid) == 3 and sorted(by_pid.values()) == [K, K, 2 * K], by_pid
    assert all(e["ok"] for e in run.results()) and len(run.results()) == 4 * K

    problems = []  # ids and delivery are checked both, so one run tells everything wrong

    # fresh ids in every process, from what fnlens wrote on stdout
    records = run.records()
    assert len(records) == 4 * K
    for field in ("span_id", "trace_id"):
        repeated = 4 * K - len({r[field] for r in records})
        if repeated:
            problems.append(f"{repeated} {field}s repeat across processes")

    got = h.wait_arrived(direct.sink, 4 * K)
    arrived_rids = got.span_rids() + got.log_rids()
    per_process = {
        pid: sum(arrived_rids[e["rid"]] for e in sent if e["pid"] == pid) for pid in by_pid
    }
    try:
        h.assert_no_loss(got, [e["rid"] for e in sent])
    except AssertionError as e:
        problems.append(
            f"{str(e).splitlines()[0]} (span + record arrivals per process {per_process}, "
            f"want 2 per invocation: {dict(by_pid)})"
        )
    assert not problems, "; ".join(problems) + f"\n-- {mode}: {run.stderr[-1500:]}"
    h.assert_records_match(got, records)
