"""One log stream per execution environment, and the pump that feeds it.

A stream file holds one log event per line, prefixed with its ingestion time the
way CloudWatch's S3 export and ``aws logs tail`` print them::

    2026-11-22T10:00:00.123Z START RequestId: … Version: 1
    2026-11-22T10:00:00.130Z {"event": "invocation", …}

Files live at ``<out>/<function>/<log stream name>.log``; the stream name
``2026/11/22/[1]<hex>`` becomes nested folders, as in an S3 export.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fnlens.localrt._platform import iso_now

Echo = Callable[[str, str], None]  # (log stream name, line)


class LogStream:
    """Writes events to a stream file, echoes them, and captures them per invocation."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        *,
        echo: Echo | None = None,
        timestamps: bool = True,
    ) -> None:
        self.name = name
        self.path = path
        self._echo = echo
        self._timestamps = timestamps
        self._lock = threading.Lock()
        self._fh = None
        self._capture: list[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115

    def write(self, message: str) -> None:
        """Append one event (a line without its newline)."""
        message = message.replace("\r\n", "\n").replace("\r", "\n")
        with self._lock:
            for part in message.split("\n"):
                line = f"{iso_now()} {part}" if self._timestamps else part
                if self._fh is not None:
                    self._fh.write(line + "\n")
                if self._capture is not None:
                    self._capture.append(part)
                if self._echo is not None:
                    self._echo(self.name, line)

    def start_capture(self) -> None:
        with self._lock:
            self._capture = []

    def stop_capture(self) -> list[str]:
        with self._lock:
            captured, self._capture = self._capture or [], None
        return captured

    def flush(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class OutputPump:
    """Copies a child's stdout/stderr pipe into a log stream, line by line.

    ``drain()`` makes ordering exact: everything the child wrote before it posted
    its response is already in the pipe, so draining before writing END/REPORT
    keeps each invocation's lines between its START and its REPORT.
    """

    def __init__(self, fd: int, stream: LogStream) -> None:
        self._fd = fd
        self._stream = stream
        self._lock = threading.Lock()
        # the line being read, in pieces: joined once when its newline arrives (adding
        # each chunk to one bytes object would copy a long line once per chunk)
        self._pending: list[bytes] = []
        self._eof = False
        os.set_blocking(fd, False)
        self._thread = threading.Thread(target=self._run, name="fnlens-localrt-pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._eof:
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.5)
            except (OSError, ValueError):
                break
            if ready:
                self._read_available()

    def _read_available(self) -> None:
        with self._lock:
            while not self._eof:
                try:
                    chunk = os.read(self._fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    chunk = b""
                if not chunk:
                    self._eof = True
                    if self._pending:
                        self._emit(b"".join(self._pending))
                        self._pending = []
                    return
                self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        """Linear in the bytes read, however long a line is."""
        if b"\n" not in chunk:
            self._pending.append(chunk)
            return
        first, *lines, rest = chunk.split(b"\n")
        pending = self._pending
        if pending:
            pending.append(first)
            first = b"".join(pending)
        self._emit(first)
        for line in lines:
            self._emit(line)
        self._pending = [rest] if rest else []

    def _emit(self, line: bytes) -> None:
        self._stream.write(line.decode("utf-8", "replace").rstrip("\r"))

    def drain(self) -> None:
        """Copy everything already in the pipe, now."""
        self._read_available()

    def wait_eof(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        self.drain()


class PumpGroup:
    """Every pump of one runtime process (awslambdaric's Managed Instances workers send
    stdout and stderr on separate connections): drained and awaited together."""

    def __init__(self, first: OutputPump) -> None:
        self._pumps = [first]

    def add(self, pump: OutputPump) -> None:
        self._pumps.append(pump)

    def drain(self) -> None:
        for pump in list(self._pumps):
            pump.drain()

    def wait_eof(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for pump in list(self._pumps):
            pump.wait_eof(max(0.0, deadline - time.monotonic()))
