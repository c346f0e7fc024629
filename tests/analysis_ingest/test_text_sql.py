"""The DuckDB text path stores exactly what the Python line parser stores.

Every text fixture (and a file made of the awkward cases) is ingested twice: with the
SQL path (``fast=True``, the default) and with the Python parsers only
(``fast=False``). The three tables and the per-file counts must be identical.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import duckdb
import pytest

from fnlens.analysis._text_sql import SPACE_CODES
from fnlens.analysis.ingest import ingest

from .conftest import FIXTURES

REAL = Path(__file__).parent / "real_exports"
TEXT_FIXTURES = [
    FIXTURES / "lambda_text.log",
    FIXTURES / "lambda_text_tail.log",
    next((FIXTURES / "s3_export").rglob("*.gz")),
    REAL / "runtime_lines.log",
    REAL / "sam_logs.txt",
    REAL / "logs_tail.txt",
    next((REAL / "s3").rglob("000000")),
]

RID = "0badcafe-0000-4000-8000-0000000000{:02d}"
AWKWARD = "\n".join(
    [
        "",
        f"START RequestId: {RID.format(1)} Version: 3",
        "an untagged line",
        "   ",
        "[WARNING]\t2026-11-30T10:00:00.000Z\tundefined\tno id, inside the invocation",
        f"2026-11-30T10:00:00.010Z\t{RID.format(1)}\tDEBUG",
        '{"level": "info", "message": "json inside text", "requestId": null}',
        "{'k': 1}",
        f"END RequestId: {RID.format(1)}",
        (
            f"REPORT RequestId: {RID.format(1)}\tDuration: 1.5 ms\tBilled Duration: 2 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 30 MB\t"
        ),
        "XRAY TraceId: 1-674b9999-aaaaaaaaaaaaaaaaaaaaaaaa\tSegmentId: 1\tSampled: true",
        f"REPORT RequestId: {RID.format(2)}  Duration: 3 ms  Memory Size: 128 MB",  # unusual
        "REPORT RequestId: broken-1\tBilled Duration: 3 ms",  # malformed: no Duration
        f"START RequestId: {RID.format(3)}",
        f"{RID.format(3)} Task timed out after 1.00 seconds",
        "Task timed out after 1.00 seconds",
        "INIT_REPORT Init Duration: 9.00 ms\tPhase: init\tStatus: error\tError Type: X",
        f"2026-11-30 10:00:02,500 {RID.format(3)} ERROR Cls - comma decimal (Java)",
        "2026-13-30T10:00:00.000Z month 13 is not a time",
        (
            f"REPORT RequestId: {RID.format(3)}\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 31 MB\tStatus: timeout"
        ),
        "after everything",
    ]
)


def _tables(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("invocations", "spans", "logs")
        }
    finally:
        con.close()


def _both(path: Path, tmp_path: Path):
    fast = ingest([path], db=tmp_path / "fast.duckdb", progress=False)
    slow = ingest([path], db=tmp_path / "slow.duckdb", progress=False, fast=False)
    return fast, slow


@pytest.mark.parametrize("path", TEXT_FIXTURES, ids=lambda p: p.name)
def test_sql_text_path_equals_python(path: Path, tmp_path: Path) -> None:
    fast, slow = _both(path, tmp_path)
    assert fast.files[0].reader == "sql"
    assert slow.files[0].reader == "lines"
    assert fast.files[0].format == slow.files[0].format
    assert fast.files[0].records == slow.files[0].records
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")


def test_awkward_lines_equal_python_with_errors_at_the_same_lines(tmp_path: Path) -> None:
    f = tmp_path / "awkward.log"
    f.write_text(AWKWARD + "\n")
    fast, slow = _both(f, tmp_path)
    assert fast.files[0].reader == "sql"
    assert [str(m) for m in fast.malformed] == [str(m) for m in slow.malformed]
    broken = AWKWARD.split("\n").index("REPORT RequestId: broken-1\tBilled Duration: 3 ms") + 1
    assert [m.line for m in fast.malformed] == [broken]
    assert fast.files[0].records == slow.files[0].records
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")


def test_gzip_and_crlf(tmp_path: Path) -> None:
    f = tmp_path / "crlf.log.gz"
    f.write_bytes(gzip.compress((AWKWARD.replace("\n", "\r\n") + "\r\n").encode()))
    fast, _ = _both(f, tmp_path)
    assert fast.files[0].reader == "sql"
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")


def test_what_sql_cannot_follow_goes_to_python(tmp_path: Path) -> None:
    f = tmp_path / "bad_utf8.log"
    f.write_bytes(b"START RequestId: r-1\n\xff\xfe not text\nEND RequestId: r-1\n")
    fast, _ = _both(f, tmp_path)
    assert fast.files[0].reader == "lines"  # DuckDB refuses it; Python reports the line
    assert [m.line for m in fast.malformed] == [2]
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")


# ingestsafe's rules on a text file (aws logs tail shape, so every line has a time): a
# retry of one request id a minute later, a timeout in the first attempt, REPORT values
# that do not fit their column, a blank request id and two events equal in time and text
_STREAM = "2026/11/30/[7]0123456789abcdef0123456789abcdef"
_RETRY = RID.format(7)
_RULES = [
    ("10:00:00.000", f"START RequestId: {_RETRY} Version: 7"),
    ("10:00:00.500", f"{_RETRY} Task timed out after 1.00 seconds"),
    ("10:00:01.000", f"END RequestId: {_RETRY}"),
    (
        "10:00:01.000",
        (
            f"REPORT RequestId: {_RETRY}\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout"
        ),
    ),
    ("10:01:10.000", f"START RequestId: {_RETRY} Version: 7"),
    ("10:01:10.010", "[INFO]\t2026-11-30T10:01:10.010Z\t" + _RETRY + "\tsame text"),
    ("10:01:10.010", "[INFO]\t2026-11-30T10:01:10.010Z\t" + _RETRY + "\tsame text"),
    ("10:01:10.020", f"END RequestId: {_RETRY}"),
    (
        "10:01:10.020",
        (
            f"REPORT RequestId: {_RETRY}\tDuration: 20.00 ms\tBilled Duration: 20 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 41 MB"
        ),
    ),
    ("10:02:00.000", "START RequestId:  Version: 7"),  # blank id: not an invocation
    (
        "10:02:00.100",
        (
            f"REPORT RequestId: {RID.format(8)}\tDuration: 12.00 ms\tBilled Duration: 12 ms\t"
            "Memory Size: 99999999999 MB\tMax Memory Used: 41 MB"
        ),  # beyond INTEGER
    ),
    (
        "10:02:00.200",
        (
            f"REPORT RequestId: {RID.format(9)}\tDuration: 1{'0' * 400}.0 ms\t"
            "Billed Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB"
        ),  # overflows
    ),
]


def _parts(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute("SELECT * FROM _invocation_parts").fetchall(), key=repr)
    finally:
        con.close()


def test_sql_path_follows_the_merge_rules_like_python(tmp_path: Path) -> None:
    f = tmp_path / "rules.txt"
    f.write_text(
        "".join(f"2026-11-30T{t}000+00:00 {_STREAM} {msg}\n" for t, msg in _RULES), "utf-8"
    )
    fast, slow = _both(f, tmp_path)
    assert fast.files[0].reader == "sql" and fast.files[0].format == "aws-logs-tail"
    # counted from the list above: the START lines of the retried id are its attempts,
    # the REPORT lines with a 10+ digit number are the bad values (reported by line)
    attempts = sum(1 for _, m in _RULES if m == f"START RequestId: {_RETRY} Version: 7")
    bad = [i + 1 for i, (_, m) in enumerate(_RULES) if re.search(r": \d{10,}", m)]
    assert attempts == 2 and len(bad) == 2
    assert [m.line for m in fast.malformed] == bad
    assert [str(m) for m in fast.malformed] == [str(m) for m in slow.malformed]
    assert fast.files[0].records == slow.files[0].records
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")
    assert _parts(tmp_path / "fast.duckdb") == _parts(tmp_path / "slow.duckdb")

    con = duckdb.connect(str(tmp_path / "fast.duckdb"), read_only=True)
    try:
        got = con.execute(
            "SELECT attempt, outcome, duration_ms FROM invocations WHERE request_id = ? "
            "ORDER BY attempt",
            [_RETRY],
        ).fetchall()
        assert got == [(1, "timeout", 1000.0), (2, "success", 20.0)]
        assert con.execute(
            "SELECT count(*) FROM invocations WHERE request_id IS NULL OR trim(request_id) = ''"
        ).fetchone() == (0,)
        assert con.execute(
            "SELECT count(*) FROM invocations WHERE request_id IN (?, ?)",
            [RID.format(8), RID.format(9)],
        ).fetchone() == (0,)
        same = con.execute(
            "SELECT list(source_index ORDER BY source_line) FROM logs WHERE message = 'same text'"
        ).fetchone()
        assert same == ([0, 0],)  # two lines: each the first row of its line
    finally:
        con.close()
    # read again, by either path: nothing is added and nothing changes
    before = _tables(tmp_path / "fast.duckdb")
    for fast_path in (True, False):
        again = ingest([f], db=tmp_path / "fast.duckdb", progress=False, fast=fast_path)
        assert again.added["invocations"] == 0 and again.added["logs"] == 0
    assert _tables(tmp_path / "fast.duckdb") == before


@pytest.mark.parametrize("limit", ["256MB", "512MB"])
def test_sql_path_stays_within_a_small_memory_limit(tmp_path: Path, limit: str) -> None:
    """read_csv's buffers fit under --memory-limit, so the file stays on the SQL path.

    A .gz is read by one thread into a buffer of its full configured size: with DuckDB's
    default (16 lines of 16 MiB) that one block alone is 256 MiB.
    """
    f = tmp_path / "small.log.gz"
    f.write_bytes(gzip.compress((AWKWARD + "\n").encode()))
    fast = ingest([f], db=tmp_path / "fast.duckdb", progress=False, memory_limit=limit)
    ingest([f], db=tmp_path / "slow.duckdb", progress=False, fast=False)
    assert fast.files[0].reader == "sql"
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")


# the prefixes of S3 export lines the fast lane cuts at fixed places (one or two
# canonical times) and those it leaves to the pattern: the two paths store the same
_T = "2026-11-30T10:00:00.000Z"
_S3_PREFIXES = [
    f"{_T} START RequestId: {RID.format(20)} Version: 3",
    f"{_T} {_T}\t{RID.format(20)}\tINFO\ta Node.js line (two times)",
    f"{_T} {_T}\tundefined\tWARN\tno id: the open invocation's",
    f"{_T} 2026-11-30 a date without a time",
    f"{_T} 2026/11/30 a date with slashes",
    f"{_T} 1234-5 digits and a dash, not a time",
    f"{_T} 12:30 digits and a colon",
    f"{_T} 20261130 eight digits",
    f"{_T} 9",
    f"{_T}\t\ttwo blanks",
    "2026-11-30T10:00:00.123456Z microseconds",
    "2026-11-30T10:00:00.1234567Z finer than microseconds",
    "2026-11-30T11:00:00.000+01:00 an offset",
    "2026-02-30T10:00:00.000Z the 30th of February",
    f"{_T} {_T} {_T} three times",
    f"{_T} {_T}\t",
    f"{_T} Error: boom",
    # runtime lines whose fields are cut without a pattern: blanks of every kind and count
    f"{_T} [ERROR]  2026-11-30T10:00:00.001Z \t{RID.format(20)}   spaced out",
    f"{_T} [INFO]\t2026-11-30T10:00:00.002Z\f{RID.format(20)}\fform feeds",
    f"{_T} {RID.format(20)} WARNING\t\tnode warning",
    f"{_T} {RID.format(20)}\tINFO",
    f"{_T} undefined\tERROR  node error without an id",
    "    at handler (/var/task/index.js:3:9)",
    f"{_T} END RequestId: {RID.format(20)}",
    (
        f"{_T} REPORT RequestId: {RID.format(20)}\tDuration: 2.00 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB\t"
    ),
]


@pytest.mark.parametrize("continued", [False, True], ids=["one-line", "with-continuation"])
def test_s3_prefixes_cut_at_fixed_places_equal_python(tmp_path: Path, continued: bool) -> None:
    lines = _S3_PREFIXES if continued else [x for x in _S3_PREFIXES if not x.startswith(" ")]
    f = tmp_path / "000000"
    f.write_text("\n".join(lines) + "\n")
    fast, slow = _both(f, tmp_path)
    assert fast.files[0].reader == "sql"
    assert fast.files[0].format == "cloudwatch-s3-export"
    assert [str(m) for m in fast.malformed] == [str(m) for m in slow.malformed]
    assert fast.files[0].records == slow.files[0].records
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")
    # counted from the lines: one log row per event that is not START / END / REPORT
    # and says something after its times
    events = [x for x in lines if not x.startswith(" ")]
    markers = sum(any(f"{_T} {k} " in x for k in ("START", "END", "REPORT")) for x in events)
    blank = sum(all(w.startswith("2026-11-30T") for w in x.split()) for x in events)
    con = duckdb.connect(str(tmp_path / "fast.duckdb"), read_only=True)
    try:
        logs = con.execute("SELECT count(*) FROM logs").fetchone()[0]
        assert logs == len(events) - markers - blank
        node = con.execute(
            "SELECT request_id, level, message FROM logs WHERE message LIKE 'a Node.js%'"
        ).fetchall()
    finally:
        con.close()
    assert node == [(RID.format(20), "info", "a Node.js line (two times)")]


def _numbered_lines(shape: str, lines: int) -> str:
    """Lines that each name their own number: S3 export lines, or a raw stream copy of
    invocations (START, a plain line, END, REPORT) whose plain lines do."""
    pad = "x" * 60
    if shape == "s3":
        return "".join(f"{_T} line {i} {pad}\n" for i in range(1, lines + 1))
    out = []
    for k in range(lines // 4):
        rid = f"0badcafe-0000-4000-8000-{k:012d}"
        first = 4 * k + 1
        out += [
            f"START RequestId: {rid} Version: 3\n",
            f"line {first + 1} {pad}\n",
            f"END RequestId: {rid}\n",
            (
                f"REPORT RequestId: {rid}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
                "Memory Size: 128 MB\tMax Memory Used: 40 MB\t\n"
            ),
        ]
    return "".join(out)


@pytest.mark.parametrize(
    ("shape", "compressed"),
    [("s3", False), ("s3", True), ("raw", False)],
    ids=["s3-plain", "s3-gzip", "raw-plain"],
)
def test_line_numbers_hold_in_a_file_read_in_parallel(
    tmp_path: Path, shape: str, compressed: bool
) -> None:
    # large enough to be read as several buffers and stored as several row groups: each
    # plain line names its own number, which must be the source_line of its log row,
    # and in a raw stream every START still pairs with its REPORT
    lines = 450_000 if shape == "s3" else 560_000
    text = _numbered_lines(shape, lines)
    f = tmp_path / ("000000.gz" if compressed else ("000000" if shape == "s3" else "raw.log"))
    f.write_bytes(gzip.compress(text.encode(), 1) if compressed else text.encode())
    assert f.stat().st_size > (1 << 20 if compressed else 32 << 20)  # > one read buffer
    report = ingest([f], db=tmp_path / "big.duckdb", progress=False)
    assert report.files[0].reader == "sql"
    con = duckdb.connect(str(tmp_path / "big.duckdb"), read_only=True)
    try:
        total, wrong = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE split_part(message, ' ', 2) "
            "<> source_line::VARCHAR) FROM logs"
        ).fetchone()
        parts = con.execute("SELECT count(*) FROM _invocation_parts").fetchone()[0]
        invocations = con.execute("SELECT count(*) FROM invocations").fetchone()[0]
    finally:
        con.close()
    plain = lines if shape == "s3" else lines // 4
    assert (total, wrong) == (plain, 0)
    assert (invocations, parts) == ((0, 0) if shape == "s3" else (lines // 4, 0))


def test_the_blanks_python_strips_are_the_ones_sql_trims() -> None:
    assert tuple(c for c in range(0x110000) if chr(c).isspace()) == SPACE_CODES


# messages with blanks beyond ASCII's at either end (a no-break space, an ideographic
# space, the information separators, a vertical tab): Python's str.strip() removes them,
# and so must the SQL path; text beyond ASCII inside a message is kept as it is
_WIDE = [
    f"{_T} START RequestId: {RID.format(31)} Version: 3",
    f"{_T} plain text ending in a no-break space\xa0",
    f"{_T} \xa0starts with a no-break space",
    f"{_T} \u3000\u2003",
    f"{_T} [INFO]\t{_T}\t{RID.format(31)}\tPython message\xa0",
    f"{_T} [INFO]\t{_T}\t{RID.format(31)}\t\u2009thin space first",
    f"{_T} {_T}\t{RID.format(31)}\tINFO\tnode message\u3000",
    f"{_T} unit separator\x1f",
    f"{_T} vertical tab\x0b",
    f"{_T} café crème, ünïcode ✓ inside",
    f"{_T} {RID.format(31)} Task timed out after 3.00 seconds\xa0",
    f"{_T} END RequestId: {RID.format(31)}",
    (
        f"{_T} REPORT RequestId: {RID.format(31)}\tDuration: 2.00 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB\t\xa0"
    ),
]


def test_blanks_beyond_ascii_are_trimmed_like_python(tmp_path: Path) -> None:
    f = tmp_path / "000000"
    f.write_text("\n".join(_WIDE) + "\n", "utf-8")
    fast, slow = _both(f, tmp_path)
    assert fast.files[0].reader == "sql"
    assert fast.files[0].records == slow.files[0].records
    assert _tables(tmp_path / "fast.duckdb") == _tables(tmp_path / "slow.duckdb")
    con = duckdb.connect(str(tmp_path / "fast.duckdb"), read_only=True)
    try:
        messages = {m for (m,) in con.execute("SELECT message FROM logs").fetchall()}
    finally:
        con.close()
    assert "plain text ending in a no-break space" in messages
    assert "starts with a no-break space" in messages
    assert "thin space first" in messages
    assert "café crème, ünïcode ✓ inside" in messages
    assert all(m == m.strip() for m in messages)
