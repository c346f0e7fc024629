"""Log lines carry the invocation's ids: contextvars, asyncio, threads, no leaks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import fnlens
from fnlens.testing import LambdaContext

CORRELATION = (
    "request_id",
    "trace_id",
    "span_id",
    "cold_start",
    "service",
    "function_name",
    "function_version",
)


def test_log_lines_carry_correlation_fields(telemetry):
    log = fnlens.get_logger()

    @fnlens.instrument(service="orders")
    def handler(event, context):
        log.info("charging card", amount=12)

    handler({}, LambdaContext(function_name="orders-fn", function_version="3"))
    record = telemetry.invocation()
    (line,) = telemetry.logs
    assert line["event"] == "charging card"
    assert line["amount"] == 12
    for key in CORRELATION:
        assert line[key] == record[key], key
    assert line["service"] == "orders"


def test_threads_started_by_the_handler_inherit_the_invocation(telemetry):
    log = fnlens.get_logger()

    @fnlens.instrument
    def handler(event, context):
        thread = threading.Thread(target=lambda: log.info("from thread"))
        thread.start()
        thread.join(5)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: log.info("from pool", i=i), range(2)))

    handler({}, LambdaContext())
    record = telemetry.invocation()
    assert len(telemetry.logs) == 3
    for line in telemetry.logs:
        assert line["request_id"] == record["request_id"]
        assert line["trace_id"] == record["trace_id"]


def test_nothing_leaks_into_the_next_invocation_or_outside(telemetry):
    log = fnlens.get_logger()

    @fnlens.instrument
    def handler(event, context):
        log.info("inside", n=event["n"])

    handler({"n": 1}, LambdaContext())
    log.info("between")
    handler({"n": 2}, LambdaContext())

    first, between, second = telemetry.logs
    r1, r2 = telemetry.records
    assert first["request_id"] == r1["request_id"]
    assert "request_id" not in between
    assert second["request_id"] == r2["request_id"] != r1["request_id"]
    assert fnlens.current_context() == {}


def test_concurrent_asyncio_invocations_do_not_mix(telemetry):
    log = fnlens.get_logger()

    @fnlens.instrument
    async def handler(event, context):
        for step in range(3):
            log.info("step", n=event["n"], step=step)
            await asyncio.sleep(0.001 * event["n"])
        return event["n"]

    async def main():
        return await asyncio.gather(*(handler({"n": n}, LambdaContext()) for n in range(1, 6)))

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]
    by_n = {}
    for record in telemetry.records:
        by_n.setdefault(record["request_id"], record)
    assert len(by_n) == 5
    request_for_n = {}
    for line in telemetry.logs:
        request_for_n.setdefault(line["n"], set()).add(line["request_id"])
    assert all(len(ids) == 1 for ids in request_for_n.values())
    assert {next(iter(ids)) for ids in request_for_n.values()} == set(by_n)


def test_structlog_processor_for_own_pipelines(telemetry):
    import structlog

    seen = []

    def capture(_logger, _method, event_dict):
        seen.append(dict(event_dict))
        raise structlog.DropEvent

    own = structlog.wrap_logger(
        structlog.PrintLogger(), processors=[fnlens.add_invocation_context, capture]
    )

    @fnlens.instrument
    def handler(event, context):
        own.info("mine")

    handler({}, LambdaContext())
    assert seen[0]["request_id"] == telemetry.invocation()["request_id"]


def test_log_level_filters_user_lines(telemetry, monkeypatch):
    @fnlens.instrument(log_level="warning")
    def handler(event, context):
        log = fnlens.get_logger()
        log.info("dropped")
        log.warning("kept")

    try:
        handler({}, LambdaContext())
    finally:
        fnlens.configure(log_level="info")
    assert [line["event"] for line in telemetry.logs] == ["kept"]
    assert telemetry.invocation()["outcome"] == "success"  # records are never filtered


def test_structlog_contextvars_reach_lines_and_the_record(telemetry):
    """Fields bound with structlog's ``bind_contextvars`` are merged into lines and the
    invocation record (fnlens skips the merge only while nothing was ever bound); a
    line's own fields win."""
    import structlog.contextvars

    log = fnlens.get_logger()

    @fnlens.instrument
    def handler(event, context):
        structlog.contextvars.bind_contextvars(tenant=event["tenant"], amount=1)
        log.info("charged", amount=12)

    try:
        handler({"tenant": "acme"}, LambdaContext())
    finally:
        structlog.contextvars.unbind_contextvars("tenant", "amount")
    (line,) = telemetry.logs
    assert (line["tenant"], line["amount"]) == ("acme", 12)
    assert telemetry.invocation()["tenant"] == "acme"

    @fnlens.instrument
    def unbound(event, context):
        log.info("plain")

    unbound({}, LambdaContext())
    assert "tenant" not in telemetry.logs[-1]


def test_lines_are_the_same_through_the_shortcut_and_structlog_dispatch(telemetry):
    """Without user processors a line skips structlog's generic dispatch; with one (here
    a no-op) it takes structlog's path. The lines must not differ."""
    log = fnlens.get_logger(component="billing").bind(attempt=2)

    @fnlens.instrument(service="orders")
    def handler(event, context):
        log.info("charged %s", "card", amount=12, password="hunter2", nested={"token": "t"})
        log.warning("slow", attempt=3)
        log.debug("hidden below the level")
        try:
            raise ValueError("declined")
        except ValueError:
            log.exception("failed")

    def lines_of_one_invocation() -> list[dict]:
        before = len(telemetry.logs)
        handler({}, LambdaContext(aws_request_id="same-request"))
        return [
            {k: v for k, v in line.items() if k != "timestamp"} for line in telemetry.logs[before:]
        ]

    shortcut = lines_of_one_invocation()
    fnlens.configure(processors=[lambda _logger, _method, event_dict: event_dict])
    try:
        generic = lines_of_one_invocation()
    finally:
        fnlens.configure(processors=[])
    for line in shortcut + generic:
        line.pop("trace_id"), line.pop("span_id"), line.pop("cold_start")
    assert shortcut == generic
    charged, slow, failed = shortcut
    assert charged["event"] == "charged card" and charged["password"] == "[REDACTED]"
    assert charged["nested"] == {"token": "[REDACTED]"}
    assert (charged["component"], charged["attempt"], slow["attempt"]) == ("billing", 2, 3)
    assert slow["level"] == "warning"
    assert failed["level"] == "error" and "ValueError: declined" in failed["exception"]
