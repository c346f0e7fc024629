"""The same decorated handler under the oldest and the newest supported releases of
opentelemetry-sdk and awslambdaric (issue 12).

Each cell is a fresh virtualenv (under the test's tmp directory, its pip cache too)
with fnlens installed from this checkout (``.[otlp,local]``) and the cell's pins;
the handler runs there driven by awslambdaric's runtime loop against fnlens's local
Runtime API, and called directly in a script that exits normally. An OTLP/HTTP sink
in this process counts the invocation spans: N invocations → exactly N, once each.

"oldest" is the floor pyproject.toml declares; "newest" pins nothing, so it is what
a user installing today gets (the versions it ran with are checked and shown).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.otlp_sink import OTLPSink

ROOT = Path(__file__).resolve().parents[2]

DRIVER = Path(__file__).resolve().parent / "_driver.py"
INVOCATIONS = 5


def floor(requirement: str) -> str:
    """The ``>=`` floor pyproject.toml declares for one distribution."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(rf'"{re.escape(requirement)}>=([0-9][0-9a-z.]*)"', text)
    assert found, f"no {requirement}>= floor in pyproject.toml"
    return found.group(1)


# opentelemetry-sdk, its API and its OTLP/HTTP exporter move together
OLDEST_SDK = floor("opentelemetry-sdk")
OLDEST_RIC = floor("awslambdaric")
MATRIX = {
    "oldest": [
        f"opentelemetry-api=={OLDEST_SDK}",
        f"opentelemetry-sdk=={OLDEST_SDK}",
        f"opentelemetry-exporter-otlp-proto-http=={OLDEST_SDK}",
        f"awslambdaric=={OLDEST_RIC}",
    ],
    "newest": [],
}
EXPECTED = {"oldest": {"opentelemetry-sdk": OLDEST_SDK, "awslambdaric": OLDEST_RIC}}


def same_version(installed: str, floor_: str) -> bool:
    """``1.24.0`` is the floor ``1.24``."""

    def padded(version: str) -> list[int]:
        return [*map(int, version.split(".")), 0, 0, 0][:3]

    return padded(installed) == padded(floor_)


pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1200)]


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "LAMBDA_", "_X_AMZN", "VIRTUAL_ENV"))
        and k not in ("PYTHONPATH", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR")
    }
    env.update(
        {
            "PIP_CACHE_DIR": str(tmp / "pip-cache"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "TMPDIR": str(tmp),
        }
    )
    return env


def _build(name: str, tmp: Path) -> tuple[str, str, dict[str, str]]:
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = str(target / "bin" / "python")
    env = _clean_env(tmp)
    cmd = [python, "-m", "pip", "install", "-q", "--no-compile", f"{ROOT}[otlp,local]"]
    cmd += MATRIX[name]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{name}: {' '.join(cmd[3:])}\n{proc.stderr[-4000:]}"
    return name, python, env


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Every cell's virtualenv, built side by side (pip waits on the network and the
    disk more than on the CPU)."""
    with ThreadPoolExecutor(max_workers=len(MATRIX)) as pool:
        futures = {
            name: pool.submit(_build, name, tmp_path_factory.mktemp(f"matrix-{name}"))
            for name in MATRIX
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=sorted(MATRIX))
def cell(request, cells) -> tuple[str, str, dict[str, str]]:
    """(name, the cell's python, its environment)."""
    return cells[request.param]


@pytest.fixture
def sink():
    server = OTLPSink().start()
    try:
        yield server
    finally:
        server.stop()


def _drive(cell, sink: OTLPSink, mode: str) -> tuple[dict, list[str]]:
    name, python, env = cell
    request_ids = [str(uuid.uuid4()) for _ in range(INVOCATIONS)]
    otlp = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
    }
    run_env = dict(env)
    args = [python, str(DRIVER), mode, ",".join(request_ids)]
    if mode == "loop":
        args.append(json.dumps(otlp))  # the function's environment, as Lambda sets it
    else:
        run_env.update(otlp)
    proc = subprocess.run(
        args, env=run_env, capture_output=True, text=True, timeout=300, cwd=env["TMPDIR"]
    )
    assert proc.returncode == 0, f"{name} {mode}:\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["diagnostics"] += [x for x in proc.stderr.splitlines() if x.startswith("fnlens:")]
    for key, want in EXPECTED.get(name, {}).items():
        assert same_version(out["versions"][key], want), out["versions"]
    # fnlens ran from the cell's site-packages, installed from this checkout
    assert out["versions"]["fnlens"], out["versions"]
    print(f"{name} {mode}: {out['versions']}", file=sys.stderr)
    return out, request_ids


def _invocation_spans(sink: OTLPSink, request_ids: list[str]) -> list[str]:
    wanted = set(request_ids)
    return [
        s["attributes"]["faas.invocation_id"]
        for s in sink.spans
        if s["attributes"].get("faas.invocation_id") in wanted
    ]


@pytest.mark.parametrize("mode", ["loop", "direct"])
def test_same_handler_exports_every_span_under_each_version(cell, sink, mode):
    out, request_ids = _drive(cell, sink, mode)
    results = out["results"]
    assert [r["outcome"] for r in results] == ["success"] * INVOCATIONS
    assert [r["body"]["request_id"] for r in results] == request_ids
    assert [r["body"]["n"] for r in results] == list(range(INVOCATIONS))
    sink.wait_for(lambda s: len(_invocation_spans(s, request_ids)) >= INVOCATIONS, 15.0)
    got = _invocation_spans(sink, request_ids)
    assert sorted(got) == sorted(request_ids), (
        f"{cell[0]} {mode}: {len(got)} of {INVOCATIONS} invocation spans arrived "
        f"({out['versions']}); fnlens said: {out['diagnostics'][:5]}"
    )
