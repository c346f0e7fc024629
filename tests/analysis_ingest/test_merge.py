"""One invocation from several sources becomes one row; ingesting twice adds nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fnlens.analysis.ingest import ingest

from .conftest import FIXTURES, R, invocation, rows


def _all(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("invocations", "spans", "logs")
        }
    finally:
        con.close()


def test_fnlens_record_and_report_line_merge(db: Path) -> None:
    report = ingest(
        [FIXTURES / "fnlens.jsonl", FIXTURES / "lambda_text.log"], db=db, progress=False
    )
    assert report.totals["invocations"] == 4  # R1..R3 in both, R4 only in the REPORT lines
    r1 = invocation(db, R[1])
    assert r1["source"] == "fnlens+report"
    # fnlens wins where it has a value ...
    assert (r1["duration_ms"], r1["init_duration_ms"], r1["http_route"]) == (
        19.8,
        170.0,
        "/orders/{id}",
    )
    assert r1["ts"].isoformat() == "2026-11-22T10:00:00.180000"
    # ... REPORT fills what fnlens cannot know
    assert (r1["billed_duration_ms"], r1["max_memory_used_mb"]) == (21, 81)
    r3 = invocation(db, R[3])
    assert (r3["outcome"], r3["error_type"], r3["billed_duration_ms"]) == (
        "timeout",
        "TimeoutError",
        3000,
    )
    r4 = invocation(db, R[4])
    assert (r4["source"], r4["outcome"]) == ("report", "error")


def test_merge_across_runs_in_either_order(tmp_path: Path) -> None:
    together, first_fnlens, first_report = (tmp_path / f"{n}.duckdb" for n in "abc")
    files = [FIXTURES / "fnlens.jsonl", FIXTURES / "lambda_text.log"]
    ingest(files, db=together, progress=False)
    for path in files:
        ingest([path], db=first_fnlens, progress=False)
    for path in reversed(files):
        ingest([path], db=first_report, progress=False)
    assert _all(together)["invocations"] == _all(first_fnlens)["invocations"]
    assert _all(together)["invocations"] == _all(first_report)["invocations"]


def test_powertools_lines_and_report_merge(db: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "report.log"
    report_file.write_text(
        "REPORT RequestId: 52fdfc07-2182-154f-163f-5f0f9a621d72\tDuration: 3.50 ms\t"
        "Billed Duration: 4 ms\tMemory Size: 256 MB\tMax Memory Used: 66 MB\t"
        "Init Duration: 300.10 ms\t\n"
    )
    ingest([FIXTURES / "powertools.jsonl", report_file], db=db, progress=False)
    a = invocation(db, "52fdfc07-2182-154f-163f-5f0f9a621d72")
    assert a["source"] == "emf+powertools+report"
    assert (a["cold_start"], a["function_name"], a["version"]) == (True, "payment-fn", "7")
    assert (a["duration_ms"], a["billed_duration_ms"], a["init_duration_ms"]) == (3.5, 4, 300.1)
    assert a["outcome"] == "success"


def test_timeout_line_beats_plain_report(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "t.log"
    f.write_text(
        "START RequestId: t-1 Version: 3\n"
        "2026-11-22T10:00:03.020Z t-1 Task timed out after 3.00 seconds\n"
        "REPORT RequestId: t-1\tDuration: 3003.12 ms\tBilled Duration: 3000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 50 MB\t\n"
    )
    ingest([f], db=db, progress=False)
    t = invocation(db, "t-1")
    assert (t["outcome"], t["error_type"], t["version"]) == ("timeout", "Sandbox.Timedout", "3")


def test_ingesting_everything_twice_adds_nothing(db: Path) -> None:
    first = ingest([FIXTURES], db=db, progress=False)
    assert first.malformed_count == 0, first.summary_lines()
    before = _all(db)
    second = ingest([FIXTURES], db=db, progress=False)
    assert second.added == {"invocations": 0, "spans": 0, "logs": 0}
    assert _all(db) == before
    # no request id appears twice
    assert rows(db, "SELECT request_id FROM invocations GROUP BY 1 HAVING count(*) > 1") == []
