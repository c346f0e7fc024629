"""A runtime process the local runtime did not start itself.

Restored SnapStart environments are forks of a template process, and Managed
Instances workers are forks of awslambdaric's main process: the local runtime is
not their parent. :class:`AdoptedProcess` is as much of :class:`subprocess.Popen`
as an environment uses (``pid``, ``stdout``, ``poll``, ``wait``) for such a
process, plus how to signal it. Its exit code is what its parent reported
(:meth:`mark_exited`), when the parent reports one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable

__all__ = ["AdoptedProcess"]

REPORT_WAIT_S = 5.0  # a parent that reports exits but has not: the status is unknown


class AdoptedProcess:
    """``pid`` with its stdout/stderr arriving on ``output``.

    ``reports_exits``: the parent writes the exit code (a SnapStart template); else
    (awslambdaric's worker pool) the code is unknown once the process is gone.
    ``group``: the process leads its own process group (signals go to the group).
    """

    def __init__(
        self,
        pid: int,
        output: socket.socket,
        *,
        parent_alive: Callable[[], bool],
        reports_exits: bool,
        group: bool,
    ) -> None:
        self.pid = pid
        self.stdout = output
        self.returncode: int | None = None
        self.exit_known = True
        self._parent_alive = parent_alive
        self._reports_exits = reports_exits
        self._group = group
        self._exited = threading.Event()
        self._gone_since: float | None = None

    def mark_exited(self, code: int | None) -> None:
        """``code`` None: gone, how is not known."""
        self.exit_known = code is not None
        self.returncode = code if code is not None else 1
        self._exited.set()

    def _gone(self) -> bool:
        """No such process, or a zombie its parent has not reaped yet."""
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state in ("Z", "X")

    def poll(self) -> int | None:
        if self.returncode is None and self._gone():
            # a parent that reports does so as soon as it reaps: give it a moment
            if self._gone_since is None:
                self._gone_since = time.monotonic()
            waited = time.monotonic() - self._gone_since
            expect_report = self._reports_exits and self._parent_alive()
            if not self._exited.wait(1.0 if expect_report else 0.0) and (
                not expect_report or waited > REPORT_WAIT_S
            ):
                self.mark_exited(None)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"process {self.pid}", timeout or 0.0)
            self._exited.wait(0.2)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Raises ProcessLookupError when the process is gone, as os.kill does."""
        if self._group:
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)
