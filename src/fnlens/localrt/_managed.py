"""A Lambda Managed Instances execution environment: N runtime processes, one log stream.

Lambda's Python runtime for Managed Instances runs several processes per
execution environment, each with its own init, each handling one invocation at a
time; the environment takes as many invocations at once as it has free
processes, is never frozen, forces the JSON log format, sets
``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``, lets extensions
subscribe to ``SHUTDOWN`` only, and reports a timeout without stopping the
process (it takes nothing new until its handler returns). Here, as on Lambda,
one ``python -m awslambdaric`` per environment gets ``AWS_LAMBDA_MAX_CONCURRENCY``
and forks its N workers itself (:mod:`fnlens.localrt._workers`); each worker is
an :class:`Environment` of its own, so every invocation is known to have run in
one process. Where that cannot be emulated (no ``/proc``), each process is a
``python -m awslambdaric`` of its own.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from fnlens.localrt import _platform as platform
from fnlens.localrt import _workers as workers
from fnlens.localrt._environment import INIT_TIMEOUT_S, Environment, RuntimeOptions
from fnlens.localrt._function import FunctionCode
from fnlens.localrt._ids import new_log_stream_name
from fnlens.localrt._logstream import LogStream
from fnlens.localrt._process_role import ProcessRole, StreamView
from fnlens.localrt._workers import WorkerPool

__all__ = ["MANAGED_INIT_TYPE", "ManagedEnvironment"]

MANAGED_INIT_TYPE = "lambda-managed-instances"
_counter = itertools.count(1)


class ManagedEnvironment:
    """``processes`` runtime processes sharing one log stream; hands out one
    invocation per free process (:meth:`acquire`)."""

    def __init__(
        self, version: str, code: FunctionCode, options: RuntimeOptions, processes: int
    ) -> None:
        if processes < 1:
            raise ValueError(f"a managed-instances environment needs >= 1 process, got {processes}")
        if code.extensions:
            raise ValueError(
                "external extensions (FunctionCode.extensions) are not emulated under "
                "managed_instances; internal ones (SHUTDOWN only) are"
            )
        self.id = f"{options.function_name}:{version}#mi{next(_counter)}"
        self.version = version
        self.code = code
        self.options = options
        self.stream_name = new_log_stream_name(version)
        path = None
        if options.out_dir is not None:
            path = Path(options.out_dir) / options.function_name / f"{self.stream_name}.log"
        self.stream = LogStream(
            self.stream_name, path, echo=options.echo, timestamps=options.timestamps
        )
        self.stream.write(
            platform.init_start(
                platform.JSON, options.function_name, version, options.region, MANAGED_INIT_TYPE
            )
        )
        self._lock = threading.Lock()
        self._busy: set[Environment] = set()
        self._closed = False
        self._retired = False  # new code deployed: no new invocations, close once idle
        self.last_used = time.monotonic()
        # awslambdaric's worker pool where the platform allows it (Linux), else one
        # awslambdaric per process (each still with its own init and endpoint)
        self.pool: WorkerPool | None = None
        if workers.supported():
            self.pool = WorkerPool(
                version,
                code,
                options,
                processes,
                environment_id=self.id,
                stream=StreamView(self.stream),
                environment_class=Environment,
                init_type=MANAGED_INIT_TYPE,
                accept_timeout_s=INIT_TIMEOUT_S,
            )
        self.processes: list[Environment] = [
            Environment(
                version,
                code,
                options,
                process=ProcessRole(
                    id=f"{self.id}/{i}",
                    environment_id=self.id,
                    stream=StreamView(self.stream),
                    managed=True,
                    init_type=MANAGED_INIT_TYPE,
                    worker_of=self.pool,
                ),
            )
            for i in range(1, processes + 1)
        ]

    @property
    def alive(self) -> bool:
        """A crashed process leaves the others serving, as on Lambda."""
        return not self._closed and any(p.alive for p in self.processes)

    @property
    def free(self) -> int:
        with self._lock:
            return sum(1 for p in self.processes if p.alive and p not in self._busy)

    def acquire(self) -> Environment | None:
        """A free process, now marked busy; None when every process is busy."""
        with self._lock:
            if self._closed or self._retired:
                return None
            for proc in self.processes:
                if proc.alive and proc not in self._busy and proc.settled:
                    self._busy.add(proc)
                    return proc
        return None

    def release(self, proc: Environment) -> None:
        with self._lock:
            self._busy.discard(proc)
            idle_retired = self._retired and not self._busy
        self.last_used = time.monotonic()
        if idle_retired:
            self.close()

    def retire(self) -> None:
        """Take no new invocations; close once those running are over."""
        with self._lock:
            self._retired = True
            idle = not self._busy
        if idle:
            self.close()

    def close(self, *, kill: bool = False) -> None:
        """Stop every process at once (SHUTDOWN to extensions first), then the stream."""
        if self._closed:
            return
        self._closed = True
        threads = [
            threading.Thread(target=p.close, kwargs={"kill": kill}, daemon=True)
            for p in self.processes
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10.0)
        if self.pool is not None:  # the main process, once its workers are stopped
            self.pool.close(kill=kill)
        self.stream.close()
