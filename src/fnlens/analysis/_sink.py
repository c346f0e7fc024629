"""Collects parsed rows and hands them to DuckDB in Arrow batches (bounded memory).

Parsers call :meth:`Sink.invocation`, :meth:`Sink.span` and :meth:`Sink.log` with
plain dicts; every ``batch_size`` rows (or ``batch_bytes`` of text, whichever comes
first) the buffer becomes a pyarrow table that is appended to a staging table, so
memory does not grow with the input. A value that cannot fit its column (an integer
beyond the column's range, ``1e300`` or ``inf`` for a number) is refused here, with
the field's name, so the parser reports that one record and the batch stays valid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fnlens.analysis._schema import INVOCATIONS_COLUMNS, LOGS_COLUMNS, SPANS_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

# Precedence when several sources describe the same invocation: lower wins.
RANK = {"fnlens": 10, "powertools": 20, "otlp": 30, "platform": 40, "report": 42, "emf": 50}
# what the platform measured outside the function (request logs): after the records
RANK.update({"cloud-logging": 45, "app-insights": 45})
# a START line's record: before its REPORT's, whose values it does not have
START_RANK = RANK["report"] - 1

_INT_RANGE = {"INTEGER": (-(2**31), 2**31 - 1), "BIGINT": (-(2**63), 2**63 - 1)}


STAGE_COLUMNS: dict[str, dict[str, str]] = {
    # _file / _line: where a text line's record was read (the n-th file of the run, its
    # line), so that an attempt's START and REPORT lines in one file become one record
    "invocations": {
        **INVOCATIONS_COLUMNS,
        "_rank": "DOUBLE",
        "_file": "INTEGER",
        "_line": "BIGINT",
    },
    "spans": dict(SPANS_COLUMNS),
    "logs": dict(LOGS_COLUMNS),
}


@cache
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a staging table (pyarrow is imported on first use: the
    typed fast paths of ingest never need it)."""
    import pyarrow as pa

    types = {
        "TIMESTAMP": pa.timestamp("us"),
        "VARCHAR": pa.string(),
        "JSON": pa.string(),
        "BOOLEAN": pa.bool_(),
        "DOUBLE": pa.float64(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string()),
    }
    return pa.schema([(n, types[t]) for n, t in STAGE_COLUMNS[table].items()])


def _coerce(sql_type: str, value: Any) -> Any:
    """Make a parsed value fit its column (numbers as strings, floats as ints, ...)."""
    if value is None:
        return None
    if sql_type == "VARCHAR":
        return value if isinstance(value, str) else str(value)
    if sql_type == "DOUBLE":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {_short(value)}")
        return number
    if sql_type in ("INTEGER", "BIGINT"):
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {value!r}")
        if isinstance(value, (str, float)):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"expected an integer, got {_short(value)}")
            value = number
        integer = int(value)
        low, high = _INT_RANGE[sql_type]
        if not low <= integer <= high:
            raise ValueError(f"{_short(value)} is out of range for {sql_type} ({low}..{high})")
        return integer
    if sql_type == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"expected true/false, got {value!r}")
    if sql_type == "TIMESTAMP":
        if not isinstance(value, datetime):
            raise ValueError(f"expected a timestamp, got {value!r}")
        return value
    if sql_type == "JSON":
        return value if isinstance(value, str) else json.dumps(value, default=str)
    if sql_type.startswith("MAP"):
        return [
            (str(k), v if isinstance(v, str) or v is None else json.dumps(v))
            for k, v in value.items()
        ]
    return value


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else f"{value:.3e}"
    return text if len(text) <= 60 else text[:57] + "..."


_PY_TYPES = {"VARCHAR": str, "DOUBLE": float, "BOOLEAN": bool, "TIMESTAMP": datetime}
_SPECS = {
    table: {name: (t, _PY_TYPES.get(t, type(None))) for name, t in columns.items()}
    for table, columns in STAGE_COLUMNS.items()
}


class Sink:
    """Buffers rows per table; ``flush_fn(table, arrow_table)`` stores a full batch."""

    def __init__(
        self,
        flush_fn: Callable[[str, pa.Table], None],
        batch_size: int = 50_000,
        batch_bytes: int = 64 << 20,
    ) -> None:
        self._flush_fn = flush_fn
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self._rows: dict[str, list[dict[str, Any]]] = {t: [] for t in STAGE_COLUMNS}
        self._text: dict[str, int] = dict.fromkeys(STAGE_COLUMNS, 0)  # characters buffered
        self.counts: dict[str, int] = dict.fromkeys(STAGE_COLUMNS, 0)
        self._log_where: tuple[Any, Any] | None = None
        self._log_index = 0
        self.file_number = 0  # the file being read: rows with a ``_line`` get it as ``_file``

    def next_file(self) -> int:
        """Start the next file; returns its number (``_file`` of its rows)."""
        self.file_number += 1
        return self.file_number

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Validate and buffer one row; raises ValueError when a value does not fit."""
        specs = _SPECS[table]
        clean = {}
        text = 0
        for name, value in row.items():
            if value is None:
                continue
            spec = specs.get(name)
            if spec is None:
                continue
            kind = spec[1]
            if type(value) is kind:  # already the right type: the common case
                if kind is str:
                    text += len(value)
                elif kind is float and not math.isfinite(value):
                    raise ValueError(f"field {name!r}: expected a finite number, got {value!r}")
                clean[name] = value
                continue
            try:
                clean[name] = value = _coerce(spec[0], value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"field {name!r}: {exc}") from None
            if type(value) is str:
                text += len(value)
        buf = self._rows[table]
        buf.append(clean)
        self.counts[table] += 1
        self._text[table] += text
        if len(buf) >= self.batch_size or self._text[table] >= self.batch_bytes:
            self._flush(table)

    def invocation(self, row: dict[str, Any], source: str) -> None:
        """An invocation row (partial is fine); merged with others by request id.

        An empty or blank request id is no id. A row without one cannot be merged: an
        fnlens invocation record is a whole invocation and is kept as its own row, a
        partial row from any other source (a span, a log line) is not an invocation.
        """
        request_id = row.get("request_id")
        if isinstance(request_id, str) and not request_id.strip():
            request_id = row["request_id"] = None
        if request_id is None and source != "fnlens":
            return
        row["source"] = source
        row.setdefault("_rank", RANK[source])
        if row.get("_line") is not None:
            row["_file"] = self.file_number
        if row.get("version") is None:
            row["version"] = row.get("service_version") or row.get("function_version")
        self.add("invocations", row)

    def span(self, row: dict[str, Any]) -> None:
        self.add("spans", row)

    def log(self, row: dict[str, Any]) -> None:
        """A log row; ``source_index`` numbers the rows read from one source line."""
        where = (row.get("source_file"), row.get("source_line"))
        if where == self._log_where:
            self._log_index += 1
        else:
            self._log_where, self._log_index = where, 0
        row["source_index"] = self._log_index
        self.add("logs", row)

    def _flush(self, table: str) -> None:
        rows = self._rows[table]
        if not rows:
            return
        import pyarrow as pa

        self._flush_fn(table, pa.Table.from_pylist(rows, schema=arrow_schema(table)))
        self._rows[table] = []
        self._text[table] = 0

    def flush(self) -> None:
        for table in STAGE_COLUMNS:
            self._flush(table)
