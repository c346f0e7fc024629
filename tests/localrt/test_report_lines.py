"""Platform lines: Lambda's exact text shape, the JSON log format, and that ingest reads both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fnlens.localrt import LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<d>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<b>\d+) ms\tMemory Size: (?P<m>\d+) MB\t"
    r"Max Memory Used: (?P<mu>\d+) MB\t(?:Init Duration: (?P<i>\d+\.\d{2}) ms\t)?"
    r"(?:Status: (?P<s>\w+)\t)?$"
)
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ")


def _run(fn: LocalLambda) -> list:
    return [fn.invoke({}), fn.invoke({}), fn.invoke({"fail": True}), fn.invoke({"sleep_s": 5})]


def test_text_lines_have_lambdas_shape(make_fn, out_dir: Path) -> None:
    results = _run(make_fn(timeout_s=1.0))
    for r in results:
        starts = [x for x in r.logs if x.startswith("START ")]
        assert starts == [f"START RequestId: {r.request_id} Version: $LATEST"]
        assert f"END RequestId: {r.request_id}" in r.logs
        report = next(x for x in r.logs if x.startswith("REPORT "))
        m = REPORT.match(report)
        assert m, repr(report)
        assert m["id"] == r.request_id
        assert float(m["d"]) == r.duration_ms
        assert int(m["b"]) == max(1, -(-int(float(m["d"]) * 100) // 100))  # ceil, whole ms
        assert int(m["m"]) == 128
        assert (m["i"] is not None) == r.cold_start
        # the order Lambda writes them in: START … END, REPORT
        assert r.logs.index(starts[0]) < r.logs.index(f"END RequestId: {r.request_id}")
        assert r.logs.index(f"END RequestId: {r.request_id}") < r.logs.index(report)
    assert REPORT.match(next(x for x in results[-1].logs if x.startswith("REPORT ")))["s"] == (
        "timeout"
    )
    # stream files: every line carries a CloudWatch-style timestamp
    for path in out_dir.rglob("*.log"):
        for line in path.read_text().splitlines():
            assert STAMP.match(line), line


def test_json_log_format(make_fn) -> None:
    fn = make_fn(timeout_s=1.0, log_format="json")
    results = _run(fn)
    for r in results:
        platform = [json.loads(x) for x in r.logs if x.startswith('{"time"')]
        kinds = [p["type"] for p in platform]
        assert "platform.start" in kinds and "platform.report" in kinds
        rep = next(p for p in platform if p["type"] == "platform.report")["record"]
        assert rep["requestId"] == r.request_id
        assert rep["metrics"]["durationMs"] == r.duration_ms
        assert rep["metrics"]["memorySizeMB"] == 128
        assert ("initDurationMs" in rep["metrics"]) == r.cold_start
        assert rep["status"] == {"timeout": "timeout"}.get(r.outcome, "success")
    assert any(
        json.loads(x).get("type") == "platform.initStart"
        for x in results[0].logs
        if x.startswith('{"time"')
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_stream_files_parse_with_the_analysis_layer(make_fn, out_dir: Path, log_format) -> None:
    pytest.importorskip("duckdb")
    ingest_mod = pytest.importorskip("fnlens.analysis.ingest")
    import duckdb

    results = _run(make_fn(timeout_s=1.0, log_format=log_format))
    db = out_dir.parent / "t.duckdb"
    report = ingest_mod.ingest([out_dir], db=str(db), progress=False)
    assert report.malformed_count == 0, report.files
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT request_id, cold_start, init_duration_ms, duration_ms, billed_duration_ms,"
            " memory_size_mb, max_memory_used_mb, outcome, function_version FROM invocations"
        ).fetchall()
    finally:
        con.close()
    by_id = {row[0]: row for row in rows}
    assert set(by_id) == {r.request_id for r in results}
    for r in results:
        _, cold, init_ms, _dur, billed, mem, max_mem, outcome, version = by_id[r.request_id]
        assert cold is r.cold_start
        assert (init_ms is not None) == r.cold_start
        assert billed == r.billed_duration_ms
        assert mem == 128
        assert max_mem == r.max_memory_used_mb
        assert version == "$LATEST"
        assert outcome == {"success": "success", "error": "error", "timeout": "timeout"}[r.outcome]
