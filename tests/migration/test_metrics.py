"""``fnlens.metrics``: custom metrics in the invocation's own EMF document.

Each document is checked against emf.schema.json (written from the EMF specification)
and its cross-references; the values expected are counted from the calls each handler
makes, independently of fnlens. Concurrent invocations run in real threads and asyncio
tasks; the units are compared with aws-lambda-powertools' own ``MetricUnit``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import threading

import pytest

import fnlens
from fnlens import _config as config
from fnlens.exporters._emf import EMFHook
from fnlens.metrics import MetricResolution, MetricUnit, add_dimension, add_metadata, add_metric
from fnlens.runtime._telemetry import TELEMETRY
from fnlens.testing import LambdaContext, reset_cold_start

from .emf_check import UNITS, check


@pytest.fixture
def emf():
    """An EMF hook writing to a buffer; yields a function returning the documents so far."""
    stream = io.StringIO()
    hook = EMFHook("Shop", stream=stream)
    TELEMETRY.add_hook(hook)
    reset_cold_start()
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        TELEMETRY.remove_hook(hook)


@pytest.fixture
def warnings(caplog):
    """The ``fnlens`` logger's warnings, with the once-per-process memory cleared."""
    saved = set(config._warned)
    config._warned.clear()
    caplog.set_level(logging.WARNING, logger="fnlens")
    try:
        yield lambda: [r.getMessage() for r in caplog.records if r.name == "fnlens"]
    finally:
        config._warned.clear()
        config._warned.update(saved)


def _custom(doc: dict) -> dict | None:
    directives = doc["_aws"]["CloudWatchMetrics"]
    assert len(directives) in (1, 2)
    return directives[1] if len(directives) == 2 else None


def test_units_are_emfs_and_powertools_names():
    from aws_lambda_powertools.metrics import MetricResolution as PtResolution
    from aws_lambda_powertools.metrics import MetricUnit as PtUnit

    assert [unit.value for unit in MetricUnit] == UNITS
    assert {m.name: m.value for m in MetricUnit} == {m.name: m.value for m in PtUnit}
    assert {m.name: m.value for m in MetricResolution} == {m.name: m.value for m in PtResolution}


def test_values_go_to_their_invocation_document(emf, warnings):
    @fnlens.instrument(service="payment")
    def handler(event, context):
        for i in range(event["k"]):
            add_metric("Items", MetricUnit.Count, i)
        if event["k"]:
            add_metric("CardCheck", "Milliseconds", 12.5, resolution=MetricResolution.High)
            add_dimension("channel", event["channel"])
            add_metadata("booking", {"id": event["k"]})
        return event["k"]

    ks = [3, 1, 0, 2]
    contexts = [LambdaContext(function_name="payment-fn") for _ in ks]
    assert [
        handler({"k": k, "channel": f"c{k}"}, c) for k, c in zip(ks, contexts, strict=True)
    ] == ks
    docs = emf()
    assert len(docs) == len(ks)
    for doc, k, context in zip(docs, ks, contexts, strict=True):
        check(doc)
        assert doc["request_id"] == context.aws_request_id
        assert doc["Invocations"] == 1  # fnlens's own metrics in the same document
        custom = _custom(doc)
        if k == 0:
            assert custom is None and "Items" not in doc and "booking" not in doc
            continue
        assert custom == {
            "Namespace": "Shop",
            "Dimensions": [["service", "channel"]],
            "Metrics": [
                {"Name": "Items", "Unit": "Count"},
                {"Name": "CardCheck", "Unit": "Milliseconds", "StorageResolution": 1},
            ],
        }
        expected = [float(i) for i in range(k)]
        assert doc["Items"] == (expected[0] if k == 1 else expected)  # several → an array
        assert doc["CardCheck"] == 12.5
        assert (doc["service"], doc["channel"], doc["booking"]) == ("payment", f"c{k}", {"id": k})
    assert warnings() == []


BAD_CALLS = [
    lambda: add_metric("", MetricUnit.Count, 1),
    lambda: add_metric("x" * 256, MetricUnit.Count, 1),
    lambda: add_metric("Parsecs", "Parsecs", 1),
    lambda: add_metric("Text", MetricUnit.Count, "1"),
    lambda: add_metric("Flag", MetricUnit.Count, True),
    lambda: add_metric("NotANumber", MetricUnit.Count, math.nan),
    lambda: add_metric("Infinite", MetricUnit.Count, math.inf),
    lambda: add_metric("HalfMinute", MetricUnit.Count, 1, resolution=30),
    lambda: add_metric("Duration", MetricUnit.Milliseconds, 1),  # fnlens's own
    lambda: add_metric("Good", MetricUnit.Seconds, 1),  # Good was first added as Count
    lambda: add_dimension("empty", ""),
    lambda: add_dimension("function_name", "other"),  # fnlens's own dimension
    lambda: add_metadata("", 1),
]


def test_invalid_calls_warn_once_and_never_raise(emf, warnings):
    @fnlens.instrument(service="payment")
    def handler(event, context):
        add_metric("Good", MetricUnit.Count, 1)
        for call in BAD_CALLS * 2:  # twice: still one warning each
            call()
        return "unchanged"

    assert handler({}, LambdaContext()) == "unchanged"
    (doc,) = emf()
    check(doc)
    assert [m["Name"] for m in _custom(doc)["Metrics"]] == ["Good"]
    assert doc["Good"] == 1.0 and doc["function_name"] == "test-function"
    messages = warnings()
    assert len(messages) == len(BAD_CALLS), messages
    assert all("fnlens.metrics:" in m for m in messages)


def test_limits_of_one_document(emf, warnings):
    @fnlens.instrument(service="payment")
    def handler(event, context):
        for i in range(95):  # 94 fit next to fnlens's own 6
            add_metric(f"M{i}", MetricUnit.Count, i)
        for i in range(30):  # 29 fit next to service
            add_dimension(f"d{i}", "v")
        for i in range(101):  # 100 values fit in one array
            add_metric("M0", MetricUnit.Count, i)

    handler({}, LambdaContext())
    (doc,) = emf()
    check(doc)
    custom = _custom(doc)
    assert len(custom["Metrics"]) == 94 and "M94" not in doc
    assert custom["Dimensions"] == [["service", *(f"d{i}" for i in range(29))]]
    assert "d29" not in doc
    assert len(doc["M0"]) == 100
    assert len(warnings()) == 3


def test_outside_an_invocation_nothing_is_emitted(emf, warnings):
    add_metric("Early", MetricUnit.Count, 1)
    add_dimension("early", "yes")

    @fnlens.instrument(service="payment")
    def handler(event, context):
        return None

    handler({}, LambdaContext())
    (doc,) = emf()
    assert _custom(doc) is None and "Early" not in doc and "early" not in doc
    messages = warnings()
    assert len(messages) == 2 and all("outside an instrumented invocation" in m for m in messages)


def test_without_an_emf_exporter_it_says_so(warnings):
    @fnlens.instrument(service="payment")
    def handler(event, context):
        add_metric("Lost", MetricUnit.Count, 1)
        add_metric("Lost", MetricUnit.Count, 2)

    handler({}, LambdaContext())
    messages = warnings()
    assert len(messages) == 1 and "FNLENS_EXPORTERS=emf" in messages[0]


def _by_request(docs: list[dict]) -> dict[str, dict]:
    return {doc["request_id"]: doc for doc in docs}


def test_concurrent_threads_keep_their_own_values(emf):
    n = 8
    barrier = threading.Barrier(n, timeout=30)

    @fnlens.instrument(service="payment")
    def handler(event, context):
        add_dimension("worker", str(event["i"]))
        barrier.wait()  # every invocation is active at once
        for _ in range(5):
            add_metric("Work", MetricUnit.Count, event["i"])
        barrier.wait()
        return event["i"]

    contexts = [LambdaContext() for _ in range(n)]
    threads = [threading.Thread(target=handler, args=({"i": i}, contexts[i])) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    docs = _by_request(emf())
    assert len(docs) == n
    for i, context in enumerate(contexts):
        doc = docs[context.aws_request_id]
        check(doc)
        assert doc["Work"] == [float(i)] * 5 and doc["worker"] == str(i)


def test_concurrent_asyncio_tasks_keep_their_own_values(emf):
    n = 8

    @fnlens.instrument(service="payment")
    async def handler(event, context):
        for _ in range(4):
            add_metric("Work", MetricUnit.Count, event["i"])
            await asyncio.sleep(0)  # the other tasks run in between
        return event["i"]

    contexts = [LambdaContext() for _ in range(n)]

    async def main():
        return await asyncio.gather(*(handler({"i": i}, contexts[i]) for i in range(n)))

    assert asyncio.run(main()) == list(range(n))
    docs = _by_request(emf())
    assert len(docs) == n
    for i, context in enumerate(contexts):
        doc = docs[context.aws_request_id]
        check(doc)
        assert doc["Work"] == [float(i)] * 4


def test_sinks_keep_fnlens_keys_while_stdout_has_powertools(capsys):
    from fnlens.runtime import _logs
    from fnlens.testing import capture

    log = fnlens.get_logger()

    @fnlens.instrument(service="payment", log_fields="powertools")
    def handler(event, context):
        log.info("sink line", order_id=1)

    try:
        with capture() as captured:
            handler({}, LambdaContext())
    finally:
        _logs.PIPELINE.configure(field_set="fnlens")
    stdout = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [x["message"] for x in stdout] == ["sink line", "invocation"]
    assert [x["level"] for x in stdout] == ["INFO", "INFO"]
    (line,) = captured.logs
    assert (line["event"], line["level"], line["order_id"]) == ("sink line", "info", 1)
    assert "message" not in line and "function_request_id" not in line
    (record,) = captured.records
    assert record["event"] == "invocation" and record["level"] == "info"
    assert "function_request_id" not in record
