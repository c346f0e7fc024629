"""Bad input: counted with file:line, valid records kept, strict mode, unknown formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fnlens.analysis._formats import FORMATS
from fnlens.analysis.ingest import ingest
from fnlens.exceptions import IngestError, UnknownFormatError

from .conftest import FIXTURES, rows


def _fnlens(i: int, **kw: object) -> str:
    rec = {
        "timestamp": f"2026-11-22T10:00:0{i}.000001Z",
        "level": "info",
        "event": "invocation",
        "request_id": f"req-{i}",
        "function_name": "f",
        "duration_ms": 1.5,
        "outcome": "success",
    }
    rec.update(kw)
    return json.dumps(rec)


def _bad_file(tmp_path: Path) -> Path:
    f = tmp_path / "bad.jsonl"
    lines = [
        _fnlens(1),
        _fnlens(2),
        '{"timestamp": "2026-11-22T10:00:03Z", "level": "info", "event": "invoc',  # line 3: cut
        _fnlens(4),
        _fnlens(5, duration_ms="fast"),  # line 5: wrong type
        _fnlens(6, timestamp="yesterday"),  # line 6: bad timestamp
        _fnlens(7),
    ]
    f.write_bytes(
        ("\n".join(lines) + "\n").encode() + b'{"event": "\xff\xfe"}\n' + _fnlens(9).encode()
    )
    return f


def test_malformed_lines_reported_with_file_and_line(db: Path, tmp_path: Path) -> None:
    f = _bad_file(tmp_path)
    report = ingest([f], db=db, progress=False)
    assert report.files[0].reader == "lines"  # read_json refused the file; lines report each error
    assert report.malformed_count == 4
    where = [(m.path, m.line) for m in report.malformed]
    assert where == [(str(f), 3), (str(f), 5), (str(f), 6), (str(f), 8)]
    assert "invalid JSON" in report.malformed[0].message
    assert "duration_ms" in report.malformed[1].message
    assert "timestamp" in report.malformed[2].message
    assert "UTF-8" in report.malformed[3].message
    assert str(report.malformed[0]).startswith(f"{f}:3: ")
    kept = [r for (r,) in rows(db, "SELECT request_id FROM invocations ORDER BY 1")]
    assert kept == ["req-1", "req-2", "req-4", "req-7", "req-9"]
    assert any(f"{f}:3" in line for line in report.summary_lines())


def test_strict_mode_fails_on_first_error_and_changes_nothing(db: Path, tmp_path: Path) -> None:
    ingest([FIXTURES / "lambda_text.log"], db=db, progress=False)
    before = rows(db, "SELECT count(*) FROM invocations")
    with pytest.raises(IngestError, match=r"bad\.jsonl:3: invalid JSON"):
        ingest([FIXTURES / "fnlens.jsonl", _bad_file(tmp_path)], db=db, strict=True, progress=False)
    assert rows(db, "SELECT count(*) FROM invocations") == before


def test_bad_report_line_is_malformed(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "r.log"
    f.write_text(
        "START RequestId: a Version: 1\n"
        "REPORT RequestId: a\tBilled Duration: 3 ms\tMemory Size: 128 MB\n"
        "REPORT RequestId: b\tDuration: 2.0 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\n"
    )
    report = ingest([f], db=db, progress=False)
    assert [(m.line, m.message) for m in report.malformed] == [(2, "REPORT line without Duration")]
    assert rows(db, "SELECT request_id, duration_ms FROM invocations ORDER BY 1") == [
        ("a", None),
        ("b", 2.0),
    ]


def test_unknown_format_lists_formats_tried(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello\nthis is not a log\n")
    b = tmp_path / "blob.bin"
    b.write_bytes(b"\x00\x01\x02" * 100)
    report = ingest([f, b, FIXTURES / "fnlens.jsonl"], db=db, progress=False)
    rejected = {r.path: r for r in report.rejected_files}
    assert set(rejected) == {str(f), str(b)}
    assert "unknown format" in rejected[str(f)].error
    assert all(name in rejected[str(f)].error for name in FORMATS)
    assert rejected[str(f)].formats_tried == list(FORMATS)
    assert report.totals["invocations"] == 3  # the good file still loads
    with pytest.raises(UnknownFormatError, match="tried: fnlens-jsonl, lambda-text"):
        ingest([f], db=db, strict=True, progress=False)


def test_missing_path_and_empty_glob(db: Path, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest([tmp_path / "nope.jsonl"], db=db, progress=False)
    with pytest.raises(IngestError, match="no file matches"):
        ingest([str(tmp_path / "*.nothing")], db=db, progress=False)


def test_empty_file_is_fine(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "empty.log"
    f.write_text("")
    report = ingest([f], db=db, progress=False)
    assert report.files[0].format == "empty" and report.malformed_count == 0


def test_broken_document_is_reported_and_later_documents_kept(db: Path, tmp_path: Path) -> None:
    pages = (FIXTURES / "filter_log_events_pages.json").read_text()
    first_end = pages.index("\n}\n") + 3
    broken = pages[: first_end - 40] + "\n" + pages[first_end:]  # page 1 cut short
    f = tmp_path / "pages.json"
    f.write_text(broken)
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 1
    assert report.malformed[0].line == 1
    # page 2 (R3, R4) survives
    assert rows(db, "SELECT count(*) FROM invocations")[0][0] == 2


def test_bad_subscription_payload(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "sub.json"
    good = (FIXTURES / "subscription_event.json").read_text()
    f.write_text('{"awslogs": {"data": "not base64 gzip"}}\n' + json.dumps(json.loads(good)) + "\n")
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 1 and report.malformed[0].line == 1
    assert "cannot decode awslogs.data" in report.malformed[0].message
    assert rows(db, "SELECT count(*) FROM invocations")[0][0] == 2


def test_gzip_truncated_is_reported(db: Path, tmp_path: Path) -> None:
    data = gzip.compress((FIXTURES / "lambda_text.log").read_bytes())
    f = tmp_path / "cut.log.gz"
    f.write_bytes(data[: len(data) - 30])
    report = ingest([f], db=db, progress=False)
    assert report.malformed_count == 1
    assert report.malformed[0].line is None
    assert "cannot read further" in report.malformed[0].message
    assert rows(db, "SELECT count(*) FROM invocations")[0][0] == 4  # what came before the cut
    with pytest.raises(IngestError, match="cannot read further"):
        ingest([f], db=tmp_path / "strict.duckdb", strict=True, progress=False)
