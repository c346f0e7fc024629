"""One bad value, an overlong line or a gzip bomb costs one reported line, never the run.

Issue 19 items 8 and 10: values that do not fit a column, nesting deeper than Python
follows, a line far larger than memory, a small .gz that inflates to gigabytes, and
hidden directories. Memory is measured as the peak RSS of a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from fnlens.analysis.ingest import expand_paths, ingest

from .conftest import rows


def _record(i: int, **kw: object) -> str:
    rec = {
        "timestamp": f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}.000001Z",
        "level": "info",
        "event": "invocation",
        "request_id": f"req-{i}",
        "function_name": "f",
        "duration_ms": 1.5,
        "outcome": "success",
        "http_status_code": 200,
    }
    rec.update(kw)
    return json.dumps(rec)


_DEEP = "[" * 5000 + "]" * 5000
# line number (1-based) -> the line, and the words its report must contain
_BAD_LINES = {
    2: (_record(20002, http_status_code=10**20), "http_status_code"),  # what fnlens writes
    3: (_record(20003, http_status_code=1e300), "http_status_code"),
    4: (_record(20004).replace('"duration_ms": 1.5', '"duration_ms": 1e400'), "duration_ms"),
    5: (_record(20005, memory_limit_mb=-(2**40)), "memory_size_mb"),
    6: (
        '{"timestamp": "2026-11-22T10:00:00Z", "level": "info", "event": "x", "v": ' + _DEEP + "}",
        "deeply",
    ),
    7: (_record(20007, timestamp=1e300), "range"),
    8: (_record(20008).replace('"duration_ms": 1.5', '"duration_ms": NaN'), "duration_ms"),
}


def test_bad_values_become_reported_lines_and_everything_else_is_kept(
    db: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = [_record(i) for i in range(10_000)]
    (logs / "a-good.jsonl").write_text("\n".join(good) + "\n")
    lines = [_record(20001)] + [_BAD_LINES[n][0] for n in sorted(_BAD_LINES)] + [_record(20009)]
    bad = logs / "b-bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    # what the files hold, counted without the ingest code
    expected_ids = {json.loads(x)["request_id"] for x in good} | {"req-20001", "req-20009"}

    report = ingest([logs], db=db, progress=False)

    assert report.totals["invocations"] == len(expected_ids) == 10_002
    stored = {r[0] for r in rows(db, "SELECT request_id FROM invocations")}
    assert stored == expected_ids
    assert [(m.path, m.line) for m in report.malformed] == [(str(bad), n) for n in _BAD_LINES]
    for m in report.malformed:
        assert _BAD_LINES[m.line][1] in m.message, m
    assert str(report.malformed[0]).startswith(f"{bad}:2: ")


def test_bad_values_inside_a_page_keep_the_other_events(db: Path, tmp_path: Path) -> None:
    events = [
        {"timestamp": 1795341600000 + i, "message": _record(i), "ingestionTime": 1795341600100}
        for i in range(5)
    ]
    events[1]["message"] = _record(1, http_status_code=10**20)
    events[3]["message"] = '{"event": "x", "level": "info", "timestamp": 1, "v": ' + _DEEP + "}"
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"events": events, "nextForwardToken": "f/1"}, indent=2))
    array = tmp_path / "pages.json"
    array.write_text(json.dumps([{"events": events[:2]}, {"events": events[2:]}], indent=2))
    for f in (page, array):
        report = ingest([f], db=tmp_path / f"{f.stem}.duckdb", progress=False)
        stored = rows(tmp_path / f"{f.stem}.duckdb", "SELECT request_id FROM invocations")
        assert sorted(r[0] for r in stored) == ["req-0", "req-2", "req-4"]
        assert report.malformed_count == 2, report.summary_lines()
        assert all(m.line is not None for m in report.malformed)


def test_a_broken_array_item_keeps_the_items_after_it(db: Path, tmp_path: Path) -> None:
    pages = [
        json.dumps({"events": [{"timestamp": 1795341600000 + i, "message": _record(i)}]}, indent=2)
        for i in range(3)
    ]
    broken = pages[1].replace('"events"', '"events" oops', 1)
    text = "[\n" + textwrap.indent(",\n".join([pages[0], broken, pages[2]]), "  ") + "\n]\n"
    f = tmp_path / "pages.json"
    f.write_text(text)
    report = ingest([f], db=db, progress=False)
    assert sorted(r[0] for r in rows(db, "SELECT request_id FROM invocations")) == [
        "req-0",
        "req-2",
    ]
    assert report.malformed_count == 1
    (problem,) = report.malformed
    assert problem.line == text.splitlines().index("  {", 2) + 1  # where the broken page starts
    assert "array item 2" in problem.message


# --- memory ------------------------------------------------------------------------

_CHILD = """
import json, resource, sys
mode, path = sys.argv[1], sys.argv[2]
if mode == "ingest":
    from fnlens.analysis.ingest import ingest
    report = ingest([path], db=sys.argv[3], progress=False, memory_limit=sys.argv[4])
    out = {"totals": report.totals,
           "malformed": [[m.line, m.message] for m in report.malformed]}
else:
    from fnlens.analysis._readers import Input, iter_lines
    lines = size = 0
    with Input(__import__("pathlib").Path(path)) as inp:
        for _, text, error in iter_lines(inp):
            lines += 1
            size += len(text or "")
    out = {"lines": lines, "chars": size}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(tmp_path: Path, *args: str, timeout: float = 300) -> dict:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _gzip(path: Path, pieces: list[tuple[bytes, int]]) -> int:
    """Write (block, repeat) pieces gzip-compressed; returns the uncompressed size."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    with path.open("wb") as out:
        for block, repeat in pieces:
            for _ in range(repeat):
                out.write(comp.compress(block))
                total += len(block)
        out.write(comp.flush())
    return total


@pytest.mark.slow
def test_a_huge_single_line_is_skipped_within_the_memory_limit(tmp_path: Path) -> None:
    f = tmp_path / "huge.jsonl.gz"
    first, last = _record(1).encode() + b"\n", _record(2).encode() + b"\n"
    line_len = 320 << 20
    head = b'{"event": "x", "level": "info", "timestamp": 1, "message": "'
    size = _gzip(
        f, [(first, 1), (head, 1), (b"y" * (1 << 20), line_len >> 20), (b'"}\n', 1), (last, 1)]
    )
    assert f.stat().st_size < 4 << 20  # a small file ...
    assert size > line_len  # ... that inflates past 300 MB, nearly all one line

    baseline = _child(tmp_path, "ingest", str(_tiny(tmp_path)), str(tmp_path / "a.duckdb"), "256MB")
    got = _child(tmp_path, "ingest", str(f), str(tmp_path / "b.duckdb"), "256MB")

    assert got["totals"]["invocations"] == 2
    assert [m[0] for m in got["malformed"]] == [2]
    assert "longer than the 16,000,000-byte limit" in got["malformed"][0][1]
    assert got["peak_mb"] - baseline["peak_mb"] < 150, (got, baseline)


def _tiny(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.jsonl"
    f.write_text(_record(1) + "\n" + '{"event": "x", "level": "info", "timestamp": 1}\n')
    return f


@pytest.mark.slow
def test_a_gzip_bomb_inflates_through_a_bounded_window(tmp_path: Path) -> None:
    f = tmp_path / "bomb.log.gz"
    line = b"REPORT RequestId: r-1\tDuration: 1.00 ms\t" + b"x" * (100_000 - 40) + b"\n"
    repeat = 2_500
    size = _gzip(f, [(line, repeat)])
    assert f.stat().st_size < 4 << 20 and size == len(line) * repeat  # ~250 KB -> 250 MB

    baseline = _child(tmp_path, "read", str(_tiny(tmp_path)))
    got = _child(tmp_path, "read", str(f), timeout=240)

    assert got["lines"] == repeat
    assert got["chars"] == (len(line) - 1) * repeat
    assert got["peak_mb"] - baseline["peak_mb"] < 64, (got, baseline)


def test_hidden_directories_are_skipped_like_hidden_files(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    for rel in [
        "a.jsonl",
        ".hidden.jsonl",
        ".git/objects/ab/cdef.jsonl",
        ".aws-sam/build/x.jsonl",
        "sub/b.jsonl",
        "sub/.cache/c.jsonl",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(_record(1) + "\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # not followed
    found = [p.relative_to(root).as_posix() for p in expand_paths([root])]
    assert found == ["a.jsonl", "sub/b.jsonl"]
    # named explicitly, a hidden folder is read
    assert [p.name for p in expand_paths([root / ".git"])] == ["cdef.jsonl"]
