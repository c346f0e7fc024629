"""Peak memory of `fnlens ingest` on hostile inputs (issue 19 items 8 and 10).

Each case runs `fnlens ingest` in a fresh process and prints what was sent (lines,
bytes), what was stored (table totals), what was reported (malformed lines) and the
child's peak RSS, beside the same figures for a tiny file (the import baseline):

* bomb: a small .gz that inflates to SIZE of 100 KB REPORT-like text lines;
* line: a small .gz holding one good record, one SIZE-long line, one good record;
* values: 10,000 good records plus one line per bad value.

    python bench/ingest_limits.py --size 2GB --memory-limit 512MB
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

_CHILD = """
import json, resource, sys
from fnlens.analysis.ingest import ingest
report = ingest([sys.argv[1]], db=sys.argv[2], progress=False, memory_limit=sys.argv[3])
print(json.dumps({
    "totals": report.totals,
    "malformed": report.malformed_count,
    "first": [str(m) for m in report.malformed[:3]],
    "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
"""


def _record(i: int, **kw: object) -> str:
    rec = {
        "timestamp": f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}.000001Z",
        "level": "info",
        "event": "invocation",
        "request_id": f"req-{i}",
        "duration_ms": 1.5,
        "outcome": "success",
    }
    rec.update(kw)
    return json.dumps(rec)


def _gzip(path: Path, pieces: list[tuple[bytes, int]]) -> int:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    with path.open("wb") as out:
        for block, repeat in pieces:
            for _ in range(repeat):
                out.write(comp.compress(block))
                total += len(block)
        out.write(comp.flush())
    return total


def _run(path: Path, work: Path, limit: str) -> dict:
    script = work / "child.py"
    script.write_text(_CHILD)
    db = work / f"{path.stem}.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script), str(path), str(db), limit], capture_output=True, text=True
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    out = json.loads(done.stdout)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    return int(float(text[:-2]) * units[text[-2:].upper()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2GB", help="inflated size of the big inputs")
    parser.add_argument("--memory-limit", default="512MB")
    args = parser.parse_args()
    size = _size(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tiny = work / "tiny.jsonl"
        tiny.write_text(_record(1) + "\n")
        cases = {"baseline (tiny file)": (tiny, "2 lines")}

        bomb = work / "bomb.log.gz"
        line = b"REPORT RequestId: r-1\tDuration: 1.00 ms\t" + b"x" * (100_000 - 40) + b"\n"
        sent = _gzip(bomb, [(line, size // len(line))])
        cases["bomb"] = (bomb, f"{size // len(line)} lines, {sent:,} bytes inflated")

        huge = work / "line.jsonl.gz"
        head = b'{"event": "x", "level": "info", "timestamp": 1, "message": "'
        pieces = [(_record(1).encode() + b"\n", 1), (head, 1), (b"y" * (1 << 20), size >> 20)]
        pieces += [(b'"}\n', 1), (_record(2).encode() + b"\n", 1)]
        sent = _gzip(huge, pieces)
        cases["line"] = (huge, f"3 lines, {sent:,} bytes inflated")

        values = work / "values.jsonl"
        bad = [
            _record(20_001, http_status_code=10**20),
            _record(20_002, http_status_code=1e300),
            _record(20_003, duration_ms=float("inf")).replace("Infinity", "1e400"),
            '{"event": "x", "level": "info", "timestamp": 1, "v": ' + "[" * 5000 + "]" * 5000 + "}",
            _record(20_004, timestamp=1e300),
        ]
        values.write_text("\n".join([_record(i) for i in range(10_000)] + bad) + "\n")
        cases["values"] = (values, f"10000 good + {len(bad)} bad lines")

        for name, (path, sent_text) in cases.items():
            compressed = path.stat().st_size
            got = _run(path, work, args.memory_limit)
            print(f"{name}: file {compressed:,} bytes, sent {sent_text}")
            print(f"  -> {json.dumps(got)}")
    print(f"(--memory-limit {args.memory_limit}; peak RSS of the ingest process)")


if __name__ == "__main__":
    main()
