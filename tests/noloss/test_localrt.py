"""The awslambdaric runtime loop under ``fnlens.localrt``: an environment closed right
after its only invocation (as Lambda may close one: nothing may still be pending when the
runtime asks for the next event), and the demo's shape (several environments, reclaimed
when idle, closed at the end): N invocations sent, N received."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from . import _harness as h

pytest.importorskip("awslambdaric")

from fnlens.localrt import FunctionCode, LocalLambda
from fnlens.testing import events

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(150)]


def _code(collector, tmp_path) -> FunctionCode:
    env = h.otlp_env(collector.endpoint, NOLOSS_LEDGER=str(tmp_path / "ledger.jsonl"))
    return FunctionCode("noloss_driver.handler", h.SCRIPTS, timeout_s=10.0, environment=env)


def _event(seq: int) -> dict:
    return events.api_gateway_v2(
        "GET /orders/{id}", path=f"/orders/{seq}", path_parameters={"id": str(seq)}
    )


def _records(results) -> list[dict]:
    out = []
    for r in results:
        for line in r.logs:
            if line.startswith("{"):
                obj = json.loads(line)
                if obj.get("event") == "invocation":
                    out.append(obj)
    return out


def _check(results, got: h.Arrived, context: str) -> None:
    assert all(r.outcome == "success" for r in results), [r.outcome for r in results]
    for seq, r in enumerate(results):  # the response is the handler's, unchanged
        body = json.loads(r.json()["body"])
        assert body == {"seq": seq, "request_id": r.request_id}
    h.assert_no_loss(got, [r.request_id for r in results], context=context)
    records = _records(results)
    assert sorted(x["request_id"] for x in records) == sorted(r.request_id for r in results)
    h.assert_records_match(got, records)


def test_environments_closed_right_after_their_only_invocation(direct, tmp_path):
    """Three invocations at once start three environments; each serves one cold
    invocation and is closed as soon as the runtime has asked for its next event."""
    with LocalLambda("orders-api", out_dir=tmp_path / "logs") as fn:
        fn.update_code(_code(direct, tmp_path))
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda seq: fn.invoke(_event(seq)), range(3)))
        # closed at once (no extension registered: SIGKILL, as Lambda does)
    assert len({r.environment_id for r in results}) == 3, "expected one environment each"
    assert all(r.cold_start for r in results)
    got = h.wait_arrived(direct.sink, 3, timeout_s=5)
    _check(results, got, "single-invocation environments")


def test_demo_shape_several_environments(direct, tmp_path):
    """Waves of concurrent invocations over reused and reclaimed environments."""
    n = 16
    results = [None] * n
    with LocalLambda("orders-api", out_dir=tmp_path / "logs", max_idle_s=0.3) as fn:
        fn.update_code(_code(direct, tmp_path))
        waves = [(0, 4, 2), (4, 10, 3), (10, 12, 1), (12, 16, 3)]  # (first, end, concurrency)
        for i, (first, end, concurrency) in enumerate(waves):
            if i == 2:
                time.sleep(0.5)  # idle long enough for environments to be reclaimed
            with ThreadPoolExecutor(concurrency) as pool:
                seqs = range(first, end)
                answers = pool.map(lambda s: fn.invoke(_event(s)), seqs)
                for seq, r in zip(seqs, answers, strict=True):
                    results[seq] = r
        started = fn.environments_started
    assert started >= 3, started
    got = h.wait_arrived(direct.sink, n)
    _check(results, got, f"{started} environments")
