"""Bulk ingest on Spark: fnlens JSONL and Lambda platform text into the Parquet layout.

The two formats that carry the volume are parsed by Spark SQL expressions (no Python per
row), written as the same columns ``fnlens ingest`` produces, and merged by request id
with the same precedence as the DuckDB loader (:mod:`fnlens.analysis._loader`): per
column, the value of the highest-ranked source that has one (fnlens > REPORT text; a
START line ranks just above its REPORT), the outcome by rank then severity (timeout >
error > success), ``version`` from the winning ``service_version`` else
``function_version``, ``source`` the sorted set of contributing sources. Rows already in
the layout take part in the merge at the rank of their best source, less 5, exactly as
stored rows do in DuckDB. The ``invocations`` folder is replaced by the merged result.

What Spark ingest does not do (use ``fnlens ingest`` and ``fnlens export``): other formats,
and log lines (counted and reported, never dropped silently). A malformed line is
counted and shown with its file; the valid lines of the file are all kept.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnlens.analysis._formats.lambda_text import TIMEOUT_RANK
from fnlens.analysis._merge import ATTEMPT_GAP
from fnlens.analysis._parquet import (
    LAYOUT_FILE,
    UNKNOWN_PARTITION,
    check_layout,
    table_dir,
    write_manifest,
)
from fnlens.analysis._schema import INVOCATIONS_COLUMNS
from fnlens.analysis._sink import RANK
from fnlens.exceptions import SparkIngestError

__all__ = ["SparkIngestError", "SparkIngestReport", "spark_ingest"]

SPARK_FORMATS = ("fnlens-jsonl", "lambda-text")
_EXAMPLES = 5
_KNOWN_SOURCES = sorted(RANK.items(), key=lambda item: item[1])


@dataclass
class SparkIngestReport:
    """What one Spark ingest run read and wrote."""

    files: dict[str, str] = field(default_factory=dict)  # path -> format
    invocation_records: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    log_lines_skipped: int = 0
    invocations: int = 0  # rows in the layout after the merge

    def summary_lines(self) -> list[str]:
        lines = [f"{path} [{fmt}]" for path, fmt in self.files.items()]
        lines.append(f"{self.invocation_records} invocation records read on Spark")
        if self.malformed:
            lines.append(f"{self.malformed} malformed lines skipped, e.g.:")
            lines.extend(f"  {e}" for e in self.malformed_examples)
        if self.log_lines_skipped:
            lines.append(
                f"{self.log_lines_skipped} log lines not ingested on Spark "
                "(Spark ingest loads invocations; load logs with `fnlens ingest`)"
            )
        lines.append(f"tables: invocations {self.invocations}")
        return lines


def _detect(path: Path) -> str:
    """fnlens-jsonl or lambda-text from the file's first line, else a clear error."""
    from fnlens.analysis._formats.fnlens_jsonl import is_fnlens_record
    from fnlens.analysis._formats.lambda_text import looks_like_lambda_text

    with open(path, "rb") as raw:  # the gzip magic: two bytes, not the whole file
        magic = raw.read(2)
    opener: Any = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.strip()
            if not text:
                continue
            if text.startswith("{"):
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                if isinstance(obj, dict) and is_fnlens_record(obj):
                    return "fnlens-jsonl"
            elif looks_like_lambda_text(text):
                return "lambda-text"
            raise SparkIngestError(
                f"{path}:1: not a format Spark ingest reads (tried: {', '.join(SPARK_FORMATS)}); "
                "load it with `fnlens ingest`"
            )
    return "empty"


# --- fnlens JSONL -------------------------------------------------------------------

_JSONL_SCHEMA = (
    "timestamp STRING, level STRING, event STRING, service STRING, function_name STRING, "
    "function_version STRING, function_alias STRING, service_version STRING, "
    "request_id STRING, trace_id STRING, xray_trace_id STRING, cold_start BOOLEAN, "
    "init_type STRING, init_duration_ms DOUBLE, duration_ms DOUBLE, outcome STRING, "
    "error_type STRING, error_message STRING, trigger STRING, http_method STRING, "
    "http_route STRING, http_status_code INT, region STRING, memory_limit_mb INT, "
    "cloud_provider STRING, "
    "_corrupt STRING"
)
_XRAY = "'1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})'"


def _timestamp(expr: str) -> str:
    """ISO 8601 (``Z`` or an offset) or epoch s/ms/us/ns digits -> TIMESTAMP_NTZ in UTC."""
    digits = f"CAST({expr} AS DECIMAL(38, 0))"
    epoch = (
        f"CASE WHEN {digits} > 1e17 THEN timestamp_micros(CAST({digits} DIV 1000 AS BIGINT)) "
        f"WHEN {digits} > 1e14 THEN timestamp_micros(CAST({digits} AS BIGINT)) "
        f"WHEN {digits} > 1e11 THEN timestamp_millis(CAST({digits} AS BIGINT)) "
        f"ELSE timestamp_seconds({digits}) END"
    )
    return (
        f"CAST(CASE WHEN {expr} RLIKE '^[0-9]+$' THEN {epoch} "
        f"ELSE try_to_timestamp({expr}) END AS TIMESTAMP_NTZ)"
    )


def _jsonl_invocations(spark: Any, files: list[str]) -> tuple[Any, Callable[[Any], Any]]:
    """fnlens JSONL: its parsed lines (``_bad_line``, ``_log``) and their invocation rows."""
    raw = spark.read.text(files).selectExpr("value", "input_file_name() AS _file")
    parsed = raw.where("trim(value) <> ''").selectExpr(
        "_file",
        "value",
        f"from_json(value, '{_JSONL_SCHEMA}', "
        "map('mode', 'PERMISSIVE', 'columnNameOfCorruptRecord', '_corrupt')) AS r",
    )
    bad = "r IS NULL OR r._corrupt IS NOT NULL OR r.event IS NULL OR r.timestamp IS NULL"
    ts = _timestamp("r.timestamp")
    parsed = parsed.selectExpr("_file", "value", "r", f"{bad} AS _bad", f"{ts} AS _ts")
    parsed = parsed.selectExpr(
        "*",
        "_bad OR (r.timestamp IS NOT NULL AND _ts IS NULL) AS _malformed",
        "NOT _bad AND r.event = 'invocation' AND "
        "(r.request_id IS NOT NULL OR r.outcome IS NOT NULL) AS _invocation",
    )
    lines = parsed.selectExpr(
        "*",
        "CASE WHEN _malformed THEN value END AS _bad_line",
        "NOT _malformed AND NOT _invocation AS _log",
    )

    def rows(frame: Any) -> Any:
        return _complete(
            frame.where("NOT _malformed AND _invocation")
            .selectExpr(
                "_ts AS ts",
                "r.service",
                "r.function_name",
                "r.function_version",
                "r.function_alias",
                "r.service_version",
                "coalesce(nullif(r.service_version, ''), r.function_version) AS version",
                # a blank id is no id
                "CASE WHEN trim(r.request_id) <> '' THEN r.request_id END AS request_id",
                f"coalesce(nullif(r.trace_id, ''), CASE WHEN r.xray_trace_id RLIKE {_XRAY} THEN "
                f"lower(concat(regexp_extract(r.xray_trace_id, {_XRAY}, 1), "
                f"regexp_extract(r.xray_trace_id, {_XRAY}, 2))) END, r.trace_id) AS trace_id",
                "r.cold_start",
                "r.init_type",
                "r.init_duration_ms",
                "r.duration_ms",
                "CAST(NULL AS DOUBLE) AS billed_duration_ms",
                "r.memory_limit_mb AS memory_size_mb",
                "CAST(NULL AS INT) AS max_memory_used_mb",
                "r.outcome",
                "r.error_type",
                "r.error_message",
                "r.trigger",
                "r.http_method",
                "r.http_route",
                "r.http_status_code",
                "r.region",
                "r.cloud_provider",
                "CAST(NULL AS STRING) AS log_stream",
                "'fnlens' AS source",
                f"CAST({RANK['fnlens']} AS DOUBLE) AS _rank",
            )
            .drop("version")
        )

    return lines, rows


# --- Lambda platform text -------------------------------------------------------------

_TS_TEXT = r"\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:?\\d{2})?"
_STREAM_TEXT = r"\\d{4}/\\d{2}/\\d{2}/\\[([^\\]]*)\\][0-9a-zA-Z]+"
_PREFIXES = (
    rf"'^((?:(?:{_TS_TEXT}|{_STREAM_TEXT.replace('(', '(?:', 1)})[ \\t]+){{0,3}})([\\s\\S]*)$'"
)
_TS_ANY = rf"'({_TS_TEXT})[ \\t]'"
_STREAM_ANY = rf"'({_STREAM_TEXT})[ \\t]'"
# S3 exports: <prefix>/<task>/<log stream>/000000.gz names the stream for the whole file
_PATH_STREAM = r"'(\\d{4}/\\d{2}/\\d{2}/\\[([^\\]/]*)\\][0-9a-zA-Z]+)(?=/)'"
_file_path = "url_decode(replace(_file, '+', '%2B'))"
_FIELD_LOOKBEHIND = {
    "Duration": "(?<!Billed )(?<!Init )(?<!Restore )",
    "Restore Duration": "(?<!Billed )",
}
_REPORT_FIELDS = (
    "Billed Restore Duration",
    "Restore Duration",
    "Billed Duration",
    "Init Duration",
    "Max Memory Used",
    "Memory Size",
    "Duration",
    "XRAY TraceId",
    "Status",
    "Error Type",
)


def _field(name: str) -> str:
    behind = _FIELD_LOOKBEHIND.get(name, "")
    pattern = f"'(?:^|(?<=\\\\s)){behind}{name}:\\\\s*(\\\\S+)'"
    return f"nullif(regexp_extract(_rest, {pattern}, 1), '')"


def _text_invocations(spark: Any, files: list[str]) -> tuple[Any, Callable[[Any], Any]]:
    """Lambda platform text: its parsed lines (``_bad_line``, ``_log``) and their rows."""
    frame = (
        spark.read.text(files)
        .selectExpr("value", "input_file_name() AS _file")
        .where("trim(value) <> ''")
        .selectExpr(
            "_file",
            "value",
            "value AS _msg",
            "CAST(NULL AS TIMESTAMP_NTZ) AS _ts",
            "false AS _bad_ts",
            f"nullif(regexp_extract({_file_path}, {_PATH_STREAM}, 1), '') AS _stream",
            f"nullif(regexp_extract({_file_path}, {_PATH_STREAM}, 2), '') AS _stream_version",
        )
    )
    # up to three leading timestamps / stream names, in any order (S3 exports of a timeout
    # line carry two timestamps); the last of each kind is the one the line means
    frame = frame.selectExpr(
        "_file",
        "value",
        f"regexp_extract(value, {_PREFIXES}, 1) AS _prefix",
        f"regexp_extract(value, {_PREFIXES}, 2) AS _msg",
        "_stream AS _path_stream",
        "_stream_version AS _path_version",
    ).selectExpr(
        "_file",
        "value",
        "_msg",
        f"CAST(try_to_timestamp(try_element_at(regexp_extract_all(_prefix, {_TS_ANY}, 1), -1)) "
        "AS TIMESTAMP_NTZ) AS _ts",
        f"coalesce(try_element_at(regexp_extract_all(_prefix, {_STREAM_ANY}, 1), -1), "
        "_path_stream) AS _stream",
        f"coalesce(try_element_at(regexp_extract_all(_prefix, {_STREAM_ANY}, 2), -1), "
        "_path_version) AS _stream_version",
    )
    frame = frame.selectExpr(
        "_file",
        "value",
        "_ts",
        "_stream",
        "_stream_version",
        "rtrim(_msg) AS _msg",
    ).selectExpr(
        "*",
        "CASE WHEN _msg RLIKE '^REPORT RequestId: \\\\S+' THEN 'report' "
        "WHEN _msg RLIKE '^START RequestId: \\\\S+' THEN 'start' "
        "WHEN _msg RLIKE '^END RequestId: \\\\S+' THEN 'end' "
        "WHEN _msg RLIKE '^(?:\\\\S+\\\\s+)?Task timed out after\\\\s+[\\\\d.]+\\\\s+seconds' "
        "THEN 'timeout' "
        "WHEN _msg RLIKE "
        "'^(?:RequestId: \\\\S+\\\\s+)?Error: Runtime exited (?:with error|without)' "
        "THEN 'crash' ELSE 'log' END AS _kind",
        "regexp_extract(_msg, '^REPORT RequestId: \\\\S+([\\\\s\\\\S]*)$', 1) AS _rest",
    )
    fields = {name: _field(name) for name in _REPORT_FIELDS}
    frame = frame.selectExpr(
        "*",
        *(f"{expr} AS `_f_{name}`" for name, expr in fields.items()),
    ).selectExpr(
        "*",
        "try_cast(`_f_Duration` AS DOUBLE) AS _duration",
        "try_cast(`_f_Billed Duration` AS DOUBLE) AS _billed",
        "try_cast(`_f_Init Duration` AS DOUBLE) AS _init",
        "try_cast(`_f_Memory Size` AS DOUBLE) AS _memory",
        "try_cast(`_f_Max Memory Used` AS DOUBLE) AS _used",
    )
    numbers_bad = " OR ".join(
        f"(`_f_{name}` IS NOT NULL AND {col} IS NULL)"
        for name, col in (
            ("Duration", "_duration"),
            ("Billed Duration", "_billed"),
            ("Init Duration", "_init"),
            ("Memory Size", "_memory"),
            ("Max Memory Used", "_used"),
        )
    )
    frame = frame.selectExpr(
        "*",
        f"_kind = 'report' AND (`_f_Duration` IS NULL OR {numbers_bad}) AS _malformed",
    )
    lines = frame.selectExpr(
        "*",
        "CASE WHEN _malformed THEN value END AS _bad_line",
        "_kind IN ('log', 'timeout', 'crash') AS _log",
    )
    outcome = (
        "CASE lower(coalesce(`_f_Status`, '')) WHEN 'timeout' THEN 'timeout' "
        "WHEN 'error' THEN 'error' WHEN 'failure' THEN 'error' ELSE 'success' END"
    )

    def xray(group: int) -> str:
        return f"regexp_extract(`_f_XRAY TraceId`, {_XRAY}, {group})"

    timeout_re = "'^(?:(\\\\S+)\\\\s+)?Task timed out after\\\\s+([\\\\d.]+)'"
    # when it started: the line's time less the timeout (it places the record's attempt)
    timeout_s = f"try_cast(regexp_extract(_msg, {timeout_re}, 2) AS DOUBLE)"
    timeout_ts = (
        f"CASE WHEN {timeout_s} >= 0 AND {timeout_s} < 1e6 THEN CAST(timestamp_micros("
        f"unix_micros(CAST(_ts AS TIMESTAMP)) - CAST(bround({timeout_s} * 1000D * 1000D) "
        "AS BIGINT)) AS TIMESTAMP_NTZ) END"
    )
    crash_detail = "regexp_extract(_msg, '^(?:RequestId: \\\\S+\\\\s+)?Error: ([\\\\s\\\\S]*)$', 1)"
    rid = (
        "CASE _kind WHEN 'report' THEN regexp_extract(_msg, '^REPORT RequestId: (\\\\S+)', 1) "
        "WHEN 'start' THEN regexp_extract(_msg, '^START RequestId: (\\\\S+)', 1) "
        f"WHEN 'timeout' THEN regexp_extract(_msg, {timeout_re}, 1) "
        "WHEN 'crash' THEN regexp_extract(_msg, '^RequestId: (\\\\S+)\\\\s+Error: ', 1) END"
    )
    report_only = {
        "duration_ms": "_duration",
        "billed_duration_ms": "_billed",
        "memory_size_mb": "CAST(_memory AS INT)",
        "max_memory_used_mb": "CAST(_used AS INT)",
        "init_duration_ms": "_init",
        "restore_duration_ms": "try_cast(`_f_Restore Duration` AS DOUBLE)",
        "billed_restore_duration_ms": "try_cast(`_f_Billed Restore Duration` AS DOUBLE)",
        "cold_start": "_init IS NOT NULL OR `_f_Restore Duration` IS NOT NULL",
        "init_type": "CASE WHEN `_f_Restore Duration` IS NOT NULL THEN 'snap-start' END",
        "trace_id": f"CASE WHEN `_f_XRAY TraceId` RLIKE {_XRAY} "
        f"THEN lower(concat({xray(1)}, {xray(2)})) END",
    }

    def rows(frame: Any) -> Any:
        """One record per REPORT, START, timeout and crash line, in one pass over the lines.

        A REPORT gives the platform's figures (its time is the line's less the duration);
        a START its time and version; a timeout or crash line (with a request id) the
        outcome, placed at the line's time less the timeout (a crash line has no time).
        """
        kept = frame.selectExpr("*", f"{rid} AS _rid").where(
            "(_kind = 'report' AND NOT _malformed) OR _kind = 'start' "
            "OR (_kind IN ('timeout', 'crash') AND _rid <> '')"
        )
        kept = kept.selectExpr(
            "*",
            f"CASE WHEN _kind = 'report' THEN {outcome} END AS _outcome",
            f"CASE WHEN _kind = 'crash' THEN split({crash_detail}, '\\\\r?\\\\n') END AS _d",
        )
        return _complete(
            kept.selectExpr(
                "CASE _kind WHEN 'report' THEN CAST(timestamp_micros(unix_micros(CAST(_ts AS "
                "TIMESTAMP)) - CAST(bround(_duration * 1000D) AS BIGINT)) AS TIMESTAMP_NTZ) "
                f"WHEN 'start' THEN _ts WHEN 'timeout' THEN {timeout_ts} END AS ts",
                "_rid AS request_id",
                *(
                    f"CASE WHEN _kind = 'report' THEN {e} END AS {c}"
                    for c, e in report_only.items()
                ),
                "CASE _kind WHEN 'report' THEN _outcome WHEN 'timeout' THEN 'timeout' "
                "WHEN 'crash' THEN 'error' END AS outcome",
                "CASE _kind WHEN 'report' THEN coalesce(`_f_Error Type`, CASE WHEN "
                "_outcome = 'timeout' THEN 'Sandbox.Timedout' END) "
                "WHEN 'timeout' THEN 'Sandbox.Timedout' "
                "WHEN 'crash' THEN CASE WHEN size(_d) > 1 THEN trim(element_at(_d, -1)) "
                "ELSE 'Runtime.ExitError' END END AS error_type",
                "CASE _kind WHEN 'timeout' THEN trim(substring(_msg, length(_rid) + 1)) "
                "WHEN 'crash' THEN trim(_d[0]) END AS error_message",
                "_stream AS log_stream",
                "CASE WHEN _kind = 'start' THEN coalesce(nullif(regexp_extract(_msg, "
                "'^START RequestId: \\\\S+\\\\s+Version: (\\\\S+)', 1), ''), _stream_version) "
                "ELSE _stream_version END AS function_version",
                f"CAST(CASE _kind WHEN 'report' THEN {RANK['report']} WHEN 'start' THEN 41 "
                f"ELSE {TIMEOUT_RANK} END AS DOUBLE) AS _rank",
            )
        )

    return lines, rows


def _complete(frame: Any) -> Any:
    """All invocation columns (missing ones NULL), ``version`` and ``source`` filled in."""
    present = set(frame.columns)
    exprs = []
    for name, sql_type in INVOCATIONS_COLUMNS.items():
        if name == "version":
            continue
        if name == "source" and "source" not in present:
            exprs.append("'report' AS source")
        elif name in present:
            exprs.append(f"`{name}`")
        else:
            exprs.append(f"CAST(NULL AS {_spark_type(sql_type)}) AS `{name}`")
    exprs.append("_rank")
    out = frame.selectExpr(*exprs)
    out = out.selectExpr("*", "coalesce(nullif(service_version, ''), function_version) AS version")
    return out.select(*INVOCATIONS_COLUMNS, "_rank")


def _spark_type(sql_type: str) -> str:
    return {"VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP_NTZ", "INTEGER": "INT"}.get(
        sql_type, sql_type
    )


# --- the merge by request id and attempt ---------------------------------------------


_SEVERITY = "CASE outcome WHEN 'timeout' THEN 0 WHEN 'error' THEN 1 WHEN 'success' THEN 2 END"
_EXISTING_RANK = (
    "CASE "
    + " ".join(
        f"WHEN array_contains(split(source, '[+]'), '{name}') THEN {rank}"
        for name, rank in _KNOWN_SOURCES
    )
    + " ELSE 90 END - 5"
)
_GAP_US = {"INTERVAL 10 SECOND": 10_000_000}[ATTEMPT_GAP]  # the DuckDB loader's attempt gap
_RECORD = [c for c in INVOCATIONS_COLUMNS if c != "attempt"]
# a record's content hash: the last tie-break, so the order lines were read never matters
_CONTENT = "xxhash64(" + ", ".join(f"`{c}`" for c in _RECORD) + ")"


def merge_invocations(rows: Any) -> Any:
    """The DuckDB loader's merge (:mod:`fnlens.analysis._merge`) in Spark SQL.

    One row per request id and attempt: records of an id whose spans ``[ts, ts +
    duration]`` come within the attempt gap of each other are one attempt, a later one
    the next; records without a time join their id's latest attempt. Within an attempt
    each column comes from the first record (by rank, then outcome severity) that has a
    value. Rows without a request id are kept one by one; an identical one that is
    already stored (``_origin = 1``) as often is not added again.

    One shuffle: the records are hash-partitioned once by their key (the request id; a
    row without one by its content hash) and sorted by it within each partition, where a
    window counts each key's records. A key with one record, nearly every one, is its own
    row, computed on the row; only keys with several records are sorted by time into
    attempt windows and grouped. The result keeps ``_rank`` and ``_origin`` (see
    :func:`_merge_and_write`: every branch reads the same columns of the one exchange).
    """
    keyed = rows.selectExpr(
        "*",
        "coalesce(request_id, '') AS _key",  # a blank id is never stored: '' is no id
        f"CASE WHEN request_id IS NULL THEN {_CONTENT} ELSE 0 END AS _h",
    ).repartition("_key", "_h")
    counted = keyed.selectExpr("*", "count(1) OVER (PARTITION BY _key, _h) AS _n")
    single = counted.where("_n = 1").selectExpr(*_single_sql(), "1 AS attempt", "_rank", "_origin")
    merged = _merge_several(counted.where("_n > 1"))
    kept = [*INVOCATIONS_COLUMNS, "_rank", "_origin"]
    return single.select(*kept).unionByName(merged.select(*kept))


def _single_sql() -> list[str]:
    """What :func:`_merge_several` gives for a key's only record, computed on the row."""
    exprs = []
    for col in _RECORD:
        if col == "source":
            expr = "coalesce(array_join(array_sort(array_distinct(split(source, '[+]'))), '+'), '')"
        elif col == "version":
            expr = "coalesce(nullif(service_version, ''), function_version)"
        elif col in ("error_type", "error_message"):
            expr = f"CASE WHEN outcome IS NOT NULL THEN {col} END"
        else:
            exprs.append(f"`{col}`")
            continue
        exprs.append(f"CASE WHEN request_id IS NULL THEN `{col}` ELSE {expr} END AS `{col}`")
    return exprs


def _merge_several(several: Any) -> Any:
    """Keys with several records: attempts by windows over one sort, then one GROUP BY.

    Per key, ordered by start (records without a time last): a record more than the gap
    after the farthest end before it starts the next attempt, and one without a time gets
    the running count, which is its id's latest attempt. Rows without an id (a key of
    identical records) keep every stored copy and as many new ones as exceed them, each
    its own group.
    """
    from pyspark.sql.functions import expr

    end_us = "CAST(bround(coalesce(greatest(duration_ms, 0D), 0D) * 1000D) AS BIGINT)"
    spans = several.selectExpr(
        "*",
        "unix_micros(CAST(ts AS TIMESTAMP)) AS _start",
        f"unix_micros(CAST(ts AS TIMESTAMP)) + {end_us} AS _end",
    )
    order = "PARTITION BY _key, _h ORDER BY _start ASC NULLS LAST, _end ASC"
    edges = spans.selectExpr(
        "*",
        f"max(_end) OVER ({order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _reach",
        "count_if(_origin = 1) OVER (PARTITION BY _key, _h) AS _stored",
    )
    new_attempt = (
        f"CASE WHEN _start IS NULL THEN 0 WHEN _reach IS NULL OR _start > _reach + {_GAP_US} "
        "THEN 1 ELSE 0 END"
    )
    dated = edges.selectExpr(
        "*",
        f"sum({new_attempt}) OVER ({order} ROWS UNBOUNDED PRECEDING) AS _run",
        f"count_if(_origin = 0) OVER ({order} ROWS UNBOUNDED PRECEDING) AS _new_copy",
        f"row_number() OVER ({order}) AS _copy",
    )
    grouped = dated.where("request_id IS NOT NULL OR _origin = 1 OR _new_copy > _stored")
    grouped = grouped.selectExpr(
        "*",
        "CASE WHEN request_id IS NULL THEN _copy ELSE greatest(_run, 1) END AS _group",
        f"named_struct('rank', _rank, 'severity', coalesce({_SEVERITY}, 3), "
        f"'hash', {_CONTENT}) AS _ord",
    )
    aggs = []
    for col in _RECORD:
        if col == "request_id":
            continue
        if col == "source":
            agg = (
                "array_join(array_sort(array_distinct(flatten(collect_list("
                "split(source, '[+]'))))), '+')"
            )
        elif col == "version":
            agg = (
                "CASE WHEN _key = '' THEN first(version) ELSE coalesce(nullif(min_by("
                "service_version, CASE WHEN service_version IS NOT NULL THEN _ord END), ''), "
                "min_by(function_version, CASE WHEN function_version IS NOT NULL THEN _ord END)) "
                "END"
            )
        elif col in ("error_type", "error_message"):  # from the record that gave outcome
            agg = (
                f"CASE WHEN _key = '' THEN first({col}) "
                f"ELSE min_by({col}, CASE WHEN outcome IS NOT NULL THEN _ord END) END"
            )
        else:
            agg = f"min_by({col}, CASE WHEN {col} IS NOT NULL THEN _ord END)"
        aggs.append(expr(agg).alias(col))
    aggs += [expr("min(_rank)").alias("_rank"), expr("max(_origin)").alias("_origin")]
    out = grouped.groupBy("_key", "_h", "_group").agg(*aggs)
    return out.selectExpr(
        "*",
        "nullif(_key, '') AS request_id",
        "CAST(CASE WHEN _key = '' THEN 1 ELSE _group END AS INT) AS attempt",
    )


# --- the run --------------------------------------------------------------------------


def spark_ingest(
    spark: Any,
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    strict: bool = False,
) -> SparkIngestReport:
    """Read fnlens JSONL and Lambda text ``paths`` on ``spark``; merge into ``out_dir``."""
    from fnlens.analysis.ingest import expand_paths
    from fnlens.exceptions import IngestError

    try:
        files = expand_paths(paths)
    except IngestError as exc:
        raise SparkIngestError(str(exc)) from None
    report = SparkIngestReport()
    by_format: dict[str, list[str]] = {fmt: [] for fmt in SPARK_FORMATS}
    for path in files:
        fmt = _detect(path)
        report.files[str(path)] = fmt
        if fmt != "empty":
            by_format[fmt].append(_hadoop_literal(path.resolve()))
    existed = check_layout(out_dir, for_writing=True)
    readers = {"fnlens-jsonl": _jsonl_invocations, "lambda-text": _text_invocations}
    formats = [readers[fmt](spark, names) for fmt, names in by_format.items() if names]
    if not formats:
        raise SparkIngestError("no input lines to ingest")
    return _merge_and_write(spark, formats, report, out_dir, existed, strict)


def _merge_and_write(
    spark: Any,
    formats: list[tuple[Any, Callable[[Any], Any]]],
    report: SparkIngestReport,
    out_dir: str | os.PathLike[str],
    existed: bool,
    strict: bool,
) -> SparkIngestReport:
    """Parse, tally, merge and write in one Spark job (one read of the input, one shuffle).

    The malformed and log-line tallies, the record count and the rows written are
    observed metrics of that job (``DataFrame.observe``), not jobs of their own; only
    when a line was malformed does a small job fetch a few examples (``--strict``
    looks for one before anything is written).
    """
    from pyspark.sql import Observation
    from pyspark.sql.functions import expr

    from fnlens.analysis._spark import register_views

    lines = [frame for frame, _ in formats]
    if strict and _malformed_examples(lines, report, limit=1):
        raise SparkIngestError(f"malformed line: {report.malformed_examples[0]}")
    tallies, parts = [], []
    for frame, to_rows in formats:
        tallies.append(Observation())
        observed = frame.observe(
            tallies[-1],
            expr("count(_bad_line)").alias("bad"),
            expr("count_if(_log)").alias("logs"),
        )
        parts.append(to_rows(observed))
    staged = parts[0]
    for p in parts[1:]:
        staged = staged.unionByName(p)
    records = Observation()
    staged = staged.observe(records, expr("count(1)").alias("n")).selectExpr("*", "0 AS _origin")
    out = Path(out_dir)
    target = table_dir(out, "invocations")
    if existed and target.is_dir() and any(target.rglob("*.parquet")):
        register_views(spark, out)
        stored = spark.sql(
            f"SELECT {', '.join(INVOCATIONS_COLUMNS)}, CAST({_EXISTING_RANK} AS DOUBLE) AS _rank, "
            "1 AS _origin FROM invocations"
        )
        staged = staged.unionByName(stored)
    written = Observation()
    # the merge's branches (one record per key, several) read one shuffle of the records;
    # Spark reuses it only if both read the same columns of it, so _rank and _origin are
    # kept to here (observed: the best rank written, whether stored rows took part)
    merged = merge_invocations(staged).observe(
        written,
        expr("count(1)").alias("n"),
        expr("min(_rank)").alias("rank"),
        expr("max(_origin)").alias("origin"),
    )
    tmp = out / f"_tmp-invocations-{uuid.uuid4().hex}"
    (
        merged.selectExpr(
            *INVOCATIONS_COLUMNS,
            f"coalesce(date_format(ts, 'yyyy-MM-dd'), '{UNKNOWN_PARTITION}') AS date",
            f"coalesce(function_name, '{UNKNOWN_PARTITION}') AS function",
        )
        .write.mode("overwrite")
        .partitionBy("date", "function")
        .option("compression", "zstd")
        .parquet(str(tmp))
    )
    spark.catalog.dropTempView("invocations")
    if target.exists():
        shutil.rmtree(target)
    out.mkdir(parents=True, exist_ok=True)
    tmp.rename(target)
    # Hadoop's commit marker and local checksum files are no part of the layout
    for marker in [*target.rglob("_SUCCESS"), *target.rglob(".*.crc")]:
        marker.unlink()
    if not (out / LAYOUT_FILE).exists():
        write_manifest(out)
    report.invocation_records = int(records.get["n"])
    report.invocations = int(written.get["n"])
    report.malformed = sum(int(t.get["bad"]) for t in tallies)
    report.log_lines_skipped = sum(int(t.get["logs"]) for t in tallies)
    if report.malformed:
        _malformed_examples(lines, report, limit=_EXAMPLES)
    return report


def _malformed_examples(lines: list[Any], report: SparkIngestReport, *, limit: int) -> int:
    """Up to ``limit`` malformed lines, with their file, into the report; how many found."""
    tally = lines[0]
    for frame in lines[1:]:
        tally = tally.unionByName(frame, allowMissingColumns=True)
    examples = tally.where("_bad_line IS NOT NULL").select("_file", "_bad_line").limit(limit)
    report.malformed_examples = [
        f"{Path(_local(r['_file'])).name}: {r['_bad_line'][:120]!r}" for r in examples.collect()
    ]
    return len(report.malformed_examples)


def _hadoop_literal(path: Path) -> str:
    """A file path Hadoop reads as itself: its glob characters escaped (``[$LATEST]``)."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", str(path))


def _local(uri: str) -> str:
    return uri.removeprefix("file:")
