"""The Runtime API endpoints, spoken to over HTTP on 127.0.0.1 with http.client."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from fnlens.localrt._api_server import Invocation, RuntimeApi, RuntimeApiServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server():
    srv = RuntimeApiServer(RuntimeApi()).start()
    yield srv
    srv.stop()


def _conn(srv: RuntimeApiServer) -> http.client.HTTPConnection:
    host, port = srv.address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def test_next_carries_content_type_and_lambda_headers(server: RuntimeApiServer) -> None:
    inv = Invocation(
        "req-1",
        b'{"a": 1}',
        "arn:aws:lambda:us-east-1:1:function:f:live",
        "Root=1-6b000000-000000000000000000000001;Parent=1111111111111111;Sampled=0",
        3.0,
    )
    server.api.submit(inv)
    conn = _conn(server)
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == "req-1"
    assert resp.getheader("Lambda-Runtime-Invoked-Function-Arn").endswith(":function:f:live")
    assert resp.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-6b000000-")
    deadline = int(resp.getheader("Lambda-Runtime-Deadline-Ms"))
    assert deadline == inv.deadline_ms and deadline > 0
    assert json.loads(body) == {"a": 1}
    assert inv.handed_out.is_set()

    conn.request(
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        body=b'{"ok":true}',
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    assert inv.done.is_set() and inv.response == b'{"ok":true}'

    # a second answer for the same request id is refused, as Lambda does
    conn.request("POST", "/2018-06-01/runtime/invocation/req-1/response", body=b"{}")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 400


def test_error_and_init_error_endpoints(server: RuntimeApiServer) -> None:
    inv = Invocation("req-2", b"{}", "arn:aws:lambda:us-east-1:1:function:f", None, 3.0)
    server.api.submit(inv)
    conn = _conn(server)
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    resp.read()
    assert resp.getheader("Lambda-Runtime-Trace-Id") is None
    payload = json.dumps({"errorType": "ValueError", "errorMessage": "bad"}).encode()
    conn.request(
        "POST",
        "/2018-06-01/runtime/invocation/req-2/error",
        body=payload,
        headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"},
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    assert inv.error == payload and inv.error_type == "Unhandled"

    conn.request(
        "POST", "/2018-06-01/runtime/init/error", body=b'{"errorType":"Runtime.ImportModuleError"}'
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    assert server.api.init_error == (
        "Runtime.ImportModuleError",
        b'{"errorType":"Runtime.ImportModuleError"}',
    )


def test_next_long_polls_until_an_invocation_arrives(server: RuntimeApiServer) -> None:
    got: dict[str, str] = {}

    def poll() -> None:
        conn = _conn(server)
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        resp = conn.getresponse()
        resp.read()
        got["id"] = resp.getheader("Lambda-Runtime-Aws-Request-Id")

    t = threading.Thread(target=poll)
    t.start()
    assert server.api.init_done.wait(5.0)  # the first poll ends the init phase
    t.join(0.2)
    assert t.is_alive() and not got  # still waiting: nothing to hand out yet
    server.api.submit(Invocation("req-3", b"{}", "arn", None, 3.0))
    t.join(5.0)
    assert got == {"id": "req-3"}
