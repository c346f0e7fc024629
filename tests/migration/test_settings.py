"""Powertools' and Lambda's variables, and the ``log_fields`` setting, as a function sees
them: a fresh interpreter per case, the logger made at import time before the handler is
decorated (as the migration page's handler does), the lines read from its stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import fnlens
    from fnlens.metrics import MetricUnit, add_metric
    from fnlens.testing import LambdaContext

    log = fnlens.get_logger()

    @fnlens.instrument({arguments})
    def handler(event, context):
        log.debug("debug line")
        log.info("info line")
        log.warning("warning line")
        add_metric("Orders", MetricUnit.Count, 1)
        return "ok"

    assert handler({{}}, LambdaContext(function_name="payment-fn")) == "ok"
    """
)


def _run(env: dict[str, str], arguments: str = "") -> tuple[list[dict], str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "POWERTOOLS_", "AWS_LAMBDA_", "_X_AMZN"))
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(arguments=arguments)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")], done.stderr


def _messages(lines: list[dict]) -> list[str]:
    return [x.get("event") or x.get("message") for x in lines if "_aws" not in x]


def _namespace(lines: list[dict]) -> str:
    (doc,) = [x for x in lines if "_aws" in x]
    namespaces = {d["Namespace"] for d in doc["_aws"]["CloudWatchMetrics"]}
    assert len(namespaces) == 1
    return namespaces.pop()


def test_powertools_variables_take_effect():
    lines, _ = _run(
        {
            "POWERTOOLS_SERVICE_NAME": "payment",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Shop",
            "FNLENS_EXPORTERS": "emf",
        }
    )
    assert _messages(lines) == ["warning line", "invocation"]  # info and debug filtered
    assert {x["service"] for x in lines} == {"payment"}
    assert _namespace(lines) == "Shop"


def test_fnlens_own_variables_come_first():
    lines, _ = _run(
        {
            "FNLENS_SERVICE": "orders",
            "POWERTOOLS_SERVICE_NAME": "payment",
            "FNLENS_LOG_LEVEL": "info",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "FNLENS_EMF_NAMESPACE": "Own",
            "POWERTOOLS_METRICS_NAMESPACE": "Shop",
            "FNLENS_EXPORTERS": "emf",
        }
    )
    assert _messages(lines) == ["info line", "warning line", "invocation"]
    assert {x["service"] for x in lines} == {"orders"}
    assert _namespace(lines) == "Own"


def test_lambda_log_level_applies_below_powertools():
    lines, _ = _run({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    assert _messages(lines) == ["debug line", "info line", "warning line", "invocation"]
    lines, _ = _run({"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    assert _messages(lines) == ["warning line", "invocation"]


def _shape(lines: list[dict]) -> set[str]:
    return {"powertools" if "message" in x else "fnlens" for x in lines if "_aws" not in x}


@pytest.mark.parametrize(
    ("env", "arguments", "shape", "warned"),
    [
        ({}, "", "fnlens", False),  # the default is unchanged
        ({"FNLENS_LOG_FIELDS": "powertools"}, "", "powertools", False),
        ({"FNLENS_LOG_FIELDS": "Powertools "}, "", "powertools", False),
        ({}, "log_fields='powertools'", "powertools", False),
        ({"FNLENS_LOG_FIELDS": "powertools"}, "log_fields='fnlens'", "fnlens", False),
        ({"FNLENS_LOG_FIELDS": "logfmt"}, "", "fnlens", True),
        ({}, "log_fields='logfmt'", "fnlens", True),
    ],
)
def test_log_fields_setting(env, arguments, shape, warned):
    lines, stderr = _run(env, arguments)
    assert _shape(lines) == {shape}
    assert len(lines) == 3  # info, warning and the record: nothing lost either way
    assert stderr.count("is not one of fnlens, powertools") == (1 if warned else 0), stderr
    if shape == "powertools":
        assert [x["level"] for x in lines] == ["INFO", "WARNING", "INFO"]
        assert all("event" not in x for x in lines[:2])


PROCESSOR_SCRIPT = textwrap.dedent(
    """
    import fnlens
    from fnlens.testing import LambdaContext

    def add_tenant(logger, method, event_dict):
        event_dict["tenant"] = "t1"
        return event_dict

    log = fnlens.get_logger()
    log.info("at import")

    @fnlens.instrument
    def handler(event, context):
        fnlens.configure(processors=[add_tenant])  # structlog's own processor chain
        log.warning("with a processor")
        return "ok"

    handler({}, LambdaContext(function_name="payment-fn"))
    """
)


def test_import_time_lines_and_user_processors_keep_the_field_set():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FNLENS_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROCESSOR_SCRIPT],
        env={**clean, "FNLENS_LOG_FIELDS": "powertools", "POWERTOOLS_SERVICE_NAME": "payment"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert [x["message"] for x in lines] == ["at import", "with a processor", "invocation"]
    source = PROCESSOR_SCRIPT.splitlines()
    at_import = next(i for i, text in enumerate(source, 1) if 'log.info("at import")' in text)
    warned = next(i for i, text in enumerate(source, 1) if "log.warning(" in text)
    # outside an invocation Powertools writes only these keys
    assert list(lines[0]) == ["level", "location", "message", "timestamp", "service"]
    assert lines[0]["location"] == f"<module>:{at_import}"
    assert lines[0]["service"] == "payment"
    line = lines[1]
    assert (line["level"], line["location"], line["tenant"]) == (
        "WARNING",
        f"handler:{warned}",
        "t1",
    )
    assert line["function_name"] == "payment-fn" and "event" not in line
    assert list(line)[-1] == "xray_trace_id"
