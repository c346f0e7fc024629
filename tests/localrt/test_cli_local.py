"""`fnlens local invoke`, run as a user would: a subprocess of the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "orders_api"


def _fnlens(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fnlens.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=ROOT,
    )


def test_invoke_prints_the_response_and_the_logs() -> None:
    proc = _fnlens(
        "local",
        "invoke",
        "examples/orders_api/app.handler",
        "--event",
        str(EXAMPLE / "events" / "get_order.json"),
    )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["id"] == "ord-0042"
    logs = proc.stderr.splitlines()
    assert logs[0].startswith("INIT_START Runtime Version: python:")
    assert any(x.startswith("START RequestId: ") for x in logs)
    assert any(x.startswith("REPORT RequestId: ") and "Init Duration: " in x for x in logs)
    record = next(json.loads(x) for x in logs if '"event":"invocation"' in x)
    assert record["http_route"] == "/orders/{id}" and record["http_status_code"] == 200
    assert record["cold_start"] is True


def test_invoke_failure_exits_1_and_shows_the_error() -> None:
    proc = _fnlens(
        "local",
        "invoke",
        "app.handler",
        "--code-dir",
        str(EXAMPLE),
        "--event",
        "-",
        "--env",
        "ORDERS_API_VARIANT=v2",
        stdin=(EXAMPLE / "events" / "create_order.json").read_text(),
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["errorType"] == "KeyError"
    assert "invocation failed: error (KeyError)" in proc.stderr


def test_invoke_timeout_option(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(10)\n"
    )
    proc = _fnlens("local", "invoke", f"{tmp_path}/slow.handler", "--timeout", "0.5", "-q")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in proc.stdout


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    proc = _fnlens("local", "invoke", "examples/orders_api/app.handler", "--event", str(bad))
    assert proc.returncode != 0
    assert "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr
    proc = _fnlens("local", "invoke", "nowhere/app.handler")
    assert proc.returncode != 0 and "no such folder" in proc.stderr


def test_invoke_managed_instances_concurrently() -> None:
    handlers = Path(__file__).parent / "handlers"
    proc = _fnlens(
        "local",
        "invoke",
        f"{handlers}/mi_app.handler",
        "--managed-instances",
        "2",
        "--concurrent",
        "2",
        "--event",
        "-",
        stdin='{"seq": 7, "sleep_s": 0.3}',
    )
    assert proc.returncode == 0, proc.stderr
    responses = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(responses) == 2 and len({r["pid"] for r in responses}) == 2
    assert {r["init_type"] for r in responses} == {"lambda-managed-instances"}
    assert {r["log_format"] for r in responses} == {"JSON"}
    assert proc.stderr.count('"type":"platform.report"') == 2
