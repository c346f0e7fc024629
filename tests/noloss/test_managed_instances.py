"""Lambda Managed Instances (``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``):
several processes, each serving several invocations at once, never frozen. Every id is
the right invocation's, the caller waits for nothing, and everything arrives."""

from __future__ import annotations

from collections import Counter

import pytest

from . import _harness as h
from .conftest import closed_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROCESSES, THREADS, PER_PROCESS = 2, 4, 12


def test_concurrent_invocations_keep_their_own_ids(direct, tmp_path):
    env = h.lambda_env(
        closed_port(),
        AWS_LAMBDA_INITIALIZATION_TYPE="lambda-managed-instances",
        AWS_LAMBDA_MAX_CONCURRENCY=str(THREADS),
    )
    env.update(h.otlp_env(direct.endpoint, NOLOSS_WORK_S="0.02"))
    args = [str(PROCESSES), str(THREADS), str(PER_PROCESS)]
    run = h.run("managed_instances.py", env, tmp_path, args, timeout_s=90)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.marks("exiting")[0]["codes"] == [0] * PROCESSES
    n = PROCESSES * PER_PROCESS
    sent = run.sent()
    assert len(sent) == n and len(Counter(e["pid"] for e in sent)) == PROCESSES
    assert len(run.results()) == n and all(e["ok"] for e in run.results())

    # ids, from what fnlens wrote on stdout (independent of the export)
    records = run.records()
    assert sorted(r["request_id"] for r in records) == sorted(e["rid"] for e in sent)
    by_rid = {r["request_id"]: r for r in records}
    assert len({r["trace_id"] for r in records}) == n  # one trace per invocation
    assert len({r["span_id"] for r in records}) == n
    seq_of = {e["rid"]: e["seq"] for e in sent}
    lines = run.lines()
    assert len(lines) == n
    for line in lines:  # each line was written inside its own invocation
        record = by_rid[line["request_id"]]
        assert line["seq"] == seq_of[line["request_id"]], line
        assert line["trace_id"] == record["trace_id"], line
    waits = [r["telemetry_flush_ms"] for r in records]  # never frozen: nothing to wait for
    waited = [w for w in waits if w != 0]  # asserted last: delivery is checked either way

    # what arrived: everything, once, with the same ids
    got = h.wait_arrived(direct.sink, n)
    spans = {s["attributes"]["faas.invocation_id"]: s for s in got.invocation_spans}
    h.assert_records_match(got, records)
    children = {(c["trace_id"], c["parent_span_id"]): c for c in got.child_spans}
    for line in got.user_lines:
        rid = line["attributes"]["request_id"]
        assert line["attributes"]["seq"] == seq_of[rid]
        span = spans.get(rid)
        if span is not None:
            assert line["trace_id"] == span["trace_id"], rid
            child = children.get((span["trace_id"], span["span_id"]))
            allowed = {span["span_id"], child["span_id"] if child else None}
            assert line["span_id"] in allowed, rid
    h.assert_no_loss(got, [e["rid"] for e in sent], context=run.stderr[-1500:])
    assert not waited, f"{len(waited)} of {n} callers waited for telemetry (ms): {waited}"
