"""Reading inputs as streams: gzip by magic bytes, lines, concatenated JSON documents.

Everything here reads incrementally so memory stays bounded by the largest single
record (or JSON document), never by the file size. ``position()`` reports how far
into the (compressed) file we are, for the progress bar.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class Input:
    """An open input file, transparently decompressed."""

    def __init__(self, path: Path):
        self.path = path
        self.raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.gzip = self.raw.read(2) == GZIP_MAGIC
        self.raw.seek(0)
        self.stream: IO[bytes] = _gunzip(self.raw) if self.gzip else self.raw

    @property
    def truncated(self) -> bool:
        """True once reading hit the end of a gzip file that was cut short."""
        raw = getattr(self.stream, "raw", None)
        return bool(getattr(raw, "truncated", False))

    def position(self) -> int:
        return self.raw.tell()

    def head(self, size: int = 256 * 1024) -> bytes:
        """The first ``size`` decompressed bytes (for detection; the stream is rewound)."""
        parts: list[bytes] = []
        got = 0
        try:
            while got < size:
                chunk = self.stream.read(min(16384, size - got))
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
        except (EOFError, OSError, zlib.error):
            pass  # corrupt gzip: detect from what is readable; reading reports the error
        self.rewind()
        return b"".join(parts)

    def rewind(self) -> None:
        self.raw.seek(0)
        if self.gzip:
            self.stream = _gunzip(self.raw)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Input:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _GunzipRaw(io.RawIOBase):
    """Streaming gunzip that reads multi-member files (Firehose) and gives back every byte
    before a truncation, flagging it in ``truncated`` (gzip.GzipFile raises and loses
    the data it had decompressed)."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.dec = zlib.decompressobj(wbits=31)
        self.pending = b""
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending and not self.done:
            chunk = self.raw.read(_CHUNK)
            if not chunk:
                self.done = True
                if not self.dec.eof and self._started:
                    self.pending = self.dec.flush()
                    self.truncated = True  # reported by the caller once everything is read
                break
            self._started = True
            out = self.dec.decompress(chunk)
            while self.dec.eof and self.dec.unused_data:
                rest = self.dec.unused_data
                self.dec = zlib.decompressobj(wbits=31)
                out += self.dec.decompress(rest)
            if self.dec.eof:
                self._started = False
            self.pending = out
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    _started = False
    truncated = False


def _gunzip(raw: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(_GunzipRaw(raw), buffer_size=_CHUNK)


def iter_lines(inp: Input) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield ``(line_number, text, error)``; undecodable lines come with an error."""
    for number, raw in enumerate(inp.stream, 1):
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"


def iter_documents(inp: Input) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(start_line, document, error)`` for concatenated / pretty-printed JSON.

    A document that does not parse is reported once and skipped up to the next line
    that starts with ``{``, so the documents after it are still read.
    """
    reader = io.TextIOWrapper(inp.stream, encoding="utf-8", errors="replace", newline="")
    try:
        yield from _documents(reader)
    finally:
        reader.detach()  # closing the wrapper would close the input under us


def _documents(reader: io.TextIOWrapper) -> Iterator[tuple[int, Any, str | None]]:
    decoder = json.JSONDecoder()
    buf = ""
    line = 1  # line number of buf[0]
    eof = False
    while True:
        pos = 0
        n = len(buf)
        while pos < n and buf[pos] in " \t\r\n,":
            pos += 1
        line += buf.count("\n", 0, pos)
        buf = buf[pos:]
        if not buf:
            if eof:
                return
            chunk = reader.read(_CHUNK)
            eof = chunk == ""
            buf = chunk
            continue
        if buf[0] == "\ufeff":
            buf = buf[1:]
            continue
        try:
            doc, end = decoder.raw_decode(buf)
        except json.JSONDecodeError as exc:
            if not eof:
                chunk = reader.read(max(_CHUNK, len(buf)))
                eof = chunk == ""
                buf += chunk
                continue
            yield line, None, f"invalid JSON document: {exc.msg} (line {line + exc.lineno - 1})"
            nxt = buf.find("\n{", 1)
            if nxt < 0:
                return
            line += buf.count("\n", 0, nxt + 1)
            buf = buf[nxt + 1 :]
            continue
        yield line, doc, None
        line += buf.count("\n", 0, end)
        buf = buf[end:]
