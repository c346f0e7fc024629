"""Deadline: a timeout record is written and flushed before the platform would kill us."""

from __future__ import annotations

import threading
import time

import fnlens
from fnlens.runtime._watchdog import WATCHDOG
from fnlens.testing import LambdaContext, events


def test_timeout_recorded_before_deadline_exactly_once(telemetry):
    """The record is written while the handler is still stuck: the handler is released
    only by the record's arrival (or after 30 s, which fails the test), so no timing
    bound is needed to prove the order; the lower bound (never before deadline minus
    margin) holds on any machine, load only makes the watchdog later."""
    release = threading.Event()
    flushed = threading.Event()
    seen_at = {}

    class Probe:
        def emit(self, event):
            if event.get("event") == "invocation":
                seen_at["t"] = time.monotonic()
                release.set()

        def flush(self, timeout_s):
            seen_at["flushed"] = True
            flushed.set()

        def shutdown(self):
            pass

    fnlens.configure(sinks=[Probe()])  # (the autouse fnlens.testing.reset() removes it)

    @fnlens.instrument(timeout_margin_ms=100)
    def handler(event, context):
        seen_at["released"] = release.wait(30.0)  # a slow dependency, until the record
        seen_at["returned"] = time.monotonic()
        return {"statusCode": 200}

    start = time.monotonic()  # (before the context: its countdown starts when it is made)
    context = LambdaContext(timeout_ms=300)
    result = handler(events.api_gateway_v2("GET /slow"), context)

    assert result == {"statusCode": 200}  # the handler's own result is untouched
    record = telemetry.invocation()  # exactly one record, although the handler returned later
    assert record["outcome"] == "timeout"
    assert record["level"] == "error"
    assert record["error_type"] == "Timeout"
    assert record["http_status_code"] == 500
    assert seen_at["released"] is True  # the record came while the handler was stuck
    assert seen_at["t"] <= seen_at["returned"]
    assert seen_at["t"] - start >= 0.15, seen_at["t"] - start  # not before 300 - 100 ms
    # the watchdog flushes on its own thread right after the record that released the
    # handler: wait for it (bounded) rather than race the handler's return
    flushed.wait(10.0)
    assert seen_at.get("flushed") is True


def test_fast_invocations_disarm_the_watchdog(telemetry):
    @fnlens.instrument
    def handler(event, context):
        return 1

    threads_before = threading.active_count()
    for _ in range(50):
        handler({}, LambdaContext(timeout_ms=60_000))
    assert all(r["outcome"] == "success" for r in telemetry.records)
    # private probe, kept: a disarmed deadline has no public effect (a finished
    # invocation's timeout does nothing); only the armed set shows none is left behind
    assert not WATCHDOG._armed
    # one reusable watchdog thread, not one per invocation
    assert threading.active_count() <= threads_before + 1
    names = [t.name for t in threading.enumerate()]
    assert names.count("fnlens-watchdog") == 1


def test_watchdog_fires_every_armed_deadline_under_concurrent_arming():
    """Arming takes no lock on the common path: deadlines armed from several threads,
    in any order, while the watchdog thread is waking, still fire (once each, never
    early), and disarmed ones never do."""
    import random
    import threading
    import time

    from fnlens.runtime._watchdog import Watchdog

    dog = Watchdog()
    fired: dict[int, float] = {}
    lock = threading.Lock()

    def record(i: int, deadline: float) -> None:
        with lock:
            assert i not in fired
            fired[i] = time.perf_counter() - deadline

    expected: set[int] = set()

    def producer(worker: int) -> None:
        rng = random.Random(worker)
        for j in range(50):
            i = worker * 100 + j
            deadline = time.perf_counter() + rng.uniform(0.005, 0.08)
            token = dog.arm(deadline, record, i, deadline)
            if j % 3 == 0:
                dog.disarm(token)
            else:
                with lock:
                    expected.add(i)
            time.sleep(rng.uniform(0, 0.002))

    threads = [threading.Thread(target=producer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    limit = time.monotonic() + 5
    while time.monotonic() < limit and len(fired) < len(expected):
        time.sleep(0.01)
    assert set(fired) == expected
    assert min(fired.values()) >= 0  # never early
    assert max(fired.values()) < 1.0, max(fired.values())  # generous for a loaded machine
