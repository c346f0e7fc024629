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

    got = h.wait_arrived(direct.sink, n)
    h.assert_no_loss(got, [e["rid"] for e in sent], context=run.stderr[-1500:])
    spans = {s["attributes"]["faas.invocation_id"]: s for s in got.invocation_spans}
    children = {(c["trace_id"], c["parent_span_id"]): c for c in got.child_spans}
    records = run.records()
    assert sorted(r["request_id"] for r in records) == sorted(e["rid"] for e in sent)
    h.assert_records_match(got, records)
    assert len({s["trace_id"] for s in spans.values()}) == n  # one trace per invocation
    for line in got.user_lines:  # each line was written inside its own invocation
        span = spans[line["attributes"]["request_id"]]
        assert line["trace_id"] == span["trace_id"], line["attributes"]["request_id"]
        child = children[(span["trace_id"], span["span_id"])]
        assert line["span_id"] in (span["span_id"], child["span_id"])
        assert line["attributes"]["seq"] == spans_seq(sent, line["attributes"]["request_id"])
    for record in records:  # a process that is never frozen: the caller waits for nothing
        assert record["telemetry_flush_ms"] == 0, record["telemetry_flush_ms"]


def spans_seq(sent: list[dict], rid: str) -> int:
    return next(e["seq"] for e in sent if e["rid"] == rid)
