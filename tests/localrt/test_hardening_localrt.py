"""Issue 19, item 13: the local runtime's log pump is linear on long lines, a ``bytes``
response reaches ``fnlens local invoke``'s stdout byte for byte, a synchronous
response past Lambda's 6 MB limit is refused as Lambda refuses it, and a huge
exception message stays a readable record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fnlens.localrt import FunctionCode, LocalLambda
from fnlens.localrt._logstream import LogStream, OutputPump

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

HANDLERS = Path(__file__).parent / "handlers"
# Lambda's synchronous response limit, the figure its ResponseSizeTooLarge message names
MAX_RESPONSE_BYTES = 6_291_556
ROOT = Path(__file__).resolve().parents[2]


class _Lengths(LogStream):
    """A stream that keeps only the length and start of each event."""

    def __init__(self) -> None:
        super().__init__("lengths", None)
        self.lengths: list[int] = []
        self.heads: list[str] = []

    def write(self, message: str) -> None:
        self.lengths.append(len(message))
        self.heads.append(message[:8])


def test_a_long_line_among_short_ones_arrives_whole():
    """8 MB in 64 KiB reads, then short lines, then a last line without a newline
    (speed on a 100 MB line: test_print_of_a_100_mb_line_in_a_function_finishes)."""
    size = 8 * 1024 * 1024
    read_end, write_end = os.pipe()
    stream = _Lengths()
    pump = OutputPump(read_end, stream)

    def write_all() -> None:
        data = memoryview(b"y" * size + b"\nsecond\nthird-no-newline")
        while data:
            data = data[os.write(write_end, data[: 1 << 20]) :]
        os.close(write_end)

    writer = threading.Thread(target=write_all)
    writer.start()
    pump.wait_eof(30.0)
    writer.join(30.0)
    assert stream.lengths == [size, len("second"), len("third-no-newline")]
    assert stream.heads == ["yyyyyyyy", "second", "third-no"]


def test_lines_split_across_reads_arrive_whole():
    read_end, write_end = os.pipe()
    stream = _Lengths()
    pump = OutputPump(read_end, stream)
    sent = [b"a" * 70_000, b"", b"b" * 10, b"c" * 200_000]
    os.write(write_end, b"\n".join(sent[:2]))
    os.write(write_end, b"\n" + sent[2] + b"\n")
    os.write(write_end, sent[3][:100_000])
    os.write(write_end, sent[3][100_000:] + b"\n")
    os.close(write_end)
    pump.wait_eof(30.0)
    assert stream.lengths == [len(x) for x in sent]


def test_print_of_a_100_mb_line_in_a_function_finishes(tmp_path: Path):
    """The issue's reproducer: ``print('y' * 100_000_000)`` timed out at 30 s."""
    with LocalLambda("caps", out_dir=None) as fn:
        fn.update_code(FunctionCode("caps_app.handler", HANDLERS, timeout_s=30.0))
        result = fn.invoke({"print_bytes": 100_000_000})
    assert result.outcome == "success", (result.outcome, result.error_type)
    assert result.json() == {"printed": 100_000_000}


@pytest.fixture(scope="module")
def caps_fn():
    with LocalLambda("caps", out_dir=None) as fn:
        fn.update_code(FunctionCode("caps_app.handler", HANDLERS, timeout_s=20.0))
        yield fn


def test_a_response_at_the_limit_is_returned(caps_fn):
    result = caps_fn.invoke({"string_of": MAX_RESPONSE_BYTES - 2})  # + two quotes
    assert result.outcome == "success"
    assert len(result.payload) == MAX_RESPONSE_BYTES


@pytest.mark.parametrize("extra", [1, 7 * 1024 * 1024 - MAX_RESPONSE_BYTES])
def test_a_response_past_the_limit_is_lambdas_error(caps_fn, extra):
    result = caps_fn.invoke({"string_of": MAX_RESPONSE_BYTES - 2 + extra})
    assert result.outcome == "error"
    assert result.function_error == "Unhandled"
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert result.json() == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_local_invoke_writes_a_bytes_response_byte_for_byte(tmp_path: Path):
    event = tmp_path / "raw.json"
    event.write_text(json.dumps({"raw": True}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnlens.cli.main",
            "local",
            "invoke",
            str(HANDLERS / "caps_app.handler"),
            "--event",
            str(event),
            "-q",
        ],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    sys.path.insert(0, str(HANDLERS))
    try:
        import caps_app
    finally:
        sys.path.remove(str(HANDLERS))
    assert proc.stdout == caps_app.RAW


def test_a_5_mb_exception_message_stays_a_readable_record(caps_fn):
    from fnlens.runtime._truncate import MAX_ERROR_MESSAGE_CHARS, MAX_STACK_TRACE_CHARS

    result = caps_fn.invoke({"raise_chars": 5 * 1024 * 1024})
    assert result.outcome == "error"
    records = [
        json.loads(line)
        for line in result.logs
        if line.startswith("{") and '"event":"invocation"' in line
    ]
    assert len(records) == 1
    (record,) = records
    assert record["error_type"] == "ValueError"
    assert len(record["error_message"]) <= MAX_ERROR_MESSAGE_CHARS
    assert "characters cut]" in record["error_message"]
    assert record["error_message"].startswith("mmmm")
    assert len(record["exception"]) <= MAX_STACK_TRACE_CHARS
    assert record["exception"].startswith("Traceback (most recent call last):")
    record_line = next(x for x in result.logs if '"event":"invocation"' in x)
    assert len(record_line.encode()) < 256 * 1024  # one CloudWatch event
