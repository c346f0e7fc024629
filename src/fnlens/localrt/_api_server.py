"""The Lambda Runtime API and Extensions API for one execution environment.

Each environment gets its own server on 127.0.0.1, as each Lambda sandbox talks
to its own endpoint (``AWS_LAMBDA_RUNTIME_API`` serves both APIs):

* Runtime API (``/2018-06-01/runtime/…``): the runtime client long-polls
  ``/invocation/next``, then posts ``/invocation/{id}/response`` or
  ``/invocation/{id}/error``; a failed init posts ``/init/error``.
* Extensions API (``/2020-01-01/extension/…``): during init an extension posts
  to ``/register`` (``Lambda-Extension-Name``, ``{"events": ["INVOKE"]}``) and
  gets a ``Lambda-Extension-Identifier``; then it long-polls ``GET /event/next``
  with that identifier.

Lambda's lifecycle rules, as far as one environment sees them:

* registration is open until the runtime's first ``invocation/next`` (the end of
  the runtime's init); later ones get ``403 Extension.RegistrationClosed``;
* an invoke is handed out only when the runtime *and* every extension
  registered for ``INVOKE`` are waiting in their ``next`` call, and then to all
  of them at once (the runtime gets the payload, each extension an ``INVOKE``
  event with the same request id, deadline, ARN and trace header). So an
  extension that keeps working after the response holds the next invoke back;
* every extension here is an *internal* one (localrt launches no
  ``/opt/extensions`` processes), so, as in Lambda, it cannot subscribe to
  ``SHUTDOWN`` (``403 Extension.InvalidEventType``);
* closing the API releases every waiting ``next`` call with ``410``.

Error types are Lambda's (``Extension.UnknownExtensionIdentifier``,
``Extension.MissingExtensionIdentifier``…), as its runtime interface emulator names them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fnlens.exceptions import LocalApiError, LocalTelemetryError

PREFIX = "/2018-06-01/runtime"
NEXT = f"{PREFIX}/invocation/next"
RESTORE_NEXT = f"{PREFIX}/restore/next"  # SnapStart: the runtime's init is over, snapshot now
RESTORE_ERROR = f"{PREFIX}/restore/error"  # an after-restore hook raised
EXTENSION_PREFIX = "/2020-01-01/extension"
EXTENSION_REGISTER = f"{EXTENSION_PREFIX}/register"
EXTENSION_NEXT = f"{EXTENSION_PREFIX}/event/next"
INVOKE = "INVOKE"
SHUTDOWN = "SHUTDOWN"
MAX_EXTENSIONS = 10  # Lambda's limit per function
# Lambda's synchronous response limit ("6 MB"): the figure its error message names
MAX_RESPONSE_BYTES = 6_291_556
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"


@dataclass
class Invocation:
    """One invocation on its way through the Runtime API."""

    request_id: str
    body: bytes
    function_arn: str
    trace_header: str | None
    timeout_s: float
    handed_out_at: float | None = None  # when /next returned it (the invoke phase starts)
    deadline_ms: int | None = None
    finished_at: float | None = None  # the response (or error) was posted
    runtime_done_at: float | None = None  # the runtime asked for its next event
    runtime_asks: int = 0  # the runtime's next calls up to this invocation's hand-out
    response: bytes | None = None
    response_content_type: str | None = None
    error: bytes | None = None
    error_type: str | None = None
    response_size: int | None = None  # bytes the runtime posted, when past the limit
    handed_out: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self) -> None:
        self.finished_at = time.time()
        self.done.set()

    def extension_event(self) -> dict[str, Any]:
        """The ``INVOKE`` event extensions receive for this invocation."""
        event: dict[str, Any] = {
            "eventType": INVOKE,
            "deadlineMs": self.deadline_ms,
            "requestId": self.request_id,
            "invokedFunctionArn": self.function_arn,
        }
        if self.trace_header:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": self.trace_header}
        return event


@dataclass
class Extension:
    """A registered extension and where it is in its event loop."""

    id: str
    name: str
    events: tuple[str, ...]
    registered_at: float
    waiting: bool = False  # inside event/next: ready for the next invoke
    asked_at: float | None = None  # when it last called event/next
    next_calls: int = 0
    delivered: int = 0  # INVOKE events handed to it
    last_event: dict[str, Any] | None = None

    @property
    def gets_invokes(self) -> bool:
        return INVOKE in self.events


class RuntimeApi:
    """The state behind one environment's Runtime API + Extensions API endpoint."""

    def __init__(
        self,
        on_handout: Any = None,
        on_init_error: Any = None,
        function_info: Mapping[str, str] | None = None,
        *,
        extension_events: tuple[str, ...] = (INVOKE,),
    ) -> None:
        self._cond = threading.Condition()
        # what extensions may subscribe to: INVOKE for internal extensions of on-demand
        # functions; SHUTDOWN only under Lambda Managed Instances; both for external ones
        self.extension_events = extension_events
        self.external_phase = False  # external extensions registering: INVOKE and SHUTDOWN
        self.telemetry: Any = None  # the environment's Telemetry API hub, when it has one
        self._pending: deque[Invocation] = deque()
        self._on_handout = on_handout
        self._on_init_error = on_init_error
        self.function_info = dict(function_info or {})  # the register reply's body
        self.current: Invocation | None = None
        self.first_next_at: float | None = None  # the runtime's init is over
        self.init_end_at: float | None = None  # ...and every extension's (Lambda's init phase)
        self.init_done = threading.Event()
        self.init_error: tuple[str | None, bytes] | None = None
        self.calls: list[tuple[str, str]] = []  # (method, path): what was asked for
        self.extensions: dict[str, Extension] = {}  # by identifier, in registration order
        self.handouts = 0
        self.runtime_asks = 0  # the runtime's next calls so far
        self.runtime_asked_at: float | None = None
        self._unreleased = False  # an INVOKE extensions have not been given yet
        self.closed = False
        # SnapStart: the runtime parks in restore/next once init and the before-snapshot
        # hooks are done (the snapshot); it resumes when the environment is restored
        self.snapshot_at: float | None = None
        self.restore_started_at: float | None = None
        self.restore_error: tuple[str | None, bytes] | None = None
        # a SnapStart template process: each restore/next it makes is answered with the
        # next order to fork a restored environment (None when the snapshot is discarded)
        self.restore_orders: deque[bytes | None] | None = None

    # called by the environment -------------------------------------------
    def submit(self, invocation: Invocation) -> None:
        with self._cond:
            self._pending.append(invocation)
            self._cond.notify_all()

    def close(self) -> None:
        """Shut down: every waiting ``next`` call (runtime or extension) returns."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self.init_done.set()

    def wake(self) -> None:
        """Let waiters re-check their conditions (e.g. the process died)."""
        with self._cond:
            self._cond.notify_all()

    def extensions_ready_at(self) -> float | None:
        """When the last ``INVOKE`` extension asked for the next event, if all of them
        are waiting now (0.0 when there is none); None while one is still working."""
        with self._cond:
            return self._ready_at()

    def wait_extensions_ready(
        self, timeout_s: float, give_up: Callable[[], bool] | None = None
    ) -> float | None:
        """Block until every ``INVOKE`` extension waits in event/next; returns
        :meth:`extensions_ready_at`, or None on timeout, close or ``give_up()``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                ready = self._ready_at()
                if ready is not None:
                    return ready
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0 or (give_up is not None and give_up()):
                    return None
                self._cond.wait(remaining)

    def wait_runtime_done(
        self, invocation: Invocation, timeout_s: float, give_up: Callable[[], bool] | None = None
    ) -> float | None:
        """Block until the runtime asks for its next event after ``invocation`` (its
        work after the response, if any, is over); returns when, or None on timeout,
        close or ``give_up()``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.runtime_asks <= invocation.runtime_asks:
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0 or (give_up is not None and give_up()):
                    return None
                self._cond.wait(remaining)
            invocation.runtime_done_at = self.runtime_asked_at
            return self.runtime_asked_at

    # SnapStart -------------------------------------------------------------
    def restore_next(self) -> bytes | None:
        """The runtime's ``GET restore/next``: blocks until :meth:`restore` and returns
        the reply's body (None when the environment closes first). A template process
        gets the next fork order instead (:meth:`order_restore`)."""
        with self._cond:
            if self.snapshot_at is None:
                self.snapshot_at = time.time()
            self._cond.notify_all()
            if self.restore_orders is not None:
                while not self.closed and not self.restore_orders:
                    self._cond.wait()
                return self.restore_orders.popleft() if self.restore_orders else None
            while not self.closed and self.restore_started_at is None:
                self._cond.wait()
            return b"" if self.restore_started_at is not None else None

    def order_restore(self, order: bytes | None) -> None:
        """Template process: answer its restore/next with ``order`` (None: exit)."""
        with self._cond:
            if self.restore_orders is None:
                self.restore_orders = deque()
            self.restore_orders.append(order)
            self._cond.notify_all()

    def wait_snapshot(self, timeout_s: float, give_up: Callable[[], bool]) -> bool:
        """Block until the runtime is parked in restore/next (its init is over)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.snapshot_at is None:
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0 or give_up():
                    return False
                self._cond.wait(min(remaining, 0.2))
            return True

    def restore(self) -> None:
        """Restore from the snapshot: restore/next answers, after-restore hooks run."""
        with self._cond:
            self.restore_started_at = time.time()
            self._cond.notify_all()

    def post_restore_error(self, body: bytes, error_type: str | None) -> None:
        self.restore_error = (error_type or _error_type_of(body), body)
        self.post_init_error(body, error_type or "Runtime.AfterRestoreError")

    # called by the HTTP handler: Runtime API ----------------------------
    def next_invocation(self) -> Invocation | None:
        with self._cond:
            self.runtime_asks += 1
            self.runtime_asked_at = time.time()
            self._cond.notify_all()  # the previous invocation's runtime work is over
            if self.first_next_at is None:
                self.first_next_at = time.time()  # registration closes here
                self._maybe_end_init()
                self.init_done.set()
            while not self.closed and not (self._pending and self._all_waiting()):
                self._cond.wait()
            if self.closed:
                return None
            invocation = self._pending.popleft()
            now = time.time()
            invocation.handed_out_at = now
            invocation.deadline_ms = int((now + invocation.timeout_s) * 1000)
            invocation.runtime_asks = self.runtime_asks
            self.current = invocation
            self.handouts += 1
            event = invocation.extension_event()
            for ext in self.extensions.values():
                if ext.gets_invokes:
                    ext.waiting = False
                    ext.last_event = event
            self._unreleased = True
        if self._on_handout is not None:
            self._on_handout(invocation)
        invocation.handed_out.set()
        return invocation

    def release_invoke(self) -> None:
        """Give extensions the ``INVOKE`` of the invocation just handed out. Called once
        the runtime's answer is on its way: Lambda's service is not in the function's
        sandbox, but this emulator is, and a Python thread answering extensions first
        would delay the runtime's event by the time it holds the GIL."""
        with self._cond:
            if not self._unreleased:
                return
            self._unreleased = False
            for ext in self.extensions.values():
                if ext.gets_invokes and not ext.waiting:
                    ext.delivered += 1
            self._cond.notify_all()

    def post_response(self, request_id: str, body: bytes, content_type: str | None) -> bool:
        inv = self._take(request_id)
        if inv is None:
            return False
        inv.response, inv.response_content_type = body, content_type
        inv.finish()
        return True

    def post_oversized_response(self, request_id: str, size: int) -> bool:
        """A response past :data:`MAX_RESPONSE_BYTES`: the caller gets Lambda's
        ``Function.ResponseSizeTooLarge`` error instead of the payload."""
        inv = self._take(request_id)
        if inv is None:
            return False
        inv.error = json.dumps(
            {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes).",
                "errorType": RESPONSE_TOO_LARGE,
            }
        ).encode()
        inv.error_type = RESPONSE_TOO_LARGE
        inv.response_size = size
        inv.finish()
        return True

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        inv = self._take(request_id)
        if inv is None:
            return False
        inv.error, inv.error_type = body, error_type or _error_type_of(body)
        inv.finish()
        return True

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        self.init_error = (error_type or _error_type_of(body), body)
        self.init_done.set()
        if self._on_init_error is not None:
            self._on_init_error()

    def _take(self, request_id: str) -> Invocation | None:
        with self._cond:
            inv = self.current
            if inv is None or inv.request_id != request_id or inv.done.is_set():
                return None
            self.current = None
            return inv

    # called by the HTTP handler: Extensions API -------------------------
    def register(self, name: str, body: bytes) -> Extension:
        """Register an (internal) extension; raises :class:`LocalApiError`."""
        if not name:
            raise LocalApiError(
                403, "Extension.MissingHeader", "Missing Lambda-Extension-Name header"
            )
        try:
            request = json.loads(body or b"{}")
            events = request.get("events", [])
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise ValueError("events must be a list of strings")
        except (ValueError, AttributeError) as exc:
            raise LocalApiError(403, "InvalidRequestFormat", str(exc)) from exc
        allowed = (INVOKE, SHUTDOWN) if self.external_phase else self.extension_events
        for event in events:
            if event not in allowed:
                raise LocalApiError(403, "Extension.InvalidEventType", _refusal(event, self))
        with self._cond:
            if self.closed or self.first_next_at is not None:
                raise LocalApiError(
                    403, "Extension.RegistrationClosed", "Extension registration closed already"
                )
            if any(ext.name == name for ext in self.extensions.values()):
                raise LocalApiError(
                    403,
                    "Extension.InvalidExtensionState",
                    "Extension with this name already registered",
                )
            if len(self.extensions) >= MAX_EXTENSIONS:
                raise LocalApiError(
                    403,
                    "Extension.TooManyExtensions",
                    f"Extension limit ({MAX_EXTENSIONS}) reached",
                )
            ext = Extension(str(uuid.uuid4()), name, tuple(dict.fromkeys(events)), time.time())
            self.extensions[ext.id] = ext
        if self.telemetry is not None:
            self.telemetry.platform(
                "platform.extension", {"name": name, "state": "Ready", "events": list(ext.events)}
            )
        return ext

    def extension_next(self, identifier: str) -> dict[str, Any] | None:
        """Block until the next event for this extension; None when shutting down.
        Raises :class:`LocalApiError` for a missing, malformed or unknown identifier."""
        with self._cond:
            ext = self._extension(identifier)
            ext.waiting = True
            ext.asked_at = time.time()
            ext.next_calls += 1
            seen = ext.delivered
            self._maybe_end_init()
            self._cond.notify_all()  # the runtime's /next or a settle wait may go on
            while not self.closed and ext.delivered == seen:
                self._cond.wait()
            if ext.delivered == seen:
                return None
            return ext.last_event

    def shutdown_extensions(self, reason: str, grace_s: float) -> int:
        """Send ``SHUTDOWN`` to every extension subscribed to it, and wait up to
        ``grace_s`` for each to ask for its next event (its cleanup is over); returns
        how many are still busy then."""
        deadline = time.monotonic() + grace_s
        with self._cond:
            subscribers = [e for e in self.extensions.values() if SHUTDOWN in e.events]
            event = {
                "eventType": SHUTDOWN,
                "shutdownReason": reason,
                "deadlineMs": int((time.time() + grace_s) * 1000),
            }
            calls = {}
            for ext in subscribers:
                ext.last_event = event
                ext.waiting = False
                ext.delivered += 1
                calls[ext.id] = ext.next_calls
            self._cond.notify_all()
            while True:
                busy = [e for e in subscribers if e.next_calls <= calls[e.id]]
                remaining = deadline - time.monotonic()
                if not busy or remaining <= 0 or self.closed:
                    return len(busy)
                self._cond.wait(remaining)

    def _extension(self, identifier: str) -> Extension:
        if not identifier:
            raise LocalApiError(
                403,
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            )
        try:
            uuid.UUID(identifier)
        except ValueError:
            raise LocalApiError(
                403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            ) from None
        ext = self.extensions.get(identifier.lower())
        if ext is None:
            raise LocalApiError(
                403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}"
            )
        return ext

    # state (call with self._cond held) ------------------------------------
    def _all_waiting(self) -> bool:
        """Init: every extension asked for its first event. Afterwards only those that
        get ``INVOKE`` events hold an invoke back."""
        if self.init_end_at is None:
            return all(ext.waiting for ext in self.extensions.values())
        return all(ext.waiting for ext in self.extensions.values() if ext.gets_invokes)

    def _ready_at(self) -> float | None:
        invoke = [ext for ext in self.extensions.values() if ext.gets_invokes]
        if not all(ext.waiting for ext in invoke):
            return None
        return max((ext.asked_at or 0.0 for ext in invoke), default=0.0)

    def _maybe_end_init(self) -> None:
        """Lambda's init phase ends when the runtime and every extension called next."""
        if self.init_end_at is None and self.first_next_at is not None and self._all_waiting():
            self.init_end_at = time.time()


def _refusal(event: str, api: RuntimeApi) -> str:
    if event not in (INVOKE, SHUTDOWN):
        return f"{event}: unknown event type"
    if event == SHUTDOWN:
        return f"{event}: internal extensions cannot subscribe to SHUTDOWN"
    allowed = ", ".join(api.extension_events)
    return f"{event}: extensions of this function can subscribe to {allowed} only"


def _error_type_of(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("errorType")
    except Exception:
        return None
    return value if isinstance(value, str) else None


_INVALID_ID = b'{"errorMessage":"invalid request id","errorType":"InvalidRequestID"}'
_UNKNOWN_PATH = b'{"errorMessage":"unknown path","errorType":"InvalidRequest"}'
_SHUTTING_DOWN = b'{"errorMessage":"environment shutting down"}'
_UNKNOWN_RUNTIME = b'{"errorMessage":"no environment for this process","errorType":"Forbidden"}'
_TOO_LARGE = json.dumps(
    {
        "errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
        "errorType": "RequestEntityTooLarge",
    }
).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    _routed: RuntimeApi | None = None

    def _api(self) -> RuntimeApi | None:
        """The environment behind this connection: the server's own, or, on a SnapStart
        template's endpoint, the restored process that opened it (cached per connection)."""
        if self._routed is None:
            route = self.server.route
            self._routed = self.server.api if route is None else route(self.client_address)
        return self._routed

    def _unrouted(self) -> None:
        self._read_body()
        self._reply(403, _UNKNOWN_RUNTIME)

    def do_GET(self) -> None:
        api = self._api()
        if api is None:
            self._unrouted()
            return
        api.calls.append(("GET", self.path))
        if self.path == EXTENSION_NEXT:
            self._extension_next(api)
            return
        if self.path == RESTORE_NEXT:
            reply = api.restore_next()
            if reply is not None:
                self._reply(200, reply)
            else:
                self._reply(410, _SHUTTING_DOWN)
            return
        if self.path != NEXT:
            self._reply(404, _UNKNOWN_PATH)
            return
        inv = api.next_invocation()
        if inv is None:
            self._reply(410, _SHUTTING_DOWN)
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
        }
        if inv.trace_header:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_header
        try:
            self._reply(200, inv.body, headers)
        finally:
            api.release_invoke()  # extensions get the INVOKE once the runtime has it

    def _extension_next(self, api: RuntimeApi) -> None:
        try:
            event = api.extension_next(self.headers.get("Lambda-Extension-Identifier") or "")
        except LocalApiError as exc:
            self._reply(exc.status, exc.body())
            return
        if event is None:
            self._reply(410, _SHUTTING_DOWN)
            return
        self._reply(200, json.dumps(event).encode())

    def do_PUT(self) -> None:
        """The Telemetry API: ``PUT /2022-07-01/telemetry`` subscribes an extension."""
        from fnlens.localrt._telemetry import API_PATH, parse_subscription

        api = self._api()
        if api is None:
            self._unrouted()
            return
        body = self._read_body()
        api.calls.append(("PUT", self.path))
        if self.path != API_PATH or api.telemetry is None:
            self._reply(404, _UNKNOWN_PATH)
            return
        try:
            ext = api._extension(self.headers.get("Lambda-Extension-Identifier") or "")
            api.telemetry.subscribe(parse_subscription(ext.name, body))
        except LocalApiError as exc:
            self._reply(exc.status, exc.body())
            return
        except LocalTelemetryError as exc:
            self._reply(400, exc.body())
            return
        self._reply(200, b"OK")

    def do_POST(self) -> None:
        api = self._api()
        if api is None:
            self._unrouted()
            return
        body = self._read_body()
        path = self.path
        api.calls.append(("POST", path))
        if path == EXTENSION_REGISTER:
            try:
                ext = api.register(self.headers.get("Lambda-Extension-Name") or "", body)
            except LocalApiError as exc:
                self._reply(exc.status, exc.body())
                return
            reply = json.dumps(api.function_info).encode()
            self._reply(200, reply, {"Lambda-Extension-Identifier": ext.id})
            return
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if path == RESTORE_ERROR:
            api.post_restore_error(body, error_type)
            self._reply(202, b'{"status":"OK"}')
            return
        if path == f"{PREFIX}/init/error":
            api.post_init_error(body, error_type)
            self._reply(202, b'{"status":"OK"}')
            return
        parts = path[len(PREFIX) :].strip("/").split("/")
        if (
            path.startswith(PREFIX + "/")
            and len(parts) == 3
            and parts[0] == "invocation"
            and parts[2] in ("response", "error")
        ):
            if parts[2] == "response" and len(body) > MAX_RESPONSE_BYTES:
                if api.post_oversized_response(parts[1], len(body)):
                    self._reply(413, _TOO_LARGE)
                else:
                    self._reply(400, _INVALID_ID)
                return
            if parts[2] == "response":
                ok = api.post_response(parts[1], body, self.headers.get("Content-Type"))
            else:
                ok = api.post_error(parts[1], body, error_type)
            if ok:
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, _INVALID_ID)
            return
        self._reply(404, _UNKNOWN_PATH)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        # SnapStart template endpoint: (host, port) of a connection -> its environment
        self.route: Callable[[Any], RuntimeApi | None] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime killed mid-request breaks its connection: expected, not worth a trace."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApiServer:
    """A Runtime API endpoint on 127.0.0.1 (an ephemeral port) for one environment."""

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        self._server = _Server(api)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="fnlens-localrt-api",
            daemon=True,
        )

    def route_by(self, route: Callable[[Any], RuntimeApi | None]) -> None:
        """Serve several environments: ``route(client_address)`` picks each connection's."""
        self._server.route = route

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.close()
        self._server.shutdown()
        self._server.server_close()
