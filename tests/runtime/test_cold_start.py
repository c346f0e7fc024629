"""Cold start: one source of truth, including provisioned concurrency, SnapStart and
proactive initialisation."""

from __future__ import annotations

import time

import fnlens
from fnlens.testing import LambdaContext, reset_cold_start


def _handler():
    @fnlens.instrument
    def handler(event, context):
        fnlens.get_logger().info("work")

    return handler


def test_first_invocation_is_cold_then_warm(telemetry):
    handler = _handler()
    for _ in range(3):
        handler({}, LambdaContext())
    cold, warm1, warm2 = telemetry.records
    assert cold["cold_start"] is True
    assert cold["init_type"] == "on-demand"
    assert cold["init_duration_ms"] > 0
    assert warm1["cold_start"] is False and warm2["cold_start"] is False
    assert warm1["init_duration_ms"] is None
    assert warm1["init_type"] == "on-demand"
    # log lines agree with the record (one source of truth)
    assert [line["cold_start"] for line in telemetry.logs] == [True, False, False]


def test_init_duration_measures_process_start_to_first_invocation(telemetry):
    now = time.time()
    reset_cold_start(process_started_at=now - 0.250, init_finished_at=now - 0.010)
    handler = _handler()
    handler({}, LambdaContext())
    init_ms = telemetry.invocation()["init_duration_ms"]
    assert 250 <= init_ms < 2000


def test_provisioned_concurrency_is_never_cold(telemetry, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    handler = _handler()
    handler({}, LambdaContext())
    handler({}, LambdaContext())
    first, second = telemetry.records
    assert first["cold_start"] is False
    assert first["init_type"] == "provisioned-concurrency"
    assert first["init_duration_ms"] is not None  # how long init took, although nobody waited
    assert second["init_type"] == "provisioned-concurrency"


def test_snapstart_restore_is_marked_separately(telemetry, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    handler = _handler()
    handler({}, LambdaContext())
    record = telemetry.invocation()
    assert record["cold_start"] is False
    assert record["init_type"] == "snap-start"
    assert record["snapstart_restore"] is True


def test_proactive_initialisation_is_not_a_cold_start(telemetry):
    now = time.time()
    # init finished a minute before the first invocation arrived
    reset_cold_start(process_started_at=now - 61.0, init_finished_at=now - 60.0)
    handler = _handler()
    reset_cold_start(process_started_at=now - 61.0, init_finished_at=now - 60.0)
    handler({}, LambdaContext())
    record = telemetry.invocation()
    assert record["cold_start"] is False
    assert record["init_type"] == "proactive"
    assert 900 <= record["init_duration_ms"] <= 1100


def test_proactive_threshold_is_configurable(telemetry, monkeypatch):
    monkeypatch.setenv("FNLENS_PROACTIVE_INIT_THRESHOLD_MS", "120000")
    now = time.time()
    handler = _handler()
    reset_cold_start(process_started_at=now - 61.0, init_finished_at=now - 60.0)
    handler({}, LambdaContext())
    assert telemetry.invocation()["cold_start"] is True
