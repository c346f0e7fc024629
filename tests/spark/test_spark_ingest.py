"""Spark bulk ingest of fnlens JSONL and Lambda REPORT text gives ``fnlens ingest``'s rows.

The inputs are written here in the shapes AWS documents: platform lines as in a
CloudWatch Logs export to S3 (a timestamp before each message, the log stream in the
object's path, gzip), REPORT lines with Init Duration, X-Ray ids, SnapStart restore
figures and ``Status: timeout``, "Task timed out" and runtime-crash lines, and fnlens
invocation records with the fields of docs/middleware.md. Most requests appear in both
formats (the merge by request id), some in one only; a few lines are malformed.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fnlens.analysis._parquet import duckdb_views
from fnlens.analysis._schema import INVOCATIONS_COLUMNS
from fnlens.analysis._spark_ingest import SparkIngestError, spark_ingest
from fnlens.analysis.db import connect
from fnlens.analysis.ingest import ingest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

START = datetime(2026, 11, 22, 23, 50, 0)  # crosses midnight: two date partitions
STREAM = "2026/11/22/[7]8a1c9e0b2f3d4c5e"


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z"


RETRY_AFTER = timedelta(seconds=75)  # Lambda retries an async invocation a minute or more later


def _attempts(i: int) -> int:
    """How many attempts request i gets: a few are retried once, some twice."""
    return 1 + (i % 11 == 1) + (i % 33 == 1)


def write_inputs(root: Path, n: int = 240, seed: int = 5) -> dict[str, Any]:
    """Write the JSONL and text inputs; returns what they hold, counted here.

    Every attempt of a retried request id has its own fnlens record and/or START/REPORT
    lines (the earlier attempts timed out). A few fnlens records have a blank or no request
    id (two of them identical). The JSONL lines are shuffled and the text requests come in
    shuffled order, so nothing depends on the order records are read in.
    """
    rng = random.Random(seed)
    jsonl, blocks = [], []
    rids: set[str] = set()
    attempts = 0
    for i in range(n):
        rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rids.add(rid)
        first = START + timedelta(milliseconds=rng.randrange(20 * 60 * 1000))
        where = "both" if i % 5 else ("fnlens" if i % 10 else "text")
        tries = _attempts(i)
        attempts += tries
        for attempt in range(tries):
            retried = attempt < tries - 1
            start = first + attempt * RETRY_AFTER
            cold = i % 9 == 0 and attempt == 0
            init = round(rng.uniform(150, 700), 2) if cold else None
            timeout = i % 23 == 0 or retried
            crash = i % 31 == 5
            duration = 3000.0 if timeout else round(rng.uniform(1, 900), 2)
            xray = f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}"
            if where in ("both", "fnlens"):
                record = {
                    "timestamp": start.isoformat(timespec="microseconds") + "Z",
                    "level": "error" if timeout or crash else "info",
                    "event": "invocation",
                    "service": "orders",
                    "service_version": "1.4.0" if i % 3 else "",
                    "cloud_provider": "aws",
                    "region": "eu-west-1",
                    "function_name": "orders-api" if i % 4 else "payments",
                    "function_version": "7",
                    "function_alias": "live",
                    "memory_limit_mb": 512,
                    "request_id": rid,
                    "xray_trace_id": xray,
                    "cold_start": cold,
                    "init_type": "on-demand",
                    "init_duration_ms": init,
                    "duration_ms": duration + 0.137,
                    "outcome": "timeout" if timeout else "error" if crash else "success",
                    "error_type": "Sandbox.Timedout" if timeout else "Runtime" if crash else None,
                    "error_message": "boom" if crash else None,
                    "trigger": "http",
                    "event_source": "aws:apigateway",
                    "http_method": "GET",
                    "http_route": "/orders/{id}",
                    "http_status_code": 504 if timeout else 500 if crash else 200,
                    "telemetry_flush_ms": 0.2,
                    "telemetry_dropped": 0,
                }
                if i % 7 == 0:
                    record["trace_id"] = f"{rng.getrandbits(128):032x}"
                jsonl.append(json.dumps(record))
                if i % 6 == 0:
                    log = {"timestamp": _iso(start), "level": "info", "event": "order loaded"}
                    jsonl.append(json.dumps({**log, "request_id": rid, "order_id": i}))
            if where in ("both", "text"):
                text: list[str] = []
                end = start + timedelta(milliseconds=duration)
                text.append(f"{_iso(start)} START RequestId: {rid} Version: 7")
                if i % 8 == 0:
                    text.append(f"{_iso(start)} {_iso(start)}\t{rid}\tINFO\tloading order")
                if timeout:
                    text.append(f"{_iso(end)} {_iso(end)} {rid} Task timed out after 3.00 seconds")
                if crash:
                    text.append(
                        f"{_iso(end)} RequestId: {rid} Error: Runtime exited with error: "
                        "exit status 1"
                    )
                text.append(f"{_iso(end)} END RequestId: {rid}")
                fields = [
                    f"Duration: {duration:.2f} ms",
                    f"Billed Duration: {int(duration) + 1} ms",
                    "Memory Size: 512 MB",
                    f"Max Memory Used: {rng.randrange(60, 300)} MB",
                ]
                if init is not None:
                    fields.append(f"Init Duration: {init:.2f} ms")
                if i % 29 == 3:
                    fields += ["Restore Duration: 412.37 ms", "Billed Restore Duration: 120 ms"]
                if timeout:
                    fields.append("Status: timeout")
                fields.append(f"XRAY TraceId: {xray}\tSegmentId: {rng.getrandbits(64):016x}")
                fields.append("Sampled: true")
                text.append(f"{_iso(end)} REPORT RequestId: {rid}\t" + "\t".join(fields) + "\t")
                blocks.append(text)
    # records without a usable request id: each is its own row (identical ones included)
    no_id = []
    for k, rid_field in enumerate(['"request_id": ""', '"request_id": "   "', None, None]):
        ts = START + timedelta(seconds=k if k < 3 else 2)  # the last two are identical
        body = (
            f'"timestamp": "{_iso(ts)}", "level": "info", "event": "invocation", '
            '"function_name": "orders-api", "duration_ms": 12.5, "outcome": "success"'
        )
        no_id.append("{" + body + (f", {rid_field}" if rid_field else "") + "}")
    jsonl += no_id
    rng.shuffle(jsonl)
    rng.shuffle(blocks)
    text = [line for block in blocks for line in block]
    jsonl.insert(17, "{not json")
    text.insert(11, f"{_iso(START)} REPORT RequestId: broken-1\tDuration: fast ms\t")
    (root / "fnlens.jsonl").write_text("\n".join(jsonl) + "\n")
    export = root / "exportedlogs" / "task-1" / STREAM
    export.mkdir(parents=True)
    with gzip.open(export / "000000.gz", "wt") as handle:
        handle.write("\n".join(text) + "\n")
    return {
        "request_ids": rids,
        "attempts": attempts,
        "without_id": len(no_id),
        "reports": sum(1 for line in text if " REPORT RequestId: " in line) - 1,
        "restores": sum(1 for line in text if "\tRestore Duration: " in line),
        "inits": sum(1 for line in text if "\tInit Duration: " in line),
        "records": sum(1 for line in jsonl if '"event": "invocation"' in line),
        "platform_errors": sum(
            1 for line in text if "Task timed out" in line or "Error: Runtime exited" in line
        ),
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("sparkingest")
    return root, write_inputs(root)


def _rows(con: Any) -> list[tuple[Any, ...]]:
    """Every invocations column, rows in one total order (ids, attempts, then the rest)."""
    cols = ", ".join(INVOCATIONS_COLUMNS)
    return con.execute(
        f"SELECT {cols} FROM invocations ORDER BY request_id NULLS LAST, attempt, {cols}"
    ).fetchall()


def test_spark_ingest_gives_the_duckdb_rows(spark: Any, inputs: tuple[Path, dict]) -> None:
    root, held = inputs
    paths = [str(root / "fnlens.jsonl"), str(root / "exportedlogs")]
    db = root / "duck.duckdb"
    ingest(paths, db=db, progress=False)
    con = connect(db, read_only=True)
    want = _rows(con)
    con.close()

    out = root / "layout"
    report = spark_ingest(spark, paths, out)
    assert report.malformed == 2, report.malformed_examples
    assert any("broken-1" in e for e in report.malformed_examples)
    # one row per record, START, REPORT, timeout and crash line (merged afterwards)
    expected = held["records"] + 2 * held["reports"] + held["platform_errors"]
    assert report.invocation_records == expected
    assert report.log_lines_skipped > 0
    rows = held["attempts"] + held["without_id"]  # one per request id and attempt
    assert report.invocations == rows

    duck = duckdb.connect()
    duckdb_views(duck, out)
    got = _rows(duck)
    assert len(want) == rows
    names = list(INVOCATIONS_COLUMNS)
    column = {name: k for k, name in enumerate(names)}
    assert {r[column["request_id"]] for r in got} == held["request_ids"] | {None}
    assert max(r[column["attempt"]] for r in got) == 3
    assert sum(r[column["request_id"]] is None for r in got) == held["without_id"]
    assert sum(r[column["restore_duration_ms"]] is not None for r in got) == held["restores"]
    assert sum(r[column["init_duration_ms"]] is not None for r in got) >= held["inits"]
    for g, w in zip(got, want, strict=True):
        assert dict(zip(names, g, strict=True)) == dict(zip(names, w, strict=True))
    dates = sorted(p.name for p in (out / "invocations").iterdir())
    assert dates == ["date=2026-11-22", "date=2026-11-23"]
    assert not list(out.rglob("_SUCCESS")) and not list(out.glob("_tmp-*"))

    # ingesting the same files again merges into the stored rows: nothing changes
    again = spark_ingest(spark, paths, out)
    assert again.invocations == rows
    duck2 = duckdb.connect()
    duckdb_views(duck2, out)
    assert _rows(duck2) == got


def test_spark_ingest_rejects_other_formats(spark: Any, tmp_path: Path) -> None:
    other = tmp_path / "otlp.json"
    other.write_text('{"resourceSpans": []}\n')
    with pytest.raises(SparkIngestError, match=re.escape(f"{other}:1: not a format")):
        spark_ingest(spark, [str(other)], tmp_path / "out")
