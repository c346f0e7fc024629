"""The Telemetry API in the local runtime, as a real external extension process sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fnlens.localrt import FunctionCode, LocalLambda

from .conftest import HANDLERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EXTENSION = Path(__file__).parent / "extensions" / "telemetry_ext.py"


def _run(tmp_path: Path, events: list[dict], **env: str) -> list[dict]:
    out = tmp_path / "received.jsonl"
    fn = LocalLambda("tele-fn", out_dir=tmp_path / "logs")
    code = FunctionCode(
        "tele_app.handler",
        HANDLERS,
        extensions=(EXTENSION,),
        environment={
            "TELEMETRY_OUT": str(out),
            "TELEMETRY_EXPECT_REPORTS": str(len(events)),
            **env,
        },
        timeout_s=10,
    )
    fn.update_code(code)
    try:
        results = []
        for event in events:
            results.append(fn.invoke(event))
            # the extension asks for its next event after each INVOKE: once it has, the
            # environment takes the next invocation (else a second environment would start)
            env = next(e for e in fn.environments() if e.id == results[-1].environment_id)
            assert env.wait_settled(10)
    finally:
        fn.close()
    assert all(r.outcome == "success" for r in results), [r.payload for r in results]
    assert len({r.environment_id for r in results}) == 1
    received = [json.loads(x) for x in out.read_text().splitlines()]
    assert received[-1]["type"] == "shutdown"
    return received[:-1], results


@pytest.mark.parametrize(("protocol", "schema"), [("HTTP", "2025-01-29"), ("TCP", "2022-07-01")])
def test_extension_receives_platform_function_and_extension_events(
    tmp_path: Path, protocol: str, schema: str
) -> None:
    received, results = _run(
        tmp_path,
        [{"lines": 2}, {"lines": 1}],
        TELEMETRY_PROTOCOL=protocol,
        TELEMETRY_SCHEMA=schema,
    )
    platform = [e for e in received if e["type"].startswith("platform.")]
    kinds = [e["type"] for e in platform]
    first, second = (r.request_id for r in results)
    assert kinds == [
        "platform.initStart",
        "platform.extension",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ], kinds
    by_kind = {}
    for e in platform:
        by_kind.setdefault(e["type"], []).append(e["record"])
    init = by_kind["platform.initStart"][0]
    assert init["initializationType"] == "on-demand" and init["functionName"] == "tele-fn"
    assert by_kind["platform.extension"][0] == {
        "name": "telemetry_ext.py",
        "state": "Ready",
        "events": ["INVOKE", "SHUTDOWN"],
    }
    sub = by_kind["platform.telemetrySubscription"][0]
    assert sub["state"] == "Subscribed" and sub["types"] == ["platform", "function", "extension"]
    assert by_kind["platform.initReport"][0]["metrics"]["durationMs"] > 0
    assert [s["requestId"] for s in by_kind["platform.start"]] == [first, second]
    done = by_kind["platform.runtimeDone"]
    assert [d["requestId"] for d in done] == [first, second]
    assert all(d["status"] == "success" and d["metrics"]["producedBytes"] == 12 for d in done)
    for d, result in zip(done, results, strict=True):  # handout -> response posted
        (span,) = d["spans"]
        assert span["name"] == "responseLatency"
        assert abs(span["durationMs"] - result.response_ms) < 0.01
    reports = by_kind["platform.report"]
    for report, result in zip(reports, results, strict=True):
        assert report["requestId"] == result.request_id
        assert report["metrics"]["durationMs"] == result.duration_ms
        assert report["metrics"]["billedDurationMs"] == result.billed_duration_ms
        assert report["tracing"]["value"] == result.trace_header
    assert (
        "initDurationMs" in reports[0]["metrics"] and "initDurationMs" not in reports[1]["metrics"]
    )
    # the function stream: exactly the handler's lines, each between its START and REPORT
    function = [e["record"] for e in received if e["type"] == "function"]
    expected = [f"function line {i} of {first}" for i in range(2)] + [
        f"function line 0 of {second}"
    ]
    assert [x for x in function if x.startswith("function line")] == expected
    order = [e["type"] if e["type"] != "function" else e["record"] for e in received]
    assert order.index("platform.start") < order.index(expected[0])
    assert order.index(expected[1]) < order.index("platform.runtimeDone")
    # the extension stream: what the extension process printed
    extension = [e["record"] for e in received if e["type"] == "extension"]
    assert extension == ["telemetry_ext subscribed: 200 OK"]
    assert all(e["time"].endswith("Z") for e in received)


def test_a_subscriber_that_falls_behind_gets_logs_dropped(tmp_path: Path) -> None:
    lines, pad = 3000, 1000  # ~3 MB of function output against a 0.3 s-per-batch receiver
    received, (result,) = _run(tmp_path, [{"lines": lines, "pad": pad}], TELEMETRY_SLOW_S="0.3")
    dropped = [e["record"] for e in received if e["type"] == "platform.logsDropped"]
    function = [e for e in received if e["type"] == "function"]
    assert dropped, "no platform.logsDropped"
    lost = sum(d["droppedRecords"] for d in dropped)
    assert all(d["droppedBytes"] > 0 and d["reason"] for d in dropped)
    # what was dropped was not delivered: nothing is counted twice
    delivered = sum(1 for e in function if e["record"].startswith("function line"))
    assert 0 < delivered < lines
    # droppedRecords counts every stream: besides the lines, at most the ~10 platform
    # and extension events of this run could have been dropped
    assert lost > 0 and delivered + lost <= lines + 10
    # (platform events emitted while the queue is full are dropped too, as the count says)
    assert result.outcome == "success"


@pytest.mark.parametrize(
    ("lines", "pad", "binding"), [(3000, 100, "maxItems"), (800, 1000, "maxBytes")]
)
def test_buffering_limits_bound_every_batch(
    tmp_path: Path, lines: int, pad: int, binding: str
) -> None:
    """``maxItems`` and ``maxBytes`` bound each batch the extension receives (HTTP). A
    slow receiver lets the queue fill, so the limit that binds is reached."""
    received, _ = _run(
        tmp_path,
        [{"lines": lines, "pad": pad}],
        TELEMETRY_MAX_ITEMS="1000",
        TELEMETRY_MAX_BYTES="262144",
        TELEMETRY_SLOW_S="0.2",
    )
    batches = json.loads((tmp_path / "received.jsonl.batches").read_text())
    assert not [e for e in received if e["type"] == "platform.logsDropped"]
    delivered = [e for e in received if e["type"] == "function"]
    assert sum(1 for e in delivered if e["record"].startswith("function line")) == lines
    assert sum(items for items, _ in batches) == len(received)  # every event in one batch
    one_event = max(len(json.dumps(e)) for e in received) + 2
    assert max(items for items, _ in batches) <= 1000
    # a batch holds at most maxBytes of events (the bound allows for the array's commas)
    assert max(size for _, size in batches) <= 262144 + one_event
    if binding == "maxItems":
        assert max(items for items, _ in batches) == 1000
    else:
        assert max(size for _, size in batches) >= 262144 - one_event
