"""One execution environment: a child process running the real AWS runtime client.

The child is ``python -m awslambdaric <handler>`` with Lambda's environment
variables, talking to its own Runtime API server. Its first poll of
``/invocation/next`` ends the init phase (REPORT's ``Init Duration``); the
environment writes START / END / REPORT around each invocation, enforces the
timeout (``Task timed out after …``, then the process is killed), and measures
``Max Memory Used`` as the child's peak RSS.

Extensions registered on the same endpoint (the Extensions API, see
:mod:`fnlens.localrt._api_server`) may keep working after the response: the
result (and its ``response_ms``, what a caller waits) does not wait for them, but
the environment stays busy
(:attr:`Environment.settled` is false) until every extension has asked for its
next event, as Lambda keeps it until then. That post-response time is kept per
request id in :attr:`Environment.post_runtime_extensions_ms` (Lambda's
``PostRuntimeExtensionsDuration``); REPORT's ``Duration`` stays the runtime's:
from the hand-out until the runtime asks for its next event, so work the runtime
does after posting the response (fnlens records invocations then) counts, and
the lines it writes come before END / REPORT, as in Lambda.
The function timeout bounds the whole invoke phase: extensions still busy at the
deadline get the environment killed, and the next invocation starts a new one.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnlens.exceptions import SnapshotFailedError
from fnlens.localrt import _platform as platform
from fnlens.localrt._adopted import AdoptedProcess
from fnlens.localrt._api_server import INVOKE, SHUTDOWN, Invocation, RuntimeApi, RuntimeApiServer
from fnlens.localrt._function import FunctionCode
from fnlens.localrt._ids import new_log_stream_name
from fnlens.localrt._logstream import Echo, LogStream, OutputPump, PumpGroup
from fnlens.localrt._memory import peak_rss_mb
from fnlens.localrt._process_role import ProcessRole, StreamView
from fnlens.localrt._snapshot import Snapshot
from fnlens.localrt._telemetry import TeeStream, TelemetryHub

INIT_TIMEOUT_S = 10.0  # Lambda's limit on the init phase of an on-demand environment
TELEMETRY_FLUSH_S = 5.0  # telemetry still queued when an environment closes
KEEP_POST_RUNTIME = 1000  # post-runtime extension durations kept per environment
_PASSTHROUGH_PREFIXES = ("FNLENS_", "OTEL_")
_BASE_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "SYSTEMROOT")
_counter = itertools.count(1)


@dataclass
class InvocationResult:
    """What an Invoke call returns, plus what the platform measured."""

    request_id: str
    function_name: str
    version: str
    qualifier: str
    payload: bytes
    outcome: str  # success | error (function error) | timeout | crash | init_error
    function_error: str | None  # "Unhandled" when the payload is an error, as Invoke says
    error_type: str | None
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None
    cold_start: bool
    environment_id: str
    log_stream: str
    trace_header: str | None
    logs: list[str] = field(default_factory=list)
    # hand-out → response posted: what a synchronous caller waits for (work the
    # runtime or an extension does after the response counts in Duration, not here)
    response_ms: float | None = None
    process_id: int | None = None  # the runtime process that ran it (Managed Instances: one of N)

    def json(self) -> Any:
        """The payload decoded as JSON (None when it is empty or not JSON)."""
        try:
            return json.loads(self.payload) if self.payload else None
        except ValueError:
            return None


@dataclass(frozen=True)
class RuntimeOptions:
    """How environments are started and where their logs go."""

    function_name: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    out_dir: Path | None = None
    echo: Echo | None = None
    timestamps: bool = True
    python: str = sys.executable


class Environment:
    """An execution environment: one process, one Runtime API server, one log stream."""

    def __init__(
        self,
        version: str,
        code: FunctionCode,
        options: RuntimeOptions,
        *,
        process: ProcessRole | None = None,
    ) -> None:
        self.role = process or ProcessRole()
        self.id = self.role.id or f"{options.function_name}:{version}#{next(_counter)}"
        self.version = version
        self.code = code
        self.options = options
        json_logs = code.log_format == "json" or self.role.managed
        self.fmt = platform.JSON if json_logs else platform.TEXT
        self.stream_name = (
            self.role.stream.name if self.role.stream else new_log_stream_name(version)
        )
        self.invocations = 0
        self.last_used = time.monotonic()
        self.exit_code: int | None = None
        self._peak_mb: int | None = None
        self._inflight: Invocation | None = None
        self._closed = False
        self._lock = threading.Lock()
        # the invoke phase is over: response posted and every extension asked for next
        self._settled = threading.Event()
        self._settled.set()
        self._settle_lock = threading.Lock()
        self._on_settled: list[Callable[[], None]] = []
        self.post_runtime_extensions_ms: dict[str, float] = {}  # request id -> ms
        self.extension_timeouts = 0  # invoke phases ended by the timeout after the response
        self.post_response_timeouts = 0  # the runtime itself still busy at the deadline
        self._still_running: Invocation | None = None  # Managed Instances: past its timeout
        self.restore_duration_ms: float | None = None  # SnapStart: restore → first next

        self.stream: LogStream | StreamView
        if self.role.stream is not None:
            self.stream = self.role.stream  # one of several processes writing one stream
        else:
            path = None
            if options.out_dir is not None:
                path = Path(options.out_dir) / options.function_name / f"{self.stream_name}.log"
            self.stream = LogStream(
                self.stream_name, path, echo=options.echo, timestamps=options.timestamps
            )
        self.api = RuntimeApi(
            on_handout=self._on_handout,
            on_init_error=self._interrupt,
            function_info={
                "functionName": options.function_name,
                "functionVersion": version,
                "handler": code.handler,
            },
            extension_events=(SHUTDOWN,) if self.role.managed else (INVOKE,),
        )
        if self.role.template:
            self.api.restore_orders = deque()  # parked at the snapshot, it takes fork orders
        self.telemetry = TelemetryHub()
        self.api.telemetry = self.telemetry
        self.server = RuntimeApiServer(self.api)
        if self.role.route is not None:  # set before any process can connect
            self.server.route_by(self.role.route)
        self.server.start()
        self._init_reported = False
        self.extension_procs: list[subprocess.Popen[bytes]] = []
        self._extension_pumps: list[OutputPump] = []
        self.stream.start_capture()  # the first invocation's logs include the init phase
        if self.role.stream is None and not self.role.snap_start:
            self.stream.write(
                platform.init_start(self.fmt, options.function_name, version, options.region)
            )
        self.started_at = time.time()
        if not self.role.snap_start:  # a restored environment reports its restore instead
            self.telemetry.platform("platform.initStart", self._init_start_record())
        self._start_extensions()
        self._restore_began_at: float | None = None
        self.proc: subprocess.Popen[bytes] | AdoptedProcess
        if self.role.restore_from is not None:
            self.proc = self._fork(self.role.restore_from)
        elif self.role.worker_of is not None:  # a worker awslambdaric's main process forked
            self.proc = self.role.worker_of.adopt(self, INIT_TIMEOUT_S)
        else:
            self.proc = subprocess.Popen(
                list(self.role.command or (options.python, "-m", "awslambdaric", code.handler)),
                cwd=str(code.code_dir),
                env=self._child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=self.role.pass_fds,
            )
        assert self.proc.stdout is not None
        self._function_tee = TeeStream(self.stream, self.telemetry.function)
        self._outputs: list[socket.socket] = []
        self.pump = PumpGroup(OutputPump(self.proc.stdout.fileno(), self._function_tee))  # type: ignore[arg-type]
        if self.role.worker_of is not None:
            self.role.worker_of.started(self)
        threading.Thread(target=self._watch, name="fnlens-localrt-watch", daemon=True).start()

    def _fork(self, snapshot: Snapshot) -> AdoptedProcess:
        """SnapStart: this environment is a fork of the snapshot's template process
        (the restore's clock starts here: Restore Duration covers the fork too)."""
        try:
            snapshot.wait_ready(INIT_TIMEOUT_S)
            self._restore_began_at = time.time()
            return snapshot.restore(self, INIT_TIMEOUT_S)
        except SnapshotFailedError as exc:
            # the invocation reports the snapshot's init error (Lambda's publish fails)
            self.api.init_error = exc.init_error or (
                "Runtime.ExitError",
                _error_payload("Runtime.ExitError", "the SnapStart snapshot failed"),
            )
            return snapshot.failed_process(exc.exit_code)

    # external extensions and the Telemetry API -------------------------------------
    def _init_start_record(self) -> dict[str, Any]:
        o = self.options
        version = platform.runtime_version()
        return {
            "initializationType": self.role.init_type,
            "phase": "init",
            "runtimeVersion": version,
            "runtimeVersionArn": f"arn:aws:lambda:{o.region}::runtime:{version}",
            "functionName": o.function_name,
            "functionVersion": self.version,
            "instanceMaxMemory": self.code.memory_mb,
        }

    def _start_extensions(self) -> None:
        """Start the external extensions (``FunctionCode.extensions``, Lambda's
        ``/opt/extensions``) before the runtime, and give them the time to register.
        A SnapStart template has none: each restored environment starts its own."""
        if not self.code.extensions or self.role.template:
            return
        env = self._child_env()
        self.api.external_phase = True
        try:
            for path in self.code.extensions:
                argv = [self.options.python, str(path)] if str(path).endswith(".py") else [path]
                proc = subprocess.Popen(
                    [str(a) for a in argv],
                    cwd=str(self.code.code_dir),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self.extension_procs.append(proc)
                assert proc.stdout is not None
                tee = TeeStream(self.stream, self.telemetry.extension)
                self._extension_pumps.append(OutputPump(proc.stdout.fileno(), tee))  # type: ignore[arg-type]
            deadline = time.monotonic() + INIT_TIMEOUT_S
            while time.monotonic() < deadline:
                registered = len(self.api.extensions)
                exited = sum(1 for p in self.extension_procs if p.poll() is not None)
                if registered + exited >= len(self.extension_procs):
                    break
                time.sleep(0.01)
        finally:
            self.api.external_phase = False

    def _telemetry_init_done(self) -> None:
        if self._init_reported:
            return
        self._init_reported = True
        if self.role.snap_start:
            self.telemetry.init_over()
            return
        init_type = self.role.init_type
        self.telemetry.platform(
            "platform.initRuntimeDone",
            {"initializationType": init_type, "phase": "init", "status": "success"},
        )
        end = self.api.init_end_at or self.api.first_next_at or time.time()
        self.telemetry.platform(
            "platform.initReport",
            {
                "initializationType": init_type,
                "phase": "init",
                "status": "success",
                "metrics": {"durationMs": round((end - self.started_at) * 1000.0, 3)},
            },
        )
        self.telemetry.init_over()

    def _telemetry_done(self, inv: Invocation, report: platform.Report) -> None:
        tracing = platform.tracing_record(inv.trace_header)
        done: dict[str, Any] = {"requestId": inv.request_id, "status": report.status}
        produced = len(inv.response or inv.error or b"")
        done["metrics"] = {"durationMs": report.duration_ms, "producedBytes": produced}
        if inv.handed_out_at is not None and inv.finished_at is not None:
            latency = round((inv.finished_at - inv.handed_out_at) * 1000.0, 3)
            start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(inv.handed_out_at))
            start += f".{int(inv.handed_out_at * 1000) % 1000:03d}Z"
            # responseLatency only: localrt does not time the response's transfer, so it
            # sends no responseDuration span rather than an invented one
            done["spans"] = [{"name": "responseLatency", "start": start, "durationMs": latency}]
        if tracing:
            done["tracing"] = tracing
        if report.error_type:
            done["errorType"] = report.error_type
        self.telemetry.platform("platform.runtimeDone", done)
        self.telemetry.platform("platform.report", platform.report_record(report))

    # environment ----------------------------------------------------------------
    def _child_env(self) -> dict[str, str]:
        o, code = self.options, self.code
        env = {k: os.environ[k] for k in _BASE_KEYS if k in os.environ}
        env.update({k: v for k, v in os.environ.items() if k.startswith(_PASSTHROUGH_PREFIXES)})
        env.update(code.environment)
        task_root = str(Path(code.code_dir).resolve())
        py = f"{sys.version_info.major}.{sys.version_info.minor}"
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.server.address,
                "AWS_LAMBDA_FUNCTION_NAME": o.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": self.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(code.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{o.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": self.role.init_type,
                "AWS_REGION": o.region,
                "AWS_DEFAULT_REGION": o.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{py}",
                "LAMBDA_TASK_ROOT": task_root,
                "LAMBDA_RUNTIME_DIR": str(Path(sys.prefix)),
                "_HANDLER": code.handler,
                "TZ": ":UTC",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(
                    p for p in (task_root, os.environ.get("PYTHONPATH", "")) if p
                ),
            }
        )
        if self.fmt == platform.JSON:
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env.update(self.role.environment)
        return env

    @property
    def alive(self) -> bool:
        return not self._closed and self.exit_code is None

    def _watch(self) -> None:
        self.exit_code = self.proc.wait()
        self._interrupt()

    def _interrupt(self) -> None:
        """The process died or init failed: wake whoever waits on the in-flight invocation."""
        inv = self._inflight
        if inv is not None:
            inv.handed_out.set()
            inv.done.set()
        self.api.wake()  # and a wait for extensions that will never ask again

    # the invoke phase after the response ---------------------------------------------
    @property
    def settled(self) -> bool:
        """No invoke phase under way: the environment can take the next invocation."""
        return self._settled.is_set()

    def wait_settled(self, timeout_s: float | None = None) -> bool:
        return self._settled.wait(timeout_s)

    def when_settled(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the current invoke phase is over (now if it is)."""
        with self._settle_lock:
            if not self._settled.is_set():
                self._on_settled.append(callback)
                return
        callback()

    def _settle(self) -> None:
        self.last_used = time.monotonic()
        with self._settle_lock:
            self._settled.set()
            callbacks, self._on_settled = self._on_settled, []
        for callback in callbacks:
            callback()

    def _follow_extensions(self, inv: Invocation) -> bool:
        """After the response: True when extensions are still at work (a thread then
        settles the environment), False when the invoke phase is already over."""
        if not self.alive or inv.finished_at is None or not self.api.extensions:
            return False
        ready_at = self.api.extensions_ready_at()
        if ready_at is not None:
            self._record_post_runtime(inv, ready_at)
            return False
        threading.Thread(
            target=self._await_extensions, args=(inv,), name="fnlens-localrt-ext", daemon=True
        ).start()
        return True

    def _await_extensions(self, inv: Invocation) -> None:
        try:
            deadline = (inv.handed_out_at or time.time()) + inv.timeout_s
            ready_at = self.api.wait_extensions_ready(
                max(0.0, deadline - time.time()), give_up=lambda: not self.alive
            )
            if ready_at is not None:
                self._record_post_runtime(inv, ready_at)
            elif self.alive:
                # Lambda's timeout covers the whole invoke phase, extensions included:
                # the caller has its response, the environment is reset
                self.extension_timeouts += 1
                self.close(kill=True)
        finally:
            self._settle()

    def _record_post_runtime(self, inv: Invocation, ready_at: float) -> None:
        finished = inv.runtime_done_at or inv.finished_at or ready_at
        ms = round(max(0.0, ready_at - finished) * 1000.0, 2)
        self.post_runtime_extensions_ms[inv.request_id] = ms
        while len(self.post_runtime_extensions_ms) > KEEP_POST_RUNTIME:
            del self.post_runtime_extensions_ms[next(iter(self.post_runtime_extensions_ms))]

    def _restore(self) -> None:
        """SnapStart: once the snapshot exists (init and the before-snapshot hooks are
        over, the runtime waits in restore/next), restore this environment from it."""
        ready = self.api.wait_snapshot(
            INIT_TIMEOUT_S, lambda: not self.alive or self.api.init_error is not None
        )
        if not ready:
            return  # init failed or took too long: the invocation reports it
        self.pump.drain()
        o = self.options
        self.stream.write(platform.restore_start(self.fmt, o.function_name, self.version, o.region))
        record = self._init_start_record()
        del record["initializationType"], record["phase"]
        self.telemetry.platform("platform.restoreStart", record)
        self.api.restore()

    def _on_handout(self, inv: Invocation) -> None:
        self.pump.drain()  # init-phase lines come before START
        self._telemetry_init_done()
        if self.restore_duration_ms is None and self.api.restore_started_at is not None:
            # the runtime asked for work: the after-restore hooks are over
            end = self.api.first_next_at or time.time()
            began = self._restore_began_at or self.api.restore_started_at
            self.restore_duration_ms = round((end - began) * 1000.0, 2)
            self.stream.write(platform.restore_report(self.fmt, self.restore_duration_ms))
            self.telemetry.platform("platform.restoreRuntimeDone", {"status": "success"})
            self.telemetry.platform(
                "platform.restoreReport",
                {"status": "success", "metrics": {"durationMs": self.restore_duration_ms}},
            )
        start: dict[str, Any] = {"requestId": inv.request_id, "version": self.version}
        tracing = platform.tracing_record(inv.trace_header)
        if tracing:
            start["tracing"] = tracing
        self.telemetry.platform("platform.start", start)
        self.stream.write(platform.start(self.fmt, inv.request_id, self.version, inv.trace_header))

    # invoke -----------------------------------------------------------------------
    def invoke(
        self,
        body: bytes,
        *,
        request_id: str,
        function_arn: str,
        qualifier: str,
        trace_header: str | None,
    ) -> InvocationResult:
        """Run one invocation until its response (or error, timeout, crash).

        Returns once the runtime has asked for its next event (its work after the
        response belongs to the invocation: its lines, its Duration; what the caller
        of a synchronous invoke waits for is :attr:`InvocationResult.response_ms`).
        Extensions may still be at work then, and the environment is :attr:`settled`
        only when they are done. A call made before that waits for it (bounded by
        the function timeout)."""
        self._settled.wait()
        with self._lock:
            self._settled.clear()
            following = False
            cold = self.invocations == 0
            self.invocations += 1
            inv = Invocation(request_id, body, function_arn, trace_header, self.code.timeout_s)
            self._inflight = inv
            if not cold:
                self.stream.start_capture()
            try:
                if cold and self.role.snap_start:
                    self._restore()
                if self.alive:
                    self.api.submit(inv)
                result = self._await(inv, cold, qualifier)
                if self._still_running is inv:
                    self._still_running = None
                    following = True
                    threading.Thread(
                        target=self._await_still_running,
                        args=(inv,),
                        name="fnlens-localrt-overrun",
                        daemon=True,
                    ).start()
                else:
                    following = self._follow_extensions(inv)
                return result
            finally:
                self._inflight = None
                self.last_used = time.monotonic()
                if not following:
                    self._settle()

    def _await(self, inv: Invocation, cold: bool, qualifier: str) -> InvocationResult:
        if self.alive:
            inv.handed_out.wait(INIT_TIMEOUT_S if cold else None)
        if inv.handed_out_at is None:
            return self._init_failed(inv, cold, qualifier)
        remaining = inv.timeout_s - (time.time() - inv.handed_out_at)
        inv.done.wait(max(0.0, remaining))
        if not inv.done.is_set():
            if self.role.managed:
                return self._timed_out_running(inv, cold, qualifier)
            return self._timed_out(inv, cold, qualifier)
        if inv.finished_at is None:
            return self._crashed(inv, cold, qualifier)
        # As in Lambda, the invocation ends when the runtime asks for its next event:
        # lines written after the response (fnlens records then) belong to it, and
        # REPORT's Duration counts that time.
        remaining = inv.timeout_s - (time.time() - inv.handed_out_at)
        done_at = self.api.wait_runtime_done(inv, max(0.0, remaining), lambda: not self.alive)
        status = "success"
        if done_at is None and self.alive and not self.api.closed:
            # still busy at the deadline after its response: the caller has the response,
            # the invocation times out and the environment is reset
            self.post_response_timeouts += 1
            self.pump.drain()
            self.stream.write(platform.timed_out(self.fmt, inv.request_id, inv.timeout_s))
            self.close(kill=True)
            status = "timeout"
        self.pump.drain()
        if status == "timeout":
            duration = round(inv.timeout_s * 1000.0, 2)
        else:
            duration = round(((done_at or inv.finished_at) - inv.handed_out_at) * 1000.0, 2)
        report = self._report(inv, cold, duration, status, None)
        if inv.error is not None:
            return self._result(inv, cold, qualifier, report, inv.error, "error", inv.error_type)
        return self._result(inv, cold, qualifier, report, inv.response or b"", "success", None)

    def _init_duration(self, cold: bool) -> float | None:
        """Process start until the runtime and every extension asked for their first event."""
        end = self.api.init_end_at or self.api.first_next_at
        if not cold or end is None or self.role.managed or self.role.snap_start:
            # Managed Instances: init is over before traffic is routed, REPORT has none
            return None
        return round((end - self.started_at) * 1000.0, 2)

    def _peak_memory(self) -> int | None:
        """Peak RSS now, or the last one seen when the process is already gone."""
        peak = peak_rss_mb(self.proc.pid) if self.exit_code is None else None
        if peak is not None:
            self._peak_mb = peak
        return self._peak_mb

    def _report(
        self,
        inv: Invocation,
        cold: bool,
        duration_ms: float,
        status: str,
        error_type: str | None,
    ) -> platform.Report:
        report = platform.Report(
            request_id=inv.request_id,
            duration_ms=duration_ms,
            billed_duration_ms=max(1, math.ceil(duration_ms)),
            memory_size_mb=self.code.memory_mb,
            max_memory_used_mb=self._peak_memory(),
            init_duration_ms=self._init_duration(cold),
            trace_header=inv.trace_header,
            sampled=self.code.tracing == "Active",
            status=status,
            error_type=error_type,
            restore_duration_ms=self.restore_duration_ms if cold else None,
            billed_restore_duration_ms=(
                max(1, math.ceil(self.restore_duration_ms))
                if cold and self.restore_duration_ms is not None
                else None
            ),
        )
        end = platform.end(self.fmt, inv.request_id)
        if end is not None:
            self.stream.write(end)
        self.stream.write(platform.report(self.fmt, report))
        self.stream.flush()
        self._telemetry_done(inv, report)
        return report

    def _timed_out(self, inv: Invocation, cold: bool, qualifier: str) -> InvocationResult:
        self.pump.drain()
        self.stream.write(platform.timed_out(self.fmt, inv.request_id, inv.timeout_s))
        duration = round(inv.timeout_s * 1000.0, 2)
        report = self._report(inv, cold, duration, "timeout", None)
        self.close(kill=True)
        message = (
            f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout_s:.2f} seconds"
        )
        payload = _error_payload("Sandbox.Timedout", message)
        return self._result(inv, cold, qualifier, report, payload, "timeout", "Sandbox.Timedout")

    def _timed_out_running(self, inv: Invocation, cold: bool, qualifier: str) -> InvocationResult:
        """Managed Instances do not enforce the timeout: the caller gets the timeout
        error, the process goes on running the handler and takes no invocation until
        it asks for its next event (other processes of the environment carry on)."""
        self.pump.drain()
        self.stream.write(platform.timed_out(self.fmt, inv.request_id, inv.timeout_s))
        report = self._report(inv, cold, round(inv.timeout_s * 1000.0, 2), "timeout", None)
        self.post_response_timeouts += 1
        self._still_running = inv
        message = (
            f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout_s:.2f} seconds"
        )
        payload = _error_payload("Sandbox.Timedout", message)
        return self._result(inv, cold, qualifier, report, payload, "timeout", "Sandbox.Timedout")

    def _await_still_running(self, inv: Invocation) -> None:
        try:
            self.api.wait_runtime_done(inv, 900.0, lambda: not self.alive)
        finally:
            self._settle()

    def _crashed(self, inv: Invocation, cold: bool, qualifier: str) -> InvocationResult:
        self.pump.wait_eof(1.0)
        code = self.exit_code
        if isinstance(self.proc, AdoptedProcess) and not self.proc.exit_known:
            detail = "Runtime exited with error: exit status unknown"  # its parent is not us
        elif code is not None and code < 0:
            detail = f"Runtime exited with error: signal: {signal.Signals(-code).name.lower()[3:]}"
        else:
            detail = f"Runtime exited with error: exit status {code}"
        error_type = "Runtime.ExitError"
        self.stream.write(platform.crashed(self.fmt, inv.request_id, detail, error_type))
        duration = round((time.time() - (inv.handed_out_at or time.time())) * 1000.0, 2)
        report = self._report(inv, cold, duration, "error", error_type)
        self.close(kill=True)
        payload = _error_payload(error_type, f"RequestId: {inv.request_id} Error: {detail}")
        return self._result(inv, cold, qualifier, report, payload, "crash", error_type)

    def _init_failed(self, inv: Invocation, cold: bool, qualifier: str) -> InvocationResult:
        """Init raised (``/init/error``), crashed, or ran past Lambda's 10 s init limit."""
        self.pump.wait_eof(0.5) if not self.alive else self.pump.drain()
        if self.api.restore_error is not None:
            error_type, payload = "Runtime.AfterRestoreError", self.api.restore_error[1]
            if self.api.restore_started_at is not None:
                ms = round((time.time() - self.api.restore_started_at) * 1000.0, 2)
                self.stream.write(platform.restore_report(self.fmt, ms, "error"))
        elif self.api.init_error is not None:
            error_type, payload = self.api.init_error
            error_type = error_type or "Runtime.Unknown"
        elif self.exit_code is None:
            error_type = "Sandbox.Timedout"
            payload = _error_payload(error_type, f"INIT timed out after {INIT_TIMEOUT_S:.0f}s")
        else:
            error_type = "Runtime.ExitError"
            payload = _error_payload(
                error_type, f"Runtime exited with error: exit status {self.exit_code}"
            )
        init_ms = round((time.time() - self.started_at) * 1000.0, 2)
        status = "timeout" if error_type == "Sandbox.Timedout" else "error"
        if self.fmt == platform.TEXT:
            self.stream.write(
                f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
                f"\tError Type: {error_type}"
            )
        self.stream.write(platform.start(self.fmt, inv.request_id, self.version, inv.trace_header))
        report = self._report(inv, False, 0.0, status, error_type)
        self.close(kill=True)
        return self._result(inv, cold, qualifier, report, payload, "init_error", error_type)

    def _result(
        self,
        inv: Invocation,
        cold: bool,
        qualifier: str,
        report: platform.Report,
        payload: bytes,
        outcome: str,
        error_type: str | None,
    ) -> InvocationResult:
        return InvocationResult(
            request_id=inv.request_id,
            function_name=self.options.function_name,
            version=self.version,
            qualifier=qualifier,
            payload=payload,
            outcome=outcome,
            function_error=None if outcome == "success" else "Unhandled",
            error_type=error_type,
            duration_ms=report.duration_ms,
            billed_duration_ms=report.billed_duration_ms,
            memory_size_mb=report.memory_size_mb,
            max_memory_used_mb=report.max_memory_used_mb,
            init_duration_ms=report.init_duration_ms,
            cold_start=cold,
            environment_id=self.role.environment_id or self.id,
            process_id=self.proc.pid,
            log_stream=self.stream_name,
            trace_header=inv.trace_header,
            logs=self.stream.stop_capture(),
            response_ms=(
                round((inv.finished_at - inv.handed_out_at) * 1000.0, 2)
                if inv.finished_at is not None and inv.handed_out_at is not None
                else None
            ),
        )

    # shutdown ---------------------------------------------------------------------
    def close(self, *, kill: bool = False, grace_s: float = 0.5) -> None:
        """Stop the environment as Lambda does: SIGKILL after a timeout; otherwise SIGTERM
        first, with ``grace_s`` to finish, when extensions are registered (Lambda sends
        the runtime SIGTERM only then), else SIGKILL."""
        if self._closed:
            return
        self._closed = True
        if not kill and self.proc.poll() is None:
            # what extensions subscribed to reaches them before SHUTDOWN (generous: a
            # local run favours delivery over Lambda's 2 s shutdown budget)
            self.telemetry.flush(TELEMETRY_FLUSH_S)
            # Lambda's shutdown phase: 2 s with external extensions, else the runtime's 0.5 s
            grace = 2.0 if self.extension_procs else self.role.shutdown_grace_s
            self.api.shutdown_extensions("spindown", grace)
        if self.proc.poll() is None:
            try:
                if not kill and self.api.extensions:
                    self._signal(signal.SIGTERM)
                    try:
                        self.proc.wait(grace_s)
                    except subprocess.TimeoutExpired:
                        pass
                if self.proc.poll() is None:
                    self._signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            pass
        self.pump.wait_eof(1.0)
        self._stop_extensions()
        self.telemetry.close()
        self.server.stop()
        self.stream.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        for output in self._outputs:
            output.close()
        for source in (self.role.restore_from, self.role.worker_of):
            if source is not None:
                source.forget(self.proc.pid)

    def _signal(self, sig: int) -> None:
        if isinstance(self.proc, AdoptedProcess):
            self.proc.send_signal(sig)
        else:
            os.killpg(self.proc.pid, sig)  # its session: the runtime and its children

    def add_output(self, output: socket.socket) -> None:
        """More of the runtime's output (awslambdaric's workers send stderr apart)."""
        self._outputs.append(output)
        self.pump.add(OutputPump(output.fileno(), self._function_tee))  # type: ignore[arg-type]

    def _stop_extensions(self) -> None:
        for proc in self.extension_procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        for pump in self._extension_pumps:
            pump.wait_eof(1.0)
        for proc in self.extension_procs:
            if proc.stdout is not None:
                proc.stdout.close()


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
