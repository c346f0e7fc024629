"""The SnapStart template process: awslambdaric's own loop, forked at the snapshot.

Run by :mod:`fnlens.localrt._snapshot` as a script (``python -c`` with
:func:`runpy.run_path`, never imported by fnlens). It starts awslambdaric the way
``python -m awslambdaric`` does (``LambdaConfigProvider``, ``LambdaRuntimeClient``,
``bootstrap.run``) with one difference: the client's ``restore_next`` (what the
runtime calls once init and the before-snapshot hooks are over) forks. The
template stays parked there, a frozen copy of the initialised process; each fork
order it receives becomes a child that connects its stdout/stderr to its new
environment's log stream and returns from ``restore_next`` into awslambdaric,
which runs the after-restore hooks and then serves invocations. Init therefore
runs once per snapshot, and what it left in memory is shared by every restored
environment, as Lambda's snapshot is.

The template reaps its children and writes ``<pid> <exit code>`` lines to the
file descriptor given as the first argument, before the handler (the local runtime
is not their parent and could not know how they ended otherwise).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import warnings
from typing import Any

RESTORE_NEXT = "/2018-06-01/runtime/restore/next"
ATTACH_FAILED = 70  # the child could not reach its environment's log stream


def _reap(exit_fd: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        try:
            os.write(exit_fd, f"{pid} {os.waitstatus_to_exitcode(status)}\n".encode())
        except OSError:
            return


def _next_order(address: str) -> dict[str, Any] | None:
    conn = http.client.HTTPConnection(address)
    try:
        conn.request("GET", RESTORE_NEXT)
        response = conn.getresponse()
        body = response.read()
    except OSError:
        return None
    finally:
        conn.close()
    return json.loads(body) if response.status == 200 and body else None


def _attach(order: dict[str, Any]) -> None:
    """In the restored child: stdout/stderr to the environment, its own variables."""
    try:
        sock = socket.create_connection(("127.0.0.1", int(order["output_port"])), timeout=10)
        sock.sendall(f"{os.getpid()}\n".encode())
        if sock.recv(1) != b"1":
            os._exit(ATTACH_FAILED)
    except OSError:
        os._exit(ATTACH_FAILED)
    sock.settimeout(None)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(sock.fileno(), 1)
    os.dup2(sock.fileno(), 2)
    sock.close()
    os.environ.update({str(k): str(v) for k, v in order.get("environment", {}).items()})


def serve_restores(address: str, exit_fd: int) -> None:
    """Park as the snapshot; return only in a restored child."""
    signal.signal(signal.SIGCHLD, lambda *_: _reap(exit_fd))
    while True:
        order = _next_order(address)
        if order is None:  # the snapshot is discarded
            os._exit(0)
        with warnings.catch_warnings():
            # 3.12+ warns when other threads exist (exporters flushed and closed
            # theirs in the before-snapshot hooks; Lambda's snapshot freezes them too)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(exit_fd)
            os.setsid()  # its own process group: its environment stops it alone
            _attach(order)
            return


def main(argv: list[str]) -> None:
    from awslambdaric import bootstrap
    from awslambdaric.lambda_config import LambdaConfigProvider
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    exit_fd = int(argv.pop(1))  # what is left is awslambdaric's own command line
    config = LambdaConfigProvider(argv)

    class SnapshotClient(LambdaRuntimeClient):
        def restore_next(self) -> None:
            serve_restores(self.lambda_runtime_address, exit_fd)
            super().restore_next()  # the restored environment's restore/next

    client = SnapshotClient(config.api_address, config.use_thread_polling)
    bootstrap.run(config.handler, client)


if __name__ == "__main__":
    main(sys.argv)
