"""Which process is at the other end of a TCP connection on 127.0.0.1 (Linux ``/proc``).

Restored SnapStart environments are forks of one template process, and the
runtime client's native HTTP client keeps the Runtime API address it read at
import, before the fork: every restored process talks to the template's endpoint.
The endpoint tells them apart by the process that owns the connection's socket.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["peer_pid", "supported"]

_TCP_TABLE = "/proc/net/tcp"
_LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it (little-endian hex)


def supported() -> bool:
    """True where connections can be traced to processes (Linux with ``/proc``)."""
    return os.path.exists(_TCP_TABLE) and os.path.isdir("/proc/self/fd")


def _socket_inode(client_port: int, server_port: int) -> str | None:
    """The inode of the client end of ``127.0.0.1:client_port -> 127.0.0.1:server_port``."""
    local = f"{_LOOPBACK}:{client_port:04X}"
    remote = f"{_LOOPBACK}:{server_port:04X}"
    try:
        with open(_TCP_TABLE, encoding="ascii") as fh:
            next(fh, None)  # the header
            for line in fh:
                fields = line.split()
                if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                    return fields[9]
    except OSError:
        return None
    return None


def _owns(pid: int, target: str) -> bool:
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}") == target:
                return True
        except OSError:
            continue
    return False


def peer_pid(client_port: int, server_port: int, candidates: Iterable[int]) -> int | None:
    """The one of ``candidates`` that holds the client socket of the connection from
    ``client_port`` to ``server_port`` (None when none of them does)."""
    inode = _socket_inode(client_port, server_port)
    if inode is None or inode == "0":
        return None
    target = f"socket:[{inode}]"
    return next((pid for pid in candidates if _owns(pid, target)), None)
