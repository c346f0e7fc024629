"""Issue 19, item 4: every numeric setting is checked for range and finiteness (warned
once, default used), and an OTLP endpoint that is not a URL is flagged."""

from __future__ import annotations

import threading

import pytest

import fnlens
from fnlens import _config as config
from fnlens._config import settings_from_env
from fnlens.testing import LambdaContext, events


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e400", "900001", "-1"])
@pytest.mark.parametrize(
    ("name", "field", "default"),
    [
        ("FNLENS_TIMEOUT_MARGIN_MS", "timeout_margin_ms", 100.0),
        ("FNLENS_FLUSH_BUDGET_MS", "flush_budget_ms", 5.0),
    ],
)
def test_non_finite_or_out_of_range_durations_fall_back(name, field, default, raw, caplog):
    settings = settings_from_env({name: raw})
    assert getattr(settings, field) == default
    settings_from_env({name: raw})  # again: still one warning
    err = caplog.text
    assert err.count(name) == 1, err
    assert "using" in err


def test_proactive_threshold_rejects_nan(caplog):
    settings = settings_from_env({"FNLENS_PROACTIVE_INIT_THRESHOLD_MS": "nan"})
    assert settings.proactive_init_threshold_ms == 10_000.0
    assert "FNLENS_PROACTIVE_INIT_THRESHOLD_MS" in caplog.text


def test_valid_values_are_kept(caplog):
    settings = settings_from_env({"FNLENS_TIMEOUT_MARGIN_MS": "250", "FNLENS_FLUSH_BUDGET_MS": "0"})
    assert (settings.timeout_margin_ms, settings.flush_budget_ms) == (250.0, 0.0)
    assert caplog.text == ""


def test_exporter_numbers_reject_nan_too():
    # the exporters' settings (queue sizes, delays, drain limit) share the parser
    assert config.parse_number("FNLENS_EXTENSION_DRAIN_MS", "nan", 2000.0) == 2000.0
    assert config.parse_number("OTEL_BSP_SCHEDULE_DELAY", "inf", 1000.0, minimum=1.0) == 1000.0
    assert config.parse_number("X", "1e999", 3.0) == 3.0
    assert config.parse_number("Q", "9" * 400, 7, cast=int) == 9 * int("1" * 400)  # finite int


def test_nan_margin_no_longer_records_every_invocation_as_a_timeout(monkeypatch, telemetry):
    monkeypatch.setenv("FNLENS_TIMEOUT_MARGIN_MS", "nan")

    @fnlens.instrument
    def handler(event, context):
        threading.Event().wait(0.05)  # long enough for the watchdog to look
        return {"statusCode": 200}

    for _ in range(3):
        assert handler(events.api_gateway_v2("GET /items"), LambdaContext()) == {"statusCode": 200}
    records = telemetry.records
    assert [r["outcome"] for r in records] == ["success"] * 3
    assert [r["http_status_code"] for r in records] == [200] * 3


def test_non_finite_arguments_warn_and_keep_the_environment_value(monkeypatch, caplog):
    monkeypatch.setenv("FNLENS_FLUSH_BUDGET_MS", "7")
    settings = settings_from_env().with_overrides(
        flush_budget_ms=float("inf"), timeout_margin_ms=float("nan")
    )
    assert (settings.flush_budget_ms, settings.timeout_margin_ms) == (7.0, 100.0)
    err = caplog.text
    assert "flush_budget_ms=inf" in err and "timeout_margin_ms=nan" in err


def test_infinite_flush_budget_with_a_hung_sink_costs_the_default_budget(monkeypatch, telemetry):
    """A sink that never finishes its flush (a hung collector) waits as long as it is
    allowed to: with ``inf`` accepted that was the whole remaining time."""
    monkeypatch.setenv("FNLENS_FLUSH_BUDGET_MS", "inf")
    never = threading.Event()
    waits: list[float] = []

    class Hung:
        def emit(self, event):
            pass

        def flush(self, timeout_s):
            waits.append(timeout_s)
            never.wait(min(timeout_s, 2.5))

        def shutdown(self):
            pass

    hung = Hung()
    fnlens.configure(sinks=[hung])

    @fnlens.instrument
    def handler(event, context):
        return "ok"

    assert handler({}, LambdaContext(timeout_ms=3000)) == "ok"
    record = telemetry.invocation()
    assert waits and max(waits) <= 0.005 + 1e-9, waits  # the 5 ms default budget
    assert record["telemetry_flush_ms"] < 1000.0  # generous: a loaded machine


@pytest.mark.parametrize(
    ("env", "flagged"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "notaurl"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:notaport"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "localhost:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example.com/base/"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4318"}, False),
        (
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
            },
            False,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "collector:4317",
            },
            False,
        ),
    ],
)
def test_otlp_endpoint_that_is_not_a_url_is_flagged_once(env, flagged, caplog):
    settings_from_env(env)
    settings_from_env(env)
    err = caplog.text
    assert err.count("is not a valid OTLP endpoint") == (1 if flagged else 0), err


def test_powertools_and_lambda_variables_come_below_fnlens_own():
    """A function moving from Powertools keeps its service name and log level."""
    from fnlens._config import settings_from_env

    moved = settings_from_env(
        {"POWERTOOLS_SERVICE_NAME": "payments", "POWERTOOLS_LOG_LEVEL": "WARN"}
    )
    assert (moved.service, moved.log_level) == ("payments", "warning")
    lambda_level = settings_from_env({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    assert lambda_level.log_level == "debug"
    ours = settings_from_env(
        {
            "FNLENS_SERVICE": "orders",
            "POWERTOOLS_SERVICE_NAME": "payments",
            "FNLENS_LOG_LEVEL": "error",
            "POWERTOOLS_LOG_LEVEL": "DEBUG",
        }
    )
    assert (ours.service, ours.log_level) == ("orders", "error")
