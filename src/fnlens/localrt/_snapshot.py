"""SnapStart: one initialised template process per published version, forked per restore.

Lambda initialises a SnapStart version once when it is published, runs the
before-snapshot hooks and takes a Firecracker memory snapshot; every new
execution environment is that snapshot resumed. Here the snapshot is a parked
process (:mod:`fnlens.localrt._snapshot_runtime`): init and the before-snapshot
hooks run once in it, then each new environment gets a ``fork()`` of it, which
runs the after-restore hooks and serves invocations through awslambdaric's loop.

The forked runtimes keep the Runtime API address their native client read before
the fork, so the template's endpoint serves all of them: each connection goes to
the environment of the process that opened it (:mod:`fnlens.localrt._peer`).
Linux only (``/proc``); elsewhere every restored environment runs init itself.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fnlens.exceptions import SnapshotFailedError
from fnlens.localrt import _peer
from fnlens.localrt._adopted import AdoptedProcess
from fnlens.localrt._api_server import RuntimeApi
from fnlens.localrt._process_role import ProcessRole

if TYPE_CHECKING:
    from fnlens.localrt._environment import Environment, RuntimeOptions
    from fnlens.localrt._function import FunctionCode

__all__ = ["Snapshot", "supported"]

SNAP_START = "snap-start"
INIT_WAIT_S = 10.0
_LAUNCHER = Path(__file__).with_name("_snapshot_runtime.py")
_LAUNCH = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"


def supported() -> bool:
    """Whether restores can be forks of one template (POSIX ``fork`` and Linux ``/proc``)."""
    return hasattr(os, "fork") and _peer.supported()


class Snapshot:
    """The template environment of one SnapStart version, and its restores."""

    def __init__(
        self,
        version: str,
        code: FunctionCode,
        options: RuntimeOptions,
        environment_class: type[Environment],
    ) -> None:
        read_fd, write_fd = os.pipe()
        os.set_inheritable(write_fd, True)
        role = ProcessRole(
            init_type=SNAP_START,
            command=(options.python, "-c", _LAUNCH, str(_LAUNCHER), str(write_fd), code.handler),
            pass_fds=(write_fd,),
            template=True,
            route=self._route,
        )
        self._lock = threading.Lock()
        self._routes: dict[int, RuntimeApi] = {}
        self._children: dict[int, AdoptedProcess] = {}
        self._early_exits: dict[int, int] = {}
        try:
            self.template = environment_class(version, code, options, process=role)
        finally:
            os.close(write_fd)
        self._exit_reader = threading.Thread(
            target=self._read_exits, args=(read_fd,), name="fnlens-localrt-snap", daemon=True
        )
        self._exit_reader.start()

    @property
    def alive(self) -> bool:
        return self.template.alive

    # routing ----------------------------------------------------------------------
    def _route(self, client_address: Any) -> RuntimeApi | None:
        deadline = time.monotonic() + INIT_WAIT_S
        while not hasattr(self, "template"):  # the template process is still being started
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)
        with self._lock:
            routes = dict(self._routes)
        candidates = [self.template.proc.pid, *routes]
        pid = _peer.peer_pid(int(client_address[1]), self.template.server.port, candidates)
        if pid == self.template.proc.pid:
            return self.template.api
        return routes.get(pid) if pid is not None else None

    def _read_exits(self, fd: int) -> None:
        with open(fd, "rb", buffering=0, closefd=True) as pipe:
            pending = b""
            while chunk := pipe.read(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    pid, _, code = line.decode("ascii", "replace").partition(" ")
                    if not pid.isdigit():
                        continue
                    with self._lock:
                        child = self._children.get(int(pid))
                        if child is None:  # gone before its environment adopted it
                            self._early_exits[int(pid)] = int(code)
                    if child is not None:
                        child.mark_exited(int(code))

    # restore ------------------------------------------------------------------------
    def wait_ready(self, timeout_s: float) -> None:
        """Until the snapshot is taken (init and before-snapshot hooks over)."""
        api = self.template.api
        ready = api.wait_snapshot(
            timeout_s, lambda: not self.template.alive or api.init_error is not None
        )
        if not ready:
            raise SnapshotFailedError(api.init_error, self.template.exit_code)

    def restore(self, env: Environment, timeout_s: float) -> AdoptedProcess:
        """Fork the template into ``env``: a process whose stdout/stderr are ``env``'s
        and whose Runtime API calls reach ``env.api``."""
        self.wait_ready(timeout_s)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(timeout_s)
        try:
            order = {
                "output_port": listener.getsockname()[1],
                "environment": {"AWS_LAMBDA_LOG_STREAM_NAME": env.stream_name},
            }
            self.template.api.order_restore(json.dumps(order).encode())
            try:
                conn, _ = listener.accept()
            except TimeoutError as exc:
                raise SnapshotFailedError(None, self.template.exit_code) from exc
        finally:
            listener.close()
        try:
            pid = _handshake_pid(conn, timeout_s)
            child = self._adopted(pid, conn)
            with self._lock:
                self._routes[pid] = env.api
                self._children[pid] = child
                early = self._early_exits.pop(pid, None)
            if early is not None:
                child.mark_exited(early)
            conn.sendall(b"1")  # routed: the child may call the Runtime API now
            conn.settimeout(None)
        except (OSError, ValueError) as exc:
            conn.close()
            raise SnapshotFailedError(None, self.template.exit_code) from exc
        return child

    def _adopted(self, pid: int, output: socket.socket) -> AdoptedProcess:
        return AdoptedProcess(
            pid, output, parent_alive=lambda: self.alive, reports_exits=True, group=True
        )

    def failed_process(self, exit_code: int | None) -> AdoptedProcess:
        """What a restore that could not happen leaves: a process already gone, with no
        output (the template's pid names it; the environment never signals a process
        that has exited)."""
        mine, theirs = socket.socketpair()
        theirs.close()
        gone = self._adopted(self.template.proc.pid, mine)
        gone.mark_exited(exit_code if exit_code is not None else 1)
        return gone

    def forget(self, pid: int) -> None:
        """``pid``'s environment closed: its connections are no longer served."""
        with self._lock:
            self._routes.pop(pid, None)
            self._children.pop(pid, None)

    def close(self) -> None:
        self.template.api.order_restore(None)
        self.template.close()


def _handshake_pid(conn: socket.socket, timeout_s: float) -> int:
    """The restored child's first line on its output connection: its pid."""
    conn.settimeout(timeout_s)
    line = b""
    while not line.endswith(b"\n") and len(line) < 32:
        chunk = conn.recv(32 - len(line))
        if not chunk:
            break
        line += chunk
    return int(line.strip())  # ValueError when the child did not send it
