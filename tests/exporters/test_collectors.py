"""collectors/: pipelines reference only defined components; endpoints are loopback or
environment placeholders; the rotel configurations start and carry fnlens's spans."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.net import free_port, wait_port
from tests.support.rotel import rotel_binary
from tests.support.scripts import ROOT, lambda_env, run_script

COLLECTORS = ROOT / "collectors"
YAML_FILES = sorted(COLLECTORS.glob("*.yaml"))
ENV_FILES = sorted(COLLECTORS.glob("rotel*.env"))
PLACEHOLDER = re.compile(r"^\$\{(env:)?[A-Z_][A-Z0-9_]*(:-[^}]*)?\}")
LOOPBACK = re.compile(r"^(https?://)?(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/.*)?$")
SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")


def _endpoint_ok(value: str) -> bool:
    value = str(value)
    match = PLACEHOLDER.match(value)
    if match:
        default = match.group(2)
        return default is None or bool(LOOPBACK.match(default[2:]))
    return bool(LOOPBACK.match(value))


def _endpoints(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "endpoint" or str(key).endswith("_endpoint"):
                yield f"{path}.{key}", value
            yield from _endpoints(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _endpoints(value, f"{path}[{i}]")


def test_there_are_collector_configs():
    names = {p.name for p in YAML_FILES} | {p.name for p in ENV_FILES}
    assert {"lambda-layer.yaml", "gateway.yaml", "rotel.env", "rotel-xray.env"} <= names
    assert (COLLECTORS / "README.md").read_text().count("##") >= 3


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_pipelines_reference_only_defined_components(path):
    config = yaml.safe_load(path.read_text())
    service = config["service"]
    assert service["pipelines"], "no pipelines"
    for name, pipeline in service["pipelines"].items():
        signal = name.split("/")[0]
        assert signal in ("traces", "metrics", "logs"), name
        assert pipeline.get("receivers") and pipeline.get("exporters"), name
        connectors = config.get("connectors") or {}
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                defined = config.get(section) or {}
                if section != "processors" and component in connectors:
                    defined = connectors
                assert component in defined, (
                    f"{path.name}: pipeline {name} uses undefined {section[:-1]} {component}"
                )
    # a connector is an exporter of one pipeline and a receiver of another
    for connector in config.get("connectors") or {}:
        pipelines = service["pipelines"].values()
        assert any(connector in p.get("exporters", []) for p in pipelines), connector
        assert any(connector in p.get("receivers", []) for p in pipelines), connector
    for extension in service.get("extensions", []):
        assert extension in (config.get("extensions") or {}), extension
    used = {c for p in service["pipelines"].values() for s in SECTIONS for c in p.get(s, [])} | set(
        service.get("extensions", [])
    )
    for section in SECTIONS:
        for component in config.get(section) or {}:
            assert component in used, f"{path.name}: {component} is defined but never used"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_endpoints_are_loopback_or_placeholders(path):
    config = yaml.safe_load(path.read_text())
    found = list(_endpoints(config))
    assert found
    for where, value in found:
        assert _endpoint_ok(value), f"{path.name}{where} = {value!r}"


def test_gateway_writes_otlp_json_files():
    config = yaml.safe_load((COLLECTORS / "gateway.yaml").read_text())
    files = {k: v for k, v in config["exporters"].items() if k.split("/")[0] == "file"}
    assert {"file/traces", "file/logs", "file/metrics"} <= set(files)
    assert all(
        v["format"] == "json" and "${env:FNLENS_OTLP_DIR}" in v["path"] for v in files.values()
    )


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def _substitute(env: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    def sub(value: str) -> str:
        return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: values[m.group(1)], value)

    return {k: sub(v) for k, v in env.items()}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_rotel_env_references_defined_exporters(path):
    env = _read_env(path)
    assert all(k.startswith("ROTEL_") for k in env)
    defined = dict(item.split(":") for item in env["ROTEL_EXPORTERS"].split(","))
    for signal in ("TRACES", "LOGS", "METRICS"):
        for name in filter(None, env.get(f"ROTEL_EXPORTERS_{signal}", "").split(",")):
            assert name in defined, f"{path.name}: {signal} uses undefined exporter {name}"
    for key, value in env.items():
        if key.endswith("_ENDPOINT"):
            assert _endpoint_ok(value) or PLACEHOLDER.match(value), f"{key}={value}"
    for key in env:
        match = re.match(r"ROTEL_EXPORTER_([A-Z0-9]+)_", key)
        if match:
            assert match.group(1).lower() in defined, f"{key} configures an undefined exporter"


def _start_rotel(env: dict[str, str], tmp_path: Path):
    grpc_port, http_port = free_port(), free_port()
    env = {
        **env,
        "ROTEL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
        "ROTEL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
        "ROTEL_PID_FILE": str(tmp_path / "rotel.pid"),
        "ROTEL_LOG_FILE": str(tmp_path / "rotel.log"),
        "PATH": "/usr/bin:/bin",
    }
    with open(tmp_path / "out.log", "wb") as log:
        proc = subprocess.Popen([rotel_binary(), "start"], env=env, stdout=log, stderr=log)
    return proc, http_port, tmp_path / "out.log"


@pytest.mark.e2e
def test_rotel_env_forwards_fnlens_spans(otlp_sink, tmp_path):
    env = _substitute(
        _read_env(COLLECTORS / "rotel.env"), {"OTLP_BACKEND_ENDPOINT": otlp_sink.endpoint}
    )
    env["ROTEL_EXPORTER_BACKEND_COMPRESSION"] = "none"
    proc, http_port, log = _start_rotel(env, tmp_path)
    try:
        wait_port(http_port)
        script = (
            "import fnlens\n"
            "h = fnlens.instrument(lambda e, c: {'statusCode': 200})\n"
            "from fnlens.testing import LambdaContext, events\n"
            "for _ in range(3): h(events.api_gateway_v2(), LambdaContext())\n"
            "fnlens.flush(5)\n"
        )
        done = run_script(
            script, lambda_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{http_port}")
        )
        assert done.returncode == 0, done.stderr
        assert otlp_sink.wait_for(lambda s: len(s.spans) >= 3), log.read_text()
        assert otlp_sink.wait_for(lambda s: len(s.logs) >= 3), log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.e2e
def test_rotel_xray_env_starts(tmp_path):
    env = _substitute(
        _read_env(COLLECTORS / "rotel-xray.env"),
        {"AWS_REGION": "us-east-1", "OTLP_BACKEND_ENDPOINT": "http://127.0.0.1:9"},
    )
    proc, http_port, log = _start_rotel(env, tmp_path)
    try:
        wait_port(http_port)
        time.sleep(0.3)
        assert proc.poll() is None, log.read_text()
        assert "ERROR" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)
