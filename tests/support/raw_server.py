"""A loopback TCP server that speaks just enough HTTP/1.1 to misbehave on purpose:
subclasses decide, request by request, how (and whether) to answer."""

from __future__ import annotations

import socket
import threading
from typing import Any


class RawHTTPServer:
    """Accepts connections on 127.0.0.1 and reads one request after another on each;
    :meth:`answer` gets the connection and the request head (the body is read and
    dropped) and returns False to end the connection."""

    def __init__(self, connection_timeout_s: float = 10.0) -> None:
        self.connection_timeout_s = connection_timeout_s
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.endpoint = f"http://{self.address}"
        self._stop = threading.Event()
        self._conns: list[Any] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self, conn: Any, head: bytes) -> bool:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Any) -> None:
        buffer = b""
        try:
            conn.settimeout(self.connection_timeout_s)  # (closed already if close() raced)
            for _ in range(10_000):  # requests on this connection
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                if not self.answer(conn, head):
                    return
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        for conn in self._conns:
            conn.close()
        self.sock.close()
