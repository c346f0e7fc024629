"""An attempt's START and REPORT lines in one file are one staged record (docs/ingest.md).

Counted from the lines written here, never from the ingest code: each test checks the
rows, the parts kept, and that the SQL text path and the Python parser agree.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fnlens.analysis.ingest import ingest

RID = "8f5c2b1e-0000-4000-8000-{:012d}"
STREAM = "2026/11/30/[7]0123456789abcdef"


def _report(rid: str, ms: float, status: str = "") -> str:
    tail = f"\tStatus: {status}" if status else ""
    return (
        f"REPORT RequestId: {rid}\tDuration: {ms} ms\tBilled Duration: {int(ms) + 1} ms\t"
        f"Memory Size: 128 MB\tMax Memory Used: 41 MB{tail}\t"
    )


def _write(path: Path, lines: list[tuple[str, str]]) -> Path:
    # an S3 export object: each line its event's timestamp and message
    path.write_text("".join(f"2026-11-30T{t}Z {m}\n" for t, m in lines), "utf-8")
    return path


def _read(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


def _both(paths: list[Path], tmp_path: Path) -> tuple[Path, Path]:
    fast, slow = tmp_path / "fast.duckdb", tmp_path / "slow.duckdb"
    report = ingest(paths, db=fast, progress=False)
    assert {f.reader for f in report.files} == {"sql"}
    ingest(paths, db=slow, progress=False, fast=False)
    for sql in ("SELECT * FROM invocations", "SELECT * FROM _invocation_parts"):
        assert _read(fast, sql) == _read(slow, sql)
    return fast, slow


def test_pairs_are_one_record_each_with_no_parts(tmp_path: Path) -> None:
    lines = []
    for i in range(3):
        rid = RID.format(i)
        lines += [
            (f"10:00:0{i}.000", f"START RequestId: {rid} Version: 7"),
            (f"10:00:0{i}.100", f"END RequestId: {rid}"),
            (f"10:00:0{i}.101", _report(rid, 100.5 + i)),
        ]
    f = _write(tmp_path / "000000", lines)
    fast, _ = _both([f], tmp_path)
    rows = _read(
        fast,
        "SELECT request_id, attempt, function_version, duration_ms, billed_duration_ms, "
        "strftime(ts, '%H:%M:%S.%f'), source FROM invocations",
    )
    assert rows == [
        (RID.format(i), 1, "7", 100.5 + i, float(101 + i), f"10:00:0{i}.000000", "report")
        for i in range(3)
    ]
    assert _read(fast, "SELECT count(*) FROM _invocation_parts") == [(0,)]
    report = ingest([f], db=tmp_path / "counts.duckdb", progress=False)
    assert report.files[0].records["invocations"] == 6  # START and REPORT lines, as read


def test_a_timeout_line_between_keeps_the_lines_apart(tmp_path: Path) -> None:
    rid = RID.format(1)
    f = _write(
        tmp_path / "000000",
        [
            ("10:00:00.000", f"START RequestId: {rid} Version: 7"),
            ("10:00:03.000", f"{rid} Task timed out after 3.00 seconds"),
            ("10:00:03.001", f"END RequestId: {rid}"),
            ("10:00:03.002", _report(rid, 3000.0)),
        ],
    )
    fast, _ = _both([f], tmp_path)
    # the timeout line's outcome wins over the REPORT without a Status: kept apart, the
    # three records are the row's parts
    assert _read(fast, "SELECT outcome, error_type, duration_ms FROM invocations") == [
        ("timeout", "Sandbox.Timedout", 3000.0)
    ]
    assert _read(fast, "SELECT count(*) FROM _invocation_parts") == [(3,)]


def test_start_and_report_in_two_files_merge_to_the_same_row(tmp_path: Path) -> None:
    rid = RID.format(2)
    start = ("10:00:00.000", f"START RequestId: {rid} Version: 7")
    end = [("10:00:00.200", f"END RequestId: {rid}"), ("10:00:00.201", _report(rid, 200.0))]
    one = _write(tmp_path / "one.log", [start, *end])
    (tmp_path / "split").mkdir()
    a = _write(tmp_path / "split" / "a.log", [start])
    b = _write(tmp_path / "split" / "b.log", end)
    together = ingest([one], db=tmp_path / "one.duckdb", progress=False)
    assert together.files[0].reader == "sql"
    (tmp_path / "two").mkdir()
    split_db, _ = _both([a, b], tmp_path / "two")
    cols = "request_id, attempt, ts, function_version, duration_ms, billed_duration_ms, outcome"
    sql = f"SELECT {cols} FROM invocations"
    assert _read(split_db, sql) == _read(tmp_path / "one.duckdb", sql)
    assert _read(split_db, "SELECT count(*) FROM _invocation_parts") == [(2,)]


def test_retries_in_one_file_pair_each_attempt(tmp_path: Path) -> None:
    rid = RID.format(3)
    f = _write(
        tmp_path / "000000",
        [
            ("10:00:00.000", f"START RequestId: {rid} Version: 7"),
            ("10:00:00.500", f"END RequestId: {rid}"),
            ("10:00:00.501", _report(rid, 500.0, "error")),
            ("10:01:30.000", f"START RequestId: {rid} Version: 7"),
            ("10:01:30.100", f"END RequestId: {rid}"),
            ("10:01:30.101", _report(rid, 100.0)),
        ],
    )
    fast, _ = _both([f], tmp_path)
    assert _read(fast, "SELECT attempt, outcome, duration_ms FROM invocations") == [
        (1, "error", 500.0),
        (2, "success", 100.0),
    ]


def test_interleaved_invocations_in_one_stream_pair_by_id(tmp_path: Path) -> None:
    # several invocations at once in one stream (Lambda Managed Instances run more than
    # one per execution environment): each id's START and REPORT still pair, and one
    # id's retry among the others pairs per attempt
    a, b, c = (RID.format(i) for i in (4, 5, 6))
    f = _write(
        tmp_path / "000000",
        [
            ("10:00:00.000", f"START RequestId: {a} Version: 7"),
            ("10:00:00.010", f"START RequestId: {b} Version: 7"),
            ("10:00:00.020", f"START RequestId: {c} Version: 7"),
            ("10:00:00.300", f"END RequestId: {b}"),
            ("10:00:00.301", _report(b, 291.0)),
            ("10:00:00.400", f"END RequestId: {a}"),
            ("10:00:00.401", _report(a, 400.0, "error")),
            ("10:01:30.000", f"START RequestId: {a} Version: 7"),
            ("10:01:30.050", f"END RequestId: {c}"),
            ("10:01:30.051", _report(c, 0.5)),  # c's START is 90 s before: another attempt
            ("10:01:30.100", f"END RequestId: {a}"),
            ("10:01:30.101", _report(a, 100.0)),
        ],
    )
    fast, _ = _both([f], tmp_path)
    rows = _read(
        fast,
        "SELECT request_id, attempt, outcome, duration_ms, strftime(ts, '%M:%S.%f') "
        "FROM invocations",
    )
    assert rows == [
        (a, 1, "error", 400.0, "00:00.000000"),
        (a, 2, "success", 100.0, "01:30.000000"),
        (b, 1, "success", 291.0, "00:00.010000"),
        (c, 1, None, None, "00:00.020000"),
        (c, 2, "success", 0.5, "01:30.050500"),
    ]
    # b is one paired record; a (two pairs, one per attempt) and c (START and REPORT
    # of different attempts) are ids of two records each, kept as parts for later merges
    assert _read(fast, "SELECT request_id, count(*) FROM _invocation_parts GROUP BY 1") == [
        (a, 2),
        (c, 2),
    ]
