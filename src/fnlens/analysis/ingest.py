"""The ingest API: files, directories and globs in; merged DuckDB tables out.

>>> from fnlens.analysis.ingest import ingest
>>> report = ingest(["logs/"], db="fnlens.duckdb")            # doctest: +SKIP
>>> report.totals["invocations"], report.malformed_count       # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from fnlens.analysis import _text_sql
from fnlens.analysis._formats import insights
from fnlens.analysis._formats.context import StreamContext
from fnlens.analysis._formats.detect import detect
from fnlens.analysis._formats.lambda_text import continuation_rule, join_continuations
from fnlens.analysis._formats.messages import handle_json, handle_message
from fnlens.analysis._ingest_report import FileReport, IngestReport
from fnlens.analysis._loader import Loader
from fnlens.analysis._readers import (
    DEFAULT_MAX_RECORD,
    Input,
    iter_array_items,
    iter_documents,
    iter_lines,
)
from fnlens.analysis._schema import TABLES
from fnlens.analysis._sink import Sink
from fnlens.analysis.db import connect, prepare
from fnlens.exceptions import IngestError, UnknownFormatError

__all__ = ["IngestError", "IngestReport", "connect", "expand_paths", "ingest"]

_GLOB_CHARS = set("*?[")
_STREAM_IN_PATH = re.compile(r"\d{4}/\d{2}/\d{2}/\[[^\]/]*\][0-9a-zA-Z]+(?=/)")


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files from paths, directories (recursive) and globs; missing paths are an error.

    Inside a directory, hidden files and hidden directories (``.git/``, ``.aws-sam/``)
    are skipped, and symbolic links to directories are not followed (no loops); a
    hidden path named explicitly is read.
    """
    out: list[Path] = []
    for item in paths:
        s = str(item)
        if _GLOB_CHARS & set(s) and not Path(s).exists():
            matches = sorted(glob.glob(s, recursive=True))
            if not matches:
                raise IngestError(f"{s}: no file matches this pattern")
            candidates = [Path(m) for m in matches]
        else:
            candidates = [Path(s)]
        for p in candidates:
            if p.is_dir():
                out.extend(_walk(p))
            elif p.is_file():
                out.append(p)
            else:
                raise IngestError(f"{p}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _walk(root: Path) -> list[Path]:
    """Regular files under ``root``, sorted, without hidden files or directories."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # prune: never descend
        base = Path(folder)
        found.extend(
            base / name for name in files if not name.startswith(".") and (base / name).is_file()
        )
    return sorted(found)


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: str | os.PathLike[str] | duckdb.DuckDBPyConnection = "fnlens.duckdb",
    *,
    strict: bool = False,
    progress: bool | None = None,
    batch_size: int = 50_000,
    fast: bool = True,
    memory_limit: str | None = None,
) -> IngestReport:
    """Load every file into the ``invocations``, ``spans`` and ``logs`` tables of ``db``.

    Malformed lines are counted and reported (file:line) while every valid record is
    kept; ``strict=True`` raises :class:`IngestError` on the first problem and leaves
    the database unchanged. Files in no known format are reported (rejected) with
    the formats tried; in strict mode they raise too. ``memory_limit`` (e.g. ``"2GB"``)
    caps DuckDB's memory; beyond it staging spills to disk next to the database.
    """
    started = time.perf_counter()
    files = expand_paths(paths)
    if not isinstance(db, duckdb.DuckDBPyConnection):
        # `fnlens ingest .` must not read the database it writes (nor its WAL / spill files)
        target = Path(db).resolve()
        own_files = {target, Path(f"{target}.wal")}
        spill = Path(f"{target}.tmp")
        files = [
            f for f in files if f.resolve() not in own_files and spill not in f.resolve().parents
        ]
    limit = _size(memory_limit) if memory_limit else None
    max_record = max_record_bytes(limit)
    own = not isinstance(db, duckdb.DuckDBPyConnection)
    con = connect(db, memory_limit=limit) if own else db
    if not own:
        prepare(con, memory_limit=limit)
    report = IngestReport(db=str(db) if own else "<connection>")
    # Staging goes to TEMP tables outside any transaction: a statement that fails there
    # (read_json refusing a file before the fallback) must not abort the run, which it
    # would inside a transaction on DuckDB < 2. Only the merge touches the real tables,
    # in one transaction, so a failed or strict run leaves them unchanged.
    loader = None
    in_transaction = False
    try:
        loader = Loader(con)
        sink = Sink(loader.append, batch_size=batch_size)
        with _Progress(files, progress) as advance:
            for path in files:
                report.files.append(
                    _ingest_file(path, sink, loader, strict, advance, fast, max_record)
                )
        sink.flush()
        con.execute("BEGIN TRANSACTION")
        in_transaction = True
        added = loader.merge()
        con.execute("COMMIT")
        in_transaction = False
    except BaseException:
        if in_transaction:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
        if own:
            con.close()
        raise
    finally:
        if loader is not None:
            try:
                loader.drop()
            except duckdb.Error:
                pass  # the connection is already closed after a failure
    report.added = {t: added[t] for t in TABLES}
    report.totals = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
    if own:
        con.close()
    report.seconds = time.perf_counter() - started
    return report


def _ingest_file(
    path: Path,
    sink: Sink,
    loader: Loader,
    strict: bool,
    advance: _Advance,
    fast: bool,
    max_record: int,
) -> FileReport:
    fr = FileReport(path=str(path))
    source = str(path.resolve())
    before = dict(sink.counts)
    file_number = sink.next_file()

    def on_error(line: int | None, message: str) -> None:
        item = fr.add_malformed(line, message)
        if strict:
            raise IngestError(f"{item} (strict mode: stopping at the first error)")

    ctx = StreamContext(
        sink, source, on_error=on_error, on_warning=fr.add_warning, on_dropped=fr.add_dropped
    )
    stream = _STREAM_IN_PATH.search(path.resolve().as_posix())
    if stream:  # S3 exports: <prefix>/<task>/<log stream>/000000.gz
        ctx.set_stream(stream.group(0))
    with Input(path, max_record=max_record) as inp:
        try:
            det = detect(inp)
        except UnknownFormatError as exc:
            from fnlens.analysis._formats import FORMATS

            fr.error = str(exc).split(": ", 1)[1]
            fr.formats_tried = list(FORMATS)
            if strict:
                raise
            advance(path, inp.raw.seek(0, 2), final=True)
            return fr
        fr.format = det.format
        ctx.line_records = det.format in _text_sql.FORMATS
        if fast and det.format in _text_sql.FORMATS:

            def python_rows(batch: list[tuple]) -> None:
                for number, raw, log_stream, version, current, last_report in batch:
                    ctx.log_stream, ctx.stream_version = log_stream, version
                    ctx.current_request, ctx.last_report = current, last_report
                    try:
                        handle_message(raw, None, number, ctx)
                    except _BAD_RECORD as exc:
                        on_error(number, _describe(exc))

            staged = _text_sql.stage_text(
                loader.con,
                path,
                det.format,
                source,
                file_number,
                stream.group(0) if stream else None,
                inp.gzip,
                python_rows,
                min(max_record, _text_sql.MAX_LINE),
            )
            if staged is not None:  # else: something only the Python parsers read
                sink.counts["invocations"] += staged[0]
                sink.counts["logs"] += staged[1]
                fr.reader = "sql"
                advance(path, inp.raw.seek(0, 2), final=True)
                return _finish(fr, sink, before, strict, path)
        skip_invocations = False
        if det.fast and fast:
            try:
                n_inv, n_other = loader.stage_fnlens_fast(path, inp.gzip)
                sink.counts["invocations"] += n_inv
                fr.reader = "read_json"
                if n_other == 0:
                    advance(path, inp.raw.seek(0, 2), final=True)
                    fr.records = {t: sink.counts[t] - before[t] for t in TABLES}
                    return fr
                skip_invocations = True  # read_json took them; the line parser adds the logs
                fr.reader = "read_json+lines"
            except duckdb.Error:
                pass  # some line does not fit: the line parser reports each one
        fr.reader = fr.reader or det.mode
        try:
            if det.mode == "lines":
                _read_lines(inp, ctx, on_error, advance, skip_invocations, det.format)
            elif det.mode == "documents":
                _read_documents(inp, ctx, on_error, advance)
            elif det.mode == "array":
                _read_array(inp, ctx, on_error, advance)
            elif det.mode == "csv":
                insights.read_csv(inp.stream, ctx, on_error, max_record)
        except (EOFError, OSError, zlib.error) as exc:
            # a corrupt .gz: keep what was read, report the rest
            on_error(None, f"cannot read further: {exc or type(exc).__name__}")
        if inp.truncated:
            on_error(None, "cannot read further: gzip data is truncated")
        advance(path, inp.position(), final=True)
    return _finish(fr, sink, before, strict, path)


def _finish(
    fr: FileReport, sink: Sink, before: dict[str, int], strict: bool, path: Path
) -> FileReport:
    fr.records = {t: sink.counts[t] - before[t] for t in TABLES}
    if strict and not any(fr.records.values()):
        raise IngestError(
            f"{path}: no records in this file [{fr.format}] (strict mode: a file that "
            "yields nothing is an error)"
        )
    return fr


# what one bad record can raise: a value that does not fit its column or a timestamp out
# of range (ValueError, OverflowError), an unexpected shape (TypeError, KeyError,
# AttributeError), nesting deeper than Python can follow (RecursionError)
_BAD_RECORD = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)


def _read_lines(
    inp: Input,
    ctx: StreamContext,
    on_error: _OnError,
    advance: _Advance,
    skip_invocations: bool,
    fmt: str = "",
) -> None:
    events = iter_lines(inp)
    rule = continuation_rule(fmt)
    if rule is not None:  # multi-line events: stack traces, pretty-printed objects
        events = join_continuations(events, rule)
    for number, line, error in events:
        if number % 20_000 == 0:
            advance(inp.path, inp.position())
        if error is not None:
            on_error(number, error)
            continue
        assert line is not None
        if skip_invocations and ('"event":"invocation"' in line or '"event": "invocation"' in line):
            continue
        try:
            handle_message(line, None, number, ctx)
        except _BAD_RECORD as exc:
            on_error(number, _describe(exc))


def _read_documents(inp: Input, ctx: StreamContext, on_error: _OnError, advance: _Advance) -> None:
    for number, doc, error in iter_documents(inp):
        advance(inp.path, inp.position())
        if error is not None:
            on_error(number, error)
            continue
        try:
            handle_json(doc, None, number, ctx)
        except _BAD_RECORD as exc:
            on_error(number, _describe(exc))


def _read_array(inp: Input, ctx: StreamContext, on_error: _OnError, advance: _Advance) -> None:
    for index, (number, item, error) in enumerate(iter_array_items(inp), 1):
        advance(inp.path, inp.position())
        if error is not None:
            on_error(number, f"array item {index}: {error}")
            continue
        try:
            handle_json(item, None, number, ctx)
        except _BAD_RECORD as exc:
            on_error(number, f"array item {index}: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, OverflowError):
        return f"number out of range ({exc})"
    return str(exc) or type(exc).__name__


def max_record_bytes(memory_limit: str | None) -> int:
    """The largest line or JSON document read: a sixteenth of the memory limit.

    Parsing a record costs several times its size in Python objects, so this keeps
    one record well inside ``--memory-limit``; without a limit it is 256 MiB.
    """
    if not memory_limit:
        return DEFAULT_MAX_RECORD
    return max(1 << 20, min(DEFAULT_MAX_RECORD, _bytes(memory_limit) // 16))


def _bytes(size: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT])(i?)B\s*", size, re.IGNORECASE)
    assert m, size
    power = "KMGT".index(m.group(2).upper()) + 1
    return int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** power)


def _size(value: str) -> str:
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[KMGT]i?B\s*", value, re.IGNORECASE):
        raise IngestError(f"memory limit {value!r}: expected a size like 512MB or 4GB")
    return value.strip()


# how a reader reports a bad record: (line or None, message)
_OnError = Callable[[int | None, str], None]


class _Advance:
    def __call__(self, path: Path, position: int, final: bool = False) -> None: ...


class _Progress:
    """A rich progress bar over bytes when stderr is a terminal (or when asked)."""

    def __init__(self, files: list[Path], enabled: bool | None) -> None:
        self.files = files
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.done: dict[Path, int] = {}

    def __enter__(self) -> _Advance:
        if not self.enabled:
            return lambda path, position, final=False: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        total = sum(p.stat().st_size for p in self.files)
        self.bar = Progress(
            TextColumn("ingest"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task("ingest", total=total)

        def advance(path: Path, position: int, final: bool = False) -> None:
            self.done[path] = position
            self.bar.update(self.task, completed=sum(self.done.values()))

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
