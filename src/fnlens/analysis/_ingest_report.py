"""What an ingest run found: per-file formats and counts, malformed lines with file:line.

Bad input never stops a normal run: each malformed line is recorded here and every
valid record is kept. In strict mode the first problem raises
:class:`fnlens.exceptions.IngestError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_MESSAGES_PER_FILE = 20
# per-file counts are parsed records; several records (START, REPORT, a fnlens record)
# can merge into one invocations row, so the table totals are printed separately
_RECORD = {"invocations": "invocation records", "spans": "spans", "logs": "log lines"}


@dataclass
class Malformed:
    """One bad line or record: where it is and what is wrong with it."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass
class FileReport:
    """What one input file contributed."""

    path: str
    format: str = "unknown"
    # parsed records per target table (before merging by request id)
    records: dict[str, int] = field(
        default_factory=lambda: {"invocations": 0, "spans": 0, "logs": 0}
    )
    malformed_count: int = 0
    malformed: list[Malformed] = field(default_factory=list)
    error: str | None = None  # set when the whole file was rejected (e.g. unknown format)
    formats_tried: list[str] = field(default_factory=list)
    # how it was read: "read_json" (DuckDB fast path), "read_json+lines", "lines", "documents"
    reader: str = ""
    # records kept but worth a look (a span without ids, Lambda dropping logs), file:line
    warning_count: int = 0
    warnings: list[Malformed] = field(default_factory=list)
    # what platform.logsDropped events say Lambda did not deliver: a gap in the data
    logs_dropped_records: int = 0
    logs_dropped_bytes: int = 0

    def add_malformed(self, line: int | None, message: str) -> Malformed:
        item = Malformed(self.path, line, message)
        self.malformed_count += 1
        if len(self.malformed) < MAX_MESSAGES_PER_FILE:
            self.malformed.append(item)
        return item

    def add_warning(self, line: int | None, message: str) -> Malformed:
        item = Malformed(self.path, line, message)
        self.warning_count += 1
        if len(self.warnings) < MAX_MESSAGES_PER_FILE:
            self.warnings.append(item)
        return item

    def add_dropped(self, records: int, size: int) -> None:
        self.logs_dropped_records += records
        self.logs_dropped_bytes += size


@dataclass
class IngestReport:
    """The result of :func:`fnlens.analysis.ingest.ingest`."""

    db: str
    files: list[FileReport] = field(default_factory=list)
    # rows actually added (or merged) by this run, per table
    added: dict[str, int] = field(default_factory=lambda: {"invocations": 0, "spans": 0, "logs": 0})
    # rows in each table after the run
    totals: dict[str, int] = field(
        default_factory=lambda: {"invocations": 0, "spans": 0, "logs": 0}
    )
    seconds: float = 0.0

    @property
    def malformed_count(self) -> int:
        return sum(f.malformed_count for f in self.files)

    @property
    def malformed(self) -> list[Malformed]:
        return [m for f in self.files for m in f.malformed]

    @property
    def warning_count(self) -> int:
        return sum(f.warning_count for f in self.files)

    @property
    def warnings(self) -> list[Malformed]:
        return [w for f in self.files for w in f.warnings]

    @property
    def logs_dropped_records(self) -> int:
        return sum(f.logs_dropped_records for f in self.files)

    @property
    def rejected_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    def summary_lines(self, max_messages: int = 5) -> list[str]:
        """Human-readable summary used by the CLI."""
        lines = [f"database: {self.db}"]
        for f in self.files:
            counts = ", ".join(f"{n} {_RECORD[t]}" for t, n in f.records.items() if n)
            extra = f", {f.malformed_count} malformed" if f.malformed_count else ""
            extra += f", {f.warning_count} warning(s)" if f.warning_count else ""
            if f.error:
                lines.append(f"  {f.path}: REJECTED: {f.error}")
            else:
                lines.append(f"  {f.path} [{f.format}]: {counts or 'no records'}{extra}")
        added = ", ".join(f"{t} +{n}" for t, n in self.added.items())
        totals = ", ".join(f"{t} {n}" for t, n in self.totals.items())
        lines.append(f"added: {added}")
        lines.append(f"tables: {totals}  ({self.seconds:.2f} s)")
        if self.malformed_count:
            lines.append(f"{self.malformed_count} malformed line(s); first ones:")
            lines.extend(f"  {m}" for m in self.malformed[:max_messages])
        if self.logs_dropped_records:
            size = sum(f.logs_dropped_bytes for f in self.files)
            lines.append(
                f"GAP: Lambda dropped {self.logs_dropped_records} log record(s) ({size} bytes) "
                "before they were delivered (platform.logsDropped); counts and rates are low"
            )
        if self.warning_count:
            lines.append(f"{self.warning_count} warning(s); first ones:")
            lines.extend(f"  {w}" for w in self.warnings[:max_messages])
        return lines
