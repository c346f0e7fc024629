"""After the Lambda response the runtime's thread sends the OTLP requests itself (spans
and log records both on the wire before either answer is awaited) and hands whatever
is not answered within the budget to the export thread, which finishes it: nothing is
lost, nothing is sent twice, and the runtime's thread never waits past the budget."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import fnlens
from fnlens.exporters import _otlp_http
from fnlens.exporters._queue import FAILED, OK, RETRY, ExportQueue
from fnlens.testing import LambdaContext, capture, events
from tests.support.otlp_sink import OTLPSink
from tests.support.runtime_client import RuntimeClient
from tests.support.timing import SLACK_S, bound_ms

BUDGET_MS = 20.0


@pytest.fixture
def loop(hook_runtime_client):
    """awslambdaric's loop in memory: next event, handler, response post (which runs
    the work deferred to after the response); returns the post times (ms)."""
    cls = hook_runtime_client(RuntimeClient)

    def run(handler, n: int) -> list[float]:
        client = cls()
        posts = []
        for _ in range(n):
            request_id = client.wait_next_invocation()
            handler(events.api_gateway_v2(), LambdaContext(aws_request_id=request_id))
            start = time.perf_counter()
            client.post_invocation_result(request_id, b"{}")
            posts.append((time.perf_counter() - start) * 1000)
        return posts

    return run


def _export_threads_exports(installed, monkeypatch) -> dict[str, list[int]]:
    """Count the batches each queue's export thread exports the usual way (the first
    one builds the exporter there; the runtime's thread sends the rest itself)."""
    counts: dict[str, list[int]] = {}
    queues = [p.queue for p in installed.span_processors]
    queues += [s.queue for s in installed.sinks if hasattr(s, "queue")]
    for queue in queues:
        seen = counts.setdefault(queue.name, [])
        # private probe, kept: which thread sent a batch has no public trace (the
        # collector sees the same request either way); this counts the worker's
        original = queue._export

        def counting(batch, original=original, seen=seen):
            seen.append(len(batch))
            return original(batch)

        monkeypatch.setattr(queue, "_export", counting)
    return counts


@pytest.mark.e2e
def test_the_runtime_thread_sends_after_the_response(install, otlp_sink, loop, monkeypatch):
    installed = install(["otlp"], otlp_endpoint=otlp_sink.endpoint, flush_mode="budget")
    by_export_thread = _export_threads_exports(installed, monkeypatch)

    @fnlens.instrument(flush_budget_ms=2000)
    def handler(event, context):
        fnlens.get_logger().info("work")
        return {"statusCode": 200}

    with capture() as captured:
        loop(handler, 6)
    assert len(otlp_sink.spans) == 6
    assert [log["body"] for log in otlp_sink.logs] == ["work", "invocation"] * 6
    assert otlp_sink.requests == 12  # one request per signal and invocation
    # the export threads prepared at installation: at most the first batch of a signal
    # (when the runtime's thread got there before the preparation ended) went through them
    assert all(len(v) <= 1 for v in by_export_thread.values()), by_export_thread
    assert all(r["telemetry_dropped"] == 0 for r in captured.records)


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["slow", "refusing", "split"])
def test_late_or_refused_answers_are_finished_by_the_export_thread(install, loop, backend):
    """A backend answering after the budget, one answering 503 at first, and one whose
    answer arrives in two pieces: every span and log record arrives exactly once, no
    drop is counted, and the runtime's thread waits at most the budget."""
    sink = OTLPSink(
        delay_s=0.15 if backend == "slow" else 0.0,
        refuse=3 if backend == "refusing" else 0,
        split_answer_s=0.005 if backend == "split" else 0.0,
    ).start()
    try:
        install(["otlp"], otlp_endpoint=sink.endpoint, otlp_timeout_s=5, flush_mode="budget")

        @fnlens.instrument(flush_budget_ms=BUDGET_MS)
        def handler(event, context):
            fnlens.get_logger().info("work", n=context.aws_request_id)
            return {"statusCode": 200}

        with capture():
            posts = loop(handler, 8)
        fnlens.flush(10.0)
        assert sink.wait_for(lambda s: len(s.spans) >= 8 and len(s.logs) >= 16)
        time.sleep(0.2)  # anything sent twice would arrive by now
        assert sorted(s["attributes"]["faas.invocation_id"] for s in sink.spans) == [
            f"r{i}" for i in range(1, 9)
        ]
        assert len(sink.logs) == 16
        assert sorted(log["attributes"]["n"] for log in sink.logs if "n" in log["attributes"]) == [
            f"r{i}" for i in range(1, 9)
        ]
        from fnlens.runtime._telemetry import TELEMETRY

        assert TELEMETRY.dropped() == 0
        assert max(posts) <= bound_ms(BUDGET_MS), posts
        if backend == "refusing":
            assert sink.refused == 3
    finally:
        sink.stop()


def _nobody_listening() -> str:
    """An endpoint on a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{placeholder.getsockname()[1]}"


@pytest.mark.e2e
def test_a_dead_collector_costs_nothing_past_the_budget(install, loop):
    endpoint = _nobody_listening()
    # (an export timeout 5x the bound below: a post that waited for it fails the test)
    install(["otlp"], otlp_endpoint=endpoint, otlp_timeout_s=5, flush_mode="budget")
    sentinel = {"statusCode": 200, "body": "unchanged"}

    @fnlens.instrument(flush_budget_ms=BUDGET_MS)
    def handler(event, context):
        fnlens.get_logger().info("work")
        return sentinel

    results = []
    with capture() as captured:
        posts = loop(lambda e, c: results.append(handler(e, c)), 6)
    assert results == [sentinel] * 6
    assert max(posts) <= bound_ms(BUDGET_MS), posts
    assert len(captured.records) == 6
    fnlens.flush(3.0)
    from fnlens.runtime._telemetry import TELEMETRY

    assert TELEMETRY.dropped() > 0  # counted, not hidden


# the queue's side, with a scripted exporter --------------------------------------------
class Scripted:
    """A started export: ``wait`` gives ``outcome`` (None: no answer yet); ``finish``
    gives the answer already seen, else ``final`` (as ``_otlp_http.RawExport``)."""

    def __init__(self, outcome: str | None, final: str = OK, delay: float | None = 0.0):
        self.outcome, self.final, self.delay = outcome, final, delay
        self.finished_on: list[str] = []

    def wait(self, timeout_s: float) -> str | None:
        return self.outcome

    def finish(self) -> str:
        self.finished_on.append(threading.current_thread().name)
        return self.outcome if self.outcome is not None else self.final

    def retry_delay(self) -> float | None:
        return self.delay


def _queue(start_export, exported: list) -> ExportQueue:
    def export(batch):
        exported.append(list(batch))
        return True

    return ExportQueue("scripted", export, start_export=start_export, schedule_delay_s=30)


def test_an_answered_export_settles_on_the_calling_thread():
    exported: list = []
    started = Scripted(OK)
    queue = _queue(lambda batch, s: started, exported)
    queue.put("a")
    queue.put("b")
    inline = queue.export_here(0.01)
    assert inline is not None and inline.wait(time.perf_counter() + 0.01)
    assert (queue.exported(), queue.dropped(), queue.pending(), exported) == (2, 0, 0, [])
    assert started.finished_on == []
    queue.shutdown(1)


def test_an_unanswered_export_is_finished_by_the_worker_and_blocks_the_next():
    exported: list = []
    started = Scripted(None, final=OK)
    queue = _queue(lambda batch, s: started, exported)
    queue.put("a")
    inline = queue.export_here(0.01)
    assert inline is not None
    queue.put("b")
    assert queue.export_here(0.01) is None  # one export at a time
    assert not inline.wait(time.perf_counter())  # handed over
    assert queue.flush(5)
    assert started.finished_on == ["fnlens-export-scripted"]
    assert queue.exported() == 2 and queue.dropped() == 0
    assert exported == [["b"]]  # "a" was finished, never sent again
    queue.shutdown(1)


@pytest.mark.parametrize(
    "start, wait, expected",
    [
        (RETRY, None, {"exported": [["a"]], "ok": 1, "dropped": 0}),  # could not send
        (None, None, {"exported": [["a"]], "ok": 1, "dropped": 0}),  # cannot here
        (FAILED, None, {"exported": [], "ok": 0, "dropped": 1}),  # e.g. over the size limit
        ("scripted", RETRY, {"exported": [["a"]], "ok": 1, "dropped": 0}),  # 503
        ("scripted", FAILED, {"exported": [], "ok": 0, "dropped": 1}),  # 400
    ],
)
def test_every_outcome_is_accounted_for_once(start, wait, expected):
    exported: list = []
    queue = _queue(lambda batch, s: Scripted(wait) if start == "scripted" else start, exported)
    queue.put("a")
    inline = queue.export_here(0.01)
    if inline is not None:
        inline.wait(time.perf_counter() + 0.01)
    assert queue.flush(5)
    assert exported == expected["exported"]
    assert (queue.exported(), queue.dropped()) == (expected["ok"], expected["dropped"])
    queue.shutdown(1)


# the transport's side: answers read without blocking, resumable ---------------------
class ScriptedServer:
    """Accepts one connection; answers each request with the byte pieces given."""

    def __init__(self, answers: list[list[bytes]], gap_s: float = 0.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1/traces"
        self.answers, self.gap_s = answers, gap_s
        # piece (answer, index) -> an Event the piece waits for (the test's go-ahead)
        self.gates: dict[tuple[int, int], threading.Event] = {}
        self.sent: list[tuple[int, int]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.settimeout(5)
        with conn:
            for number, pieces in enumerate(self.answers):
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                for index, piece in enumerate(pieces):
                    gate = self.gates.get((number, index))
                    if gate is not None and not gate.wait(5):
                        return
                    conn.sendall(piece)
                    self.sent.append((number, index))
                    time.sleep(self.gap_s)

    def close(self) -> None:
        self.sock.close()


def test_an_answer_in_pieces_is_read_on_across_threads():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    server = ScriptedServer([[head, b"he", b"llo"], [head + b"world"]])
    go = {piece: threading.Event() for piece in [(0, 0), (0, 1), (0, 2)]}
    server.gates.update(go)
    transport = _otlp_http.socket_transport()
    try:
        sent = transport.begin(server.url, headers={}, timeout=5, data=b"x", send_within=1)
        assert sent.ready(0.0) is None  # nothing yet: not waited for
        go[(0, 0)].set()
        go[(0, 1)].set()
        deadline = time.monotonic() + 5
        while len(server.sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert sent.ready(0.05) is None  # the head and "he": kept, not complete
        results = []
        reader = threading.Thread(target=lambda: results.append(sent.result()))
        reader.start()  # the export thread it was handed to reads on
        go[(0, 2)].set()
        reader.join(5)
        (result,) = results
        assert (result.status_code, result.content()) == (200, b"hello")
        # the kept-alive connection is in step for the next request
        again = transport.begin(server.url, headers={}, timeout=5, data=b"x", send_within=1)
        answer = again.ready(2.0)
        assert (answer.status_code, answer.content()) == (200, b"world")
    finally:
        transport.close()
        server.close()


@pytest.mark.parametrize(
    "pieces, status, body",
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], 200, b"ok"),
        (
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"2\r\nok\r\n0\r\n\r\n"],
            200,
            b"ok",
        ),
        ([b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"], 503, b""),
        ([b"HTTP/1.0 200 OK\r\n\r\n", b"until close"], 200, b"until close"),
    ],
)
def test_answers_of_every_framing_are_read_whole(pieces, status, body):
    server = ScriptedServer([pieces], gap_s=0.01)
    transport = _otlp_http.socket_transport()
    try:
        sent = transport.begin(server.url, headers={}, timeout=5, data=b"x", send_within=1)
        deadline = time.monotonic() + 5
        result = None
        while result is None and time.monotonic() < deadline:
            result = sent.ready(0.05)
        assert (result.status_code, result.content()) == (status, body)
    finally:
        transport.close()
        server.close()


def test_a_request_that_cannot_be_sent_in_time_is_retried_elsewhere():
    url = _nobody_listening() + "/v1/traces"
    transport = _otlp_http.socket_transport()
    sent = transport.begin(url, headers={}, timeout=5, data=b"x", send_within=0.5)
    assert not hasattr(sent, "ready") and transport.is_connection_error(sent.error)


def test_an_export_left_unwaited_is_handed_to_the_worker():
    """If the thread that sent a batch is interrupted before it reads the answer (the
    flush after the response was cut short), the worker reads it: the queue is never
    left with a batch in flight that nobody finishes."""
    exported: list = []
    started = Scripted(None, final=OK)
    queue = _queue(lambda batch, s: started, exported)
    queue.put("a")
    inline = queue.export_here(0.01)
    assert inline is not None
    inline.hand_over()
    assert queue.flush(5)
    assert started.finished_on == ["fnlens-export-scripted"]
    assert (queue.exported(), queue.dropped(), exported) == (1, 0, [])
    queue.shutdown(1)


def test_a_flush_interrupted_while_waiting_hands_the_rest_over(install, monkeypatch):
    from fnlens.runtime._telemetry import Telemetry

    exported: list = []
    first, second = Scripted(None), Scripted(None)
    queues = [_queue(lambda b, s: first, exported), _queue(lambda b, s: second, exported)]

    class Part:
        def __init__(self, queue):
            self.queue = queue

        def export_here(self, send_within_s):
            return self.queue.export_here(send_within_s)

        def flush(self, timeout_s):
            self.queue.flush(timeout_s)

    telemetry = Telemetry()
    for queue in queues:
        queue.put("x")
        telemetry.add_sink(Part(queue))
    monkeypatch.setattr(first, "wait", lambda timeout_s: (_ for _ in ()).throw(SystemExit(0)))
    with pytest.raises(SystemExit):
        telemetry.flush(0.05, here=True)
    for queue in queues:
        assert queue.flush(5)
        queue.shutdown(1)
    assert first.finished_on == second.finished_on == ["fnlens-export-scripted"]


@pytest.mark.e2e
def test_a_retry_after_is_honoured_before_sending_again(install, loop):
    sink = OTLPSink().start()
    try:
        install(
            ["otlp"],
            otlp_endpoint=sink.endpoint,
            otlp_timeout_s=5,
            flush_mode="budget",
            traces=True,
            logs=False,  # one request per invocation
        )

        @fnlens.instrument(flush_budget_ms=BUDGET_MS)
        def handler(event, context):
            return {"statusCode": 200}

        with capture():
            loop(handler, 1)  # the first export (the worker's); later ones are inline
            fnlens.flush(5.0)
            sink.retry_after, sink.refuse = 1, 1  # the next request: 429, Retry-After: 1
            loop(handler, 1)
        fnlens.flush(10.0)
        assert sink.wait_for(lambda s: len(s.spans) >= 2)
        assert len(sink.refused_at) == 1
        resent = [t for t in sink.completed_at if t > sink.refused_at[0]]
        assert resent and min(resent) - sink.refused_at[0] >= 0.9  # waited as asked
        assert len(sink.spans) == 2
    finally:
        sink.stop()


def test_an_interrupted_send_leaves_nothing_in_flight():
    exported: list = []

    def interrupted(batch, send_within_s):
        raise KeyboardInterrupt

    queue = _queue(interrupted, exported)
    queue.put("a")
    with pytest.raises(KeyboardInterrupt):
        queue.export_here(0.01)
    assert queue.flush(5)  # the worker exported it: nothing wedged
    assert (queue.exported(), queue.dropped(), exported) == (1, 0, [["a"]])
    queue.shutdown(1)


def test_a_handover_after_shutdown_is_counted_as_dropped():
    exported: list = []
    started = Scripted(None)
    queue = _queue(lambda batch, s: started, exported)
    queue.put("a")  # (starts a worker, which stops at shutdown)
    inline = queue.export_here(0.01)
    assert inline is not None
    queue.shutdown(0.05)  # (waits for the batch in flight, in vain)
    assert not inline.wait(time.perf_counter())  # no worker to finish it any more
    assert queue.pending() == 0
    assert (queue.exported(), queue.dropped()) == (0, 1)


def test_a_forked_child_starts_with_an_empty_queue_of_its_own():
    import os

    exported: list = []
    queue = _queue(None, exported)
    queue.put("parent's")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's handlers
        try:
            queue.put("child's")
            ok = queue.flush(5)
            os.write(write, repr((ok, queue.pending(), exported)).encode())
        finally:
            os._exit(0)
    os.close(write)
    report = os.read(read, 1000).decode()
    os.waitpid(pid, 0)
    assert report == repr((True, 0, [["child's"]]))
    assert queue.flush(5) and exported == [["parent's"]]
    queue.shutdown(1)


def test_interim_answers_are_skipped():
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    second = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno"
    server = ScriptedServer([[interim, final], [second]], gap_s=0.01)
    transport = _otlp_http.socket_transport()
    try:
        got = []
        for _ in range(2):  # the connection stays in step
            sent = transport.begin(server.url, headers={}, timeout=5, data=b"x", send_within=1)
            result = sent.result()
            got.append((result.status_code, result.content()))
        assert got == [(200, b"ok"), (400, b"no")]
    finally:
        transport.close()
        server.close()


def test_a_large_answer_does_not_hold_the_caller_past_its_wait():
    body = b"x" * (4 << 20)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    pieces = [head] + [body[i : i + (256 << 10)] for i in range(0, len(body), 256 << 10)]
    server = ScriptedServer([pieces], gap_s=0.2)  # 17 pieces: 3.4 s to read it all
    transport = _otlp_http.socket_transport()
    try:
        sent = transport.begin(server.url, headers={}, timeout=10, data=b"x", send_within=1)
        start = time.perf_counter()
        assert sent.ready(0.02) is None
        assert time.perf_counter() - start < 0.02 + SLACK_S  # reading it all: 3.4 s
        result = sent.result()  # the rest, as the export thread reads it
        assert (result.status_code, len(result.content())) == (200, len(body))
    finally:
        transport.close()
        server.close()
