"""``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` apply to invocation spans as the
OpenTelemetry specification defines them; the invocation records (OTLP logs) are not
sampled and all arrive."""

from __future__ import annotations

import pytest

from . import _harness as h

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _run(direct, tmp_path, n: int, parent: str, **sampler: str) -> tuple[h.Run, h.Arrived]:
    env = h.otlp_env(direct.endpoint, **sampler)
    run = h.run("sampled.py", env, tmp_path, [str(n), parent])
    assert run.returncode == 0, run.stderr[-3000:]
    sent = [e["rid"] for e in run.sent()]
    assert len(sent) == n and all(e["ok"] for e in run.results())
    # spans are checked first (the test's subject), then the records
    got = h.wait_arrived(direct.sink, n, spans=False)
    return run, got


def _records_not_sampled(run: h.Run, got: h.Arrived) -> None:
    """Sampling is for traces: every invocation record and log line arrives, once."""
    sent = [e["rid"] for e in run.sent()]
    h.assert_no_loss(got, sent, spans=False, context=run.stderr[-1500:])


def _sampled_rids(got: h.Arrived) -> set[str]:
    rids = got.span_rids()
    assert max(rids.values(), default=1) == 1, "an invocation span arrived twice"
    return set(rids)


def _children_follow(got: h.Arrived) -> None:
    """A sampled invocation's own spans are sampled with it, an unsampled one's are not."""
    parents = {(s["trace_id"], s["span_id"]) for s in got.invocation_spans}
    children = {(c["trace_id"], c["parent_span_id"]) for c in got.child_spans}
    assert children == parents, (
        f"{len(got.invocation_spans)} invocation spans, {len(got.child_spans)} child spans: "
        f"{len(children - parents)} children without their invocation span, "
        f"{len(parents - children)} invocation spans without their child"
    )


def test_always_off_exports_no_invocation_span(direct, tmp_path):
    run, got = _run(direct, tmp_path, 20, "none", OTEL_TRACES_SAMPLER="always_off")
    assert got.invocation_spans == [], f"{len(got.invocation_spans)} invocation spans exported"
    assert got.child_spans == [], f"{len(got.child_spans)} child spans exported"
    _records_not_sampled(run, got)


def test_traceidratio_exports_about_the_ratio(direct, tmp_path):
    n = 200
    run, got = _run(
        direct,
        tmp_path,
        n,
        "none",
        OTEL_TRACES_SAMPLER="traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.5",
    )
    sampled = _sampled_rids(got)
    print(f"NOLOSS-MEASURE traceidratio 0.5: {len(sampled)} of {n} invocation spans exported")
    # binomial(200, 0.5): mean 100, standard deviation about 7; +-40 is over 5.5 of them
    assert 60 <= len(sampled) <= 140, f"{len(sampled)} of {n} invocation spans exported"
    assert sampled <= {e["rid"] for e in run.sent()}
    _children_follow(got)
    _records_not_sampled(run, got)


def test_parentbased_ratio_follows_the_incoming_parent(direct, tmp_path):
    """Even invocations carry a sampled ``traceparent``, odd ones an unsampled one: the
    ratio (0.5) does not apply to spans with a parent; the parent's flag decides."""
    n = 40
    run, got = _run(
        direct,
        tmp_path,
        n,
        "mixed",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.5",
    )
    sent = run.sent()
    want = {e["rid"] for e in sent if e["headers"]["traceparent"].endswith("-01")}
    assert len(want) == n // 2
    sampled = _sampled_rids(got)
    assert sampled == want, (
        f"{len(sampled & want)} of {len(want)} with a sampled parent exported, "
        f"{len(sampled - want)} with an unsampled parent exported"
    )
    _children_follow(got)
    by_rid = {s["attributes"]["faas.invocation_id"]: s for s in got.invocation_spans}
    for e in sent:
        if e["rid"] in want:  # the span continues the caller's trace
            _, trace_id, parent_id, _ = e["headers"]["traceparent"].split("-")
            span = by_rid[e["rid"]]
            assert (span["trace_id"], span["parent_span_id"]) == (trace_id, parent_id)
    _records_not_sampled(run, got)
