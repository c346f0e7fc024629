"""Google Cloud Logging and Azure Application Insights exports, ingested like the AWS ones.

The fixtures are written from the public references (LogEntry and HttpRequest of the
Cloud Logging API, Cloud Run's request/container logs, 1st-gen Cloud Functions' execution
lines; the AppRequests / AppTraces / AppExceptions tables of Azure Monitor and Application
Insights' Continuous Export data model). Each test counts what a fixture holds with a few
lines of plain Python and compares that, field by field, with what was stored; the canned
queries and `fnlens compare` then run on the result as a user runs them (subprocesses).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fnlens.analysis._formats.detect import detect
from fnlens.analysis._readers import Input
from fnlens.analysis.ingest import expand_paths, ingest

from .conftest import FIXTURES as AWS_FIXTURES
from .conftest import rows

# next to fixtures/ (which other tests ingest whole, malformed lines and all would change them)
FIXTURES = AWS_FIXTURES.parent / "cloud_exports"

CLI_TIMEOUT = 120


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fnlens.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def _query(db: Path, name: str, *params: str) -> list[dict]:
    args = ["query", name, "--db", str(db), "-f", "json"]
    for p in params:
        args += ["-p", p]
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _table(db: Path, sql: str) -> dict[str, dict]:
    con_rows = rows(db, sql)
    return {r[0]: r[1:] for r in con_rows}


def _jsonl(name: str) -> list[tuple[int, dict | None]]:
    out = []
    for number, line in enumerate((FIXTURES / name).read_text().splitlines(), 1):
        try:
            out.append((number, json.loads(line)))
        except ValueError:
            out.append((number, None))
    return out


# --- Cloud Run (Cloud Storage sink: one LogEntry per line) -----------------------------


def _trace(entry: dict) -> str | None:
    return entry["trace"].rsplit("/", 1)[1] if "trace" in entry else None


def test_cloud_run_requests_logs_and_fnlens_records(db: Path) -> None:
    report = ingest([FIXTURES / "cloud_logging.jsonl"], db=db, progress=False)
    assert report.files[0].format == "cloud-logging"

    # what the fixture holds, counted without fnlens
    entries = _jsonl("cloud_logging.jsonl")
    bad_json = [n for n, e in entries if e is None]
    requests, fnlens_records, log_entries, bad_latency = {}, {}, [], []
    for number, e in entries:
        if e is None:
            continue
        if "httpRequest" in e:
            if not re.fullmatch(r"\d+(\.\d+)?s", e["httpRequest"]["latency"]):
                bad_latency.append(number)
                continue
            requests[_trace(e) or e["insertId"]] = e
        elif e.get("jsonPayload", {}).get("event") == "invocation":
            fnlens_records[_trace(e)] = e["jsonPayload"]
        else:
            log_entries.append((number, e))
    assert (len(requests), len(fnlens_records), len(log_entries)) == (7, 1, 5)

    malformed = {m.line: m.message for m in report.malformed}
    assert set(malformed) == set(bad_json + bad_latency) == {6, 12}
    assert "httpRequest.latency" in malformed[6] and "'fast'" in malformed[6]
    assert str(report.malformed[0]).startswith(str((FIXTURES / "cloud_logging.jsonl").resolve()))

    stored = _table(
        db,
        "SELECT request_id, function_name, version, duration_ms, http_status_code, outcome, "
        "http_method, trace_id, region, log_stream, cloud_provider, cold_start, http_route, "
        "source FROM invocations",
    )
    assert set(stored) == set(requests)
    for key, e in requests.items():
        http, where = e["httpRequest"], e["resource"]["labels"]
        own = fnlens_records.get(key)
        want = (
            where["service_name"],
            where["revision_name"],
            own["duration_ms"] if own else float(http["latency"][:-1]) * 1000,
            http["status"],
            "error" if http["status"] >= 500 else "success",
            http["requestMethod"],
            _trace(e),
            where["location"],
            e["labels"]["instanceId"],
            "gcp",
            own["cold_start"] if own else None,
            own["http_route"] if own else None,
            "cloud-logging+fnlens" if own else "cloud-logging",
        )
        assert stored[key][:3] == want[:3], key
        assert stored[key][3] == pytest.approx(want[3]), key
        assert stored[key][4:] == want[4:], key

    logs = rows(db, "SELECT source_line, request_id, level, message, function_name FROM logs")
    assert len(logs) == len(log_entries)
    by_line = {r[0]: r[1:] for r in logs}
    for number, e in log_entries:
        payload = e.get("jsonPayload", {})
        message = e.get("textPayload") or payload.get("message") or payload.get("event")
        level = e["severity"].lower() if "severity" in e else None
        service = e["resource"]["labels"]["service_name"]
        assert by_line[number] == (_trace(e), level, message, service), number
    # a log line is tied to its request through the trace: a join finds it
    joined = rows(
        db,
        "SELECT i.version, l.message FROM logs l JOIN invocations i USING (request_id) "
        "WHERE l.level = 'error'",
    )
    assert joined == [("orders-00042-zug", "ValueError: unknown sku 'X-1'")]


def test_cloud_run_canned_queries_per_revision(db: Path) -> None:
    ingest([FIXTURES / "cloud_logging.jsonl"], db=db, progress=False)
    expected: dict[str, dict] = {}
    for _, e in _jsonl("cloud_logging.jsonl"):
        if e is None or "httpRequest" not in e or e["httpRequest"]["latency"] == "fast":
            continue
        side = expected.setdefault(e["resource"]["labels"]["revision_name"], {"n": 0, "err": 0})
        side["n"] += 1
        side["err"] += e["httpRequest"]["status"] >= 500
    got = {r["version"]: r for r in _query(db, "per_version")}
    assert set(got) == set(expected) == {"orders-00041-kof", "orders-00042-zug"}
    for version, want in expected.items():
        assert (got[version]["invocations"], got[version]["errors"]) == (want["n"], want["err"])
        assert got[version]["function_name"] == "orders"
    rate = _query(db, "error_rate", "version=orders-00042-zug")
    assert [(r["function_name"], r["invocations"], r["errors"]) for r in rate] == [("orders", 4, 1)]
    latency = _query(db, "latency", "version=orders-00041-kof")
    assert latency[0]["max_ms"] == pytest.approx(1002.0)
    assert latency[0]["p50_ms"] == pytest.approx(118.4)


# --- 1st-gen Cloud Functions (`gcloud logging read --format=json`: a JSON array) --------


def test_cloud_functions_execution_lines_from_gcloud_read(db: Path) -> None:
    report = ingest([FIXTURES / "cloud_functions_read.json"], db=db, progress=False)
    assert report.files[0].format == "cloud-logging"
    assert report.malformed_count == 0
    entries = json.loads((FIXTURES / "cloud_functions_read.json").read_text())
    finished, user_logs = {}, []
    for e in entries:
        m = re.match(
            r"Function execution took ([\d.]+) ms, finished with status(?: code)?: '?(\w+)",
            e["textPayload"],
        )
        if m:
            finished[e["labels"]["execution_id"]] = (float(m.group(1)), m.group(2), e)
        elif e["textPayload"] != "Function execution started":
            user_logs.append(e)
    outcome = {
        "ok": "success",
        "timeout": "timeout",
        "crash": "error",
        "200": "success",
        "500": "error",
    }
    stored = _table(
        db,
        "SELECT request_id, function_name, duration_ms, outcome, http_status_code, region, "
        "cloud_provider FROM invocations",
    )
    assert set(stored) == set(finished)
    for ex, (took, status, e) in finished.items():
        labels = e["resource"]["labels"]
        code = int(status) if status.isdigit() else None
        assert stored[ex] == (
            labels["function_name"],
            took,
            outcome[status],
            code,
            labels["region"],
            "gcp",
        ), ex
    logs = rows(db, "SELECT request_id, message, level FROM logs ORDER BY ts")
    want = sorted(user_logs, key=lambda e: e["timestamp"])
    assert logs == [
        (e["labels"]["execution_id"], e["textPayload"], e["severity"].lower()) for e in want
    ]
    rate = {r["function_name"]: r for r in _query(db, "error_rate")}
    assert (rate["resize-image"]["errors"], rate["resize-image"]["timeouts"]) == (2, 1)
    assert rate["thumbnail-http"]["invocations"] == 2


# --- Application Insights -----------------------------------------------------------------


def _slot(role: str) -> tuple[str, str]:
    return (
        (role[: -len("-staging")], "staging") if role.endswith("-staging") else (role, "production")
    )


def test_app_insights_workspace_tables(db: Path) -> None:
    report = ingest([FIXTURES / "app_insights.jsonl"], db=db, progress=False)
    assert report.files[0].format == "app-insights"
    records = _jsonl("app_insights.jsonl")
    requests, traces, exceptions, bad = {}, [], {}, []
    for number, r in records:
        if r is None or ("DurationMs" in r and r["Success"] not in (True, False)):
            bad.append(number)
        elif "DurationMs" in r:
            requests[r["Properties"]["InvocationId"]] = r
        elif r["Type"] == "AppTraces":
            traces.append((number, r))
        else:
            exceptions[r["Properties"]["InvocationId"]] = (number, r)
    assert (len(requests), len(traces), len(exceptions), bad) == (6, 4, 1, [6, 13])
    assert {m.line for m in report.malformed} == {6, 13}
    assert "Success" in next(m.message for m in report.malformed if m.line == 6)

    stored = _table(
        db,
        "SELECT request_id, service, function_name, version, duration_ms, outcome, "
        "http_status_code, trigger, trace_id, log_stream, cloud_provider, error_type, "
        "error_message FROM invocations",
    )
    assert set(stored) == set(requests)
    for inv, r in requests.items():
        app, slot = _slot(r["AppRoleName"])
        http = r["Properties"]["FaaSTrigger"] == "http"
        exc = exceptions.get(inv, (None, {}))[1]
        error_type = exc.get("ExceptionType") or (
            None if r["Success"] else f"HTTP {r['ResultCode']}"
        )
        assert stored[inv] == (
            app,
            f"{app}/{r['Properties']['FullName'].split('.', 1)[1]}",
            slot,
            r["DurationMs"],
            "success" if r["Success"] else "error",
            int(r["ResultCode"]) if http else None,
            r["Properties"]["FaaSTrigger"],
            r["OperationId"],
            r["AppRoleInstance"],
            "azure",
            error_type,
            exc.get("OuterMessage"),
        ), inv

    logs = {
        r[0]: r[1:] for r in rows(db, "SELECT source_line, request_id, level, message FROM logs")
    }
    assert len(logs) == len(traces) + len(exceptions)
    levels = ["trace", "info", "warning", "error", "critical"]
    for number, t in traces:
        want = (t["Properties"].get("InvocationId"), levels[t["SeverityLevel"]], t["Message"])
        assert logs[number] == want, number
    for inv, (number, e) in exceptions.items():
        assert logs[number] == (inv, "error", f"{e['ExceptionType']}: {e['OuterMessage']}")

    per_version = {(r["function_name"], r["version"]): r for r in _query(db, "per_version")}
    want_pv: dict[tuple[str, str], list[int]] = {}
    for r in requests.values():
        app, slot = _slot(r["AppRoleName"])
        key = (f"{app}/{r['Properties']['FullName'].split('.', 1)[1]}", slot)
        want_pv.setdefault(key, [0, 0])
        want_pv[key][0] += 1
        want_pv[key][1] += not r["Success"]
    assert {k: [v["invocations"], v["errors"]] for k, v in per_version.items()} == want_pv
    staging = _query(db, "latency", "version=staging")
    assert staging[0]["max_ms"] == pytest.approx(95.5)


def test_app_insights_continuous_export(db: Path) -> None:
    report = ingest([FIXTURES / "app_insights_export.json"], db=db, progress=False)
    assert report.files[0].format == "app-insights"
    assert report.malformed_count == 0
    docs = [d for _, d in _jsonl("app_insights_export.json")]
    requests = [d for d in docs if "request" in d]
    dims = [
        {k: v for x in d["context"]["custom"]["dimensions"] for k, v in x.items()} for d in docs
    ]
    stored = _table(
        db,
        "SELECT request_id, function_name, version, duration_ms, outcome, http_status_code "
        "FROM invocations",
    )
    assert len(stored) == len(requests) == 3
    for d, dim in zip(docs, dims, strict=True):
        if "request" not in d:
            continue
        req = d["request"][0]
        app, slot = _slot(d["context"]["device"]["roleName"])
        assert stored[dim["InvocationId"]] == (
            f"{app}/{req['name']}",
            slot,
            pytest.approx(req["durationMetric"]["value"] / 10_000),  # 1e7 ticks per second
            "success" if req["success"] else "error",
            int(req["responseCode"]),
        )
    message = next(d for d in docs if "message" in d)
    assert rows(db, "SELECT request_id, message, level FROM logs") == [
        (dims[docs.index(message)]["InvocationId"], message["message"][0]["raw"], "info")
    ]


# --- detection and `fnlens compare` ---------------------------------------------------------

# what every fixture was detected as before these formats existed (run on main)
BEFORE = {
    "fixtures/filter_log_events_pages.json": "cloudwatch-filter-log-events",
    "fixtures/firehose-orders-1-2026-11-22-10-03-20-4b1f": "firehose",
    "fixtures/fnlens.jsonl": "fnlens-jsonl",
    "fixtures/get_log_events.json": "cloudwatch-get-log-events",
    "fixtures/lambda_json.jsonl": "lambda-json",
    "fixtures/lambda_text.log": "lambda-text",
    "fixtures/lambda_text_tail.log": "aws-logs-tail",
    "fixtures/otlp_logs_metrics.json": "otlp-json",
    "fixtures/otlp_traces.jsonl": "otlp-json",
    "fixtures/powertools.jsonl": "powertools",
    "fixtures/s3_export/0f3c9a1e-task/2026/11/22/[42]0a1b2c3d4e5f60718293a4b5c6d7e8f9/000000.gz": (
        "cloudwatch-s3-export"
    ),
    "fixtures/subscription_decoded.json": "cloudwatch-subscription",
    "fixtures/subscription_event.json": "cloudwatch-subscription",
    "real_exports/insights_console.csv": "logs-insights-csv",
    "real_exports/insights_console.json": "logs-insights",
    "real_exports/insights_messages.json": "logs-insights",
    "real_exports/insights_report_fields.json": "logs-insights",
    "real_exports/logs_api_concat.json": "lambda-telemetry",
    "real_exports/logs_tail.txt": "aws-logs-tail",
    "real_exports/otlp_spec_example.json": "otlp-json",
    "real_exports/powertools_dotnet.jsonl": "powertools",
    "real_exports/powertools_java.jsonl": "powertools",
    "real_exports/powertools_python.jsonl": "powertools",
    "real_exports/powertools_typescript.jsonl": "powertools",
    "real_exports/runtime_lines.log": "lambda-text",
    "real_exports/sam_logs.txt": "sam-logs",
    "real_exports/s3/exportedlogs/5b1e-task/2026/11/30/[$LATEST]9f8e7d6c5b4a39281706f5e4d3c2b1a0/"
    "000000": "cloudwatch-s3-export",
    "real_exports/telemetry_2025.jsonl": "lambda-telemetry",
    "real_exports/telemetry_batch.json": "lambda-telemetry",
    "cloud_exports/cloud_logging.jsonl": "cloud-logging",
    "cloud_exports/cloud_functions_read.json": "cloud-logging",
    "cloud_exports/app_insights.jsonl": "app-insights",
    "cloud_exports/app_insights_export.json": "app-insights",
}


def test_every_fixture_detects_as_before() -> None:
    base = AWS_FIXTURES.parent
    seen = {}
    for p in expand_paths([AWS_FIXTURES, base / "real_exports", FIXTURES]):
        name = p.relative_to(base).as_posix()
        with Input(p) as inp:
            seen[name] = detect(inp).format
    assert seen == BEFORE


def _cloud_run_canary(path: Path, n: int, bad_every: int) -> None:
    """n requests per revision; the candidate fails one in ``bad_every``."""
    res = {"type": "cloud_run_revision", "labels": {"service_name": "orders", "location": "eu"}}
    with path.open("w") as f:
        for i in range(2 * n):
            rev = "orders-00041-kof" if i % 2 else "orders-00042-zug"
            status = 500 if rev.endswith("zug") and i % bad_every == 0 else 200
            entry = {
                "logName": "projects/p/logs/run.googleapis.com%2Frequests",
                "resource": {**res, "labels": {**res["labels"], "revision_name": rev}},
                "timestamp": f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z",
                "insertId": f"id{i:06d}",
                "trace": f"projects/p/traces/{i:032x}",
                "httpRequest": {
                    "requestMethod": "GET",
                    "status": status,
                    "latency": f"0.{40 + i % 7:03d}s",
                },
            }
            f.write(json.dumps(entry) + "\n")


def test_compare_revisions_from_cloud_logging(tmp_path: Path) -> None:
    log, db = tmp_path / "requests.jsonl", tmp_path / "c.duckdb"
    _cloud_run_canary(log, 600, bad_every=8)
    assert _cli("ingest", str(log), "--db", str(db)).returncode == 0
    assert rows(db, "SELECT count(*) FROM invocations") == [(1200,)]
    done = _cli(
        "compare",
        "--baseline",
        "orders-00041-kof",
        "--candidate",
        "orders-00042-zug",
        "--function",
        "orders",
        "--db",
        str(db),
        "--format",
        "json",
    )
    verdict = json.loads(done.stdout)
    assert (done.returncode, verdict["verdict"]) == (1, "fail"), done.stdout + done.stderr
    failed = {m["metric"] for m in verdict["metrics"] if m.get("status") == "fail"}
    assert "error_rate" in failed


def test_compare_slots_from_app_insights(tmp_path: Path) -> None:
    log, db = tmp_path / "AppRequests.jsonl", tmp_path / "a.duckdb"
    with log.open("w") as f:
        for i in range(1200):
            role = "orders-func-staging" if i % 2 else "orders-func"
            slow = 3.0 if role.endswith("staging") else 1.0  # the staging slot is 3x slower
            f.write(
                json.dumps(
                    {
                        "Type": "AppRequests",
                        "TimeGenerated": f"2026-11-22T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
                        "Id": f"{i:016x}",
                        "Name": "CreateOrder",
                        "Success": True,
                        "ResultCode": "200",
                        "DurationMs": slow * (40 + i % 11),
                        "OperationId": f"{i:032x}",
                        "AppRoleName": role,
                        "Properties": json.dumps(
                            {"InvocationId": f"inv-{i}", "FaaSTrigger": "http"}
                        ),
                    }
                )
                + "\n"
            )
    assert _cli("ingest", str(log), "--db", str(db)).returncode == 0
    done = _cli(
        "compare",
        "--baseline",
        "production",
        "--candidate",
        "staging",
        "--function",
        "orders-func/CreateOrder",
        "--db",
        str(db),
        "--format",
        "json",
    )
    verdict = json.loads(done.stdout)
    assert (done.returncode, verdict["verdict"]) == (1, "fail"), done.stdout + done.stderr
    failed = {m["metric"] for m in verdict["metrics"] if m.get("status") == "fail"}
    assert "latency" in failed
