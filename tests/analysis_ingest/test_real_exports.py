"""Issue 13: what real exports contain, shape by shape (fixtures in real_exports/).

Each fixture was written from the public documentation of its format (Lambda's runtime
logging pages, the Telemetry API schema reference, `get-query-results`, `sam logs`,
`aws logs tail`, the Powertools Logger pages of each language, the OTLP file-exporter
example). Each test counts what the file holds with a few lines of plain Python (split,
json) that share nothing with the ingest code, and compares that with what was stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from fnlens.analysis.catalog import get_query
from fnlens.analysis.ingest import ingest
from fnlens.exceptions import IngestError

from .conftest import invocation, rows

REAL = Path(__file__).parent / "real_exports"
S3_OBJECT = next((REAL / "s3").rglob("000000"))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def run_query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> list[dict]:
    cur = get_query(name).run(con, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _ingest(db: Path, *paths: Path, **kw):
    report = ingest(list(paths), db=db, progress=False, **kw)
    assert report.malformed_count == 0, report.summary_lines()
    return report


def _report_fields(line: str) -> dict[str, str]:
    """`REPORT RequestId: x<TAB>Duration: 1.0 ms<TAB>…` -> {"Duration": "1.0", …} (plain split)."""
    body = line[line.index("REPORT RequestId:") :]
    parts = [p.strip() for p in re.split(r"\t|  +", body) if p.strip()]
    out = {}
    for part in parts:
        key, _, value = part.partition(": ")
        out[key] = value.split(" ")[0]
    return out


def _expected_reports(path: Path) -> dict[str, dict[str, str]]:
    return {
        f["REPORT RequestId"]: f
        for f in (_report_fields(ln) for ln in path.read_text().splitlines() if "REPORT " in ln)
    }


def _check_reports(db: Path, expected: dict[str, dict[str, str]]) -> None:
    for request_id, f in expected.items():
        r = invocation(db, request_id)
        assert r["duration_ms"] == float(f["Duration"])
        assert r["billed_duration_ms"] == float(f["Billed Duration"])
        assert r["memory_size_mb"] == int(f["Memory Size"])
        assert r["max_memory_used_mb"] == int(f["Max Memory Used"])
        assert r["init_duration_ms"] == (
            float(f["Init Duration"]) if "Init Duration" in f else None
        )
        restore = f.get("Restore Duration")
        assert r["restore_duration_ms"] == (float(restore) if restore else None)
        billed_restore = f.get("Billed Restore Duration")
        assert r["billed_restore_duration_ms"] == (
            float(billed_restore) if billed_restore else None
        )
        assert r["cold_start"] is ("Init Duration" in f or "Restore Duration" in f)
        assert r["outcome"] == {"timeout": "timeout", "error": "error"}.get(
            f.get("Status", ""), "success"
        )


# -- 1. runtime-formatted application lines ---------------------------------------------


def test_runtime_formatted_lines_every_runtime(db: Path) -> None:
    path = REAL / "runtime_lines.log"
    report = _ingest(db, path)
    assert report.files[0].format == "lambda-text"
    text = path.read_text().splitlines()
    starts = [ln.split("RequestId: ")[1].split()[0] for ln in text if ln.startswith("START ")]
    assert report.totals["invocations"] == len(starts)
    _check_reports(db, _expected_reports(path))
    assert invocation(db, starts[0])["version"] == "7"

    # every line between START and END that is not a platform line (and does not continue
    # the line above it: indented, a traceback header) is one log row of that invocation
    expected: list[tuple[int, str | None]] = []
    current = None
    for number, ln in enumerate(text, 1):
        if ln.startswith("START "):
            current = ln.split("RequestId: ")[1].split()[0]
        elif ln.startswith("END "):
            current = None
        elif ln.startswith(("REPORT ", "XRAY ", "INIT_START", " ", "\t", "Traceback")):
            continue  # platform lines, and continuations of the line above
        else:
            expected.append((number, current))
    expected.insert(0, (1, None))  # INIT_START is kept as a log line
    stored = rows(db, "SELECT source_line, request_id FROM logs ORDER BY source_line")
    assert stored == expected

    by_line = {
        n: (level, msg, ts)
        for n, level, msg, ts in rows(db, "SELECT source_line, level, message, ts FROM logs")
    }
    # Node.js: <ts>\t<id>\t<LEVEL>\t<message>, stack frames joined to the error line
    for n, ln in enumerate(text, 1):
        parts = ln.split("\t")
        if len(parts) >= 4 and parts[0][:4] == "2026" and UUID.match(parts[1]):
            level, msg, ts = by_line[n]
            assert ts == dt.datetime.fromisoformat(parts[0].replace("Z", ""))
            assert level == {"WARN": "warning", "fail": "error"}.get(parts[2], parts[2].lower())
            assert msg.split("\n")[0] == "\t".join(parts[3:])
        if ln.startswith("[INFO]\t"):  # Python: [LEVEL]\t<ts>\t<id>\t<message>
            _, ts_text, _, msg = ln.split("\t")
            assert by_line[n] == (
                "info",
                msg,
                dt.datetime.fromisoformat(ts_text.replace("Z", "")),
            )
    node_error = next(n for n, ln in enumerate(text, 1) if "\tERROR\tInvoke Error" in ln)
    assert by_line[node_error][1].count("\n    at ") == 2
    py_error = next(n for n, ln in enumerate(text, 1) if ln.startswith("[ERROR] KeyError"))
    assert by_line[py_error][0] == "error"
    assert by_line[py_error][1].endswith("return event['id']")
    java = next(n for n, ln in enumerate(text, 1) if "OrderHandler" in ln)
    assert by_line[java] == (
        "info",
        "OrderHandler - java says hi",
        dt.datetime(2026, 11, 30, 8, 0, 3),
    )
    # print(dict) output is a message, not a malformed record
    repr_line = next(n for n, ln in enumerate(text, 1) if ln.startswith("{'order'"))
    assert by_line[repr_line][1] == text[repr_line - 1]


def test_xray_line_after_report_attaches_the_trace(db: Path) -> None:
    path = REAL / "runtime_lines.log"
    _ingest(db, path)
    text = path.read_text().splitlines()
    i = next(i for i, ln in enumerate(text) if ln.startswith("XRAY TraceId: "))
    request_id = text[i - 1].split("RequestId: ")[1].split()[0]
    xray = text[i].split("TraceId: ")[1].split()[0]  # 1-<8 hex>-<24 hex>
    assert invocation(db, request_id)["trace_id"] == xray[2:10] + xray[11:]
    others = rows(db, "SELECT count(*) FROM invocations WHERE trace_id IS NOT NULL")
    assert others == [(1,)]


# -- 2/3. multi-line events in S3 exports, sam logs, aws logs tail ----------------------


def _events_with_prefix(path: Path, starts_event) -> list[list[str]]:
    events: list[list[str]] = []
    for ln in path.read_text().splitlines():
        if starts_event(ln) or not events:
            events.append([ln])
        else:
            events[-1].append(ln)
    return events


@pytest.mark.parametrize(
    ("path", "fmt", "is_start"),
    [
        (S3_OBJECT, "cloudwatch-s3-export", lambda ln: ln[:4] == "2026" and ln[10] == "T"),
        (REAL / "sam_logs.txt", "sam-logs", lambda ln: ln.startswith("2026/11/30/[")),
        (REAL / "logs_tail.txt", "aws-logs-tail", lambda ln: ln[:4] == "2026" and ln[10] == "T"),
    ],
)
def test_continuation_lines_join_their_event(db: Path, path: Path, fmt: str, is_start) -> None:
    report = _ingest(db, path)
    assert report.files[0].format == fmt
    events = _events_with_prefix(path, is_start)
    platform = ("START RequestId", "END RequestId", "REPORT RequestId")
    app = [e for e in events if not any(p in e[0] for p in platform)]
    stored = rows(db, "SELECT message, ts FROM logs ORDER BY source_line")
    assert len(stored) == len(app)
    assert all(ts is not None for _, ts in stored)  # no continuation became its own row
    for event, (message, _) in zip(app, stored, strict=True):
        if message.startswith("{"):  # a pretty-printed object, parsed whole
            body = "\n".join([event[0][event[0].index("{") :], *event[1:]])
            assert json.loads(message) == json.loads(body)
            continue
        # the continuation lines are the message's last lines, in order
        if len(event) > 1:
            assert message.split("\n")[-(len(event) - 1) :] == event[1:]
        else:
            assert "\n" not in message
    _check_reports(db, _expected_reports(path))


def test_sam_logs_and_tail_keep_the_version_from_the_stream_name(db: Path) -> None:
    _ingest(db, REAL / "sam_logs.txt", REAL / "logs_tail.txt")
    for path in ("sam_logs.txt", "logs_tail.txt"):
        first = (REAL / path).read_text().splitlines()[0]
        stream = next(w for w in first.split() if w.startswith("2026/11/30/["))
        request_id = first.split("RequestId: ")[1].split()[0]
        r = invocation(db, request_id)
        assert r["version"] == stream.split("[")[1].split("]")[0] == "72"
        assert r["log_stream"] == stream


def test_s3_export_stream_from_path_and_timeout(db: Path) -> None:
    _ingest(db, S3_OBJECT)
    stream = "/".join(S3_OBJECT.parts[-5:-1])
    rid = next(ln for ln in S3_OBJECT.read_text().splitlines() if "START" in ln).split()[3]
    r = invocation(db, rid)
    assert (r["log_stream"], r["version"], r["outcome"]) == (stream, "$LATEST", "timeout")
    pretty = rows(db, "SELECT message FROM logs WHERE message LIKE '{%'")
    assert [json.loads(m) for (m,) in pretty] == [{"pretty": True, "items": [1, 2]}]


# -- 4. Telemetry API and Logs API events ------------------------------------------------


def _telemetry_events(path: Path) -> list[dict]:
    text = path.read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


def _iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", ""))


@pytest.mark.parametrize(
    "name", ["telemetry_batch.json", "telemetry_2025.jsonl", "logs_api_concat.json"]
)
def test_telemetry_events(db: Path, name: str) -> None:
    path = REAL / name
    report = _ingest(db, path, strict=True)
    assert report.files[0].format == "lambda-telemetry"
    events = _telemetry_events(path)
    by_type: dict[str, list[dict]] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    request_ids = {
        e["record"]["requestId"]
        for e in events
        if isinstance(e["record"], dict) and "requestId" in e["record"]
    }
    assert report.totals["invocations"] == len(request_ids)
    for e in by_type.get("platform.report", []):
        rec, m = e["record"], e["record"]["metrics"]
        r = invocation(db, rec["requestId"])
        assert r["duration_ms"] == m["durationMs"]
        assert r["billed_duration_ms"] == m["billedDurationMs"]
        assert (r["memory_size_mb"], r["max_memory_used_mb"]) == (
            m["memorySizeMB"],
            m["maxMemoryUsedMB"],
        )
        assert r["init_duration_ms"] == m.get("initDurationMs")
        restore = m.get("restoreDurationMs")
        assert r["restore_duration_ms"] == restore
        assert r["billed_restore_duration_ms"] == m.get("billedRestoreDurationMs")
        assert r["cold_start"] is ("initDurationMs" in m or restore is not None)
        assert r["outcome"] == rec.get("status", "success")
        assert r["error_type"] == rec.get("errorType")
        if restore is not None:
            assert r["init_type"] == "snap-start"
    for e in by_type.get("platform.start", []):
        assert invocation(db, e["record"]["requestId"])["ts"] == _iso(e["time"])
    for e in by_type.get("platform.runtimeDone", []):
        rec, m = e["record"], e["record"]["metrics"]
        r = invocation(db, rec["requestId"])
        assert r["outcome"] == rec["status"]
        assert r["produced_bytes"] == m["producedBytes"]
        spans = {s["name"]: s["durationMs"] for s in rec.get("spans", [])}
        assert r["response_latency_ms"] == spans.get("responseLatency")
        assert r["response_duration_ms"] == spans.get("responseDuration")
        assert r["runtime_overhead_ms"] == spans.get("runtimeOverhead")
        assert r["ts"] is not None  # a timed-out runtimeDone keeps its time
    # every event that is not start/report/runtimeDone/end is one log row
    logged = [
        e
        for e in events
        if e["type"]
        not in ("platform.start", "platform.report", "platform.runtimeDone", "platform.end")
    ]
    assert report.totals["logs"] == len(logged)
    stored_ts = sorted(ts for (ts,) in rows(db, "SELECT ts FROM logs"))
    # a function record's own timestamp wins over the event's `time` (they agree here)
    assert stored_ts == sorted(_iso(e["time"]) for e in logged)
    dropped = sum(e["record"]["droppedRecords"] for e in by_type.get("platform.logsDropped", []))
    assert report.logs_dropped_records == dropped
    if dropped:
        assert any("GAP" in line for line in report.summary_lines())
        (level,) = rows(db, "SELECT level FROM logs WHERE message = 'platform.logsDropped'")[0]
        assert level == "warning"


def test_runtime_done_alone_is_an_invocation_and_strict_accepts_it(
    db: Path, tmp_path: Path
) -> None:
    f = tmp_path / "done.json"
    event = {
        "time": "2026-11-30T12:00:04.000Z",
        "type": "platform.runtimeDone",
        "record": {"requestId": "rd-1", "status": "timeout", "metrics": {"durationMs": 3000.0}},
    }
    f.write_text(json.dumps(event) + "\n")
    report = _ingest(db, f, strict=True)
    assert report.totals["invocations"] == 1
    r = invocation(db, "rd-1")
    assert (r["outcome"], r["duration_ms"]) == ("timeout", 3000.0)
    assert r["ts"] == dt.datetime(2026, 11, 30, 12, 0, 1)  # time minus the duration


def test_strict_fails_when_a_file_yields_nothing(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "control.json"
    f.write_text(json.dumps({"messageType": "CONTROL_MESSAGE", "logGroup": "", "logEvents": []}))
    assert ingest([f], db=db, progress=False).files[0].records == {
        "invocations": 0,
        "spans": 0,
        "logs": 0,
    }
    with pytest.raises(IngestError, match="no records"):
        ingest([f], db=tmp_path / "strict.duckdb", strict=True, progress=False)


# -- 5. SnapStart and init billing in the queries ----------------------------------------


def test_snapstart_counts_in_cold_start_latency_and_cost(db: Path) -> None:
    path = REAL / "runtime_lines.log"
    _ingest(db, path)
    reports = _expected_reports(path)
    con = duckdb.connect(str(db), read_only=True)
    try:
        cold = run_query(con, "cold_starts", {"bucket": "1 day"})
        cost = run_query(con, "cost", {})
    finally:
        con.close()
    inits = [float(f["Init Duration"]) for f in reports.values() if "Init Duration" in f]
    restores = [float(f["Restore Duration"]) for f in reports.values() if "Restore Duration" in f]
    # raw copies have no timestamps: every row is in the NULL bucket
    (row,) = [r for r in cold if r["cold_starts"]]
    assert row["cold_starts"] == len(inits) + len(restores)
    assert row["avg_init_ms"] == pytest.approx(
        sum(inits + restores) / (len(inits) + len(restores)), abs=1e-3
    )
    assert row["max_init_ms"] == max(inits + restores)
    billed = sum(
        (float(f["Billed Duration"]) + float(f.get("Billed Restore Duration", 0)))
        / 1000
        * int(f["Memory Size"])
        / 1024
        for f in reports.values()
    )
    assert sum(r["billed_gb_s"] for r in cost) == pytest.approx(billed, abs=1e-5)


def test_init_is_billed_for_on_demand_since_august_2025(db: Path, tmp_path: Path) -> None:
    def report_line(ts: str, rid: str) -> str:
        return (
            f"{ts} REPORT RequestId: {rid}\tDuration: 100.00 ms\tBilled Duration: 100 ms\t"
            "Memory Size: 1024 MB\tMax Memory Used: 80 MB\tInit Duration: 250.40 ms\t"
        )

    f = tmp_path / "export.log"
    f.write_text(
        report_line("2025-07-31T12:00:00.100Z", "before")
        + "\n"
        + report_line("2025-08-02T12:00:00.100Z", "after")
        + "\n"
    )
    _ingest(db, f)
    con = duckdb.connect(str(db), read_only=True)
    try:
        (before,) = run_query(con, "cost", {"until": "2025-08-01"})
        (after,) = run_query(con, "cost", {"since": "2025-08-01"})
    finally:
        con.close()
    assert before["billed_gb_s"] == pytest.approx(100 / 1000 * 1.0)
    assert after["billed_gb_s"] == pytest.approx((100 + 251) / 1000 * 1.0)


# -- 7. CloudWatch Logs Insights results -------------------------------------------------


def _insights_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))
    doc = json.loads(path.read_text())
    if isinstance(doc, list):
        return doc
    return [{c["field"]: c["value"] for c in r} for r in doc["results"]]


def _mb(value: str) -> int:
    return round(int(value) / 1_000_000)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("insights_report_fields.json", "logs-insights"),
        ("insights_messages.json", "logs-insights"),
        ("insights_console.csv", "logs-insights-csv"),
        ("insights_console.json", "logs-insights"),
    ],
)
def test_logs_insights_results(db: Path, name: str, fmt: str) -> None:
    path = REAL / name
    report = _ingest(db, path, strict=True)
    assert report.files[0].format == fmt
    found = _insights_rows(path)
    ids = set()
    logs = 0
    for row in found:
        message = row.get("@message")
        rid = row.get("@requestId") or (
            message.split("RequestId: ")[1].split()[0]
            if message and "RequestId: " in message
            else None
        )
        if rid:
            ids.add(rid)
        if message and not message.startswith(("START ", "END ", "REPORT ")):
            logs += 1
        ts = dt.datetime.fromisoformat(row["@timestamp"])
        if "@duration" in row:
            r = invocation(db, rid)
            assert r["duration_ms"] == float(row["@duration"])
            assert r["billed_duration_ms"] == float(row["@billedDuration"])
            assert r["memory_size_mb"] == _mb(row["@memorySize"])
            assert r["max_memory_used_mb"] == _mb(row["@maxMemoryUsed"])
            assert r["init_duration_ms"] == (
                float(row["@initDuration"]) if "@initDuration" in row else None
            )
            assert r["ts"] == ts - dt.timedelta(milliseconds=float(row["@duration"]))
        if "@log" in row and rid:
            assert invocation(db, rid)["function_name"] == row["@log"].split(":/aws/lambda/")[1]
        if "@logStream" in row and rid:
            assert invocation(db, rid)["version"] == row["@logStream"].split("[")[1].split("]")[0]
        if message and message.startswith("REPORT "):
            f = _report_fields(message.split("\n")[0])
            r = invocation(db, rid)
            assert r["duration_ms"] == float(f["Duration"])
            assert r["max_memory_used_mb"] == int(f["Max Memory Used"])
            if "XRAY TraceId: " in message:
                xray = message.split("XRAY TraceId: ")[1].split()[0]
                assert r["trace_id"] == xray[2:10] + xray[11:]
    assert report.totals["invocations"] == len(ids)
    assert report.totals["logs"] == logs
    stored = rows(db, "SELECT request_id FROM logs")
    assert all(rid in ids for (rid,) in stored)


# -- 8. Powertools in every language -----------------------------------------------------


@pytest.mark.parametrize("lang", ["python", "typescript", "java", "dotnet"])
def test_powertools_every_language(db: Path, lang: str) -> None:
    path = REAL / f"powertools_{lang}.jsonl"
    report = _ingest(db, path)
    assert report.files[0].format == "powertools"
    records = [json.loads(ln) for ln in path.read_text().splitlines()]
    stored = {
        rid: (ts, level, msg, trace)
        for rid, ts, level, msg, trace in rows(
            db, "SELECT request_id, ts, level, message, trace_id FROM logs"
        )
    }
    assert len(stored) == len(records)
    for rec in records:
        rid = rec["function_request_id"]
        ts, level, msg, trace = stored[rid]
        # the timestamp, whatever its shape, in UTC (python's `,` decimal and `+0000`)
        raw = rec["timestamp"].replace(",", ".")
        raw = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", raw).replace("Z", "+00:00")
        frac = re.search(r"\.(\d+)", raw)
        if frac and len(frac.group(1)) > 6:  # .NET: seven digits
            raw = raw.replace(frac.group(0), "." + frac.group(1)[:6])
        parsed = dt.datetime.fromisoformat(raw)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        assert ts == parsed
        assert msg == rec["message"]
        xray = rec["xray_trace_id"]
        assert trace == xray[2:10] + xray[11:]
        assert level == {"information": "info"}.get(rec["level"].lower(), rec["level"].lower())
        r = invocation(db, rid)
        arn = rec.get("function_arn") or rec.get("functionArn")
        assert r["region"] == arn.split(":")[3]
        assert r["trace_id"] == trace
        assert r["cold_start"] is rec.get("cold_start", rec.get("coldStart"))
        assert r["memory_size_mb"] == rec.get("function_memory_size", rec.get("functionMemorySize"))
        error = rec.get("exception_name") or (rec.get("error") or {}).get("name")
        if isinstance(rec.get("exception"), dict):
            error = rec["exception"]["type"]
        if error:
            assert (r["outcome"], r["error_type"]) == ("error", error)
        else:
            assert r["outcome"] is None


# -- 10. OTLP JSON as others write it -----------------------------------------------------


def test_otlp_spans_without_ids_are_kept_with_a_warning(db: Path) -> None:
    path = REAL / "otlp_spec_example.json"
    report = _ingest(db, path, strict=True)
    doc = json.loads(path.read_text())
    spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    no_ids = [s for s in spans if not s.get("traceId") or not s.get("spanId")]
    assert report.totals["spans"] == len(spans)
    assert report.warning_count == len(no_ids)
    assert all(str(w).startswith(f"{path}:1: ") for w in report.warnings)
    stored = {
        name: (trace, span, start, status)
        for name, trace, span, start, status in rows(
            db, "SELECT name, trace_id, span_id, start_ts, status_code FROM spans"
        )
    }
    for s in spans:
        trace, span, start, status = stored[s["name"]]
        assert trace == ((s.get("traceId") or "").lower() or None)
        assert span == ((s.get("spanId") or "").lower() or None)
        ns = int(s["startTimeUnixNano"])
        assert start == dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)
        assert status == ["UNSET", "OK", "ERROR"][(s.get("status") or {}).get("code", 0)]
    # re-ingesting adds nothing, even for the spans without ids
    again = ingest([path], db=db, progress=False)
    assert again.added["spans"] == 0 and again.totals["spans"] == len(spans)


def test_reingesting_every_real_fixture_is_idempotent(db: Path) -> None:
    first = _ingest(db, REAL)
    again = _ingest(db, REAL)
    assert again.totals == first.totals
    assert again.added["spans"] == 0 and again.added["logs"] == 0
    assert again.added["invocations"] == 0


def test_database_from_an_older_fnlens_gets_the_new_columns(tmp_path: Path) -> None:
    from fnlens.analysis._schema import INVOCATIONS_COLUMNS
    from fnlens.analysis.db import open_db

    old_columns = dict(
        list(INVOCATIONS_COLUMNS.items())[: list(INVOCATIONS_COLUMNS).index("source") + 1]
    )
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE invocations (" + ", ".join(f"{n} {t}" for n, t in old_columns.items()) + ")"
    )
    con.execute("INSERT INTO invocations (request_id, init_duration_ms) VALUES ('old-1', 5.0)")
    con.close()
    con = open_db(path)  # read-only: the file is not written, queries see the columns
    try:
        assert run_query(con, "cold_starts", {"bucket": "1 day"})[0]["max_init_ms"] == 5.0
    finally:
        con.close()
    con = duckdb.connect(str(path), read_only=True)
    assert "restore_duration_ms" not in {
        r[0] for r in con.execute("DESCRIBE invocations").fetchall()
    }
    con.close()
    report = ingest([REAL / "runtime_lines.log"], db=path, progress=False)
    assert report.totals["invocations"] == 5
    restore = rows(path, "SELECT count(restore_duration_ms) FROM invocations")
    assert restore == [(1,)]


def test_logs_insights_csv_with_overlong_and_multiline_messages(db: Path, tmp_path: Path) -> None:
    """A console CSV keeps every record: 200 KB messages (a Lambda event may hold 256 KB,
    beyond the csv module's default field limit of 128 KiB) and quoted newlines."""
    rid = "d0c5a11e-0009-4b6f-9d3a-5e8f7a6b5c4d"
    big = "x" * 200_000
    messages = [
        f"START RequestId: {rid} Version: 5",
        f"[INFO]\t2026-11-30T13:10:00.010Z\t{rid}\t{big}",
        f'[ERROR]\t2026-11-30T13:10:00.020Z\t{rid}\tboom\nTraceback:\n  line "2"\r\n{big}',
        "plain print() output after the long ones",
        (
            f"REPORT RequestId: {rid}\tDuration: 30.00 ms\tBilled Duration: 30 ms\t"
            "Memory Size: 512 MB\tMax Memory Used: 99 MB\t"
        ),
    ]
    path = tmp_path / "insights_long.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["@timestamp", "@message", "@requestId"])
        for i, message in enumerate(messages):
            out.writerow([f"2026-11-30 13:10:00.0{i}0", message, rid])
    report = _ingest(db, path, strict=True)
    assert report.files[0].format == "logs-insights-csv"
    assert report.malformed_count == 0
    # counted without fnlens: every row that is not a platform line is a log row
    expected = [m for m in messages if not m.startswith(("START ", "END ", "REPORT "))]
    stored = rows(db, "SELECT message FROM logs ORDER BY source_line")
    assert len(stored) == len(expected) == 3
    assert [len(m) for (m,) in stored] == [
        len(big),
        len('boom\nTraceback:\n  line "2"\r\n') + len(big),
        len(expected[2]),
    ]
    assert stored[2] == (expected[2],)
    assert invocation(db, rid)["duration_ms"] == 30.0
