"""What one runtime process is within its execution environment.

An on-demand environment is one process with its own log stream. A Lambda Managed
Instances environment runs several processes that write one log stream; each
process then sees the stream through a :class:`StreamView`, which keeps its own
per-invocation capture (invocations run at once, so captures cannot be the
stream's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fnlens.localrt._logstream import LogStream

if TYPE_CHECKING:
    from fnlens.localrt._snapshot import Snapshot
    from fnlens.localrt._workers import WorkerPool

__all__ = ["ProcessRole", "StreamView"]


class StreamView:
    """One process's side of a shared log stream: writes go to the stream, and the
    lines this process wrote during its current invocation are captured here."""

    def __init__(self, stream: LogStream) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._capture: list[str] | None = None

    @property
    def name(self) -> str:
        return self._stream.name

    def write(self, message: str) -> None:
        message = message.replace("\r\n", "\n").replace("\r", "\n")
        self._stream.write(message)
        with self._lock:
            if self._capture is not None:
                self._capture.extend(message.split("\n"))

    def start_capture(self) -> None:
        with self._lock:
            self._capture = []

    def stop_capture(self) -> list[str]:
        with self._lock:
            captured, self._capture = self._capture or [], None
        return captured

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        """The environment closes the stream once all its processes are gone."""


@dataclass(frozen=True)
class ProcessRole:
    """How an :class:`~fnlens.localrt._environment.Environment` process is started.

    ``managed``: a Lambda Managed Instances runtime process (JSON logs forced,
    ``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``, extensions may
    subscribe to ``SHUTDOWN`` only, the timeout is reported but not enforced).
    """

    id: str | None = None  # this process's own id
    environment_id: str | None = None  # the environment it belongs to, if not its own
    stream: StreamView | None = None
    managed: bool = False
    init_type: str = "on-demand"
    environment: dict[str, str] = field(default_factory=dict)
    shutdown_grace_s: float = 0.5
    # SnapStart: init, the before-snapshot hooks, then the process parks in restore/next
    # (the snapshot) until its first invocation restores it
    snap_start: bool = False
    # SnapStart with a real snapshot: the template process (init once, then parked,
    # forked per restore) and, for a restored environment, what forks it
    template: bool = False
    restore_from: Snapshot | None = None
    # Managed Instances: a worker awslambdaric's main process forked (AWS_LAMBDA_MAX_CONCURRENCY)
    worker_of: WorkerPool | None = None
    command: tuple[str, ...] | None = None  # instead of ``python -m awslambdaric <handler>``
    pass_fds: tuple[int, ...] = ()
    # an endpoint several processes share: (host, port) of a connection -> its RuntimeApi
    route: Callable[[Any], Any] | None = None
