"""Reading inputs as streams: gzip by magic bytes, lines, concatenated JSON documents.

Everything here reads incrementally so memory stays bounded by one window of
decompressed data and one record, never by the file size:

* gzip is inflated at most :data:`WINDOW` bytes at a time (a 4 MB ``.gz`` can hold
  2 GB of text), and the bytes handed out are never re-sliced;
* a line or JSON document longer than ``max_record`` bytes is skipped without being
  held in memory and reported with its line number;
* a JSON array (``[page, page, …]``) is read item by item, like concatenated documents.

``position()`` reports how far into the (compressed) file we are, for the progress bar.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DEFAULT_MAX_RECORD",
    "GZIP_MAGIC",
    "WINDOW",
    "Input",
    "iter_array_items",
    "iter_documents",
    "iter_lines",
]

GZIP_MAGIC = b"\x1f\x8b"
WINDOW = 1 << 20  # decompressed bytes produced per step
DEFAULT_MAX_RECORD = 256 << 20  # one line / JSON document; ingest lowers it under --memory-limit
_CHUNK = 1 << 20
_RAW_CHUNK = 64 << 10  # compressed bytes read per step (bounds the unconsumed tail)
_SEPARATORS = re.compile(r"[ \t\r\n,]*")
_ARRAY_SEPARATORS = re.compile(r"[ \t\r\n,\[\]]*")


class Input:
    """An open input file, transparently decompressed."""

    def __init__(self, path: Path, max_record: int = DEFAULT_MAX_RECORD) -> None:
        self.path = path
        self.max_record = max_record
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
    """Streaming gunzip with a bounded output window.

    Reads multi-member files (Firehose) and gives back every byte before a
    truncation, flagging it in ``truncated`` (gzip.GzipFile raises and loses the data
    it had decompressed). Each step inflates at most :data:`WINDOW` bytes, keeping the
    rest of the compressed input for the next step, and hands the output out through a
    memoryview, so no step copies more than one window.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.dec = zlib.decompressobj(wbits=31)
        self.tail = b""  # compressed input not inflated yet
        self.pending = memoryview(b"")
        self.done = False
        self.started = False  # inside a gzip member
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending and not self.done:
            self._step()
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _step(self) -> None:
        if not self.tail:
            self.tail = self.raw.read(_RAW_CHUNK)
            if not self.tail:
                self.done = True
                if self.started and not self.dec.eof:
                    self.pending = memoryview(self.dec.flush())
                    self.truncated = True  # reported by the caller once everything is read
                return
        out = self.dec.decompress(self.tail, WINDOW)
        self.started = True
        if self.dec.eof:  # end of a member: whatever follows starts the next one
            self.tail = self.dec.unused_data
            self.dec = zlib.decompressobj(wbits=31)
            self.started = False
        else:
            self.tail = self.dec.unconsumed_tail
        self.pending = memoryview(out)


def _gunzip(raw: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(_GunzipRaw(raw), buffer_size=_CHUNK)


def _too_long(kind: str, size: int, limit: int) -> str:
    return f"{kind} of {size:,} bytes is longer than the {limit:,}-byte limit: skipped"


def iter_lines(inp: Input) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield ``(line_number, text, error)``; undecodable or overlong lines come with an error.

    The stream is read in blocks split at newlines (one C call per block, not one per
    line); a line still open at the end of a block is kept as pieces, joined once it
    ends, and dropped as soon as it exceeds ``max_record``.
    """
    limit = inp.max_record
    read = inp.stream.read
    number = 0
    pieces: list[bytes] = []  # the start of a line that is not finished yet
    pending = 0  # its length
    skipping = 0  # > 0: length so far of an overlong line being skipped
    while True:
        block = read(_CHUNK)
        if not block:
            break
        if skipping:
            nl = block.find(b"\n")
            if nl < 0:
                skipping += len(block)
                continue
            number += 1
            yield number, None, _too_long("line", skipping + nl, limit)
            skipping = 0
            block = block[nl + 1 :]
        lines = block.split(b"\n")
        last = lines.pop()
        if pieces and lines:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
            pieces, pending = [], 0
        for raw in lines:
            number += 1
            if len(raw) > limit:
                yield number, None, _too_long("line", len(raw), limit)
                continue
            try:
                yield number, raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                yield number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        if last:
            pieces.append(last)
            pending += len(last)
            if pending > limit:
                skipping, pieces, pending = pending, [], 0
    if skipping:
        number += 1
        yield number, None, _too_long("line", skipping, limit)
    elif pieces:
        raw = b"".join(pieces)
        number += 1
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"


def iter_documents(inp: Input) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(start_line, document, error)`` for concatenated / pretty-printed JSON.

    A document that does not parse is reported once and skipped up to the next line
    that starts with ``{``, so the documents after it are still read.
    """
    yield from _read_json_stream(inp, array=False)


def iter_array_items(inp: Input) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(start_line, item, error)`` for the items of a JSON array (or several).

    Items are parsed one at a time, so a large array of pages costs one page of memory.
    A broken item is reported and reading resumes at the next item indented like the
    first one.
    """
    yield from _read_json_stream(inp, array=True)


def _read_json_stream(inp: Input, *, array: bool) -> Iterator[tuple[int, Any, str | None]]:
    reader = io.TextIOWrapper(inp.stream, encoding="utf-8", errors="replace", newline="")
    try:
        yield from _JsonStream(reader, inp.max_record, array).items()
    finally:
        reader.detach()  # closing the wrapper would close the input under us


class _JsonStream:
    """JSON values one after another in a text stream, with a bounded buffer.

    ``buf[pos:]`` is the unread text; parsed values are consumed by moving ``pos``,
    and the buffer is only compacted when more text is read, so reading is linear.
    """

    def __init__(self, reader: io.TextIOWrapper, limit: int, array: bool) -> None:
        self.reader = reader
        self.limit = limit
        self.array = array
        self.separators = _ARRAY_SEPARATORS if array else _SEPARATORS
        self.resync: str | None = None if array else "\n{"
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number of buf[pos]
        self.eof = False

    def _advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def _more(self, at_least: int = _CHUNK) -> bool:
        """Append text to the buffer (compacting it first); False at the end of input."""
        if self.eof:
            return False
        chunk = self.reader.read(max(_CHUNK, at_least))
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self.eof = chunk == ""
        return not self.eof

    def items(self) -> Iterator[tuple[int, Any, str | None]]:
        decoder = json.JSONDecoder()
        while True:
            self._advance(self.separators.match(self.buf, self.pos).end())
            if self.pos >= len(self.buf):
                if not self._more():
                    return
                continue
            if self.buf[self.pos] == "\ufeff":
                self.pos += 1
                continue
            if self.array and self.resync is None:
                col = self.pos - (self.buf.rfind("\n", 0, self.pos) + 1)
                self.resync = "\n" + " " * col + "{" if col < 64 else ""
            try:
                doc, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                pending = len(self.buf) - self.pos
                cut = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
                if cut and pending <= self.limit and self._more(pending):
                    continue  # the value goes on past the buffer: read more and retry
                start = self.line
                if cut and pending > self.limit:
                    yield start, None, _too_long("JSON document", pending, self.limit)
                else:
                    where = start + self.buf.count("\n", self.pos, min(exc.pos, len(self.buf)))
                    yield start, None, f"invalid JSON document: {exc.msg} (line {where})"
                if not self._skip():
                    return
                continue
            except RecursionError:
                yield self.line, None, "JSON document nested too deeply: skipped"
                if not self._skip():
                    return
                continue
            yield self.line, doc, None
            self._advance(end)

    def _skip(self) -> bool:
        """Drop text up to the next line that starts a value; False when there is none."""
        marker = self.resync
        if not marker:
            return False
        while True:
            found = self.buf.find(marker, self.pos + 1)
            if found >= 0:
                self._advance(found + 1)
                return True
            keep = max(self.pos, len(self.buf) - len(marker))
            self._advance(keep)  # counts the lines we drop
            if not self._more():
                return False
