"""X-Ray: a UDP listener on 127.0.0.1 receives the documents aws-xray-sdk sends."""

from __future__ import annotations

import json
import socket

import pytest

from tests.support.scripts import run_script

SCRIPT = r"""
import os
import sys
import time
import types

if os.environ.get("RUNTIME_LOOP"):
    # the shape of awslambdaric's client: fnlens records after the response post
    class LambdaRuntimeClient:
        def wait_next_invocation(self):
            return None

        def post_invocation_result(self, invoke_id, result_data, content_type=None):
            time.sleep(0.05)  # a slow post: the subsegment must still end with the handler

        def post_invocation_error(self, invoke_id, error_data, xray_fault):
            time.sleep(0.05)

    module = types.ModuleType("lambda_runtime_client")
    module.LambdaRuntimeClient = LambdaRuntimeClient
    sys.modules["lambda_runtime_client"] = module

import fnlens
from fnlens.testing import LambdaContext, events

@fnlens.instrument(service="orders")
def handler(event, context):
    if event.get("rawPath") == "/fail":
        raise RuntimeError("db down")
    if event.get("rawPath") == "/missing":
        return {"statusCode": 404}
    return {"statusCode": 200}

traces = [
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a994272795;Parent=53995c3f42cd8ada;Sampled=1",
]
client = sys.modules["lambda_runtime_client"].LambdaRuntimeClient() if os.environ.get(
    "RUNTIME_LOOP"
) else None
for path, header in zip(["/orders/1", "/missing", "/fail"], traces):
    if client is not None:
        client.wait_next_invocation()
    if os.environ.get("IN_LAMBDA"):
        os.environ["_X_AMZN_TRACE_ID"] = header
    try:
        handler(events.api_gateway_v2("GET /orders/{id}", path=path), LambdaContext())
    except RuntimeError:
        print("RETURNED", repr(time.time()), file=sys.stderr)
        if client is not None:
            client.post_invocation_error("id", "{}", "")
        continue
    print("RETURNED", repr(time.time()), file=sys.stderr)
    if client is not None:
        client.post_invocation_result("id", b"{}")
"""


def _receive(sock, n, timeout_s=10.0):
    docs = []
    sock.settimeout(timeout_s)
    for _ in range(n):
        try:
            data = sock.recv(65536).decode()
        except TimeoutError:
            break
        header, _, body = data.partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        docs.append(json.loads(body))
    return docs


@pytest.mark.e2e
@pytest.mark.parametrize("runtime_loop", [False, True], ids=["direct", "after-response"])
@pytest.mark.parametrize("in_lambda", [False, True])
def test_segments_reach_the_daemon_with_annotations(tmp_path, in_lambda, runtime_loop):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {
        "FNLENS_EXPORTERS": "xray",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
    }
    if in_lambda:
        env.update({"LAMBDA_TASK_ROOT": str(tmp_path), "IN_LAMBDA": "1"})
    if runtime_loop:
        env["RUNTIME_LOOP"] = "1"
    try:
        proc = run_script(SCRIPT, env)
        assert proc.returncode == 0, proc.stderr
        docs = _receive(sock, 3)
    finally:
        sock.close()
    assert len(docs) == 3, docs
    returned = [
        float(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("RETURNED ")
    ]
    assert len(returned) == 3, proc.stderr
    cold, missing, failed = docs
    for doc, returned_at in zip(docs, returned, strict=True):
        assert doc["name"] == "orders"
        assert doc["annotations"]["Service"] == "orders"
        assert doc["start_time"] <= doc["end_time"]
        # ended when the handler returned, not when fnlens recorded it after the 50 ms
        # post: an ordering, whatever the load (2 ms for the clocks' granularity)
        assert doc["end_time"] <= returned_at + 0.002, (doc["end_time"], returned_at)
        if in_lambda:  # a subsegment of the function's (facade) segment
            assert doc["type"] == "subsegment"
            assert doc["parent_id"].startswith("53995c3f42cd8a")
    if in_lambda:
        assert cold["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert cold["annotations"]["ColdStart"] is True
    assert missing["annotations"]["ColdStart"] is False
    assert not cold.get("error") and not cold.get("fault")
    assert missing.get("error") is True and not missing.get("fault")
    assert failed.get("fault") is True
    assert failed["cause"]["exceptions"][0]["type"] == "RuntimeError"
    assert failed["annotations"]["Outcome"] == "error"


def test_xray_sdk_is_not_imported_unless_enabled():
    proc = run_script(
        "import sys, fnlens\n"
        "from fnlens.exporters._setup import configure_exporters\n"
        "configure_exporters(['emf'], env={})\n"
        "fnlens.instrument(lambda e, c: 1)({}, None)\n"
        "print('aws_xray_sdk' in sys.modules, 'boto3' in sys.modules)",
        {},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False False"
