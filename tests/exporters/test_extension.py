"""The in-process Lambda extension: the caller waits for nothing, the environment
is held (event/next is not called) until the export is done."""

from __future__ import annotations

import itertools
import time

import pytest

import fnlens
from fnlens.testing import LambdaContext, capture, events
from tests.support.extension_api import FakeExtensionsAPI
from tests.support.net import closed_port
from tests.support.otlp_sink import OTLPSink
from tests.support.timing import SLACK_S


def _wait(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.e2e
def test_export_finishes_after_the_response(install):
    api = FakeExtensionsAPI(gate=True).start()
    sink = OTLPSink(delay_s=0.2).start()  # a slow backend: 200 ms per request
    try:
        installed = install(
            ["otlp"],
            otlp_endpoint=sink.endpoint,
            traces=True,
            logs=False,
            flush_mode="extension",
            env={"AWS_LAMBDA_RUNTIME_API": api.address},
        )
        assert installed.flush_mode == "extension" and installed.extension is not None
        assert api.registrations == [{"name": "fnlens", "body": {"events": ["INVOKE"]}}]
        assert _wait(lambda: len(api.next_calls) == 1)  # init done, waiting for an invoke

        @fnlens.instrument(flush_budget_ms=50)
        def handler(event, context):
            return {"statusCode": 200}

        returned = []
        with capture() as captured:
            for i in range(3):
                api.release()  # Lambda delivers INVOKE to the extension…
                handler(events.api_gateway_v2(), LambdaContext())  # …and to the runtime
                returned.append(time.monotonic())
                # the extension asks for the next event only once the span is exported
                assert _wait(lambda i=i: len(api.next_calls) == i + 2), api.next_calls
                spans = [s for s in sink.spans if s["kind"] == 2]
                assert len(spans) >= i + 1
                assert sink.completed_at and sink.completed_at[-1] <= api.next_calls[-1]
        # the 200 ms exports were answered after each handler had returned (an ordering,
        # whatever the load), and no flush ran inside an invocation (a count)
        assert len(sink.completed_at) == 3
        assert all(done > at for done, at in zip(sink.completed_at, returned, strict=True))
        assert [r["telemetry_flush_ms"] for r in captured.records] == [0.0] * 3
        assert installed.extension.drains and max(installed.extension.drains) >= 150
    finally:
        api.stop()
        sink.stop()


def test_falls_back_to_the_budget_without_an_extensions_api(install):
    installed = install(
        ["emf"],
        flush_mode="extension",
        env={"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{closed_port()}"},
    )
    assert installed.extension is None and installed.flush_mode == "budget"


def test_minimal_http_parser_reads_content_length_and_chunked_bodies():
    import socket as socketlib

    from fnlens.exporters._extension import InProcessExtension
    from fnlens.runtime._telemetry import Telemetry

    ext = InProcessExtension(Telemetry(), "127.0.0.1:1")
    a, b = socketlib.socketpair()
    try:
        b.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
        )
        # private probe, kept: the fake Extensions API answers with Content-Length only,
        # so the chunked branch is reached here, on the parser itself
        head, body = ext._read_response(a)
        assert head.startswith(b"HTTP/1.1 200") and body == b"{}"
        head, body = ext._read_response(a)
        assert body == b'{"a":1}'
    finally:
        a.close()
        b.close()


@pytest.mark.e2e
def test_extension_reads_the_next_invoke_only_after_the_handler_returned(install):
    """While the handler runs, the INVOKE answer stays unread on the socket: the
    extension thread does not wake up (and take the GIL) mid-invocation."""
    api = FakeExtensionsAPI(gate=True).start()
    sink = OTLPSink().start()
    try:
        installed = install(
            ["otlp"],
            otlp_endpoint=sink.endpoint,
            logs=False,
            flush_mode="extension",
            env={"AWS_LAMBDA_RUNTIME_API": api.address},
        )
        ext = installed.extension
        assert _wait(lambda: len(api.next_calls) == 1)
        seen = {}

        @fnlens.instrument
        def handler(event, context):
            # the answer to event/next has arrived, and the extension leaves it alone
            seen["answered"] = _wait(lambda: len(api.answered) == 1, 2.0)
            time.sleep(0.05)
            # private probe, kept: "unread on the socket" (the extension thread did not
            # wake mid-invocation) has no effect outside the process but the GIL's
            seen["still_unread"] = ext._answered()
            seen["next_calls"] = len(api.next_calls)  # not handled: no event/next yet
            return {"statusCode": 200}

        api.release()
        handler(events.api_gateway_v2(), LambdaContext())
        assert seen == {"answered": True, "still_unread": True, "next_calls": 1}
        assert _wait(lambda: len(api.next_calls) == 2)  # handled once the handler returned
        assert not ext._answered()
        assert _wait(lambda: any(s["kind"] == 2 for s in sink.spans))
    finally:
        api.stop()
        sink.stop()


@pytest.mark.e2e
def test_an_invoke_that_never_reaches_the_decorator_does_not_hold_the_environment(install):
    from fnlens.exporters._extension import POLL_S

    api = FakeExtensionsAPI(gate=True).start()
    try:
        install(["emf"], flush_mode="extension", env={"AWS_LAMBDA_RUNTIME_API": api.address})
        assert _wait(lambda: len(api.next_calls) == 1)
        api.release()  # an INVOKE, but the runtime never calls the instrumented handler
        start = time.monotonic()
        assert _wait(lambda: len(api.next_calls) == 2, 5.0)
        waited = time.monotonic() - start
        assert POLL_S <= waited < 4 * POLL_S + SLACK_S, waited  # (held: the 5 s _wait fails)

        @fnlens.instrument
        def handler(event, context):
            return {"statusCode": 200}

        # and the next, instrumented invocation is handled normally afterwards
        api.release()
        handler(events.api_gateway_v2(), LambdaContext())
        assert _wait(lambda: len(api.next_calls) == 3)
        time.sleep(0.2)
        assert len(api.next_calls) == 3  # counted once: not asked again one invoke early
    finally:
        api.stop()


def test_an_error_answer_to_event_next_is_warned_and_retried_with_back_off(install, capfd, caplog):
    import json as jsonlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            return None

        def _reply(self, status, body, headers=None):
            data = jsonlib.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(200, {}, {"Lambda-Extension-Identifier": "id-1"})

        def do_GET(self):
            calls.append(time.monotonic())
            self._reply(403, {"errorType": "Extension.UnknownExtensionIdentifier"})

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            return None  # the extension's socket closing at the end of the test

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        installed = install(
            ["emf"], flush_mode="extension", env={"AWS_LAMBDA_RUNTIME_API": address}
        )
        assert installed.extension is not None
        assert _wait(lambda: len(calls) >= 4, 5.0)
        time.sleep(0.3)
        assert _wait(lambda: "event/next answered HTTP 403" in caplog.text, 2.0)
        # back-off: the gaps between retries grow (0.01 s, 0.02 s, …), no busy loop
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert len(calls) < 60 and gaps[-1] >= gaps[0], gaps
    finally:
        server.shutdown()
        server.server_close()
