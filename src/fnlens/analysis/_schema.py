"""The analysis schema: three tables every input format is loaded into (docs/ingest.md).

Canned queries read only these tables. Column names are a public contract:
dashboards, reports and users' own SQL depend on them.
"""

from __future__ import annotations

INVOCATIONS_COLUMNS: dict[str, str] = {
    "ts": "TIMESTAMP",  # invocation start, UTC
    "service": "VARCHAR",
    "function_name": "VARCHAR",
    "function_version": "VARCHAR",
    "function_alias": "VARCHAR",
    "service_version": "VARCHAR",
    "version": "VARCHAR",  # the version to break down by: service_version, else function_version
    "request_id": "VARCHAR",
    "trace_id": "VARCHAR",
    "cold_start": "BOOLEAN",
    "init_type": "VARCHAR",
    "init_duration_ms": "DOUBLE",
    "duration_ms": "DOUBLE",
    "billed_duration_ms": "DOUBLE",
    "memory_size_mb": "INTEGER",
    "max_memory_used_mb": "INTEGER",
    "outcome": "VARCHAR",  # success | error | timeout
    "error_type": "VARCHAR",
    "error_message": "VARCHAR",
    "trigger": "VARCHAR",
    "http_method": "VARCHAR",
    "http_route": "VARCHAR",
    "http_status_code": "INTEGER",
    "region": "VARCHAR",
    "log_stream": "VARCHAR",
    "source": "VARCHAR",  # which inputs contributed, e.g. "fnlens+report"
    # added later (ALTER TABLE on older databases, see upgrade_sql): SnapStart restore,
    # and what the Telemetry API's platform.runtimeDone tells about the response
    "restore_duration_ms": "DOUBLE",
    "billed_restore_duration_ms": "DOUBLE",
    "produced_bytes": "BIGINT",
    "response_latency_ms": "DOUBLE",
    "response_duration_ms": "DOUBLE",
    "runtime_overhead_ms": "DOUBLE",
    # 1, 2, ... for the attempts of one request id in start order: Lambda retries an
    # asynchronous invocation with the same request id, and each attempt is its own row
    "attempt": "INTEGER",
    # aws | gcp | azure: the fnlens record's field, or the platform an export came from
    "cloud_provider": "VARCHAR",
}

SPANS_COLUMNS: dict[str, str] = {
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "parent_span_id": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",  # SERVER | CLIENT | INTERNAL | PRODUCER | CONSUMER | UNSPECIFIED
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "duration_ms": "DOUBLE",
    "status_code": "VARCHAR",  # UNSET | OK | ERROR
    "status_message": "VARCHAR",
    "service": "VARCHAR",
    "attributes": "MAP(VARCHAR, VARCHAR)",
    "resource_attributes": "MAP(VARCHAR, VARCHAR)",
    "source": "VARCHAR",
}

LOGS_COLUMNS: dict[str, str] = {
    "ts": "TIMESTAMP",
    "level": "VARCHAR",
    "message": "VARCHAR",
    "request_id": "VARCHAR",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "service": "VARCHAR",
    "function_name": "VARCHAR",
    "attributes": "JSON",
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
    # position among the log rows read from the same source line (a JSON page or OTLP
    # request holds many records); keeps records with equal ts and message apart
    "source_index": "INTEGER",
}

TABLES: dict[str, dict[str, str]] = {
    "invocations": INVOCATIONS_COLUMNS,
    "spans": SPANS_COLUMNS,
    "logs": LOGS_COLUMNS,
}


def upgrade_sql(table: str, existing: set[str]) -> list[str]:
    """ALTER statements adding the columns a table created by an older fnlens lacks.

    Columns are only ever appended, so older databases keep working after an upgrade.
    """
    return [
        f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"
        for name, sql_type in TABLES[table].items()
        if name not in existing
    ]


def create_table_sql(table: str, *, if_not_exists: bool = True) -> str:
    """DDL for one of the three tables."""
    columns = TABLES[table]
    body = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    guard = "IF NOT EXISTS " if if_not_exists else ""
    return f"CREATE TABLE {guard}{table} (\n  {body}\n)"
