"""Lambda Managed Instances: awslambdaric's own worker pool, one per environment.

Lambda sets ``AWS_LAMBDA_MAX_CONCURRENCY`` (the function's
``PerExecutionEnvironmentMaxConcurrency``) in a Managed Instances environment;
awslambdaric then forks that many worker processes, each of which runs its own
init and then one invocation at a time, all against the environment's one Runtime
API endpoint, each connecting its stdout and stderr to the socket named by
``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`` (what Lambda's log egress provides).

:class:`WorkerPool` starts that main process with both variables, accepts the
workers' output connections (the kernel names each connection's process), and
gives each worker an :class:`~fnlens.localrt._environment.Environment` of its own:
its Runtime API calls reach that environment's state, told apart on the shared
endpoint by the process that opened the connection (:mod:`fnlens.localrt._peer`).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fnlens.localrt import _peer
from fnlens.localrt._adopted import AdoptedProcess
from fnlens.localrt._api_server import RuntimeApi
from fnlens.localrt._process_role import ProcessRole, StreamView

if TYPE_CHECKING:
    from fnlens.localrt._environment import Environment, RuntimeOptions
    from fnlens.localrt._function import FunctionCode

__all__ = ["MAX_CONCURRENCY_ENV", "WorkerPool", "supported"]

MAX_CONCURRENCY_ENV = "AWS_LAMBDA_MAX_CONCURRENCY"
LOG_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"  # read by awslambdaric's config
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def supported() -> bool:
    """Unix sockets with peer credentials and ``/proc`` (Linux)."""
    return hasattr(socket, "SO_PEERCRED") and hasattr(socket, "AF_UNIX") and _peer.supported()


class WorkerPool:
    """The awslambdaric main process of one Managed Instances environment."""

    def __init__(
        self,
        version: str,
        code: FunctionCode,
        options: RuntimeOptions,
        workers: int,
        *,
        environment_id: str,
        stream: StreamView,
        environment_class: type[Environment],
        init_type: str,
        accept_timeout_s: float,
    ) -> None:
        self.workers = workers
        self._accept_timeout_s = accept_timeout_s
        self._cond = threading.Condition()
        self._closed = False
        self._routes: dict[int, RuntimeApi] = {}
        self._adopted: dict[int, Environment] = {}
        self._arrivals: deque[tuple[int, socket.socket]] = deque()
        self._seen: set[int] = set()
        self._stderr: dict[int, socket.socket] = {}
        self._dir = tempfile.mkdtemp(prefix="fnlens-lmi-")
        path = os.path.join(self._dir, "log.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(2 * workers)
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, name="fnlens-localrt-lmi", daemon=True).start()
        role = ProcessRole(
            id=f"{environment_id}/main",
            environment_id=environment_id,
            stream=stream,
            managed=True,
            init_type=init_type,
            environment={MAX_CONCURRENCY_ENV: str(workers), LOG_SOCKET_ENV: path},
            route=self._route,
        )
        self.main = environment_class(version, code, options, process=role)

    @property
    def alive(self) -> bool:
        return not self._closed and self.main.alive

    # the workers' output connections -----------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            pid = _UCRED.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
            )[0]
            conn.settimeout(None)
            with self._cond:
                if pid not in self._seen:  # a worker connects stdout first, then stderr
                    self._seen.add(pid)
                    self._arrivals.append((pid, conn))
                    self._cond.notify_all()
                    continue
                env = self._adopted.get(pid)
                if env is None:
                    self._stderr[pid] = conn
            if env is not None:
                env.add_output(conn)

    def adopt(self, env: Environment, timeout_s: float) -> AdoptedProcess:
        """The next worker that connected becomes ``env``'s process."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._arrivals and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.main.alive:
                    break
                self._cond.wait(min(remaining, 0.2))
            if not self._arrivals:
                return self._gone()
            pid, conn = self._arrivals.popleft()
            self._routes[pid] = env.api
        return AdoptedProcess(
            pid, conn, parent_alive=lambda: self.main.alive, reports_exits=False, group=False
        )

    def started(self, env: Environment) -> None:
        """``env`` reads its worker's stdout now: its stderr may join."""
        with self._cond:
            self._adopted[env.proc.pid] = env
            stderr = self._stderr.pop(env.proc.pid, None)
        if stderr is not None:
            env.add_output(stderr)

    def _gone(self) -> AdoptedProcess:
        """No worker came (the main process died before forking)."""
        mine, theirs = socket.socketpair()
        theirs.close()
        gone = AdoptedProcess(
            self.main.proc.pid, mine, parent_alive=lambda: False, reports_exits=False, group=False
        )
        gone.mark_exited(self.main.exit_code)
        return gone

    # the shared Runtime API endpoint ------------------------------------------------
    def _route(self, client_address: Any) -> RuntimeApi | None:
        """A worker may call before its environment adopted it: wait for that."""
        deadline = time.monotonic() + self._accept_timeout_s
        while not hasattr(self, "main"):  # the main process is still being started
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)
        main, port = self.main.proc.pid, self.main.server.port
        while True:
            with self._cond:
                routes = dict(self._routes)
            pid = _peer.peer_pid(int(client_address[1]), port, [*routes, main])
            if pid == main:
                return self.main.api
            if pid is not None:
                return routes[pid]
            if self._closed or time.monotonic() > deadline:
                return None
            time.sleep(0.01)

    def forget(self, pid: int) -> None:
        with self._cond:
            self._routes.pop(pid, None)
            self._adopted.pop(pid, None)

    def close(self, *, kill: bool = False) -> None:
        self._closed = True
        self.main.close(kill=kill)
        self._listener.close()
        with self._cond:
            leftovers = list(self._stderr.values()) + [c for _, c in self._arrivals]
            self._stderr.clear()
            self._arrivals.clear()
            self._cond.notify_all()
        for conn in leftovers:
            conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)
